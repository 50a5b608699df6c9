"""Judge the seccomp filters a process runs under, as systemd-analyze judges a unit's settings.

The filters are read from the kernel (PTRACE_SECCOMP_GET_FILTER; for the auditing process
itself, the programs hardenkit recorded when it loaded them) and run through a classic-BPF
interpreter for every syscall of every ABI (x86_64, x32, i386 on x86_64 machines), with
arguments left unknown so that a call counts as allowed when any argument value may pass.
From those verdicts come the rows systemd derives from ``SystemCallFilter=``,
``SystemCallArchitectures=`` and ``RestrictNamespaces=``, with systemd's badness values
(src/analyze/analyze-security.c):

- ``SystemCallFilter=~@group``: no filter 10; an allow list (a syscall nobody names is
  refused) 9 when a member of the group may run, else 0; a deny list 10 or 0 likewise.
- ``SystemCallArchitectures=``: every ABI may make calls 10; only the native one 0; some 8.
- ``RestrictNamespaces=~kind``: 1 when unshare, clone, clone3 or setns may make one.

A filter that cannot be read is scored like no filter, never as credit, and said so.
"""

from __future__ import annotations

import functools
import os

from hardenkit._linux.procfs import read_status

# Not typing.TYPE_CHECKING, for import time (typing costs a first audit ~3 ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from dataclasses import dataclass as record

    from hardenkit._linux.procfs import ProcStatus
else:
    from hardenkit._record import record

#: systemd's group rows, in its order.
GROUPS: tuple[str, ...] = (
    "@clock",
    "@cpu-emulation",
    "@debug",
    "@module",
    "@mount",
    "@obsolete",
    "@privileged",
    "@raw-io",
    "@reboot",
    "@resources",
    "@swap",
)
#: RestrictNamespaces= rows: kind -> CLONE_NEW* flag.
NAMESPACE_FLAGS: dict[str, int] = {
    "user": 0x10000000,
    "pid": 0x20000000,
    "net": 0x40000000,
    "uts": 0x04000000,
    "mnt": 0x00020000,
    "cgroup": 0x02000000,
    "ipc": 0x08000000,
}
_SIGCHLD = 17
_S_ISUID = 0o4755
_O_CREAT = 0o100
#: Rows systemd implements as seccomp filters of its own: each is bad when one of these
#: calls (name, fixed arguments) may run on a usable ABI (src/shared/seccomp-util.c).
PROBE_ROWS: dict[str, tuple[tuple[str, dict[int, int]], ...]] = {
    "LockPersonality=": (("personality", {0: 0x0008}), ("personality", {0: 0x0400000})),
    "MemoryDenyWriteExecute=": (
        ("mmap", {2: 0x7}),
        ("mprotect", {2: 0x4}),
        ("pkey_mprotect", {2: 0x4}),
        ("shmat", {2: 0o100000}),
    ),
    "RestrictRealtime=": (
        ("sched_setscheduler", {1: 1}),
        ("sched_setscheduler", {1: 2}),
        ("sched_setscheduler", {1: 6}),
    ),
    "RestrictSUIDSGID=": (
        ("chmod", {1: _S_ISUID}),
        ("fchmod", {1: _S_ISUID}),
        ("fchmodat", {2: _S_ISUID}),
        ("mkdir", {1: 0o2755}),
        ("mkdirat", {2: 0o2755}),
        ("mknod", {1: 0o104755}),
        ("mknodat", {2: 0o104755}),
        ("creat", {1: _S_ISUID}),
        ("open", {1: _O_CREAT, 2: _S_ISUID}),
        ("openat", {2: _O_CREAT, 3: _S_ISUID}),
    ),
    "RestrictAddressFamilies=~AF_(INET|INET6)": (
        ("socket", {0: 2}),
        ("socket", {0: 10}),
        ("socketcall", {}),
    ),
    "RestrictAddressFamilies=~AF_UNIX": (("socket", {0: 1}), ("socketcall", {})),
    "RestrictAddressFamilies=~AF_NETLINK": (("socket", {0: 16}), ("socketcall", {})),
    "RestrictAddressFamilies=~AF_PACKET": (("socket", {0: 17}), ("socketcall", {})),
    "RestrictAddressFamilies=~…": (
        # From 1, as systemd: socket(AF_UNSPEC) fails anyway. 46 is AF_MAX on Linux 6.x.
        *(("socket", {0: af}) for af in range(1, 46) if af not in (1, 2, 10, 16, 17)),
        ("socketcall", {}),
    ),
}
_AUDIT_ARCH_X86_64 = 0xC000003E


# Records (hardenkit._record), internal: a dataclass costs ~1.5 ms at import, a named tuple
# ~0.25 ms, a record ~0.05 ms.
@record(frozen=True, slots=True)
class Abi:
    """One ABI: its name, the arch word the kernel puts in seccomp_data, libseccomp's token."""

    name: str
    data_arch: int
    token: int


@record(frozen=True, slots=True)
class FilterRows:
    """Badness and evidence for each derived row (systemd's row name -> (badness, text)).

    ``unknown``: the filter could not be read (the rows are then the worst case).
    """

    rows: dict[str, tuple[int, str]]
    summary: str
    unknown: bool


@functools.cache
def abis() -> tuple[Abi, ...]:
    """The ABIs a process on this machine may call the kernel with, native first."""
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- loads libseccomp

    native = sc.native_arch()
    out = [Abi("native", native, native)]
    if native == _AUDIT_ARCH_X86_64:
        for name, scmp in (("x32", "SCMP_ARCH_X32"), ("i386", "SCMP_ARCH_X86")):
            token = sc.arch_token(scmp)
            if token is not None:
                data = _AUDIT_ARCH_X86_64 if name == "x32" else token
                out.append(Abi(name, data, token))
    return tuple(out)


@functools.cache
def _number(name: str, token: int) -> int | None:
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes and libseccomp on use

    nr = sc.resolve(name, token)
    return nr if nr is not None and nr >= 0 else None


@functools.cache
def _group_members(group: str) -> tuple[str, ...]:
    from hardenkit.sandbox.groups import expand  # noqa: PLC0415 -- import time: sandbox only to expand a group

    return tuple(sorted(expand([group])))


@functools.cache
def _table(token: int) -> tuple[int, ...]:
    """Every syscall number libseccomp names for this ABI (x32 numbers with their bit)."""
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes and libseccomp on use

    top = sc.max_syscall(token)
    base = top & 0x40000000  # the x32 bit, when this is x32's table
    return tuple(n for n in range(base, top + 1) if sc.syscall_name(n, token) is not None)


@functools.cache
def _gap_number(token: int) -> int | None:
    """A number below the top of the native table that names no syscall (an unlisted call)."""
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes and libseccomp on use

    top = sc.max_syscall(token)
    return next((n for n in range(top) if sc.syscall_name(n, token) is None), None)


def _passes(filters: tuple[bytes, ...], abi: Abi, nr: int, args: dict[int, int]) -> bool:
    """May this call run: no filter of the stack refuses it for every argument value."""
    from hardenkit._linux import bpf  # noqa: PLC0415 -- only processes with a filter need it

    return all(bpf.may_pass(bpf.outcomes(f, nr=nr, arch=abi.data_arch, args=args)) for f in filters)


def _named_passes(filters: tuple[bytes, ...], abi: Abi, name: str, args: dict[int, int]) -> bool:
    nr = _number(name, abi.token)
    return nr is not None and _passes(filters, abi, nr, args)


@functools.lru_cache(maxsize=64)
def judge(filters: tuple[bytes, ...]) -> FilterRows:
    """Derive the rows from filters read from the kernel (newest first)."""
    every = abis()
    native = every[0]
    usable = [a for a in every if _abi_usable(filters, a)]
    rows: dict[str, tuple[int, str]] = {}
    gap = _gap_number(native.token)
    allow_list = gap is None or not _passes(filters, native, gap, {})
    kind = "allow list" if allow_list else "deny list"
    how = f"{kind} (unlisted syscall number {gap} is refused)" if allow_list else kind
    for group in GROUPS:
        offender = next(
            (
                f"{name} ({abi.name})"
                for name in _group_members(group)
                if _number(name, native.token) is not None
                for abi in usable
                if _named_passes(filters, abi, name, {})
            ),
            None,
        )
        if offender is None:
            badness, text = 0, f"{how}; no {group} call may run on any ABI"
        else:
            badness = 9 if allow_list else 10
            text = f"{how}; {group} may run (e.g. {offender})"
        rows[f"SystemCallFilter=~{group}"] = (badness, text)
    names = ", ".join(a.name for a in usable) or "none"
    if usable == [native]:
        rows["SystemCallArchitectures="] = (0, "only the native ABI may make system calls")
    elif len(usable) == len(every):
        rows["SystemCallArchitectures="] = (10, f"every ABI may make system calls: {names}")
    else:
        rows["SystemCallArchitectures="] = (8, f"several ABIs may make system calls: {names}")
    for ns, flag in NAMESPACE_FLAGS.items():
        way = _namespace_way(filters, usable, flag)
        rows[f"RestrictNamespaces=~{ns}"] = (
            (1, f"{way} may create or join a {ns} namespace")
            if way
            else (0, f"unshare, clone, clone3 and setns refuse {ns} namespaces on every ABI")
        )
    for row, probes in PROBE_ROWS.items():
        found = next(
            (
                f"{name}({_show(args)}) on {abi.name}"
                for abi in usable
                for name, args in probes
                if _named_passes(filters, abi, name, args)
            ),
            None,
        )
        rows[row] = (1, f"the filter lets {found} run") if found else (0, _refused(probes))
    counts = ", ".join(
        f"{sum(_passes(filters, abi, nr, {}) for nr in _table(abi.token))} of "
        f"{len(_table(abi.token))} on {abi.name}"
        for abi in usable
    )
    summary = f"{len(filters)} filter(s) read, {kind}; syscalls that may run: {counts or 'none'}"
    return FilterRows(rows=rows, summary=summary, unknown=False)


def _show(args: dict[int, int]) -> str:
    return ", ".join(
        f"arg{i}={v:#o}" if v > _O_CREAT and i else f"arg{i}={v}" for i, v in args.items()
    )


def _refused(probes: tuple[tuple[str, dict[int, int]], ...]) -> str:
    names = sorted({name for name, _args in probes})
    return f"the filter refuses {', '.join(names)} with these arguments on every ABI"


def _abi_usable(filters: tuple[bytes, ...], abi: Abi) -> bool:
    probes = ("exit_group", "write", "read", "getpid", "close", "brk")
    return any(_named_passes(filters, abi, name, {}) for name in probes)


def _namespace_way(filters: tuple[bytes, ...], usable: list[Abi], flag: int) -> str | None:
    for abi in usable:
        for name, args in (
            ("unshare", {0: flag}),
            ("clone", {0: flag | _SIGCHLD}),
            ("clone3", {}),
            ("setns", {1: flag}),
            ("setns", {1: 0}),
        ):
            if _named_passes(filters, abi, name, args):
                return f"{name} ({abi.name})"
    return None


@functools.cache
def unfiltered(mode: int) -> FilterRows:
    """The rows when no filter is read: Seccomp 0 (none) or 1 (strict mode)."""
    rows: dict[str, tuple[int, str]] = {}
    if mode == 1:
        text = "strict mode: only read, write, _exit and sigreturn"
        for group in GROUPS:
            rows[f"SystemCallFilter=~{group}"] = (0, f"{text}; {group} cannot run")
        rows["SystemCallArchitectures="] = (8, f"{text}, on the native and compat ABIs")
        for ns in NAMESPACE_FLAGS:
            rows[f"RestrictNamespaces=~{ns}"] = (0, f"{text}; no namespace call can run")
        for row in PROBE_ROWS:
            rows[row] = (0, f"{text}; none of the calls this row is about can run")
        return FilterRows(rows=rows, summary="seccomp strict mode", unknown=False)
    text = "Seccomp: 0, no filter: every system call is allowed"
    for group in GROUPS:
        rows[f"SystemCallFilter=~{group}"] = (10, text)
    rows["SystemCallArchitectures="] = (10, text + " on every ABI")
    for ns in NAMESPACE_FLAGS:
        rows[f"RestrictNamespaces=~{ns}"] = (1, text)
    for row in PROBE_ROWS:
        rows[row] = (1, text)
    return FilterRows(rows=rows, summary="no seccomp filter", unknown=False)


def unreadable(reason: str) -> FilterRows:
    """The rows when a filter exists but cannot be read: scored as no filter, never credit."""
    text = f"a filter is installed but could not be read ({reason}); scored as no filter"
    rows: dict[str, tuple[int, str]] = {}
    for group in GROUPS:
        rows[f"SystemCallFilter=~{group}"] = (10, text)
    rows["SystemCallArchitectures="] = (10, text)
    for ns in NAMESPACE_FLAGS:
        rows[f"RestrictNamespaces=~{ns}"] = (1, text)
    for row in PROBE_ROWS:
        rows[row] = (1, text)
    return FilterRows(rows=rows, summary=f"filter unreadable: {reason}", unknown=True)


def assess_filters(pid: int, statuses: tuple[ProcStatus, ...], *, myself: bool) -> FilterRows:
    """Read every thread's filters, judge each, keep each row's worst (never raises for that).

    Filters are per thread; one thread with a laxer stack is a laxer process.
    """
    mode = min(st.seccomp for st in statuses)
    if mode != 2:  # noqa: PLR2004 -- SECCOMP_MODE_FILTER
        return unfiltered(mode)
    from hardenkit._linux import seccomp_read as sr  # noqa: PLC0415 -- ctypes on use (processes with a filter)

    try:
        stacks, source = _read_stacks(pid, statuses, myself=myself)
        judged = [(judge(filters), tids) for filters, tids in stacks.items()]
    except sr.FilterUnreadable as err:
        return unreadable(str(err))
    except (OSError, ValueError) as err:  # libseccomp missing, or a program we cannot run
        return unreadable(f"cannot interpret the filter: {err}")
    rows: dict[str, tuple[int, str]] = {}
    for verdict, tids in judged:
        where = f" (threads {', '.join(map(str, tids))})" if len(judged) > 1 else ""
        for name, (badness, text) in verdict.rows.items():
            if name not in rows or badness > rows[name][0]:
                rows[name] = (badness, text + where)
    first = judged[0][0].summary
    more = f"; {len(judged)} different filter stacks across threads" if len(judged) > 1 else ""
    return FilterRows(rows=rows, summary=f"{first}{more} ({source})", unknown=False)


def _read_stacks(
    pid: int, statuses: tuple[ProcStatus, ...], *, myself: bool
) -> tuple[dict[tuple[bytes, ...], list[int]], str]:
    """Each distinct filter stack and the threads that run under it."""
    from hardenkit._linux import seccomp_read as sr  # noqa: PLC0415 -- ctypes on use (processes with a filter)

    counts = {st.seccomp_filters for st in statuses}
    stacks: dict[tuple[bytes, ...], list[int]] = {}
    source = ""
    for st in statuses:
        try:
            filters, source = _read(st.pid, counts, myself=myself)
        except sr.FilterUnreadable:
            if st.pid != pid and not os.path.exists(f"/proc/{pid}/task/{st.pid}"):
                continue  # that thread exited meanwhile: it no longer matters
            raise
        if len(filters) != st.seccomp_filters:
            raise sr.FilterUnreadable(
                f"read {len(filters)} filter(s) of task {st.pid} but its status counts "
                f"{st.seccomp_filters}"
            )
        stacks.setdefault(filters, []).append(st.pid)
        if myself:
            break  # the recorded programs are every thread's (TSYNC, counts checked)
    if not stacks:
        raise sr.FilterUnreadable(f"every thread of {pid} exited during the audit")
    return stacks, source


def _read(tid: int, counts: set[int], *, myself: bool) -> tuple[tuple[bytes, ...], str]:
    from hardenkit import _applied  # noqa: PLC0415 -- import time: only an audit of itself reads it
    from hardenkit._linux import seccomp_read as sr  # noqa: PLC0415 -- ctypes on use (processes with a filter)

    if not myself:
        if read_status().seccomp:  # ptrace could even be fatal under our own filter
            raise sr.FilterUnreadable(
                "the auditor is itself under seccomp, and the kernel hands filters only to a "
                "tracer that is not"
            )
        return sr.read_filters(tid), "PTRACE_SECCOMP_GET_FILTER"
    recorded = _applied.SECCOMP
    if counts == {len(recorded)} and all(tsync for _prog, tsync in recorded):
        return (
            tuple(prog for prog, _tsync in reversed(recorded)),
            "as hardenkit loaded them in this process; the kernel counts as many",
        )
    raise sr.FilterUnreadable(
        "this process is itself under seccomp, and the kernel hands filters only to a tracer "
        f"that is not; hardenkit recorded {len(recorded)} of the "
        f"{', '.join(map(str, sorted(counts)))} filter(s) the kernel counts"
    )
