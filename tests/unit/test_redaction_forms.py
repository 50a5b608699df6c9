"""Forms the eighth review found passing through: each class, both paths, as a block too.

- A strong name's value in brackets holding blanks (a JSON array or object, a Python repr)
  is masked to its closing bracket, not to the first blank.
- A token shape right after a string escape (``\\n``, ``\\t``: a JSON log line's escaped
  newline) or a percent-encoded byte (``%20``, ``%3D``) starts a word: it is masked.
- A card number between slashes (a REST path), after an escape or a percent-encoded byte,
  or followed by a blank and other digits (``4111111111111111 2 items``) is masked.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st
from tests._helpers import redaction_scan_path

from hardenkit.redaction import _prefilter, redact
from hardenkit.redaction._engine import full_scan

pytestmark = pytest.mark.usefixtures("no_registered_secrets")

SECRET = "Xk9vQ2zzHunt3r"  # noqa: S105 -- a fake secret, the one these tests mask


def _checked(text: str) -> str:
    """redact(text), held to the oracle, to idempotence and to the same output in a block."""
    out = redact(text)
    assert out == full_scan(text)
    assert redact(out) == out
    block = "first line\n" + text + "\nlast line"
    assert redact(block) == "first line\n" + out + "\nlast line"
    return out


# --------------------------------------------------------------------- bracketed values

_STRONG = ["password", "api_key", "DB_PASSWORD", "client_secret", "--db-password", "token"]
_BRACKETS = ["{}", "[]", "()", "<>"]


@pytest.mark.parametrize("name", _STRONG)
@pytest.mark.parametrize("sep", ["=", ": ", " => ", ":"])
@pytest.mark.parametrize("brackets", _BRACKETS)
def test_bracketed_value_with_blanks_masked_whole(name: str, sep: str, brackets: str) -> None:
    o, c = brackets[0], brackets[1]
    text = f"cfg {name}{sep}{o}a {SECRET} b{c} next"
    out = _checked(text)
    assert SECRET not in out
    assert out.endswith(" next")


@pytest.mark.parametrize(
    "value",
    [
        ["old", SECRET],
        {"prod": SECRET},
        {"a": {"b": [SECRET, 1]}},
        [[1, 2], [SECRET]],
        {"a": {"b": {"c": SECRET}}},
    ],
)
@pytest.mark.parametrize("name", ["password", "api_keys", "secrets", "api_key"])
def test_json_object_and_array_values_masked_whole(name: str, value: object) -> None:
    text = json.dumps({"user": "ann", name: value, "after": "kept"})
    out = _checked(text)
    assert SECRET not in out
    assert '"after": "kept"' in out
    assert '"user": "ann"' in out


def test_python_repr_values_masked_whole() -> None:
    for value in ({"a": SECRET, "b": "x y"}, [SECRET, "x y"], (SECRET, "x y")):
        out = _checked(f"password={value!r} done")
        assert SECRET not in out
        assert out == "password=*** done"


def test_bracketed_value_then_word_and_query() -> None:
    assert _checked("password={abc}def x") == "password=*** x"
    assert _checked("GET /?password=(a b)&next=/ 302") == "GET /?password=***&next=/ 302"
    assert _checked("(password=abc)") == "(password=***)"


def test_unclosed_bracket_runs_to_the_end_of_the_line() -> None:
    # Never closed on its line: the rest of the line is the value (no bounded guess).
    assert _checked("password={abc def") == "password=***"
    assert _checked("password=[abc\nnext] line") == "password=***\nnext] line"
    assert _checked("password=[a hunter2 x") == "password=***"


@pytest.mark.parametrize(
    "text",
    [
        '{"password": ["Xk9]vQ2", "newSecret9"]}',
        "{'password': ['Xk9)vQ2', 'newSecret9'], 'u': 1}",
        'password={"k": "} hunter2 x"} tail',
        "secrets={'db': 'ab}c', 'api': 'zz9Secret x'}",
        'password=["a\\"] b", "newSecret9"] tail',
        "password=[[[[[[hunter2 hunter3]]]]]] tail",
    ],
)
def test_brackets_inside_strings_and_deep_nesting_do_not_end_the_value(text: str) -> None:
    out = _checked(text)
    for word in ("newSecret9", "hunter2", "hunter3", "zz9Secret", "Xk9"):
        assert word not in out


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.text(alphabet="abcXYZ019 ,:'\"", max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text("ab", max_size=3), inner, max_size=3)
        ),
        max_leaves=8,
    ),
    st.sampled_from(["password", "api_key", "secret"]),
)
def test_nested_values_under_a_strong_name_leave_no_word(value: object, name: str) -> None:
    """Whatever the nesting and the strings inside, nothing after the name is left but the
    mask and what follows the value."""
    if not isinstance(value, (list, dict)):
        value = [value]
    text = json.dumps({name: value, "z": 1})
    out = _checked(text)
    assert out == f'{{"{name}": ***, "z": 1}}'


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


# ---------------------------------------------------- token shapes after escapes and %XX

_TOKENS = [
    "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "gho_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAIOSFODNN7EXAMPLE",
    "sk-proj" + "a1B2c3D4e5F6g7H8i9J0k1L2m3",
    "hf_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5",
    "sk_live_" + "a1B2c3D4e5F6g7H8",
    "rk_live_" + "a1B2c3D4e5F6g7H8",
    "dapi" + "0123456789abcdef" * 2,
    "SK" + "0123456789abcdef" * 2,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl",
]
_STARTS = ["\\n", "\\t", "\\r\\n", "\\b", "\\f", "%20", "%22", "%3D", "%2F", "%0A", "%3d"]
_STARTS += ["\\u003c", "\\u003E", "\\u0026", "\\x3d", "\\u000a"]


@pytest.mark.parametrize("token", _TOKENS)
@pytest.mark.parametrize("start", _STARTS)
def test_token_after_escape_or_percent_byte_is_masked(token: str, start: str) -> None:
    text = f'{{"msg": "keys:{start}{token} end"}}'
    out = _checked(text)
    assert token not in out
    assert f"{start}***" in out


@pytest.mark.parametrize("token", _TOKENS[:-1])  # a JWT's payload starts a token of its own
@pytest.mark.parametrize("before", ["x", "9", "\\x", "%2", "%G0"])
def test_token_joined_to_a_word_stays(token: str, before: str) -> None:
    """Joined to a letter or digit that is no escape's or encoded byte's, it is part of a word."""
    text = f"id {before}{token} end"
    assert _checked(text) == text


# ------------------------------------------------------------------------- card numbers


def _luhn_complete(prefix: str, length: int, body: str) -> str:
    digits = (prefix + body)[: length - 1]
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return digits + str((10 - total % 10) % 10)


_BRANDS = [("4", 16), ("4", 13), ("51", 16), ("2221", 16), ("34", 15), ("6011", 16), ("35", 16)]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(_BRANDS),
    st.text(alphabet="0123456789", min_size=19, max_size=19),
    st.sampled_from(
        [
            "/cards/{}/charge",
            "x\\n{} y",
            "q=%20{}&x",
            "q=%2C{}",
            "paid {} 2 items",
            "amount 3000 {} ok",
            "exp 2027 {}",
            "x \\u003e{}\\u003c",
            "a\\x3d{}",
            "paid {} 12",
            "pan={}",
            "({})",
            "GET /v1/{}?a=1",
        ]
    ),
)
def test_card_numbers_in_their_forms_are_masked(
    brand: tuple[str, int], body: str, form: str
) -> None:
    card = _luhn_complete(brand[0], brand[1], body)
    out = _checked(form.format(card))
    assert card not in out
    assert "***" in out


@pytest.mark.parametrize(
    "text",
    [
        "v1.4242424242424242",
        "x4242424242424242",
        "4242424242424242x",
        "order 4242424242424242-3",
        "id_4242424242424242",
        "a+4242424242424242",
    ],
)
def test_card_numbers_joined_to_a_word_stay(text: str) -> None:
    assert _checked(text) == text


def test_spaced_card_then_digits() -> None:
    assert _checked("paid 4242 4242 4242 4242 12 ok") == "paid *** 12 ok"
    assert _checked("a 4242-4242-4242-4242 5 b") == "a *** 5 b"


# ------------------------------------------------------- form parameters' bracketed names

_FORM_NAMES = ["user[password]", "password[]", "data[api_key]", "auth[password]", "a[b][secret]"]
_FORM_NAMES += ["user[password][]", "token[]"]


@pytest.mark.parametrize("name", _FORM_NAMES)
@pytest.mark.parametrize("form", ["{}={}&commit=Log+in", "POST body: {}={}", "{} = {} next"])
def test_form_parameter_names_in_brackets_are_read(name: str, form: str) -> None:
    out = _checked(form.format(name, SECRET))
    assert SECRET not in out
    assert f"{name}" in out


@pytest.mark.parametrize(
    "text",
    [
        "a[b]=c",
        "arr[0]=5",
        "items[]=42",
        "user[name]=ann",
        "arr[0][1]=5",
        "x[0]=1",
        "passwd[1012]: pam_unix(passwd:chauthtok): failure",
        "[password]: reset requested for ann",
        "2024-01-01 INFO [TokenRefresher]: refreshed",
        "INFO [AuthTokenFilter]: request accepted",
        "dict[str, SecretStr]: value",
    ],
)
def test_bracketed_names_that_name_no_secret_stay(text: str) -> None:
    assert _checked(text) == text


_PARTS = st.lists(
    st.sampled_from(
        [
            *("password", "session", "api_key", "sid", "user", "token", "auth", "x"),
            *("[", "]", "[]", "=", ":", ": ", " ", "&", '"', "{", "}", "(", ")", "<", ">"),
            *("=>", " => ", "] =>"),
            *("Xk9vQ2zz7qRt", "abc", "a b", "12", "\\n", "%20", "ghp_" + "a1B2" * 9),
            *("4111111111111111", "/", "AKIAIOSFODNN7EXAMPLE", ","),
        ]
    ),
    max_size=14,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_PARTS)
def test_new_forms_through_the_database_equal_every_detector(text: str) -> None:
    """The triggers (the scan's database) reach every form the rules now read."""
    _prefilter._built_scan()  # the database path, not the first calls' literal prefilter
    assert redact(text) == full_scan(text)
    for line in (f"x {text} y", f"{text}\n{text}"):
        assert redact(line) == full_scan(line)


@pytest.mark.parametrize(
    "text",
    [
        "map[Authorization:[Bearer abc123def456] Content-Type:[application/json]]",
        'map[Authorization:[Digest username="u", response="6629fae49393a05397450978507c4ef1"]]',
    ],
)
def test_go_header_maps_mask_the_credentials(text: str) -> None:
    """Go prints an http.Header as map[Name:[value ...]]: the value is a bracketed one."""
    out = _checked(text)
    assert "abc123def456" not in out
    assert "6629fae4" not in out
    assert out.startswith("map[Authorization:***")


# ------------------------------------------------------------- the third review's cases


@pytest.mark.parametrize(
    "text",
    [
        '{"log":"password=[\\"x]y\\", \\"SECRET z\\"] after"}',
        '{"log":"{\\"password\\": [\\"x]y\\", \\"SECRET z\\"]}"}',
        '{"log":"{\\"password\\": {\\"a\\": \\"x}y\\", \\"b\\": \\"SECRET z\\"}}"}',
    ],
)
def test_brackets_inside_escaped_strings_are_their_own(text: str) -> None:
    """JSON in a JSON string: \\"...\\" is a string, its brackets do not end the value."""
    out = _checked(text)
    assert "SECRET" not in out


@pytest.mark.parametrize("depth", [6, 9, 40])
def test_brackets_nested_to_any_depth(depth: int) -> None:
    inner = "[" * depth + "1" + "]" * depth
    out = _checked(f'{{"password": [{inner}, "hunter2 hunter3"], "u": 1}}')
    assert out == '{"password": ***, "u": 1}'
    nested = '{"a":' * depth + "1" + "}" * depth
    assert _checked(f'token={nested[:-1]}, "g": "secret value"}} end') == "token=*** end"


def test_a_long_run_of_brackets_costs_little_memory() -> None:
    """A value is read by a loop in runs, not by re's repeat (which kept ~300 bytes of
    state per character: 1 MB of ``[`` took 306 MB)."""
    import tracemalloc  # noqa: PLC0415

    text = "password=" + "[" * 1_000_000
    redact(text)  # compiles what it needs first
    tracemalloc.start()
    try:
        out = redact(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out == "password=***"
    assert peak < 20 * len(text)  # the text's copies (str, bytes, reversed), not per-char state


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 99_999), st.sampled_from(["4", "51", "55", "34", "6011", "35", "2221"]))
def test_a_card_after_a_number_is_masked_whole(number: int, prefix: str) -> None:
    """A number before a card may make a card with its first groups (amount 3000 4111
    1111 1111 1111: 3000 4111 1111 1111 passes Luhn): none of the card's groups is left."""
    length = 15 if prefix == "34" else 16
    card = _luhn_complete(prefix, length, str(number * 7919 % 10**12).zfill(12) * 2)
    groups = " ".join(card[k : k + 4] for k in range(0, len(card), 4))
    out = _checked(f"amount {number} {groups} ok")
    assert out.endswith(" *** ok")
    for group in groups.split():
        assert f" {group} " not in out.replace(f"amount {number} ", "amount ")


@pytest.mark.parametrize("path", ["warm-up", "hyperscan"])
@pytest.mark.parametrize(
    "text",
    [
        "Array ( [password] => hunter2secret )",
        "user[password]=> hunter2secret",
        'user[password]=>"hunter2 secret"',
        "Array\n(\n    [api_key] => hunter2secret\n)",
    ],
)
def test_php_print_r_pairs_are_masked_on_both_paths(path: str, text: str) -> None:
    """PHP's print_r writes [name] => value; a "=>" pair reads its name in brackets as a
    "=" pair does, on the literal path and through the database alike (the fourth review:
    the database's planner read it, the rule did not)."""
    with redaction_scan_path(path):
        out = redact(text)
    assert out == full_scan(text)
    assert "hunter2" not in out
