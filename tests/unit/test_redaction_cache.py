"""What redact() keeps between calls, and registration of values UTF-8 cannot encode.

The key=value rule remembers pairs it leaves (a stack frame's ``TokenService.java:755``):
nothing it holds may be a value another detector masks or a registered secret, and what
it holds is bounded in size, not only in entries.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings, strategies as st

from hardenkit import Secret
from hardenkit.redaction import (
    _keys as K,  # noqa: N812
    _prefilter as PF,  # noqa: N812
    _registry as REG,  # noqa: N812
    redact,
    register_secret,
)


@pytest.fixture(params=["warm-up", "hyperscan"])
def _path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    scan = PF._literal_scan if request.param == "warm-up" else PF._built_scan()
    monkeypatch.setattr(PF, "_scan", scan)
    K._LEFT_PAIRS.clear()
    return str(request.param)


def _held() -> set[str]:
    return {value for _, value in K._LEFT_PAIRS}


@pytest.mark.usefixtures("_path")
@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("sig=4111111111111111 session=a1b2c3 done", "4111111111111111"),
        ("sid=4111-1111-1111-1111 auth=x9 ok", "4111-1111-1111-1111"),
        ("Session: 378282246310005 sessionid=ab12", "378282246310005"),
    ],
)
def test_a_card_after_a_weak_key_is_masked_and_not_kept(line: str, secret: str) -> None:
    out = redact(line)
    assert secret not in out
    assert not any(secret in value for value in _held())


def test_a_value_registered_later_is_not_kept(_path: str) -> None:  # noqa: PT019
    value = "qwertyuiop" + _path.replace("-", "")  # letters only, one per path
    line = f"sig={value} session=a1b2c3 ok"
    # A weak key's value of letters only stays (so does a1b2c3: too short to mask); the
    # weak trigger fires on session=a1b2c3 and both pairs are read.
    assert redact(line) == line
    register_secret(value)
    assert redact(line) == "sig=*** session=a1b2c3 ok"
    assert not any(value in held for held in _held())


@pytest.mark.usefixtures("_path")
def test_what_is_kept_is_bounded_in_size() -> None:
    for n in range(20):
        redact('password="' + " " * (1000 + n) + '"')
        redact("TokenService.java:" + str(100 + n) + ")" * (1000 + n))
    assert sum(len(k) + len(v) for k, v in K._LEFT_PAIRS) <= 20 * (K._KEY_WINDOW + 5)
    assert all(len(value) <= K._LEFT_VALUE_MAX < REG.MIN_SECRET_LENGTH for value in _held())


def test_the_cache_still_remembers_short_left_values() -> None:
    K._LEFT_PAIRS.clear()
    assert K.pair_left("at TokenService.java:755)", len("at TokenService.java"))
    assert ("TokenService.java", "755)") in K._LEFT_PAIRS


@pytest.mark.parametrize("value", ["ab\ud800cdefg", "\udc00xyzwvu", "lone-\udfff-surrogate"])
def test_a_value_with_a_lone_surrogate_registers(value: str) -> None:
    assert register_secret(value, strict=False)
    assert register_secret(value)
    assert redact(f"a {value} b") == "a *** b"
    encoded = quote(value, safe="", errors="surrogatepass")
    assert redact(f"a {encoded} b") == "a *** b"


def test_a_secret_with_a_lone_surrogate_is_built() -> None:
    value = "qq\ud800rrrrr-secret"
    secret = Secret(value)
    assert secret.reveal() == value
    assert redact(f"x {value} y") == "x *** y"


def test_a_long_key_name_is_not_memoised() -> None:
    from hardenkit.redaction import _names as N  # noqa: PLC0415, N812

    before = len(N._STRENGTH)
    for i in range(3):
        key = "A" * (50_000 + i) + "password"
        assert redact(f"{key}=hunter22x") == f"{key}=***"
    assert len(N._STRENGTH) == before


@pytest.mark.parametrize(
    "line",
    [
        "export API_KEY=9Zm9vYmFyc2VjcmV0LXZhbHVl==",
        "export API_KEY=c2VjcmV0LXZhbHVlLWhlcmUx==",
        "auth token=Xk9vQ2zz7Lp:retry password=hunter22x7:y",
        "DB_PASSWORD=MyPassword123=",
        "secret=Secret2024:x=1",
        "API_KEY=correct-horse-battery-staple==",
        "token=ABCDEFGHIJKLmnopqrstuv==",
        "password=pw\u0663\u0663\u0663secretvalue==",
    ],
)
@pytest.mark.usefixtures("_path")
def test_the_key_memos_hold_no_text(line: str) -> None:
    # A run read as a key may be a value (the text before "=" in "...LXZhbHVl=="): the
    # memos of key runs and name strengths are keyed by length and hash, and hold numbers.
    from hardenkit.redaction import _names as N  # noqa: PLC0415, N812

    assert "***" in redact(line)
    for memo in (K._FOUND, N._STRENGTH):
        assert memo
        for key, value in memo.items():
            assert type(key) is tuple
            assert all(type(part) is int for part in key)
            assert type(value) is int


@given(st.text(alphabet="aB_-1٣.xYzPASWORDtokenKEY", max_size=40))
@settings(max_examples=400, deadline=None)
def test_the_memoised_key_tests_answer_as_the_tests(run: str) -> None:
    from hardenkit.redaction import _names as N  # noqa: PLC0415, N812

    for _ in range(2):  # the second answer comes from the memo
        found = K._uncached_candidate(run)
        assert found is None or found[2] == N._uncached_strength(found[0])
        assert K._run_key(run) == found
        assert N._cached_strength(run) == N._uncached_strength(run)
