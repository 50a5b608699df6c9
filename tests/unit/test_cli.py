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
