"""_trim_value's one backwards pass drops what the old one-closer-at-a-time loop dropped."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from hardenkit.redaction._keys import _CLOSERS, _TRAILERS, _trim_value


def _one_at_a_time(value: str) -> str:
    """The definition: drop the last trailer while it is unbalanced in what is left."""
    while value and value[-1] in _TRAILERS:
        last = value[-1]
        opener = _CLOSERS.get(last)
        if opener is not None:
            if value.count(opener) >= value.count(last):
                break
        elif last in "\"'" and value.count(last) % 2 == 0:
            break
        value = value[:-1]
    return value


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="()[]{}<>\"',;.ax=", max_size=24))
def test_trim_value_matches_its_definition(value: str) -> None:
    assert _trim_value(value) == _one_at_a_time(value)


def test_trim_value_examples() -> None:
    assert _trim_value("abc)") == "abc"
    assert _trim_value("Admin(2024)") == "Admin(2024)"
    assert _trim_value("abc\"'.,;") == "abc"
    assert _trim_value('ab"c"') == 'ab"c"'
    assert _trim_value("x" + ")" * 100_000) == "x"
