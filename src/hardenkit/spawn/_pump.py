"""The I/O pump: feed stdin, read stdout and stderr within bounds, until exit or deadline."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import select
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

__all__ = ["GRACE", "Stream", "drain", "pump"]

_LINUX = sys.platform.startswith("linux")
_CHUNK = 1 << 16
#: How long we keep reading after the child is gone or killed before we stop waiting.
GRACE = 1.0


class Stream:
    """One output pipe being read: at most ``limit`` bytes are kept in ``data``.

    A plain class, not a dataclass: internal and mutable, and a dataclass costs every
    first ``run`` import ~1 ms (for import time).
    """

    __slots__ = ("data", "fd", "limit", "open", "truncated")

    def __init__(self, fd: int, limit: int, data: bytearray) -> None:
        self.fd = fd
        self.limit = limit
        self.data = data
        self.truncated = False
        self.open = True

    def read(self) -> None:
        try:
            chunk = os.read(self.fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.open = False
            return
        room = self.limit - len(self.data)
        if room >= len(chunk):
            self.data += chunk
        else:
            if room > 0:
                self.data += chunk[:room]
            self.truncated = True  # the rest is read and dropped: memory stays bounded


#: poll() takes a C int of milliseconds: a long timeout (24.9 days and up) is waited for in
#: slices, or poll raises OverflowError with the command already started.
_POLL_SLICE = 3600.0  # seconds


def pump(  # noqa: C901, PLR0912 -- one event loop, clearer in one place
    proc: subprocess.Popen[bytes],
    streams: list[Stream],
    stdin: tuple[int, memoryview] | None,
    deadline: float,
    cancel_fd: int | None,
) -> str:
    """Move data until the child exits and pipes close; return 'done', 'timeout', 'cancel'."""
    pidfd = os.pidfd_open(proc.pid) if _LINUX else None
    poller = select.poll()
    by_fd = {s.fd: s for s in streams}
    for s in streams:
        poller.register(s.fd, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    if cancel_fd is not None:
        poller.register(cancel_fd, select.POLLIN)
    in_fd, pending = stdin if stdin is not None else (-1, memoryview(b""))
    if in_fd != -1:
        poller.register(in_fd, select.POLLOUT)
    try:
        while True:
            if pidfd is None and proc.poll() is not None:
                return "done"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            wait_ms = min(remaining, 0.05 if pidfd is None else _POLL_SLICE) * 1000
            for fd, event in poller.poll(max(1, math.ceil(wait_ms))):
                if cancel_fd is not None and fd == cancel_fd:
                    return "cancel"
                if fd == in_fd:
                    pending = _feed(in_fd, pending, event)
                    if not pending:
                        poller.unregister(in_fd)
                        os.close(in_fd)
                        in_fd = -1
                elif fd == pidfd:
                    poller.unregister(pidfd)
                    return "done"
                elif fd in by_fd:
                    stream = by_fd[fd]
                    stream.read()
                    if not stream.open:
                        poller.unregister(fd)
    finally:
        if pidfd is not None:
            os.close(pidfd)
        if in_fd != -1:
            with contextlib.suppress(OSError):
                os.close(in_fd)


def _feed(fd: int, pending: memoryview, event: int) -> memoryview:
    if event & (select.POLLERR | select.POLLHUP):
        return memoryview(b"")  # the child closed stdin: drop the rest
    try:
        written = os.write(fd, pending[: 1 << 16])
    except BlockingIOError:
        return pending
    except OSError as err:
        if err.errno in (errno.EPIPE, errno.EBADF):
            return memoryview(b"")
        raise
    return pending[written:]


def drain(streams: list[Stream], until: float) -> None:
    """Read what is left until every pipe reaches EOF or ``until`` passes."""
    poller = select.poll()
    live = {s.fd: s for s in streams if s.open}
    for fd in live:
        poller.register(fd, select.POLLIN)
    while live:
        remaining = until - time.monotonic()
        if remaining <= 0:
            return
        for fd, _event in poller.poll(max(1, math.ceil(min(remaining, _POLL_SLICE) * 1000))):
            stream = live[fd]
            stream.read()
            if not stream.open:
                poller.unregister(fd)
                del live[fd]
