"""Advisory locks for read-modify-write of files that are replaced by rename.

A lock on the file itself does not work for a file that is replaced by ``rename``: the
lock stays on the old inode, the next writer opens (and locks) the new inode, and two
writers hold "the" lock at once. A lock on the directory itself does not work either:
whoever can read a directory can ``flock`` it, so user ``nobody`` could stall (and, past
the timeout, fail) every write root makes in a 0755 directory. So the lock is ``flock``
on a lock file, :data:`LOCK_NAME` in the directory holding the file, mode 0600: only
its owner (and root) can open it, so nobody else can take the lock. It is created once
and kept (removing a lock file races with a writer waiting on it); it holds no data.
Every writer of any file in the directory (``write_secure``, the envcrypt writers)
takes the same lock. Locks are re-entrant per thread (envcrypt holds the lock of a
``.env`` and of its ``.env.keys`` across its read-modify-write, and the
``write_secure`` calls inside it take the same lock again), and several directories are
always taken in one order (by device and inode), so two writers never deadlock.

A lock file root creates in a directory another user owns is given to that owner (who
can replace anything in the directory anyway), so that owner's writes can still lock.
A lock file that is not a regular file owned by the writer, the directory's owner or
root, private and singly linked -- say one another user planted in a shared sticky
directory -- is refused with :class:`~hardenkit.errors.InsecurePathError`. Where there
is no lock file and the writer cannot create one, it cannot write in the directory
either, so it has no update there to protect and goes on without a lock. Waiting for another writer
is bounded (:data:`LOCK_TIMEOUT`, read at each call) and ends in a clear error.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import threading
import time

from hardenkit.errors import InsecurePathError
from hardenkit.fileperms._acl import read_acl, strip_acls

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import NoReturn

__all__ = ["LOCK_NAME", "LOCK_TIMEOUT", "dir_lock_fd", "locked_dirs", "locked_for_update"]

#: Seconds a writer waits for another writer of the same directory before it gives up
#: (read at each call, so changing it takes effect at once).
LOCK_TIMEOUT = 60.0

#: The lock file each writer creates (0600) and locks in the directory it writes to.
LOCK_NAME = ".hardenkit.lock"

_LOCK_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK

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


def _refuse(where: str, problem: str, err: OSError | None = None) -> NoReturn:
    lock = os.path.join(where, LOCK_NAME)
    raise InsecurePathError(
        f"{lock}: {problem}; writes in {where} are refused (remove it if it is stale)",
        path=lock,
        problems=(f"{lock}: {problem}",),
    ) from err


def _open_lock_file(dir_fd: int, where: str) -> int | None:
    """Open (creating it 0600 if missing) the lock file in ``dir_fd``; refuse a foreign one.

    None: there is none and this user cannot create one, so cannot write in the directory
    either -- there is no update of its own there to protect (its writes fail anyway).
    """
    euid = os.geteuid()
    dst = os.fstat(dir_fd)
    fd = -1
    for _ in range(3):  # the name may come and go between the two opens
        try:
            fd = os.open(LOCK_NAME, _LOCK_FLAGS | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dir_fd)
        except FileExistsError:
            pass
        except OSError as err:
            if err.errno in (errno.EACCES, errno.EROFS, errno.EPERM) and not _exists(dir_fd):
                return None
            _refuse(where, f"the lock file cannot be created: {err.strerror}", err)
        else:
            if euid == 0 and dst.st_uid != 0:
                # The directory's owner (who can replace anything in it anyway) must be
                # able to open the lock file root created there; nobody else can.
                os.fchown(fd, dst.st_uid, -1)
            break
        fd = _open_existing(dir_fd, where)
        if fd >= 0:
            break
    if fd < 0:
        _refuse(where, "the lock file keeps disappearing")
    try:
        _judge(fd, where, euid, dst.st_uid)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _judge(fd: int, where: str, euid: int, dir_owner: int) -> None:
    """Refuse a lock file that another user could open (and so lock) or swap."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        _refuse(where, "the lock file is not a regular file")
    if st.st_uid not in (euid, 0, dir_owner):
        _refuse(
            where,
            f"the lock file is owned by uid {st.st_uid}, not by this user, the "
            "directory's owner or root",
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        _refuse(where, f"the lock file is mode {stat.S_IMODE(st.st_mode):04o}, not 0600")
    if st.st_nlink != 1:
        _refuse(where, f"the lock file has {st.st_nlink} links, not 1")
    if st.st_uid == euid and read_acl(fd) is not None:
        strip_acls(fd)  # an ACL inherited from the directory's default ACL


def _open_existing(dir_fd: int, where: str) -> int:
    """The existing lock file, opened without following a symlink; -1: it is gone."""
    try:
        return os.open(LOCK_NAME, _LOCK_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return -1
    except OSError as err:
        if err.errno == errno.ELOOP:
            _refuse(where, "the lock file is a symlink", err)
        _refuse(where, f"the lock file cannot be opened: {err.strerror}", err)


def _exists(dir_fd: int) -> bool:
    try:
        os.stat(LOCK_NAME, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def dir_lock_fd(dir_fd: int, where: str, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the write lock of the directory ``dir_fd`` refers to (an O_PATH fd is fine).

    ``timeout`` defaults to :data:`LOCK_TIMEOUT` as it is when called.
    """
    st = os.fstat(dir_fd)
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
    fd = _open_lock_file(dir_fd, where)
    if fd is None:  # this user cannot write there: nothing of its own to protect
        yield
        return
    try:
        _flock(fd, where, LOCK_TIMEOUT if timeout is None else timeout)
        table[key] = [fd, 1]
        try:
            yield
        finally:
            del table[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked_dirs(paths: Iterable[str], *, timeout: float | None = None) -> Iterator[None]:
    """Hold the write locks of the directories holding ``paths``, taken in inode order."""
    fds: dict[tuple[int, int], tuple[int, str]] = {}
    try:
        for path in paths:
            where = os.path.dirname(os.path.abspath(path))
            try:
                fd = os.open(where, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
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
    would leave a lock on the file with the old inode), taken on a private lock file
    there, :data:`LOCK_NAME` (mode 0600: no other user can open it, so none can take the
    lock and stall the writer); it is re-entrant in one thread.

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
        InsecurePathError: another writer held the lock for longer than ``LOCK_TIMEOUT``,
            or the lock file is not a private regular file of this user or root.
    """
    with locked_dirs(os.fspath(p) for p in paths):
        yield
