"""Raw calls for the spawn path: a per-thread PID namespace for the next child.

``unshare(CLONE_NEWPID)`` changes only the calling thread's ``pid_ns_for_children``; the
child it forks next becomes pid 1 of a fresh namespace, and when that child exits the
kernel SIGKILLs everything left in the namespace (setsid and double-fork included) and
waits for it before the child can be reaped. ``setns`` back to our own namespace restores
the thread, so other threads and later forks are never affected.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os

from hardenkit._linux.libc import PR_GET_SECCOMP, PR_SET_PDEATHSIG, libc, prctl, prctl_function
from hardenkit._log import get_logger
from hardenkit.errors import SandboxError

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CLONE_NEWPID = 0x20000000
_log = get_logger("hardenkit.spawn")

# Once this process runs under a seccomp filter we never try unshare again: a filter with
# a kill action would kill the whole application instead of returning EPERM.
_state = {"filtered": False}


@functools.cache
def _calls() -> tuple[Callable[[int], int], Callable[[int, int], int]]:
    lib = libc()
    unshare = lib.unshare
    unshare.argtypes = [ctypes.c_int]
    unshare.restype = ctypes.c_int
    setns = lib.setns
    setns.argtypes = [ctypes.c_int, ctypes.c_int]
    setns.restype = ctypes.c_int
    return unshare, setns


def _under_seccomp() -> bool:
    if _state["filtered"]:
        return True
    try:
        mode = prctl(PR_GET_SECCOMP)
    except OSError:
        mode = 2  # cannot tell: assume filtered, never risk a kill action
    if mode != 0:
        _state["filtered"] = True
    return _state["filtered"]


@contextlib.contextmanager
def pid_namespace_for_children() -> Iterator[bool]:
    """Put the next child this thread forks into a new PID namespace, then restore.

    Yields True when the namespace is in effect and False when the kernel refused
    (no CAP_SYS_ADMIN, seccomp, nested unshare): the caller then falls back to sweeping.
    Restoring cannot be skipped: if ``setns`` fails, SandboxError is raised.

    Examples:
        >>> with pid_namespace_for_children() as active:
        ...     isinstance(active, bool)
        True
    """
    if _under_seccomp():
        yield False
        return
    unshare, setns = _calls()
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if unshare(CLONE_NEWPID) != 0:
            err = ctypes.get_errno()
            if err not in (errno.EPERM, errno.EINVAL, errno.ENOSYS, errno.EUSERS, errno.ENOSPC):
                _log.warning("unshare(CLONE_NEWPID) failed with errno %d", err)
            yield False
            return
        try:
            yield True
        finally:
            if setns(own, CLONE_NEWPID) != 0:
                err = ctypes.get_errno()
                # This thread's later children would land in a dead namespace: say so loudly.
                raise SandboxError(
                    "setns back to our own PID namespace failed after spawning "
                    f"({os.strerror(err)}); this thread can no longer start processes",
                    syscall="setns",
                ) from OSError(err, os.strerror(err))
    finally:
        os.close(own)


class ParentDeath:
    """Make a forked child die with the process that forked it (PR_SET_PDEATHSIG SIGKILL).

    Build it in the parent; call :meth:`arm` in the child after any change of its user
    ids (the kernel clears the parent-death signal when the effective ids change) and
    before a seccomp filter that may forbid prctl. :meth:`arm` closes the race of a
    parent killed before the signal was set: ``getppid()`` must still be the parent;
    in a new PID namespace (where ``getppid()`` is 0) the parent's pidfd, opened here
    and inherited close-on-exec, must not have reported its exit. A child whose parent
    is already gone exits at once. Fork-child safe: no import, lock or logging.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> guard = ParentDeath()
        >>> fork_call(guard.arm).ok  # the parent lives: the child carries on
        True
        >>> guard.close()
    """

    def __init__(self) -> None:
        import select  # noqa: PLC0415 -- the child must not import

        self.parent = os.getpid()
        self._select = select.select
        self._prctl = prctl_function()
        try:
            self.pidfd = os.pidfd_open(self.parent)
        except OSError as err:
            raise SandboxError(
                f"cannot open a pidfd of this process for the parent-death check: {err.strerror}"
            ) from err

    def arm(self) -> None:  # pragma: no cover - runs in a forked child
        """Set the parent-death signal, then exit if the parent is already gone."""
        if self._prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(err)}")
        ppid = os.getppid()
        if ppid == self.parent:
            return
        if ppid == 0 and self.pidfd >= 0 and not self._select([self.pidfd], [], [], 0)[0]:
            return  # pid 1 of a new namespace, and the parent's pidfd says it lives
        os._exit(137)  # the parent died before the signal was armed: never run

    def close(self) -> None:
        """Close the parent's pidfd (in the parent, once the child has exec'd or exited)."""
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
