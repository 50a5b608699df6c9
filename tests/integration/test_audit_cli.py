"""``hardenkit audit`` as a user runs it: exit codes, JSON, colour only on a terminal."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from hardenkit.audit import AuditReport

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env.update(extra)
    return env


def _hardenkit(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hardenkit", "audit", *args],
        capture_output=True,
        text=True,
        env=_env(**env),
        timeout=60,
        check=False,
    )


@pytest.fixture
def sleeper() -> Iterator[int]:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_json_round_trips_and_findings_exit_1(sleeper: int) -> None:
    proc = _hardenkit("--pid", str(sleeper), "--json")
    assert proc.returncode == 1, proc.stderr  # a root process has findings
    data = json.loads(proc.stdout)
    report = AuditReport.from_dict(data)
    assert report.pid == sleeper
    assert report.to_dict() == data
    assert "uid-root" in report.ids


def test_fail_above_sets_the_exit_code(sleeper: int) -> None:
    exposure = AuditReport.from_dict(json.loads(_hardenkit("--pid", str(sleeper), "--json").stdout))
    below = f"{exposure.exposure - 0.1:.1f}"
    assert _hardenkit("--pid", str(sleeper), "--fail-above", below).returncode == 1
    at = _hardenkit("--pid", str(sleeper), "--fail-above", f"{exposure.exposure:.1f}")
    assert at.returncode == 0, at.stdout
    assert "is not above --fail-above" in at.stdout


def test_usage_errors_exit_2() -> None:
    for args in (("--fail-above", "eleven"), ("--pid", "-3"), ("--bogus",)):
        proc = _hardenkit(*args)
        assert proc.returncode == 2, args
        assert "usage:" in proc.stderr


def test_missing_pid_exits_3_could_not_run_with_a_message() -> None:
    gone = subprocess.Popen(["/bin/true"])
    gone.wait()
    proc = _hardenkit("--pid", str(gone.pid))
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert f"no such process: pid {gone.pid}" in proc.stderr


def test_paths_are_folded_in(tmp_path: Path, sleeper: int) -> None:
    secret = tmp_path / "app.env.keys"
    secret.write_text("DOTENV_PRIVATE_KEY=not-a-real-key\n")
    secret.chmod(0o644)
    proc = _hardenkit("--pid", str(sleeper), "--json", "--paths", str(secret))
    report = AuditReport.from_dict(json.loads(proc.stdout))
    (finding,) = [f for f in report.findings if f.id == "path-insecure"]
    assert str(secret) in finding.title
    assert "not-a-real-key" not in proc.stdout


def _run_on_tty(*args: str, **env: str) -> str:
    """Run the audit with stdout on a pseudo-terminal and return what it wrote."""
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hardenkit", "audit", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=_env(**env),
    )
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        proc.wait(timeout=30)
    return b"".join(chunks).decode(errors="replace")


def test_colour_only_on_a_terminal_without_no_color(sleeper: int) -> None:
    on_tty = _run_on_tty("--pid", str(sleeper))
    assert "\x1b[" in on_tty
    assert "CRITICAL" in on_tty
    assert "\x1b[" not in _run_on_tty("--pid", str(sleeper), NO_COLOR="1")
    piped = _hardenkit("--pid", str(sleeper))
    assert "\x1b[" not in piped.stdout
    assert "Exposure " in piped.stdout
