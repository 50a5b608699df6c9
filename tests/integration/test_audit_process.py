"""audit_process() against real processes: children that hold still while the parent audits.

Every irreversible step (confine, uid changes, rlimits, prctl) happens in a forked child; the
test process only reads /proc.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import socket
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from tests._helpers import paused_child

from hardenkit._linux.libc import PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, prctl
from hardenkit.audit import AuditReport, audit_process
from hardenkit.audit._collect import _Reader
from hardenkit.cli.audit import render
from hardenkit.errors import HardenkitError, PrivilegeError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.conftest import InChild

pytestmark = [pytest.mark.linux, pytest.mark.root]

NOBODY = 65534


def _confine() -> None:
    from hardenkit.sandbox import (  # noqa: PLC0415 -- in the child only
        ResourceLimits,
        SeccompPolicy,
        confine,
    )

    confine(
        user="nobody",
        seccomp=SeccompPolicy(default="kill", allow=("@system-service",)),
        limits=ResourceLimits(core_bytes=0, open_files=64),
    )


@pytest.mark.seccomp
def test_confine_lowers_exposure_and_the_gains_are_itemised() -> None:
    with paused_child() as pid:
        before = audit_process(pid)
    with paused_child(_confine) as pid:
        after = audit_process(pid)
    assert before.exposure > after.exposure
    assert before.level in ("UNSAFE", "DANGEROUS")
    assert after.level in ("SAFE", "OK")
    gone = before.ids - after.ids
    expected_gone = {"uid-root", "gid-root", "capabilities-held", "bounding-set"}
    expected_gone |= {"no-new-privs", "seccomp", "core-raisable", "dumpable"}
    assert expected_gone <= gone
    assert {"uid-nobody", "seccomp-filter"} <= after.ids
    assert not [f for f in after.findings if f.severity == "critical"]
    points_before = {a.name: a.points for a in before.assessments}
    points_after = {a.name: a.points for a in after.assessments}
    assert points_before.keys() == points_after.keys()
    improved = {n for n in points_before if points_after[n] < points_before[n]}
    assert {
        "User=/DynamicUser=",
        "NoNewPrivileges=",
        "CapabilityBoundingSet=~CAP_SYS_ADMIN",
        "SystemCallFilter=~@mount",
        "hardenkit:LimitCORE=",
        "hardenkit:Dumpable",
    } <= improved
    assert not {n for n in points_before if points_after[n] > points_before[n]}
    # The root child's dumpable flag cannot be told from outside: scored worst, and said so.
    assert "dumpable" in before.assumed
    assert "dumpable" not in after.assumed


def test_unreadable_pid_is_a_clear_error_not_a_partial_report(in_child: InChild) -> None:
    audit_process()  # load every module before the child loses access to the venv
    target = os.getpid()

    def as_nobody() -> list[str]:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        try:
            report = audit_process(target)
        except HardenkitError as err:
            return [type(err).__name__, str(err), str(isinstance(err, PrivilegeError))]
        return ["returned", json.dumps(report.to_dict())]

    kind, message, privilege = in_child(as_nobody)
    assert kind == "PrivilegeError", message
    assert privilege == "True"
    assert f"/proc/{target}/" in message
    assert "permission denied" in message


def test_missing_pid_is_a_clear_error() -> None:
    proc = subprocess.Popen(["/bin/true"])
    proc.wait()
    with pytest.raises(HardenkitError, match=f"no such process: pid {proc.pid}") as info:
        audit_process(proc.pid)
    assert not isinstance(info.value, PrivilegeError)


def test_a_reused_pid_cannot_be_described_by_stale_reads() -> None:
    with paused_child() as pid:
        reader = _Reader(pid, "/proc")
    # The child has exited and been reaped: its pid may now be anyone's.
    try:
        with pytest.raises(HardenkitError, match="exited during the audit"):
            reader.read("status")
    finally:
        reader.close()


def test_a_thread_left_without_no_new_privs_is_found() -> None:
    def setup() -> None:
        r, _ = os.pipe()
        threading.Thread(target=os.read, args=(r, 1), daemon=True).start()
        prctl(PR_SET_NO_NEW_PRIVS, 1)  # the calling thread only

    with paused_child(setup) as pid:
        report = audit_process(pid)
    assert report.threads == 2
    found = {f.id: f for f in report.findings}
    assert "no-new-privs" in found
    assert "threads-differ" in found
    assert "(threads " in found["no-new-privs"].detail


def test_listening_sockets_on_every_interface() -> None:
    keep: list[socket.socket] = []

    def listen(host: str) -> Callable[[], None]:
        def setup() -> None:
            s = socket.socket()
            s.bind((host, 0))
            s.listen()
            keep.append(s)

        return setup

    with paused_child(listen("0.0.0.0")) as pid:  # noqa: S104 -- the point of the test
        report = audit_process(pid)
    found = {f.id: f for f in report.findings}
    assert found["listening-all-interfaces"].detail.startswith("tcp 0.0.0.0:")
    with paused_child(listen("127.0.0.1")) as pid:
        assert "listening-all-interfaces" not in audit_process(pid).ids


def test_a_process_audited_mid_exec_is_not_reported_with_a_clean_environment() -> None:
    """Popen returns when the exec has closed its descriptors, before the new memory map
    has an environment: /proc/<pid>/environ is empty then (about half the time here)."""
    for _ in range(30):
        proc = subprocess.Popen(["/bin/sleep", "30"], env={"LD_PRELOAD": "/nonexistent.so"})
        try:
            report = audit_process(proc.pid)
        finally:
            proc.kill()
            proc.wait()
        assert "env-dangerous" in report.ids


def test_world_writable_cwd(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with paused_child(lambda: os.chdir(shared)) as pid:
        report = audit_process(pid)
    found = {f.id: f for f in report.findings}
    assert found["cwd-world-writable"].severity == "high"
    assert str(shared) in found["cwd-world-writable"].detail


def test_environment_names_reported_values_never(tmp_path: Path) -> None:
    exe = tmp_path / "sleep"
    shutil.copy("/bin/sleep", exe)
    exe.chmod(0o777)
    secret_value = "s3cr3t-VALUE-" + "x" * 20
    env = {
        "PATH": "/usr/bin:/bin",
        "LD_LIBRARY_PATH": "/nonexistent",
        "API_TOKEN": secret_value,
        "EVIL\x1b]0;owned\x07_TOKEN": "1",
    }
    proc = subprocess.Popen([str(exe), "30"], env=env)
    try:
        report = audit_process(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    found = {f.id: f for f in report.findings}
    assert "LD_LIBRARY_PATH" in found["env-dangerous"].detail
    assert "API_TOKEN" in found["env-secret"].detail
    assert found["exe-world-writable"].severity == "critical"
    dumped = json.dumps(report.to_dict())
    assert secret_value not in dumped
    assert "/nonexistent" not in dumped
    buf = io.StringIO()
    render(report, buf)
    assert secret_value not in buf.getvalue()
    assert "\x1b" not in buf.getvalue()  # a hostile name cannot drive the terminal
    assert AuditReport.from_dict(json.loads(dumped)) == report


def test_dumpable_is_told_for_other_processes() -> None:
    def drop(dumpable: bool) -> Callable[[], None]:
        def setup() -> None:
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)  # the kernel clears dumpable here
            if dumpable:
                prctl(PR_SET_DUMPABLE, 1)

        return setup

    with paused_child(drop(dumpable=False)) as pid:
        report = audit_process(pid)
    assert "dumpable" not in report.ids
    assert "dumpable" not in report.assumed
    with paused_child(drop(dumpable=True)) as pid:
        report = audit_process(pid)
    assert "dumpable" in report.ids
    assert "dumpable" not in report.assumed


def test_dumpable_of_this_process_comes_from_prctl(in_child: InChild) -> None:
    def check() -> list[Any]:
        first = "dumpable" in audit_process().ids
        prctl(PR_SET_DUMPABLE, 0)
        return [first, "dumpable" in audit_process().ids]

    assert in_child(check) == [True, False]


def test_unlimited_core_is_found() -> None:
    def setup() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))

    if resource.getrlimit(resource.RLIMIT_CORE)[1] != resource.RLIM_INFINITY:
        pytest.fail("this test needs an unlimited hard RLIMIT_CORE (the machine's default)")
    with paused_child(setup) as pid:
        report = audit_process(pid)
    assert "core-unlimited" in report.ids
    rows = {a.name: a.badness for a in report.assessments}
    assert rows["hardenkit:LimitCORE="] == 2


def test_namespaces_compared_with_the_host() -> None:
    report = audit_process()
    # The test process runs in the host's namespaces: none of them may look private.
    assert {"userns-shared", "netns-shared", "pidns-shared"} <= report.ids | set(report.assumed)

    proc = subprocess.Popen(["unshare", "--net", "sleep", "30"])
    try:
        for _ in range(200):  # until unshare has exec'd sleep inside the new namespace
            if os.readlink(f"/proc/{proc.pid}/exe").endswith("/sleep"):
                break
            time.sleep(0.01)
        private = audit_process(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert "netns-shared" not in private.ids
    assert {a.name: a.badness for a in private.assessments}["PrivateNetwork="] == 0


def test_a_dropped_process_can_audit_itself(in_child: InChild) -> None:
    audit_process()  # load every module before the child loses access to the venv

    def as_nobody() -> dict[str, Any]:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        os.environ["SERVICE_API_TOKEN"] = "placeholder-value-123"  # noqa: S105 -- fake
        return audit_process().to_dict()

    report = AuditReport.from_dict(in_child(as_nobody))
    assert "uid-nobody" in report.ids
    assert "uid-root" not in report.ids
    # Its own environ file is root's now; os.environ is still audited.
    env_secret = {f.id: f for f in report.findings}["env-secret"]
    assert "SERVICE_API_TOKEN" in env_secret.detail
    assert "placeholder-value-123" not in json.dumps(report.to_dict())
    # What nobody may not see is scored as the worst case and listed, never skipped.
    for check in report.assumed:
        assert check in report.ids or check == "exe-dir"


@pytest.mark.root
def test_audit_in_a_pid_namespace_audits_itself_not_the_hosts_pid_1() -> None:
    from hardenkit.sandbox import call_sandboxed  # noqa: PLC0415

    def child() -> list[int]:
        report = audit_process()
        return [os.getpid(), report.pid, int(os.readlink("/proc/self"))]

    ns_pid, audited, own = call_sandboxed(child)
    assert ns_pid == 1  # control: the child really is pid 1 of its namespace
    assert audited == own != 1
