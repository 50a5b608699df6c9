"""The literal prefilter (a process's first texts, machines without hyperscan) (issue 16).

Before the hyperscan database is worth compiling, redact() picks the detectors to run by
literals every match of theirs holds. It must give the same text as the hyperscan path
and as every detector on the whole text, name a superset of the steps the hyperscan scan
names, and compile no detector a text does not call for (the audit CLI's first use).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings, strategies as st
from tests._helpers import load_benchmark

from hardenkit.redaction import (
    _engine as E,  # noqa: N812
    _patterns as P,  # noqa: N812
    _planner as PLAN,  # noqa: N812
    _prefilter as PF,  # noqa: N812
    redact,
)

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def texts(shared_data: Path) -> list[str]:
    samples: list[dict[str, str]] = json.loads((shared_data / "secret-samples.json").read_text())
    lines = [s["text"] for s in samples]
    lines += [line for line, _ in load_benchmark("corpus").make_corpus(4000, seed=7)]
    lines += load_benchmark("bench_redact").make_lines(1500, seed=3)
    return lines


def _literal_steps(text: str) -> set[int]:
    hits: list[tuple[int, int]] = []
    PF._literal_scan(text.encode("utf-8", "surrogatepass"), hits)
    return PF._literal_steps(hits)


def _hyperscan_steps(text: str) -> set[int]:
    return set(PLAN._steps_of(text, PF._built_scan()))


def test_literal_path_gives_the_hyperscan_paths_text(
    monkeypatch: pytest.MonkeyPatch, texts: list[str]
) -> None:
    PF._built_scan()
    hyper = [redact(t) for t in texts]
    blocks = ["\n".join(texts[i : i + 40]) for i in range(0, len(texts), 40)]
    hyper_blocks = [redact(b) for b in blocks]
    monkeypatch.setattr(PF, "_scan", PF._literal_scan)
    assert [redact(t) for t in texts] == hyper
    assert [redact(b) for b in blocks] == hyper_blocks
    assert hyper_blocks == [E.full_scan(b) for b in blocks]


def test_literal_steps_hold_the_hyperscan_steps(texts: list[str]) -> None:
    for text in texts:
        assert _hyperscan_steps(text) <= _literal_steps(text), text


def test_the_warm_up_runs_the_literal_path(
    monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    samples: list[dict[str, str]] = json.loads((shared_data / "secret-samples.json").read_text())
    monkeypatch.setattr(PF, "_scan", PF._scan_stub)
    monkeypatch.setattr(PF, "_warm", [0, 0])
    for sample in samples:
        out = redact(sample["text"])
        assert out == E.full_scan(sample["text"])
        if sample.get("secret"):  # a true positive (the others are false-positive bait)
            assert sample["secret"] not in out, sample["kind"]
    assert PF._scan is PF._scan_stub  # still warming up: no database used


@pytest.mark.parametrize("name", sorted(P.VALUE_TRIGGERS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_value_trigger_match_holds_one_of_its_literals(name: str, data: Any) -> None:
    # The trigger is a superset of where the pattern matches, with the same prefix.
    match = data.draw(st.from_regex(re.compile(P.VALUE_TRIGGERS[name]), fullmatch=True))
    assert any(lit in match for lit in P.VALUE_LITERALS[name]), (name, match)
    assert PF._STEP_INDEX[name] in _literal_steps(f"x {match} y")


@pytest.mark.parametrize(
    "text",
    [
        "xAPi\u212aey=hunter2secret99",  # KELVIN SIGN: odd-cased, read lowercased
        "<xAPi\u212aey>hunter2secret99</xAPi\u212aey>",
        "note: AKIAIOSFODNN7EXAMPLE in a log",
        "-----BEGIN EC PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END EC PRIVATE KEY-----",
        "card 4111-1111-1111-1111 declined",
        "Cookie: sid=abc123def456ghi789",
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "db at mysql://admin:wJal/K7MD/bPxR@db/app",
        "PassWord: 'hunter22x'",
    ],
)
def test_both_paths_mask_what_every_detector_masks(text: str) -> None:
    assert E.full_scan(text) != text
    assert PLAN._steps_of(text, PF._built_scan()) or E.full_scan(text) == text
    assert redact(text) == E.full_scan(text)
    hits: list[tuple[int, int]] = []
    PF._literal_scan(text.encode(), hits)
    assert PLAN._run(text, PF._literal_steps(hits)) == E.full_scan(text)


def test_first_use_compiles_only_the_detectors_called_for() -> None:
    # The audit CLI's environment check: ordinary values compile no value detector, and
    # no hyperscan database is built.
    code = (
        "import gc, sys\n"
        "from hardenkit.env import looks_secret\n"
        "from hardenkit.redaction import _patterns as P\n"
        "def compiled():\n"
        "    lazy = [o for o in gc.get_objects() if isinstance(o, P._LazyPattern)]\n"
        "    return sum('sub' in vars(o) for o in lazy)\n"
        "vals = ['/usr/bin:/bin', 'en_US.UTF-8', '/home/u', 'xterm-256color', 'x' * 40]\n"
        "vals += [f'value number {i}' for i in range(200)]\n"
        "print(sum(looks_secret(v) for v in vals), compiled())\n"
        "print(looks_secret('password=hunter22x'), 0 < compiled() < 8)\n"
        "print('hyperscan' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "0", "True", "True", "False"]


_MASK_CHARS = st.text(alphabet=st.sampled_from(list("\"' *[]<>aR\t\n\u00a0")), max_size=8)


@settings(max_examples=400, deadline=None)
@given(value=st.one_of(_MASK_CHARS, st.sampled_from(["[REDACTED]", "'<masked>'", '" *** "'])))
def test_is_mask_fast_path_answers_as_the_regexes(value: str) -> None:
    from hardenkit.redaction import _names  # noqa: PLC0415

    inner = _names._QUOTED.fullmatch(value)
    body = inner.group(2) if inner else value
    assert _names.is_mask(value) is (_names._MASK_ONLY.fullmatch(body.strip()) is not None)


@pytest.mark.parametrize("text", ['APIKEY:"\\', "password='ab\\", 'token="x\\\nnext'])
def test_a_backslash_ending_an_open_quote_is_masked_in_one_pass(text: str) -> None:
    once = PF._STEP_SUBS[PF._KEY_VALUE](text)
    assert PF._STEP_SUBS[PF._KEY_VALUE](once) == once
    assert redact(text) == E.full_scan(text) == once
    assert "\\" not in once


_TOSTRINGISH = st.one_of(
    st.from_regex(r"[A-Z][A-Za-z0-9_$]{1,6}(?:\{[0-9a-f]{4,9}|@[0-9a-f]{5,9})", fullmatch=True),
    st.text(alphabet=st.sampled_from(list("Az09{@f$_\u00b2\u0661 ")), max_size=10),
)


@settings(max_examples=400, deadline=None)
@given(value=_TOSTRINGISH)
def test_value_shape_helpers_answer_as_the_regexes(value: str) -> None:
    from hardenkit.redaction import _keys as K  # noqa: PLC0415, N812

    assert K._to_string(value) is (K._TO_STRING.fullmatch(value) is not None)
    assert K._port(value) is (K._PORT.fullmatch(value) is not None)


def test_pairs_remembered_as_left_never_hide_a_secret() -> None:
    from hardenkit.redaction import _keys as K  # noqa: PLC0415, N812

    # The scan claims a frame itself now; pair_left remembers it where it is asked (a
    # block's separator-only line), and a remembered pair must hide nothing after it.
    line = "at TokenService.run(TokenService.java:755) password=hunter22x"
    assert K.pair_left(line, line.index(":755"))
    assert ("TokenService.java", "755)") in K._LEFT_PAIRS
    for _ in range(3):
        assert redact(line) == "at TokenService.run(TokenService.java:755) password=***"
    assert not any(value.startswith("hunter") for _, value in K._LEFT_PAIRS)
    # The same value under a key that names a secret: not the remembered answer.
    assert (
        redact("at x(api.token:755)") == E.full_scan("at x(api.token:755)") != "at x(api.token:755)"
    )
