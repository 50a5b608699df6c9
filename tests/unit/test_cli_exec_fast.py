"""``hardenkit exec``'s argparse-free fast path parses exactly as argparse, or not at all."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from tests._helpers import argparse_result, fast_path_agreements, random_option_words

from hardenkit.cli.exec import parse_fast

if TYPE_CHECKING:
    import random

_VALUES = ["nobody", "65534", "/usr", "", "a=b", "-1", "--", "x y", "/data=1"]
_OPTIONS = [
    "--profile", "--preset", "--user", "--group", "--groups", "--keep", "--umask", "--cwd",
    "--env-allow", "--env-set", "--limit", "--read", "--write", "--execute", "--seccomp",
    "--net", "--allow-namespaces", "--print-profile", "--dry-run",
    "--us", "--help", "-h", "--read_only", "--bogus", "-v",
]  # fmt: skip


def _argparse(words: list[str]) -> dict[str, object] | None:
    return argparse_result("exec", words)


def _words(rng: random.Random) -> list[str]:
    words = random_option_words(rng, _OPTIONS, _VALUES, most=6, eq=0.3, value=0.8)
    if rng.random() < 0.9:
        words.append("--")
    words.extend(rng.choice([["/bin/true"], ["id", "-u"], [], ["--", "x"], ["-h"]]))
    return words


def test_the_fast_path_agrees_with_argparse_or_declines() -> None:
    taken = fast_path_agreements(parse_fast, "exec", _words, seed=18)
    assert taken > 300  # the fast path is not a dead branch


@pytest.mark.parametrize(
    "words",
    [
        ["--user", "nobody", "--seccomp", "docker", "--read", "/usr", "--execute", "/usr",
         "--net", "none", "--", "/bin/true"],
        ["--preset", "batch-job", "--limit=memory=512M", "--dry-run", "--", "sh", "-c", "x"],
        ["--groups", "", "--net", "unix", "--net", "connect=443", "--", "--", "-h"],
    ],
)  # fmt: skip
def test_the_plain_forms_take_the_fast_path(words: list[str]) -> None:
    fast = parse_fast(words)
    assert fast is not None
    assert vars(fast) | {"handler": None} == (_argparse(words) or {}) | {"handler": None}


def test_help_and_errors_are_argparses() -> None:
    def run(*words: str) -> tuple[int, str, str]:
        p = subprocess.run(
            [sys.executable, "-m", "hardenkit", "exec", *words],
            capture_output=True,
            text=True,
            check=False,
        )
        return p.returncode, p.stdout, p.stderr

    code, out, _ = run("--help")
    assert code == 0
    assert "--print-profile" in out
    assert out.startswith("usage: hardenkit exec")
    code, _, err = run("--user")
    assert (code, err.splitlines()[-1]) == (
        2,
        "hardenkit exec: error: argument --user: expected one argument",
    )
    code, _, err = run("--profile", "a", "--preset", "b", "--", "true")
    assert code == 2
    assert "not allowed with argument" in err


def test_exec_pauses_garbage_collection_and_main_turns_it_back_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # exec frees the whole heap when it becomes the command: no collection while it
    # confines. In process (or on an error before the exec) main() restores the state.
    import gc  # noqa: PLC0415

    from hardenkit.cli import _confine, main  # noqa: PLC0415

    seen: list[bool] = []

    def resolve(_cmd: str, _env: dict[str, str]) -> None:
        seen.append(gc.isenabled())

    monkeypatch.setattr(_confine, "resolve", resolve)
    assert gc.isenabled()
    assert main(["exec", "--", "no-such-command-x"]) == 127
    assert seen == [False]
    assert gc.isenabled()
    assert "command not found" in capsys.readouterr().err
    gc.disable()
    try:
        main(["exec", "--", "no-such-command-x"])
        assert not gc.isenabled()  # a caller's own choice is left alone
    finally:
        gc.enable()
    assert main(["--version"]) == 0
    assert gc.isenabled()
