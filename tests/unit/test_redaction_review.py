"""Leaks an adversarial review found: each masked by redact() and the full scan alike."""

from __future__ import annotations

import pytest

from hardenkit.redaction import _prefilter as PF  # noqa: N812
from hardenkit.redaction._engine import full_scan, redact


@pytest.fixture(autouse=True)
def _prefilter_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hyperscan prefilter, not the warm-up's run-everything path."""
    monkeypatch.setattr(PF, "_scan", PF._built_scan())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Passwords that looked like a Java toString (F1).
        ("DB_PASSWORD=P@ssw0rd", "DB_PASSWORD=***"),
        ("password=P@ssw0rd!", "password=***"),
        ("password=Summer2024@home", "password=***"),
        ("DB_PASSWORD=Welcome1@2024", "DB_PASSWORD=***"),
        ("DB_PASSWORD=Admin@123456", "DB_PASSWORD=***"),
        ("--db-password=Admin(2024)", "--db-password=***"),
        ("api_key=Prod[7]xK9qL2", "api_key=***"),
        ("password: Hunter2@corp", "password: ***"),
        ("token=Token{a64f992}", "token=***"),
        # A short number under a dotted key whose last part is a secret name (F2).
        ("spring.datasource.password=31337", "spring.datasource.password=***"),
        ("db.password: 12345", "db.password: ***"),
        ("redis.auth.token=4242", "redis.auth.token=***"),
        ("db_password=12345", "db_password=***"),
        # ":>" is no "=>" (F7).
        ("password:>Token{c", "password:***"),
        ("auth_token:>Token{c", "auth_token:***"),
    ],
)
def test_masked(text: str, expected: str) -> None:
    assert full_scan(text) == expected
    assert redact(text) == expected
    assert redact(f"line one\n{text}\nline three") == f"line one\n{expected}\nline three"


@pytest.mark.parametrize(
    "text",
    [
        "ActivityManager: token=Token{a64f992 u0 com.tencent.qt/.LiveActivity}",
        "V WindowManager: token=Token{b3ee0e9 ActivityRecord{7f5c}} -- going to hide",
        "handle token=Token@1b6d35a6 released",
        "connect auth.grammarly.com:443 ok",
        "proxy to login.example.com:8443/path",
        "SESSION_COOKIE_AGE=1209600",
        "UserGroupInformation: (auth:SIMPLE)",
        "AuthFail:sts:5_rsn:0",
        "input_userauth_request: invalid user test9",
        "Session: 30546173_4261722401 initialized",
        "sessions=4 auth=ok auth_method=publickey",
    ],
)
def test_ordinary_text_stays(text: str) -> None:
    assert full_scan(text) == text
    assert redact(text) == text


_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"


@pytest.mark.parametrize(
    "text",
    [
        # The XML hit's reach was computed first and the PEM hit skipped (F3).
        (
            "<ssh_key>-----BEGIN RSA PRIVATE KEY-----<!-- rotated -->\n"
            f"{_BODY}\n{_BODY}\n-----END RSA PRIVATE KEY-----</ssh_key>\n"
        ),
        (
            "<password>see key</password> <token>-----BEGIN RSA PRIVATE KEY-----\n"
            f"{_BODY}\n<truncated>\n{_BODY}\n"
        ),
        f"before\n<key>-----BEGIN RSA PRIVATE KEY-----<x>\n{_BODY}\n-----END RSA PRIVATE KEY-----",
    ],
)
def test_pem_after_an_xml_tag_is_masked(text: str) -> None:
    out = redact(text)
    assert _BODY not in out
    assert out == full_scan(text)


@pytest.mark.usefixtures("no_registered_secrets")  # registered values: another scan path
def test_warm_up_counts_calls_not_rescans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PF, "_scan", PF._scan_stub)
    monkeypatch.setattr(PF, "_warm", [0, 0])
    for _ in range(3):  # each masks, then scans its result again
        assert redact("retry password=hunter22") == "retry password=***"
    assert PF._warm[0] == 3


@pytest.mark.parametrize("name", ["PASSword", "pAsSwOrD", "Db_PassWORD"])
def test_secret_name_in_any_case(name: str) -> None:
    from hardenkit.redaction._names import is_secret_name  # noqa: PLC0415

    assert is_secret_name(name)
    assert redact(f"{name}=hunter22xx") == f"{name}=***"
    assert full_scan(f"{name}=hunter22xx") == f"{name}=***"


def test_extra_namedtuple_and_bytes_key_masked() -> None:
    import collections  # noqa: PLC0415
    import logging  # noqa: PLC0415

    from hardenkit.redaction import RedactingFilter  # noqa: PLC0415

    creds = collections.namedtuple("creds", ["user", "password"])  # noqa: PYI024
    record = logging.LogRecord("x", logging.INFO, "x", 0, "login", None, None)
    extra = vars(record)
    extra["blob"] = creds("ann", "hunter22")
    extra["raw"] = {b"password": "hunter22xx", b"user": "ann"}
    RedactingFilter().filter(record)
    assert extra["blob"] == creds("ann", "***")
    assert type(extra["blob"]) is creds
    assert extra["raw"] == {b"password": "***", b"user": "ann"}
