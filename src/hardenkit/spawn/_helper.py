"""Confine a spawn child through the compiled exec helper: no Python between fork and exec.

The parent encodes a :class:`~hardenkit.sandbox.confinement.ConfinementPlan`'s steps
(the tuple the in-process executor walks, in the one order: ``sandbox._steps``) as a
script of syscalls (:func:`build_script`, one encoder per step type), starts
``hardenkit-exec`` with vfork + exec (what ``subprocess`` does for a plain command, so
a large or threaded parent is never copied), and sends the script. The helper makes the
drop, rlimit and no_new_privs calls, reads back what the kernel says (its
``/proc/thread-self/status``, groups, securebits, limits), enters Landlock and probes
it, then reports and waits. The parent judges that report with the checker the Python
path uses in its child (``sandbox._check.judge``, then ``check_probe``) and only then
answers "go"; the helper loads the seccomp filters, checks filter mode and
no_new_privs with prctl itself, and execs. Any failure ends the helper before exec:
nothing runs.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct

from hardenkit._linux import caps as _caps, exec_helper as xh
from hardenkit._linux.libc import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_LOWER,
    PR_GET_NO_NEW_PRIVS,
    PR_GET_SECCOMP,
    PR_GET_SECUREBITS,
    PR_SET_KEEPCAPS,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
)
from hardenkit._linux.procfs import read_task_status
from hardenkit._log import get_logger
from hardenkit.errors import HardenkitError, SandboxError
from hardenkit.sandbox import _check, _steps as st
from hardenkit.sandbox._landlock_probe import check_probe
from hardenkit.sandbox.limits import rlimit_name
from hardenkit.spawn import _helper_net, _locate

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable

    from hardenkit.privileges import DropPlan
    from hardenkit.sandbox.confinement import ConfinementPlan

_log = get_logger("hardenkit.spawn")

_SECCOMP_FILTER_FLAG_TSYNC = 1
_SECCOMP_MODE_FILTER = 2
_SECBIT_NOROOT = 1


#: gids[256] in hardenkit-exec.c's OP_SETGROUPS: a longer list goes the Python path.
_HELPER_MAX_GROUPS = 256


def why_not(plan: ConfinementPlan) -> str | None:
    """Why the helper cannot confine this plan here (None: it can).

    Exec'ing the helper recomputes capabilities: root (real or effective uid 0, no
    SECBIT_NOROOT) gets its bounding set back as permitted, anyone else keeps only the
    ambient set. A drop needs the capabilities this process holds now, so the helper
    is used for one only when exec cannot lose any of them.
    """
    path, why_helper = _locate.locate()
    if plan.drop is not None and len(plan.drop.groups) > _HELPER_MAX_GROUPS:
        why_helper = f"more than {_HELPER_MAX_GROUPS} supplementary groups (its setgroups limit)"
        path = None
    if path is None:
        return why_helper
    if plan.drop is None and not plan.shed_caps:
        return None
    import threading  # noqa: PLC0415 -- first confined spawn

    try:
        # Capabilities are per thread: this thread's are the ones the helper inherits.
        st = read_task_status(threading.get_native_id())
        securebits = _caps.get_securebits()
    except (OSError, ValueError) as err:
        return f"cannot read this thread's capabilities ({err})"
    root = 0 in (os.getuid(), os.geteuid()) and not securebits & _SECBIT_NOROOT
    after = (st.cap_bounding if root else 0) | st.cap_ambient
    if plan.drop is None:
        # Shedding with the caller's ids: the helper drops from the bounding set (root)
        # and lowers ambient; capset of its own sets is left to the Python path.
        why = None
        if (st.cap_inheritable | st.cap_ambient) & plan.shed_caps:
            why = "capabilities to shed are inheritable or ambient here"
        elif not root and not plan.no_new_privs:
            why = "the bounding set can be reduced only as root or under no_new_privs"
        return why
    if st.cap_permitted & ~after:
        return "exec would drop capabilities this process needs for the drop"
    return None


class _Reports:
    """Which step's record holds which answer."""

    __slots__ = ("getgroups", "limits", "net", "nnp", "probe", "securebits", "status")

    def __init__(self) -> None:
        self.status = self.getgroups = self.securebits = self.nnp = -1
        self.limits: dict[int, int] = {}
        self.probe: tuple[str, str, int] | None = None
        self.net = _helper_net.NetReports()  # the network steps (spawn/_helper_net.py)


def _drop_steps(script: xh.Script, drop: DropPlan) -> None:
    """:func:`hardenkit.privileges.drop_steps`, encoded: the same operations, same order."""
    # Import time: privileges (and capabilities) load only for plans that drop.
    from hardenkit.privileges import DROP_LABELS, drop_steps  # noqa: PLC0415 -- for import time: privileges, only for plans that drop

    what = f"dropping to uid {drop.uid} gid {drop.gid}: "
    keep = drop.keep_mask
    unchanged = xh.UNCHANGED
    encode: dict[str, Callable[[str], object]] = {
        "seteuid0": lambda label: script.add(xh.OP_SETRESUID, label, unchanged, 0, unchanged),
        "keepcaps_on": lambda label: script.add(xh.OP_PRCTL, label, PR_SET_KEEPCAPS, 1, 0, 0, 0),
        "bounding": lambda label: script.add(xh.OP_BOUNDING, label, keep, drop.last_cap),
        "setgroups": lambda label: script.add_groups(label, drop.groups),
        "setresgid": lambda label: script.add(xh.OP_SETRESGID, label, drop.gid, drop.gid, drop.gid),
        "setresuid": lambda label: script.add(xh.OP_SETRESUID, label, drop.uid, drop.uid, drop.uid),
        "capset": lambda label: script.add(xh.OP_CAPSET, label, keep, keep, keep),
        "ambient": lambda label: script.add(xh.OP_AMBIENT, label, keep, drop.last_cap),
        "keepcaps_off": lambda label: script.add(xh.OP_PRCTL, label, PR_SET_KEEPCAPS, 0, 0, 0, 0),
    }
    temporary_uid = os.geteuid() != 0 and 0 in os.getresuid()
    for op in drop_steps(drop, temporary_uid=temporary_uid):
        encode[op](what + DROP_LABELS[op])


def _shed_steps(script: xh.Script, plan: ConfinementPlan) -> None:
    """Take ``plan.shed_caps`` out of the bounding and ambient sets (ids unchanged).

    The command's capabilities are recomputed at exec from those sets and the
    inheritable one (:func:`why_not` sends a caller with them inheritable to the Python
    path), so the helper's own effective set does not reach it. Without CAP_SETPCAP
    the bounding set stays as it is: no_new_privs then stops exec from granting them.
    """
    mask = plan.shed_caps
    all_caps = (1 << (plan.last_cap + 1)) - 1
    if 0 in (os.getuid(), os.geteuid()) or not plan.no_new_privs:
        script.add(
            xh.OP_BOUNDING,
            "prctl(PR_CAPBSET_DROP) of shed capabilities",
            all_caps & ~mask,
            plan.last_cap,
        )
    for cap in range(plan.last_cap + 1):
        if mask >> cap & 1:
            script.add(
                xh.OP_PRCTL,
                f"prctl(PR_CAP_AMBIENT_LOWER, {cap})",
                PR_CAP_AMBIENT,
                PR_CAP_AMBIENT_LOWER,
                cap,
                0,
                0,
            )


def _report_steps(script: xh.Script, rep: _Reports, plan: ConfinementPlan) -> None:
    """The kernel's answers, read before Landlock (which may hide /proc)."""
    rep.status = script.add(xh.OP_STATUS, "reading /proc/thread-self/status")
    rep.getgroups = script.add(xh.OP_GETGROUPS, "getgroups")
    rep.securebits = script.add(xh.OP_PRCTL_GET, "prctl(PR_GET_SECUREBITS)", PR_GET_SECUREBITS, 0)
    rep.nnp = script.add(xh.OP_PRCTL_GET, "prctl(PR_GET_NO_NEW_PRIVS)", PR_GET_NO_NEW_PRIVS, 0)
    for which, _value in plan.rlimits:
        rep.limits[which] = script.add(xh.OP_GETRLIMIT, f"getrlimit({rlimit_name(which)})", which)


class _Encoder:
    """The exec helper's meaning of each step (the other executor is sandbox._enter).

    After the go the parent cannot be told any more (a filter may forbid the write), so
    the filters' checks are made by the helper itself, which ends before exec if they
    do not hold.
    """

    def __init__(
        self,
        script: xh.Script,
        rep: _Reports,
        plan: ConfinementPlan,
        ruleset_fd: int | None,
        net_ruleset_fd: int | None,
    ) -> None:
        self.script, self.rep, self.plan = script, rep, plan
        self.ruleset_fd, self.net_ruleset_fd = ruleset_fd, net_ruleset_fd

    def drop(self, step: st.Step) -> None:
        assert isinstance(step, st.Drop)  # noqa: S101 -- dispatched by type
        _drop_steps(self.script, step.plan)

    def shed(self, _step: st.Step) -> None:
        _shed_steps(self.script, self.plan)

    def arm(self, _step: st.Step) -> None:
        # The go is the race check: the parent answers only if it outlived this step.
        self.script.add(xh.OP_PRCTL, "prctl(PR_SET_PDEATHSIG)", PR_SET_PDEATHSIG, 9, 0, 0, 0)

    def limits(self, step: st.Step) -> None:
        assert isinstance(step, st.SetLimits)  # noqa: S101 -- dispatched by type
        for which, value in step.pairs:
            self.script.add(xh.OP_RLIMIT, f"setrlimit({rlimit_name(which)})", which, value, value)

    def nnp(self, _step: st.Step) -> None:
        self.script.add(xh.OP_PRCTL, "prctl(PR_SET_NO_NEW_PRIVS)", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)

    def answers(self, _step: st.Step) -> None:
        _report_steps(self.script, self.rep, self.plan)

    def landlock(self, step: st.Step) -> None:
        assert isinstance(step, st.EnterLandlock)  # noqa: S101 -- dispatched by type
        if self.ruleset_fd is None:
            raise SandboxError("a Landlock plan needs its ruleset descriptor")
        self.script.add(xh.OP_LANDLOCK, "landlock_restrict_self", self.ruleset_fd)
        probe = step.plan.probe()
        if probe is not None:
            kind, path = probe
            op = {"open": xh.OP_PROBE_OPEN, "mkdir": xh.OP_PROBE_MKDIR}.get(kind, xh.OP_PROBE_MKNOD)
            index = self.script.add(op, f"Landlock probe on {path}", data=path.encode())
            self.rep.probe = (kind, path, index)

    # The network policy's two steps, encoded by spawn/_helper_net.py: the stacked
    # network domain, then (after the filters up to the network filter, which the step
    # order puts before the go) the probes, whose answers the parent judges.
    def network_landlock(self, step: st.Step) -> None:
        assert isinstance(step, st.EnterNetworkLandlock)  # noqa: S101 -- dispatched by type
        _helper_net.add_landlock(self.script, step.plan, self.net_ruleset_fd)

    def network_probe(self, step: st.Step) -> None:
        assert isinstance(step, st.ProbeNetwork)  # noqa: S101 -- dispatched by type
        self.rep.net = _helper_net.add_probes(self.script, step.plan)

    def go(self, _step: st.Step) -> None:
        self.script.add(xh.OP_SYNC, "waiting for the parent's go")

    def load_filter(self, step: st.Step) -> None:
        assert isinstance(step, st.LoadFilter)  # noqa: S101 -- dispatched by type
        self.script.add(
            xh.OP_SECCOMP,
            f"seccomp(SECCOMP_SET_MODE_FILTER) of the {step.role} filter",
            _SECCOMP_FILTER_FLAG_TSYNC,
            data=step.program.bpf,
        )

    def check_filters(self, step: st.Step) -> None:
        assert isinstance(step, st.CheckFilters)  # noqa: S101 -- dispatched by type
        self.script.add(
            xh.OP_PRCTL_EXPECT,
            "this thread is not in seccomp filter mode after the load",
            PR_GET_SECCOMP,
            0,
            _SECCOMP_MODE_FILTER,
        )
        if step.no_new_privs:
            self.script.add(
                xh.OP_PRCTL_EXPECT,
                "this thread lacks no_new_privs after seccomp",
                PR_GET_NO_NEW_PRIVS,
                0,
                1,
            )


#: One encoder method per step type: the exec helper's meaning of each step.
ENCODERS: dict[type, Callable[[_Encoder, st.Step], None]] = {
    st.Drop: _Encoder.drop,
    st.ShedCapabilities: _Encoder.shed,
    st.ArmParentDeath: _Encoder.arm,
    st.SetLimits: _Encoder.limits,
    st.SetNoNewPrivs: _Encoder.nnp,
    st.ReadAnswers: _Encoder.answers,
    st.EnterLandlock: _Encoder.landlock,
    st.EnterNetworkLandlock: _Encoder.network_landlock,
    st.AwaitGo: _Encoder.go,
    st.LoadFilter: _Encoder.load_filter,
    st.ProbeNetwork: _Encoder.network_probe,
    st.CheckFilters: _Encoder.check_filters,
}


def build_script(
    plan: ConfinementPlan,
    *,
    exe_fd: int | None,
    ruleset_fd: int | None,
    net_ruleset_fd: int | None = None,
) -> tuple[xh.Script, _Reports]:
    """The helper's script for ``plan``: its steps, in their order, and where answers land.

    ``exe_fd`` (a pinned ELF binary's descriptor) is marked close-on-exec first;
    ``ruleset_fd`` is the Landlock ruleset built in the parent, ``net_ruleset_fd`` the
    NetworkPolicy's (see :mod:`hardenkit.spawn._helper_net`).
    """
    script = xh.Script()
    rep = _Reports()
    if exe_fd is not None:
        script.add(xh.OP_CLOEXEC, "marking the pinned executable close-on-exec", exe_fd)
    encoder = _Encoder(script, rep, plan, ruleset_fd, net_ruleset_fd)
    for step in plan.steps:
        ENCODERS[type(step)](encoder, step)
    return script, rep


def _prctl_answer(records: dict[int, bytes], index: int, what: str) -> int:
    value, err = struct.unpack("<qq", _record(records, index, what, 16))
    if value < 0:
        raise SandboxError(f"{what} failed in the child: {os.strerror(err)}")
    return int(value)


def _record(records: dict[int, bytes], index: int, what: str, size: int | None = None) -> bytes:
    data = records.get(index)
    if data is None or (size is not None and len(data) != size):
        raise SandboxError(f"the exec helper's report lacks {what}")
    return data


def check_report(plan: ConfinementPlan, rep: _Reports, records: dict[int, bytes]) -> None:
    """Judge the helper's report with the checker the in-process executor uses.

    Raises:
        PrivilegeError: the drop does not hold.
        SandboxError: anything else does not hold, or the report lacks an answer.
    """
    raw = _record(records, rep.getgroups, "getgroups")
    answers = _check.Answers(
        status=_record(records, rep.status, "/proc/thread-self/status"),
        groups=struct.unpack(f"<{len(raw) // 4}I", raw[: len(raw) // 4 * 4]),
        securebits=_prctl_answer(records, rep.securebits, "PR_GET_SECUREBITS"),
        no_new_privs=_prctl_answer(records, rep.nnp, "PR_GET_NO_NEW_PRIVS"),
        limits={
            which: struct.unpack("<QQ", _record(records, index, f"getrlimit({which})", 16))
            for which, index in rep.limits.items()
        },
    )
    _check.judge(plan, answers, exec_follows=True)
    if rep.probe is not None:
        kind, path, index = rep.probe
        (probe_errno,) = struct.unpack("<i", _record(records, index, "the Landlock probe", 4))
        check_probe(kind, path, probe_errno)
    _helper_net.check_report(plan, rep.net, records)


def spawn(
    popen: Callable[[list[str], str, tuple[int, ...]], subprocess.Popen[bytes]],
    argv: tuple[str, ...],
    executable: str,
    *,
    plan: ConfinementPlan,
    exe_fd: int | None,
    keep_exe_fd: bool,
    deadline: float,
) -> subprocess.Popen[bytes] | None:
    """Start ``argv`` confined by ``plan`` through the helper; None if it cannot start.

    None (nothing ran) when the helper itself cannot be exec'd (for instance a Landlock
    domain of this process forbids it): the caller then uses the Python path.

    Raises:
        SandboxError: a step failed or its check did not hold (nothing ran).
        OSError: the command itself could not be exec'd (as ``subprocess`` raises).
    """
    helper, why = _locate.locate()
    if helper is None:
        raise SandboxError(f"the exec helper is not usable: {why}")
    started = _start(popen, helper, argv, executable, plan, exe_fd, keep_exe_fd=keep_exe_fd)
    if started is None:
        return None
    proc, ours, script, rep = started
    try:
        with ours:
            _handshake(ours, script, rep, plan, deadline)
    except BaseException as exc:
        _abandon(proc)
        where = f"confining the child of {argv[0]} failed before exec"
        if isinstance(exc, xh.HelperError):
            raise SandboxError(f"{where}: {exc}") from exc
        if isinstance(exc, HardenkitError):
            raise SandboxError(f"{where}: {type(exc).__name__}: {exc}") from exc
        if isinstance(exc, OSError) and exc.filename is None:
            raise OSError(exc.errno, exc.strerror, executable) from None
        raise
    return proc


def _start(  # noqa: PLR0917 -- private, called once
    popen: Callable[[list[str], str, tuple[int, ...]], subprocess.Popen[bytes]],
    helper: str,
    argv: tuple[str, ...],
    executable: str,
    plan: ConfinementPlan,
    exe_fd: int | None,
    *,
    keep_exe_fd: bool,
) -> tuple[subprocess.Popen[bytes], socket.socket, xh.Script, _Reports] | None:
    """Exec the helper with its end of a socket pair; None if it cannot be exec'd."""
    ruleset = plan.landlock.ruleset_fd() if plan.landlock is not None else None
    net_ruleset = None
    try:
        net_ruleset = _helper_net.ruleset_fd(plan)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)  # close-on-exec
    except BaseException:
        for fd in (ruleset, net_ruleset):
            if fd is not None:
                os.close(fd)
        raise
    try:
        script, rep = build_script(
            plan,
            exe_fd=None if keep_exe_fd else exe_fd,
            ruleset_fd=ruleset,
            net_ruleset_fd=net_ruleset,
        )
        fds = tuple(fd for fd in (theirs.fileno(), exe_fd, ruleset, net_ruleset) if fd is not None)
        proc = popen([helper, str(theirs.fileno()), executable, *argv], helper, fds)
    except OSError as err:
        ours.close()
        if err.filename not in (helper, None):
            raise
        _log.info("cannot exec %s (%s): confining in Python instead", helper, err.strerror)
        return None
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
        for fd in (ruleset, net_ruleset):
            if fd is not None:
                os.close(fd)
    return proc, ours, script, rep


def _handshake(
    sock: socket.socket,
    script: xh.Script,
    rep: _Reports,
    plan: ConfinementPlan,
    deadline: float,
) -> None:
    try:
        sock.sendall(script.encode())
    except OSError as err:
        raise xh.HelperError(f"sending the script to the exec helper failed: {err}") from err
    frame = xh.read_frame(sock, deadline)
    if frame is None:
        raise xh.HelperError("the exec helper exited without reporting")
    kind, payload = frame
    if kind != xh.FRAME_REPORT:
        xh.raise_failure(kind, payload, script)
    check_report(plan, rep, xh.parse_records(payload))
    try:
        sock.sendall(b"G")
    except OSError as err:
        raise xh.HelperError(f"the exec helper went away before the go: {err}") from err
    frame = xh.read_frame(sock, deadline)
    if frame is not None:  # end-of-file: the exec closed the socket
        xh.raise_failure(*frame, script)


def _abandon(proc: subprocess.Popen[bytes]) -> None:
    """Kill and reap a helper that must not exec; close its pipes."""
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
