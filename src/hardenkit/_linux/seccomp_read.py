"""Read the seccomp filters the kernel holds for a task, with PTRACE_SECCOMP_GET_FILTER.

The kernel hands a filter's classic BPF to a tracer that has CAP_SYS_ADMIN and is not under
seccomp itself, once the task is ptrace-stopped: seize it, interrupt it, wait for the stop,
fetch index 0, 1, ... until ENOENT (index 0 is the newest filter), detach. The task resumes
where it was; a system call it was blocked in is restarted. A process cannot read its own:
a forked helper would inherit the filters, and the kernel refuses a tracer under seccomp
(hardenkit.audit uses what hardenkit recorded when it loaded them, see hardenkit._applied).
"""

from __future__ import annotations

import ctypes
import errno
import os

from hardenkit._linux import procfs
from hardenkit._linux.libc import libc

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_SECCOMP_GET_FILTER = 0x420C
_WALL = 0x40000000
_INSN = 8
_MAX_FILTERS = 4096  # the kernel caps the total at MAX_INSNS_PER_PATH anyway


class FilterUnreadable(Exception):
    """The filters could not be read; ``str()`` says why, for the report."""


def _ptrace() -> Any:  # a ctypes function object
    fn = libc()["ptrace"]  # a private function object: no shared argtypes state
    fn.argtypes = (ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p)
    fn.restype = ctypes.c_long
    return fn


def _reason(step: str, err: int, tid: int) -> str:
    if err == errno.EACCES:
        return (
            f"{step}: EACCES (reading a filter needs CAP_SYS_ADMIN in the initial user "
            "namespace and an auditor not itself under seccomp)"
        )
    if err == errno.EPERM:
        return f"{step} of task {tid}: EPERM (no permission to trace it, or already traced)"
    if err == errno.ESRCH:
        return f"{step}: task {tid} exited or could not be stopped"
    if err == errno.EMEDIUMTYPE:
        return f"{step}: an eBPF filter, which cannot be read back"
    return f"{step}: {errno.errorcode.get(err, str(err))}"


def _state(tid: int) -> str:
    try:
        return procfs.read_stat(tid)[0].decode("ascii", "replace")
    except (OSError, IndexError):
        return "X"


def read_filters(tid: int) -> tuple[bytes, ...]:
    """Return task ``tid``'s filters, newest first (the order the kernel runs them in).

    Raises:
        FilterUnreadable: not allowed, the task is already traced or vanished.
    """
    if _state(tid) in ("D", "Z", "X"):
        # A task in uninterruptible sleep stops only when it wakes: waiting could hang the
        # audit (a stuck NFS read); a zombie or dead task has no filters left to read.
        raise FilterUnreadable(f"task {tid} is in state {_state(tid)}: not stopped to read it")
    pt = _ptrace()
    if pt(PTRACE_SEIZE, tid, None, None) != 0:
        raise FilterUnreadable(_reason("PTRACE_SEIZE", ctypes.get_errno(), tid))
    try:
        if pt(PTRACE_INTERRUPT, tid, None, None) != 0:
            raise FilterUnreadable(_reason("PTRACE_INTERRUPT", ctypes.get_errno(), tid))
        try:
            os.waitpid(tid, _WALL)
        except ChildProcessError as err:
            raise FilterUnreadable(f"waiting for task {tid} to stop failed") from err
        found = []
        for index in range(_MAX_FILTERS):
            count = pt(PTRACE_SECCOMP_GET_FILTER, tid, index, None)
            if count < 0:
                code = ctypes.get_errno()
                if code == errno.ENOENT:
                    break
                raise FilterUnreadable(_reason("PTRACE_SECCOMP_GET_FILTER", code, tid))
            buf = ctypes.create_string_buffer(count * _INSN)
            got = pt(PTRACE_SECCOMP_GET_FILTER, tid, index, buf)
            if got != count:
                raise FilterUnreadable(
                    _reason("PTRACE_SECCOMP_GET_FILTER", ctypes.get_errno(), tid)
                )
            found.append(buf.raw)
        return tuple(found)
    finally:
        pt(PTRACE_DETACH, tid, None, None)
