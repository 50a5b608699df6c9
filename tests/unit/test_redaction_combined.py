"""Registered values folded into the prefilter's database give the levels' text (issue 16).

Once the registered values stop changing, redact() finds them and the detectors' triggers
in one hyperscan scan (_combined._Combined) instead of two. That is a shortcut only if it
masks exactly what the levels' path masks: every test here runs the same texts through
both paths, the levels' path as the oracle, on the samples, the benchmark corpora and
generated text built from the registered values, their encoded forms and pieces of them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings, strategies as st
from tests._helpers import load_benchmark

from hardenkit.redaction import (
    _combined as CMB,  # noqa: N812
    _engine as E,  # noqa: N812
    _prefilter as PF,  # noqa: N812
    _registry as REG,  # noqa: N812
    redact,
    register_secret,
)

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

# Shapes the combined database must take as the levels do: plain, encoded forms (quotes,
# "/", "#", spaces), non-ASCII, a mask inside, overlapping values, one value inside
# another, over _LONG_LITERAL characters (str.find), a NUL (str.find), a newline.
_VALUES = (
    "cmb-plain-Q7x9z2",
    "cmb/slash#hash two",
    'it\'s a "quoted" cmb-pw',
    "cmb-ünïcødé-Kx9",
    "cmb***star-9",
    "cmb-overlap-AB12",
    "overlap-AB12-tail",
    "AB12-tail-more",
    "cmb-inner-Zz",
    "x-cmb-inner-Zz-y",
    "cmb-long-" + "L0ng" * 70,
    "cmb-nul\0value-3",
    "cmb-line\nbreak-4",
    "Zz0Zz0",
)


@pytest.fixture(scope="module")
def combined() -> tuple[Any, Any]:
    for value in _VALUES:
        register_secret(value)
    for _ in range(PF._WARM_CALLS + 1):
        redact("warm the prefilter up: password=abc123def")
    assert PF._scan is not PF._scan_stub
    assert not REG._pending
    CMB._combine(REG._levels)
    built = CMB._combined
    assert built[0] is REG._levels
    assert built[1] is not None
    assert built[1].longs  # the long and the NUL value are found by str.find
    return built


def _paths(built: tuple[Any, Any], texts: list[str]) -> tuple[list[str], list[str]]:
    """(the levels' path, the combined path) on ``texts``."""
    assert built[0] is REG._levels, "the registry changed: the test would compare nothing"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CMB, "_combined", built)
        mp.setattr(E, "_mask_levels", _not_called)  # the combined path never scans twice
        new = [redact(t) for t in texts]
        mp.undo()
        mp.setattr(CMB, "_combined", (None, None))
        mp.setattr(CMB, "_COMBINE_CALLS", 1 << 60)
        mp.setattr(CMB, "_COMBINE_BYTES", 1 << 60)
        old = [redact(t) for t in texts]
    return old, new


def _not_called(*_args: object) -> tuple[str, bytes]:
    raise AssertionError("the levels' path ran")


def _forms(value: str) -> list[str]:
    return sorted(REG._variants(value))


def test_samples_and_corpora_with_registered_values(
    combined: tuple[Any, Any], shared_data: Path
) -> None:
    samples: list[dict[str, str]] = json.loads((shared_data / "secret-samples.json").read_text())
    lines = [s["text"] for s in samples]
    lines += [line for line, _ in load_benchmark("corpus").make_corpus(1500, seed=7)]
    lines += load_benchmark("bench_redact").make_lines(1000, seed=3)
    forms = [form for value in _VALUES for form in _forms(value)]
    planted = [
        f"{line} {forms[i % len(forms)]}" if i % 3 else f"{forms[i % len(forms)]}{line}"
        for i, line in enumerate(lines)
    ]
    texts = lines + planted
    texts += ["\n".join(planted[at : at + 50]) for at in range(0, len(planted), 50)]
    old, new = _paths(combined, texts)
    assert new == old
    changed = sum(o != t for o, t in zip(old, texts, strict=True))
    assert changed >= len(planted)  # the planted values were masked (the test compares work)
    for form in forms:
        if len(form) > 6 and "\n" not in form:
            assert all(form not in out for out in new)


_PIECES = [
    *_VALUES,
    *(form for value in _VALUES for form in _forms(value)),
    *(value[: len(value) // 2] for value in _VALUES),
    *(value[len(value) // 2 :] for value in _VALUES),
    *("token=", "password: ", "://user:", "@db/app", "Authorization: Bearer ", "ghp_"),
    *("eyJ", "4111 1111 1111 1111", "\n", " ", "\t", "***", '"', "'", "é", "\u212a"),
]
_texts = st.lists(
    st.one_of(
        st.sampled_from(_PIECES),
        st.text(alphabet="abcAB12Zz0-_./#*'\" ", max_size=12),
        st.text(max_size=4),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(_texts, min_size=1, max_size=6))
def test_generated_text_with_registered_values(combined: tuple[Any, Any], texts: list[str]) -> None:
    texts = [*texts, "\n".join(texts)]
    old, new = _paths(combined, texts)
    assert new == old


def test_a_settled_registry_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(PF._WARM_CALLS + 1):
        redact("warm the prefilter up: password=abc123def")
    monkeypatch.setattr(CMB, "_COMBINE_CALLS", 3)
    monkeypatch.setattr(CMB, "_BACKOFF_MAX", 0)  # earlier tests' databases: no doubling here
    register_secret("cmb-settled-Vq81x")
    assert redact("a cmb-settled-Vq81x b") == "a *** b"  # folds the registration in
    levels = REG._levels
    assert CMB._combined[0] is not levels  # a new registration: the levels' path first
    for _ in range(3):
        assert redact("a cmb-settled-Vq81x b") == "a *** b"
    assert CMB._combined[0] is levels
    assert CMB._combined[1] is not None
    monkeypatch.setattr(E, "_mask_levels", _not_called)
    assert redact("a cmb-settled-Vq81x b password=hunter22x") == "a *** b password=***"
    # A later registration goes back to the levels' path until the registry settles again.
    register_secret("cmb-settled-later-2")
    monkeypatch.undo()
    assert redact("x cmb-settled-later-2 cmb-settled-Vq81x") == "x *** ***"
    assert CMB._combined[0] is not REG._levels


def test_a_database_hyperscan_refuses_leaves_the_levels_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register_secret("cmb-refused-Pk4z")
    redact("fold")

    def refuse(_levels: object) -> None:
        raise RuntimeError("too many patterns")

    monkeypatch.setattr(CMB, "_Combined", refuse)
    CMB._combine(REG._levels)
    assert CMB._combined == (REG._levels, None)
    assert redact("a cmb-refused-Pk4z b") == "a *** b"


@pytest.mark.parametrize(("limit", "value"), [("_COMBINE_MAX", 1), ("_COMBINE_MAX_BYTES", 8)])
def test_a_registry_too_large_to_compile_stays_on_the_levels_path(
    monkeypatch: pytest.MonkeyPatch, limit: str, value: int
) -> None:
    # The compile grows with the forms and their bytes (9,900 values of 256 characters
    # stalled one redact() call for 2.7 s): over either limit the levels' path stays.
    secret = f"cmb-large-{limit[-3:]}-Rt5w"
    register_secret(secret)
    redact("fold")
    monkeypatch.setattr(CMB, limit, value)
    CMB._combine(REG._levels)
    assert CMB._combined == (REG._levels, None)
    assert redact(f"a {secret} b") == "a *** b"


def test_each_database_thrown_away_doubles_the_wait_for_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A registration after a database was built throws it away; the next compile waits
    # twice as many calls, so registrations that keep coming cannot make it recur often.
    for _ in range(PF._WARM_CALLS + 1):
        redact("warm the prefilter up: password=abc123def")
    monkeypatch.setattr(CMB, "_COMBINE_CALLS", 4)
    monkeypatch.setattr(CMB, "_combine_backoff", [0])
    monkeypatch.setattr(CMB, "_combined", (None, None))
    monkeypatch.setattr(CMB, "_combine_count", [None, 0, 0])
    compiles: list[int] = []
    real = CMB._combine

    def counted(levels: Any) -> None:
        compiles.append(CMB._combine_count[1])
        real(levels)

    monkeypatch.setattr(CMB, "_combine", counted)
    waited: list[int] = []
    for round_ in range(4):
        register_secret(f"cmb-backoff-{round_}-Yh7u")
        calls = 0
        while True:
            assert redact(f"x cmb-backoff-{round_}-Yh7u") == "x ***"
            calls += 1
            if CMB._combined[0] is REG._levels:
                break
        waited.append(calls)
    # The call that folds the registration in counts for the levels before it: then 4, 8,
    # 16, 32 calls on the new levels before each compile.
    assert waited == [1 + (4 << n) for n in range(4)]
    assert CMB._combine_backoff == [3]
    assert len(compiles) == 4
