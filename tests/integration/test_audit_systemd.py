"""The audit agrees with ``systemd-analyze security`` wherever both can see.

Each case puts a forked child in a state (root, a dropped user, no bounding set, seccomp
allow and deny lists, namespace blocking, a private network), writes the unit file whose
settings produce that state, and requires systemd's badness for every row hardenkit scores
to be hardenkit's (SYSTEMD_ANALYZE_DEBUG=1 makes ``--json=short`` print the badness). The
rows hardenkit lists as not observable are exactly the ones left out.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
from tests._helpers import paused_child

from hardenkit._linux.libc import PR_SET_NO_NEW_PRIVS, prctl
from hardenkit.audit import AuditReport, audit_process

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root, pytest.mark.seccomp]

UMASK = 0o022  # systemd's default UMask=, set in every paused child

NOBODY = 65534
PR_CAPBSET_DROP = 24
CLONE_NEWNET = 0x40000000
NOT_APPLICABLE = 2**64 - 1  # systemd's UINT64_MAX badness: the row does not apply


def _unshare(flags: int) -> None:
    import ctypes  # noqa: PLC0415

    from hardenkit._linux.libc import libc  # noqa: PLC0415

    if libc().unshare(ctypes.c_int(flags)) != 0:
        raise OSError(ctypes.get_errno(), "unshare")


def _nobody(*, nnp: bool = False, bounding: bool = True) -> None:
    if not bounding:
        _drop_bounding()
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    if nnp:
        prctl(PR_SET_NO_NEW_PRIVS, 1)


def _drop_bounding() -> None:
    for cap in range(64):
        with contextlib.suppress(OSError):
            prctl(PR_CAPBSET_DROP, cap)


def _seccomp(**policy: Any) -> Callable[[], None]:
    def setup() -> None:
        from hardenkit.sandbox import SeccompPolicy, apply_seccomp  # noqa: PLC0415

        built = SeccompPolicy(**policy)
        built.to_bpf()  # compiled while the venv is still readable
        _nobody(nnp=True)
        apply_seccomp(built)

    return setup


def _rules() -> Iterator[Any]:
    """socket() only for AF_UNIX; sched_setscheduler never with a realtime policy."""
    from hardenkit.sandbox.seccomp import ArgCondition, SyscallRule  # noqa: PLC0415

    yield SyscallRule(
        names="socket", action="errno", args=(ArgCondition(index=0, op="ne", value=1),)
    )
    for policy in (1, 2, 6):  # SCHED_FIFO, SCHED_RR, SCHED_DEADLINE
        yield SyscallRule(
            names="sched_setscheduler",
            action="errno",
            args=(ArgCondition(index=1, op="eq", value=policy),),
        )


def _bounding_setting(pid: int) -> str:
    """CapabilityBoundingSet= naming exactly the child's bounding set."""
    from hardenkit.capabilities import mask_to_caps  # noqa: PLC0415

    with open(f"/proc/{pid}/status") as fh:
        line = next(x for x in fh if x.startswith("CapBnd:"))
    caps = mask_to_caps(int(line.split()[1], 16))
    return "CapabilityBoundingSet=" + " ".join(f"CAP_{c.short_name}" for c in caps)


NNP = "NoNewPrivileges=yes"
FILTERED = (NNP, "User=nobody", "SystemCallArchitectures=native", "RestrictNamespaces=yes")

#: (case, child setup, unit settings beyond the child's bounding set)
CASES: tuple[tuple[str, Callable[[], object], tuple[str, ...]], ...] = (
    ("bare-root", lambda: None, ()),
    ("user-nnp", lambda: _nobody(nnp=True), ("User=nobody", NNP)),
    ("user-nnp-no-bounding", lambda: _nobody(nnp=True, bounding=False), ("User=nobody", NNP)),
    (
        "system-service-allow-list",
        _seccomp(default="kill", allow=("@system-service",)),
        (*FILTERED, "SystemCallFilter=@system-service"),
    ),
    (
        "system-service-errno",
        _seccomp(default="errno", allow=("@system-service", "@clock")),
        (*FILTERED, "SystemCallFilter=@system-service @clock"),
    ),
    (
        "deny-privileged-resources",
        _seccomp(default="allow", deny=("@privileged", "@resources")),
        # Denying @resources refuses sched_setscheduler outright: realtime is restricted.
        (*FILTERED, "SystemCallFilter=~@privileged @resources", "RestrictRealtime=yes"),
    ),
    ("namespace-blocking", _seccomp(default="allow"), FILTERED),
    (
        "unix-sockets-only-no-realtime",
        _seccomp(default="allow", rules=tuple(_rules())),
        (*FILTERED, "RestrictAddressFamilies=AF_UNIX", "RestrictRealtime=yes"),
    ),
    ("private-network", lambda: _unshare(CLONE_NEWNET), ("PrivateNetwork=yes",)),
)


def _systemd_rows(tool: str, unit: Path) -> dict[str, int | None]:
    out = subprocess.run(
        [tool, "security", "--offline=true", "--json=short", str(unit)],
        env={**os.environ, "SYSTEMD_ANALYZE_DEBUG": "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    rows = {row["name"]: row["badness"] for row in json.loads(out.stdout)}
    return {name: None if b == NOT_APPLICABLE else b for name, b in rows.items()}


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("needs systemd-analyze (apt-get install systemd; scripts/setup does it)")
    return tool


@pytest.mark.parametrize(("case", "setup", "settings"), CASES, ids=[c[0] for c in CASES])
def test_every_row_hardenkit_scores_agrees_with_systemd_analyze(
    systemd_analyze: str,
    tmp_path: Path,
    case: str,
    setup: Callable[[], object],
    settings: tuple[str, ...],
) -> None:
    with paused_child(setup, umask=UMASK) as pid:
        report = audit_process(pid)
        bounding = _bounding_setting(pid)
    unit = tmp_path / f"{case}.service"
    unit.write_text("\n".join(["[Service]", "ExecStart=/bin/true", bounding, *settings]) + "\n")
    theirs = _systemd_rows(systemd_analyze, unit)
    ours = {a.name: a for a in report.assessments if a.source == "systemd"}
    unobservable = {u.name for u in report.unobservable}
    assert ours.keys() | unobservable == theirs.keys()  # every systemd row, once
    assert not ours.keys() & unobservable
    differ = {
        name: (a.badness, theirs[name], a.evidence)
        for name, a in ours.items()
        if a.badness != theirs[name]
    }
    assert differ == {}
    assert not report.assumed or report.assumed == ("dumpable",)


def test_the_filter_rows_are_read_from_the_kernel_not_assumed() -> None:
    """A lax filter (allows every group) scores as systemd scores a unit without a filter."""
    with paused_child(_seccomp(default="allow", deny=("@swap",)), umask=UMASK) as pid:
        report = audit_process(pid)
    rows = {a.name: a for a in report.assessments}
    assert rows["SystemCallFilter=~@swap"].badness == 0
    assert rows["SystemCallFilter=~@mount"].badness == 10
    assert "PTRACE_SECCOMP_GET_FILTER" in next(
        f.detail for f in report.findings if f.id == "seccomp-filter"
    )


def test_a_confined_process_audits_its_own_filter(in_child: Any) -> None:
    """Self-audit under seccomp: the kernel refuses a filtered tracer; hardenkit's record."""

    def confined() -> dict[str, Any]:
        _seccomp(default="kill", allow=("@system-service",))()
        return audit_process().to_dict()

    report = AuditReport.from_dict(in_child(confined))
    rows = {a.name: a for a in report.assessments}
    assert rows["SystemCallFilter=~@mount"].badness == 0
    assert rows["SystemCallFilter=~@privileged"].badness == 9
    assert "seccomp-unreadable" not in report.assumed


@pytest.mark.landlock
def test_landlock_applied_by_hardenkit_is_reported_by_self_audit(in_child: Any) -> None:
    def confined() -> dict[str, Any]:
        from hardenkit.sandbox import FilesystemPolicy, apply_landlock  # noqa: PLC0415

        audit_process()  # load every module before Landlock narrows the file system
        apply_landlock(FilesystemPolicy(read=["/"], write=["/tmp"], execute=["/usr"]))
        return {"self": audit_process().to_dict()}

    mine = AuditReport.from_dict(in_child(confined)["self"])
    assert mine.landlock.startswith("Landlock ABI ")
    assert "/tmp=" in mine.landlock
    with paused_child(lambda: None, umask=UMASK) as pid:
        assert audit_process(pid).landlock == "unknown"  # another process: not knowable
    assert audit_process().landlock == "none applied by hardenkit in this process"


def test_a_filter_nobody_recorded_is_unreadable_from_inside_and_never_credited(
    in_child: Any,
) -> None:
    def confined() -> dict[str, Any]:
        from hardenkit import _applied  # noqa: PLC0415

        _seccomp(default="kill", allow=("@system-service",))()
        _applied.SECCOMP.clear()  # as if another library had loaded it
        return audit_process().to_dict()

    report = AuditReport.from_dict(in_child(confined))
    rows = {a.name: a for a in report.assessments}
    assert "seccomp-unreadable" in report.assumed
    assert rows["SystemCallFilter=~@mount"].badness == 10
    assert "itself under seccomp" in rows["SystemCallFilter=~@mount"].evidence


def test_an_auditor_under_seccomp_says_so_instead_of_tracing(in_child: Any) -> None:
    with paused_child(_seccomp(default="kill", allow=("@system-service",)), umask=UMASK) as target:

        def confined_auditor() -> dict[str, Any]:
            from hardenkit.sandbox import SeccompPolicy, apply_seccomp  # noqa: PLC0415

            apply_seccomp(SeccompPolicy(default="kill", allow=("@system-service",)))
            return audit_process(target).to_dict()  # ptrace would be SIGSYS here

        report = AuditReport.from_dict(in_child(confined_auditor))
    assert "seccomp-unreadable" in report.assumed
    rows = {a.name: a for a in report.assessments}
    assert "auditor is itself under seccomp" in rows["RestrictNamespaces=~user"].evidence


def _two_thread_stacks() -> None:
    """Main thread: A + deny @swap; second thread: A + deny @reboot twice (more filters)."""
    import threading  # noqa: PLC0415

    from hardenkit._linux.seccomp_load import BpfProgram  # noqa: PLC0415
    from hardenkit.sandbox import SeccompPolicy  # noqa: PLC0415

    def program(**kw: Any) -> BpfProgram:
        return BpfProgram(SeccompPolicy(default="allow", **kw).to_bpf())

    base, swap, reboot = program(), program(deny=("@swap",)), program(deny=("@reboot",))
    base.load(tsync=True)
    ready = threading.Event()

    def other() -> None:
        reboot.load(tsync=False)
        reboot.load(tsync=False)
        ready.set()
        threading.Event().wait()

    threading.Thread(target=other, daemon=True).start()
    ready.wait()
    swap.load(tsync=False)


def test_every_thread_filter_stack_is_read_and_the_laxest_counts() -> None:
    with paused_child(_two_thread_stacks, umask=UMASK) as pid:
        report = audit_process(pid)
    rows = {a.name: a for a in report.assessments}
    # The main thread has fewer filters but refuses @swap; the other thread allows it.
    assert rows["SystemCallFilter=~@swap"].badness == 10
    assert "threads" in rows["SystemCallFilter=~@swap"].evidence
    assert rows["SystemCallFilter=~@reboot"].badness == 10
    assert "2 different filter stacks" in next(
        f.detail for f in report.findings if f.id == "seccomp-filter"
    )


def test_without_cap_sys_admin_the_filter_is_unreadable_and_scored_as_none(
    in_child: Any,
) -> None:
    with paused_child(_seccomp(default="kill", allow=("@system-service",)), umask=UMASK) as target:

        def auditor_without_sys_admin() -> dict[str, Any]:
            from hardenkit._linux import caps  # noqa: PLC0415

            sys_admin = 1 << 21
            eff, prm, inh = caps.capget()
            caps.capset(eff & ~sys_admin, prm & ~sys_admin, inh & ~sys_admin)
            return audit_process(target).to_dict()

        report = AuditReport.from_dict(in_child(auditor_without_sys_admin))
    rows = {a.name: a for a in report.assessments}
    assert "seccomp-unreadable" in report.assumed
    assert rows["SystemCallFilter=~@mount"].badness == 10
    assert "EACCES" in rows["SystemCallFilter=~@mount"].evidence
    assert "CAP_SYS_ADMIN" in rows["SystemCallFilter=~@mount"].evidence
