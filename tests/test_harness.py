"""The harness itself: under HARDENKIT_REQUIRE_ALL_TESTS=1 no test may skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

SKIPPING = """
import pytest

def test_skips_at_run_time():
    pytest.skip("no such feature")

@pytest.mark.skip(reason="declared skip")
def test_declared_skip():
    pass

def test_passes():
    assert True
"""


def _run(tmp_path: Path, *, require_all: bool) -> subprocess.CompletedProcess[str]:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SKIPPING)
    env = dict(os.environ)
    env.pop("HARDENKIT_REQUIRE_ALL_TESTS", None)
    if require_all:
        env["HARDENKIT_REQUIRE_ALL_TESTS"] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_skips_are_allowed_by_default(tmp_path: Path) -> None:
    proc = _run(tmp_path, require_all=False)
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 2 skipped" in proc.stdout


def test_skips_fail_when_everything_is_required(tmp_path: Path) -> None:
    proc = _run(tmp_path, require_all=True)
    assert proc.returncode == 1, proc.stdout
    summary = proc.stdout.strip().splitlines()[-1]
    # A run-time skip becomes a failure, a declared skip an error at set-up: neither passes.
    assert "1 failed, 1 passed, 1 error" in summary
    assert "skipped" not in summary
    assert "HARDENKIT_REQUIRE_ALL_TESTS" in proc.stdout


@pytest.mark.linux
def test_in_child_keeps_the_test_process_untouched(in_child: object) -> None:
    before = os.umask(0o022)
    os.umask(before)

    def change() -> int:
        os.umask(0o077)
        return os.getpid()

    child_pid = in_child(change)  # type: ignore[operator]
    assert child_pid != os.getpid()
    now = os.umask(before)
    assert now == before
