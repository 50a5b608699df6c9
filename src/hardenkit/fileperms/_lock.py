"""Advisory locks for read-modify-write of files that are replaced by rename.

A lock on the file itself does not work for a file that is replaced by ``rename``: the
lock stays on the old inode, the next writer opens (and locks) the new inode, and two
writers hold "the" lock at once. A separate lock file would be one more file left on
disk. So the lock is ``flock`` on the *directory* holding the file: rename keeps the
directory's inode, and every writer of any file in it (``write_secure``, the envcrypt
writers) takes the same lock. Locks are re-entrant per thread (envcrypt holds the lock
of a ``.env`` and of its ``.env.keys`` across its read-modify-write, and the
``write_secure`` calls inside it take the same lock again), and several directories are
always taken in one order (by device and inode), so two writers never deadlock.

Whoever can read a directory can ``flock`` it; waiting is therefore bounded
(:data:`LOCK_TIMEOUT`) and ends in a clear error instead of a hang.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
from typing import TYPE_CHECKING

from hardenkit.errors import InsecurePathError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["LOCK_TIMEOUT", "dir_lock_fd", "locked_dirs", "locked_for_update"]

#: Seconds a writer waits for another writer of the same directory before it gives up.
LOCK_TIMEOUT = 60.0

_held = threading.local()


def _table() -> dict[tuple[int, int], list[int]]:
    table: dict[tuple[int, int], list[int]] | None = getattr(_held, "table", None)
    if table is None:
        table = {}
        _held.table = table
    return table


def _flock(fd: int, where: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        except OSError as err:
            if err.errno != errno.EINTR:
                raise
        else:
            return
        if time.monotonic() >= deadline:
            raise InsecurePathError(
                f"{where}: another process has held its write lock for over {timeout:.0f}s",
                path=where,
                problems=(f"{where} is locked by another writer",),
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.005)


@contextlib.contextmanager
def dir_lock_fd(dir_fd: int, where: str, *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the write lock of the directory ``dir_fd`` refers to (an O_PATH fd is fine)."""
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        table = _table()
        entry = table.get(key)
        if entry is not None:  # this thread already holds it
            entry[1] += 1
            try:
                yield
            finally:
                entry[1] -= 1
            return
        _flock(fd, where, timeout)
        table[key] = [fd, 1]
        try:
            yield
        finally:
            del table[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked_dirs(paths: Iterable[str], *, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the write locks of the directories holding ``paths``, taken in inode order."""
    fds: dict[tuple[int, int], tuple[int, str]] = {}
    try:
        for path in paths:
            where = os.path.dirname(os.path.abspath(path))
            try:
                fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # nothing to update there; the write itself will say why
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            if key in fds:
                os.close(fd)
            else:
                fds[key] = (fd, where)
        with contextlib.ExitStack() as stack:
            for key in sorted(fds):
                fd, where = fds[key]
                stack.enter_context(dir_lock_fd(fd, where, timeout=timeout))
            yield
    finally:
        for fd, _ in fds.values():
            os.close(fd)


@contextlib.contextmanager
def locked_for_update(*paths: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the write lock :func:`write_secure` takes for each path, for a read-modify-write.

    Read the file, compute the new content and :func:`write_secure` it inside the block:
    no other writer using hardenkit changes the file in between, so no update is lost.
    The lock is on each file's directory (the file itself is replaced by rename, which
    would leave a lock on the file with the old inode); it is re-entrant in one thread.

    Examples:
        >>> import os, tempfile
        >>> from hardenkit.fileperms import locked_for_update, write_secure
        >>> d = tempfile.mkdtemp(); counter = os.path.join(d, "counter")
        >>> write_secure(counter, b"1")
        >>> with locked_for_update(counter):
        ...     with open(counter, "rb") as f:
        ...         n = int(f.read())
        ...     write_secure(counter, str(n + 1))
        >>> with open(counter) as f:
        ...     f.read()
        '2'
        >>> import shutil; shutil.rmtree(d)

    Raises:
        InsecurePathError: another writer held the lock for longer than ``LOCK_TIMEOUT``.
    """
    with locked_dirs(os.fspath(p) for p in paths):
        yield
