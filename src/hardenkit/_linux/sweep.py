"""The fallback when no PID namespace is possible: kill the group, then sweep /proc.

Targets are every process in the child's session or process group (it is a session
leader, so both ids equal its pid, and the kernel never reuses a pid number still used
as a session or group id), the child's descendants, and any process holding one of our
pipes. Killing repeats until a scan finds nothing alive, so a process forked during the
sweep is caught by the next round (a fork with SIGKILL pending fails in the kernel).
Limit: without privileges an escapee that calls setsid, is orphaned and closes our pipes
cannot be told apart from unrelated processes; docs/spawn.md says so.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal

from hardenkit.errors import PolicyError

_ROUNDS = 20


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    from hardenkit._linux import procfs  # noqa: PLC0415 -- import time: only a sweep reads /proc

    try:
        fields = procfs.read_stat(pid)
        return fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3])
    except (OSError, IndexError, ValueError):
        return None


def _holds(pid: int, pipes: frozenset[str]) -> bool:
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for name in names:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{name}") in pipes:
                return True
    return False


def _targets(leader: int, pipes: frozenset[str]) -> list[int]:
    from hardenkit._linux import procfs  # noqa: PLC0415 -- import time: only a sweep reads /proc

    me = os.getpid()
    parent: dict[int, int] = {}
    found: set[int] = set()
    for pid in procfs.pids():
        if pid == me:
            continue
        info = _stat(pid)
        if info is None or info[0] in ("Z", "X"):
            continue
        _state, ppid, pgrp, session = info
        parent[pid] = ppid
        if leader in (pgrp, session) or (pipes and _holds(pid, pipes)):
            found.add(pid)
    # Descendants of anything found (and of the leader while it is unreaped).
    roots = {leader, *found}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parent.items():
            if ppid in roots and pid not in roots:
                roots.add(pid)
                found.add(pid)
                changed = True
    found.discard(me)
    return sorted(found)


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        fd = os.pidfd_open(pid)
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        finally:
            os.close(fd)


def kill_group(leader: int) -> None:
    """SIGKILL the child's process group (its session leader pid); ESRCH is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)


def sweep(leader: int, pipes: frozenset[str] = frozenset()) -> int:
    """Kill the group and every process the scan attributes to the child; return kills."""
    kill_group(leader)
    if not os.path.isdir("/proc/self"):
        return 0
    killed = 0
    for _ in range(_ROUNDS):
        targets = _targets(leader, pipes)
        if not targets:
            break
        for pid in targets:
            _kill(pid)
        killed += len(targets)
    return killed


def pipe_names(*fds: int) -> frozenset[str]:
    """Return the ``pipe:[inode]`` link names of our pipe ends, to find their holders."""
    names = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            names.add(f"pipe:[{os.fstat(fd).st_ino}]")
    return frozenset(names)


def check_timeout(timeout: object) -> float:
    """Return ``timeout`` as seconds; timeouts are always on, so None is refused.

    Examples:
        >>> check_timeout(2)
        2.0

    Raises:
        PolicyError: not a positive, finite number of seconds.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise PolicyError("timeout must be a number of seconds (timeouts are always on)")
    value = float(timeout)
    if not math.isfinite(value) or value <= 0:
        raise PolicyError("timeout must be a positive, finite number of seconds")
    return value
