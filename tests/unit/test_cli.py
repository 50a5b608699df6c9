from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import hardenkit
from hardenkit.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"hardenkit {hardenkit.__version__}"


def test_usage_error_is_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("audit", "check-perms", "env"):
        assert command in out


@pytest.mark.linux
def test_python_m_hardenkit_audit_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hardenkit", "audit", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    assert data["pid"] != os.getpid()


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["env", "encrypt", "FILE"], "usage: hardenkit env encrypt "),
        (["env", "get"], "usage: hardenkit env get "),
        (["audit", "extra"], "usage: hardenkit audit "),
        (["check-perms", "--bogus", "/"], "usage: hardenkit check-perms "),
    ],
)
def test_each_subcommand_shows_its_own_usage_on_its_errors(
    argv: list[str], usage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(usage), err
    assert f"{usage.removeprefix('usage: ').strip()}: error: " in err


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for status in ("1 findings", "2 usage error", "3 could not run", "141"):
        assert status in out
