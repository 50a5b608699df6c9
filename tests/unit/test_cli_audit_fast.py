"""``hardenkit audit``'s argparse-free fast path: argparse's result and output, or none.

The plain forms (``--pid N``, ``--json``, ``--all``) skip argparse, typing and logging;
everything else goes to argparse. Both paths must print the same bytes and exit alike.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings, strategies as st
from tests._helpers import argparse_result, fast_path_agreements, random_option_words

from hardenkit.cli import _parse
from hardenkit.cli.audit import _show, dumps, parse_fast

if TYPE_CHECKING:
    import random
    from collections.abc import Iterator

_VALUES = ["1", "42", "007", "0", "-1", "+5", " 7", "1_0", "x", "", "\u0663", "99999999999"]
_OPTIONS = [
    "--pid", "--json", "--all", "--js", "--pi", "--help", "-h", "--fail-above", "--paths",
    "--max-mode", "--", "-v", "--bogus", "--json=1", "--all=",
]  # fmt: skip
TOKEN = "ghp_" + "a1B2" * 9  # a GitHub token shape the detectors know


def _argparse(words: list[str]) -> dict[str, object] | None:
    return argparse_result("audit", words)


def _words(rng: random.Random) -> list[str]:
    return random_option_words(rng, _OPTIONS, _VALUES, most=5, eq=0.25, value=0.5)


def test_the_fast_path_agrees_with_argparse_or_declines() -> None:
    taken = fast_path_agreements(parse_fast, "audit", _words, seed=16)
    assert taken > 200  # the fast path is not a dead branch


@pytest.mark.parametrize("form", ["--pid={}", "--pid {}"])
def test_a_pid_too_long_for_int_goes_to_argparse(form: str) -> None:
    # Found by review: int() of 5,000 digits raised ValueError (a traceback, exit 1, which
    # reads as "findings") where argparse refuses it as a usage error.
    words = form.format("1" * 5000).split(" ")
    assert parse_fast(words) is None
    assert _argparse(words) is None


@pytest.mark.parametrize(
    "words",
    [[], ["--json"], ["--pid", "42", "--json"], ["--json", "--pid=42"], ["--all", "--json"]],
)
def test_the_plain_forms_take_the_fast_path(words: list[str]) -> None:
    args = _parse(["audit", *words])
    assert type(args).__name__ == "_Args"
    assert vars(args) == _argparse(words)


def test_warnings_show_as_logging_would_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    _show("hardenkit.x", 30, "retrying with %s", (f"token={TOKEN}",))
    _show("hardenkit.x", 40, "plain", ())
    _show("hardenkit.x", 20, "info %s", (TOKEN,))
    _show("hardenkit.x", 35, "odd level", ())
    _show("hardenkit.x", 30, "%d items", (TOKEN,))
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert err.splitlines()[:3] == [
        "hardenkit: WARNING: retrying with token=***",
        "hardenkit: ERROR: plain",
        "hardenkit: Level 35: odd level",
    ]
    assert "arguments withheld" in err.splitlines()[3]


# Runs main() in a fresh interpreter; "slow" replaces the fast parser by one that always
# declines, so the same words go through argparse and logging.
_RUN = """
import sys
import hardenkit.cli.audit
if sys.argv[1] == "slow":
    hardenkit.cli.audit.parse_fast = lambda words: None
from hardenkit.cli import main
status = main(sys.argv[2:])
sys.stdout.flush()
print("modules:", " ".join(m for m in ("argparse", "logging") if m in sys.modules),
      file=sys.stderr)
sys.exit(status)
"""


def _run(path: str, words: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM", "COLUMNS")}
    return subprocess.run(
        [sys.executable, "-c", _RUN, path, "audit", *words],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def target() -> Iterator[int]:
    """A process to audit whose environment holds a secret-looking name and a token."""
    env = {"PATH": "/usr/bin:/bin", "API_TOKEN": TOKEN, f"X_{TOKEN}": "1"}
    proc = subprocess.Popen(["sleep", "120"], env=env)
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.linux
@pytest.mark.parametrize(
    "words",
    [
        ["--pid", "{pid}", "--json"],
        ["--json", "--pid={pid}"],
        ["--pid", "{pid}"],
        ["--pid", "0"],
        ["--pid", "x"],
        ["--pid"],
        ["--pid", "{pid}", "--all"],
        ["--pid", "{pid}", "--pid", "{pid}", "--json"],
        ["--pid", "4194305", "--json"],  # past pid_max: the audit cannot run (exit 3)
        ["--pid", "-1"],
        ["--bogus"],
    ],
)
def test_both_paths_print_the_same_bytes_and_exit_alike(target: int, words: list[str]) -> None:
    words = [w.replace("{pid}", str(target)) for w in words]
    fast, slow = _run("fast", words), _run("slow", words)
    fast_err, _, fast_modules = fast.stderr.rpartition("modules:")
    slow_err, _, slow_modules = slow.stderr.rpartition("modules:")
    assert (fast.returncode, fast.stdout, fast_err) == (slow.returncode, slow.stdout, slow_err)
    assert TOKEN not in fast.stdout + fast.stderr
    took_fast = parse_fast(words) is not None
    if slow.returncode != 2:
        assert "logging" in slow_modules
    assert ("argparse" not in fast_modules) is took_fast
    if took_fast:
        assert fast_modules.strip() == ""


_IMPORTS = """
import sys
from hardenkit.cli import _parse
args = _parse(["audit", "--pid", sys.argv[1], "--json"])
args.start_logging()
import hardenkit.audit
before_audit = {m for m in ("argparse", "logging", "typing") if m in sys.modules}
import io, contextlib
with contextlib.redirect_stdout(io.StringIO()) as out:
    status = args.handler(args)
watched = ("argparse", "logging", "json", "typing", "hardenkit.cli._parser")
after = {m for m in watched if m in sys.modules}
print(status, sorted(before_audit), sorted(after), out.getvalue().startswith("{"))
"""


@pytest.mark.linux
def test_the_fast_path_imports_neither_argparse_logging_nor_typing(target: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORTS, str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # typing neither: the CLI, the audit's modules and redaction (which the audit of an
    # environment runs) all import it for type checkers only.
    assert proc.stdout.split() == ["1", "[]", "[]", "True"]


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.1, 1e16, -0.0, 1e-7, math.nan, -math.inf, 5.0])
    | st.text()
    | st.sampled_from(["\x00\x1f\x7f", "\u2028\u202e", "\ud800", '"\\/', "\U0001f600", "é"])
)
_PLAIN = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)
_ODD = st.sampled_from([b"x", {1: "a"}, {None: 1}, {1.5: 2}, {True: 0}, {"a": {1, 2}}, object()])


def _both(value: object) -> tuple[object, object]:
    def attempt(fn: object) -> object:
        try:
            return fn(value)  # type: ignore[operator]
        except (TypeError, ValueError) as exc:
            return type(exc), str(exc)

    return attempt(dumps), attempt(lambda v: json.dumps(v, indent=2))


@settings(max_examples=400, deadline=None)
@given(_PLAIN | st.lists(_PLAIN | _ODD, max_size=3) | st.dictionaries(st.text(max_size=3), _ODD))
def test_dumps_writes_what_json_dumps_writes(value: object) -> None:
    ours, theirs = _both(value)
    assert ours == theirs


@pytest.mark.linux
def test_dumps_of_real_reports_is_json_dumps() -> None:
    from hardenkit.audit import audit_all, audit_process  # noqa: PLC0415

    sweep = audit_all().to_dict()
    assert dumps(sweep) == json.dumps(sweep, indent=2)
    report = audit_process().to_dict()
    assert dumps(report) == json.dumps(report, indent=2)


@pytest.mark.linux
@pytest.mark.parametrize("json_out", [False, True])
def test_a_name_the_terminal_cannot_encode_is_escaped_not_a_crash(json_out: bool) -> None:
    # Found by review: a process named with invalid UTF-8, reported to an ASCII stdout,
    # raised UnicodeEncodeError: a traceback and exit 1, which reads as "findings".
    code = (
        "import ctypes, time; ctypes.CDLL(None).prctl(15, b'bad\\xff\\xfename', 0, 0, 0)\n"
        "print('ready', flush=True); time.sleep(30)\n"
    )
    target = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert target.stdout is not None
        assert target.stdout.readline() == b"ready\n"
        words = ["audit", "--pid", str(target.pid), *(["--json"] if json_out else [])]
        proc = subprocess.run(
            [sys.executable, "-m", "hardenkit", *words],
            capture_output=True,
            env={**os.environ, "PYTHONIOENCODING": "ascii"},
            timeout=60,
            check=False,
        )
    finally:
        target.kill()
        target.wait()
        if target.stdout is not None:
            target.stdout.close()
    assert b"Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr  # the verdict, not a crash
    assert proc.stdout.isascii()
    assert b"bad" in proc.stdout


def test_an_unexpected_error_is_could_not_run_not_findings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hardenkit import _log  # noqa: PLC0415
    from hardenkit.cli import audit, main  # noqa: PLC0415

    # main()'s fast path sends hardenkit's records to a sink: restored after the test, so
    # later tests' caplog sees them again.
    monkeypatch.setattr(_log, "_sink", _log._sink)

    def broken(_args: object) -> int:
        raise RuntimeError("value hunter2-quoted")

    monkeypatch.setattr(audit, "run", broken)
    assert main(["audit", "--pid", "1"]) == 3  # "could not run", never 1 ("findings")
    err = capsys.readouterr().err
    assert "internal error (RuntimeError)" in err
    assert "hunter2" not in err  # the type only: a message may quote a value
    assert _log.current_sink() is None  # the fast path's sink ended with the command
