"""``audit_all`` and ``hardenkit audit --all``: every process, worst first, nothing fatal."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from hardenkit.audit import AuditReport, _collect, audit_all
from hardenkit.errors import HardenkitError

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.linux, pytest.mark.root]

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
ZERO6 = "0" * 32


def _line(local: str, remote: str, state: str, inode: int) -> str:
    return f"   0: {local} {remote} {state} 00000000:00000000 00:00000000 00000000 0 0 {inode} 1"


TCP = "\n".join(
    (
        HEADER,
        _line("00000000:0016", "00000000:0000", "0A", 111),  # 0.0.0.0:22 LISTEN
        _line("0100007F:0277", "00000000:0000", "0A", 222),  # 127.0.0.1:631 LISTEN
        _line("00000000:1F90", "0100007F:D431", "01", 333),  # established
    )
)
UDP6 = "\n".join(
    (
        HEADER,
        _line(f"{ZERO6}:0035", f"{ZERO6}:0000", "07", 444),  # [::]:53 unconnected
        _line(f"{ZERO6}:0036", f"{ZERO6[:-8]}0100007F:0035", "07", 555),  # connected
    )
)


def test_socket_table_keeps_only_sockets_bound_to_every_address() -> None:
    assert _collect._wildcard_sockets("tcp", TCP) == {111: "tcp 0.0.0.0:22"}
    assert _collect._wildcard_sockets("udp6", UDP6) == {444: "udp6 [::]:53"}


@pytest.fixture
def children() -> Iterator[list[int]]:
    """A few sleeping children, one of them listening on every interface."""
    server = socket.socket(socket.AF_INET6)
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    server.bind(("::", 0))
    server.listen()
    procs = [subprocess.Popen(["sleep", "60"], pass_fds=(server.fileno(),)) for _ in range(3)]
    server.close()
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _no_user_space(pid: int) -> bool:
    """A kernel thread or a zombie (no executable), or gone."""
    try:
        os.readlink(f"/proc/{pid}/exe")
    except FileNotFoundError:
        return True
    except PermissionError:
        return False
    return False


def test_audit_all_covers_every_process_worst_first(children: list[int]) -> None:
    before = {int(p) for p in os.listdir("/proc") if p.isdecimal()}
    sweep = audit_all()
    after = {int(p) for p in os.listdir("/proc") if p.isdecimal()}
    pids = {r.pid for r in sweep.reports}
    assert set(children) <= pids
    assert os.getpid() in pids
    exposures = [r.exposure for r in sweep.reports]
    assert exposures == sorted(exposures, reverse=True)
    listening = {f.detail for r in sweep.reports if r.pid in children for f in r.findings}
    assert any(d.startswith("tcp6 [::]:") for d in listening)
    # Every process there before and after is audited, or skipped with a reason, or has no
    # user-space posture (kernel thread, zombie).
    accounted = pids | {s.pid for s in sweep.skipped}
    missing = [p for p in (before & after) - accounted if not _no_user_space(p)]
    assert missing == []
    assert sweep.kernel_threads > 0
    for skip in sweep.skipped:
        assert skip.reason


def test_a_process_that_vanishes_is_reported_not_fatal(
    monkeypatch: pytest.MonkeyPatch, children: list[int]
) -> None:
    real = _collect.collect
    gone = children[0]

    def vanishing(pid: int, **kwargs: object) -> _collect.ProcessFacts:
        if pid == gone:
            raise HardenkitError(f"pid {pid} exited during the audit (reading /proc/{pid}/status)")
        return real(pid, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("hardenkit.audit.collect", vanishing)
    sweep = audit_all()
    assert gone not in {r.pid for r in sweep.reports}
    assert [s.reason for s in sweep.skipped if s.pid == gone] == [
        f"pid {gone} exited during the audit (reading /proc/{gone}/status)"
    ]
    assert set(children[1:]) <= {r.pid for r in sweep.reports}


def test_cli_all_lists_every_process_and_json_gives_full_reports(children: list[int]) -> None:
    text = subprocess.run(
        [sys.executable, "-m", "hardenkit", "audit", "--all"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert text.returncode in (0, 1), text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["PID", "USER", "EXPOSURE", "LEVEL", "NAME", "TOP", "FINDING"]
    listed = {int(line.split()[0]) for line in lines[1:] if line.strip()[:1].isdigit()}
    assert set(children) <= listed
    assert "not observable from a process" in lines[-1]
    js = subprocess.run(
        [sys.executable, "-m", "hardenkit", "audit", "--all", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    data = json.loads(js.stdout)
    reports = [AuditReport.from_dict(r) for r in data["reports"]]
    assert set(children) <= {r.pid for r in reports}
    assert all(len(r.assessments) + len(r.unobservable) >= 81 for r in reports)
    usage = subprocess.run(
        [sys.executable, "-m", "hardenkit", "audit", "--all", "--pid", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 2
