"""``Authorization:`` headers of every scheme: auth-param lists too (review leak 2).

``Authorization: Digest username="u", ..., response="..."`` masked ``username=`` and kept
the response. Everything after the scheme is masked to the end of the header value (its
closing quote, else the end of the line), for token68 schemes and auth-param lists alike.
Each case runs on both prefilter paths, against the full scan, again on its output, and
inside a block of lines.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from tests._helpers import redaction_scan_path

from hardenkit.redaction._engine import full_scan, redact

# Compared with full_scan, which knows no registered value (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_registered_secrets")

_PATHS = ("warm-up", "hyperscan")


_path = redaction_scan_path


def _check(text: str, expected: str, secrets: list[str]) -> None:
    for path in _PATHS:
        with _path(path):
            out = redact(text)
            assert out == expected, (path, text)
            assert redact(out) == out, path  # idempotent
            assert redact("a\n" + text + "\nb") == "a\n" + out + "\nb", path
            assert redact(text + "\r\nb") == out + "\r\nb", path
    assert full_scan(text) == expected
    for secret in secrets:
        assert secret not in expected


# (scheme, credentials, the parts that must not be left)
_CREDENTIALS = [
    ("Basic", "dXNlcjpwYXNz", ["dXNlcjpwYXNz"]),
    ("Basic", "YWJjZGVmZ2g=", ["YWJjZGVmZ2g"]),  # padding before a closing quote
    ("Bearer", "abc.def-123", ["abc.def-123"]),
    ("Negotiate", "YIIGhgYGKwYBBQUCoIIGejCCBnag==", ["YIIGhgYGKw"]),
    (
        "Digest",
        (
            'username="u", realm="r", nonce="dcd98b7102dd2f0e", uri="/x", qop=auth, '
            'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1"'
        ),
        ["dcd98b7102dd2f0e", "0a4f113b", "6629fae49393a05397450978507c4ef1"],
    ),
    ("Digest", 'username = "u" , response = "6629fae4"', ["6629fae4"]),
    ("Digest", 'realm="it\'s, here; x=\'y\'", response="6629fae4"', ["6629fae4"]),
    (
        "AWS4-HMAC-SHA256",
        (
            "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-date, "
            "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
        ),
        ["AKIAIOSFODNN7EXAMPLE", "fe5f80f77d5fa3beca03"],
    ),
    (
        "OAuth",
        'oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_signature="tnnArxj06cWHq44g%3D"',
        ["xvz1evFS4wEEPTGEFPHBog", "tnnArxj06cWHq44g"],
    ),
]


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


# (text, expected) templates: {s} the scheme, {c} the credentials, {e} them JSON-escaped.
_CONTEXTS = [
    ("Authorization: {s} {c}", "Authorization: {s} ***"),
    ("proxy sent Proxy-Authorization: {s} {c}", "proxy sent Proxy-Authorization: {s} ***"),
    ("authorization={s} {c}", "authorization={s} ***"),
    ("curl -H 'Authorization: {s} {c}' https://h/", "curl -H 'Authorization: {s} ***' https://h/"),
    ('{{"h": "Authorization: {s} {e}", "n": 1}}', '{{"h": "Authorization: {s} ***", "n": 1}}'),
    # A quoted value under a secret key: the key=value rule masks it whole, as before.
    ('{{"Authorization": "{s} {e}", "Host": "h"}}', '{{"Authorization": "***", "Host": "h"}}'),
    ("{{'Authorization': '{s} {c}', 'Host': 'h'}}", "{{'Authorization': '***', 'Host': 'h'}}"),
]


@pytest.mark.parametrize(("scheme", "creds", "secrets"), _CREDENTIALS)
@pytest.mark.parametrize(("template", "expected"), _CONTEXTS)
def test_credentials_are_masked_to_the_end_of_the_header_value(
    scheme: str, creds: str, secrets: list[str], template: str, expected: str
) -> None:
    fields = {"s": scheme, "c": creds, "e": _escaped(creds)}
    _check(template.format(**fields), expected.format(**fields), secrets)


def test_two_headers_on_one_line() -> None:
    text = (
        'curl -H \'Authorization: Digest username="u", response="6629fae4"\' '
        "-H 'Proxy-Authorization: Basic Zm9vOmJhcg==' https://h/"
    )
    expected = "curl -H 'Authorization: Digest ***' -H 'Proxy-Authorization: Basic ***' https://h/"
    _check(text, expected, ["6629fae4", "Zm9vOmJhcg"])


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Digest ***",
        "Authorization: Basic ***",
        "no Authorization header was sent",
        "Authorization failed for user bob",
        "'Authorization: Bearer ***' https://h/",
    ],
)
def test_left_as_it_is(text: str) -> None:
    _check(text, text, [])


_param_names = st.sampled_from(["username", "realm", "nonce", "response", "Signature", "k"])
_param_values = st.text(alphabet="abcXYZ0189+/=_-.,;'\\\" ", min_size=1, max_size=12)


@st.composite
def _param_lists(draw: st.DrawFn) -> tuple[str, list[str]]:
    """An auth-param list and the marked values it carries (each must be masked)."""
    params: list[str] = []
    secrets: list[str] = []
    for i in range(draw(st.integers(min_value=1, max_value=5))):
        secret = f"Q{i}v{draw(st.sampled_from(['7', '8', '9']))}z"
        secrets.append(secret)
        value = secret + draw(_param_values)
        blank = draw(st.sampled_from(["", " ", "\t"]))
        if draw(st.booleans()):
            inner = value.replace("\\", "\\\\").replace('"', '\\"')
            params.append(f'{draw(_param_names)}{blank}={blank}"{inner}"')
        else:
            token = value.split()[0].replace('"', "").replace("'", "").rstrip(",;")
            params.append(f"{draw(_param_names)}={token}")
    return draw(st.sampled_from([", ", ",", " , "])).join(params), secrets


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["Digest", "AWS4-HMAC-SHA256", "OAuth", "Signature", "Mutual"]),
    _param_lists(),
    st.sampled_from(["{h}", "x '{h}' y", "log: {h}", "[{h}]"]),
)
def test_generated_auth_param_lists_leave_no_value(
    scheme: str, params: tuple[str, list[str]], context: str
) -> None:
    creds, secrets = params
    text = context.format(h=f"Authorization: {scheme} {creds}")
    expected = full_scan(text)
    for secret in secrets:
        assert secret not in expected, (text, expected)
    assert full_scan(expected) == expected
    for path in _PATHS:
        with _path(path):
            assert redact(text) == expected, path
            assert redact("a\n" + text + "\nb") == "a\n" + expected + "\nb", path
