"""open_secure and write_secure: use exactly what was checked, with no window in between."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Literal, NoReturn, TextIO, overload

from hardenkit._log import get_logger
from hardenkit.fileperms._acl import read_acl, strip_acls
from hardenkit.fileperms._lock import dir_lock_fd
from hardenkit.fileperms._model import kind_of, resolve_owner, validate_mode
from hardenkit.fileperms._rules import fail, leaf_problems
from hardenkit.fileperms._walk import O_PATH, Walk, fd_path

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["open_secure", "write_secure"]

log = get_logger("hardenkit.fileperms")

_OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_CREATE_FLAGS = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY

TextMode = Literal[
    "r", "rt", "r+", "rt+", "r+t", "w", "wt", "w+", "wt+", "w+t",
    "a", "at", "a+", "at+", "a+t", "x", "xt", "x+", "xt+", "x+t",
]  # fmt: skip
BinaryMode = Literal[
    "rb", "r+b", "rb+", "wb", "w+b", "wb+", "ab", "a+b", "ab+", "xb", "x+b", "xb+",
]  # fmt: skip


class _Mode:
    """A parsed ``open()`` mode string."""

    __slots__ = ("create", "exclusive", "fdopen_mode", "flags", "text", "truncate", "writing")

    def __init__(self, mode: str) -> None:
        chars = set(mode)
        base = chars & set("rwax")
        if len(chars) != len(mode) or not chars <= set("rwaxbt+") or len(base) != 1:
            raise ValueError(f"invalid mode {mode!r}")
        if {"b", "t"} <= chars:
            raise ValueError(f"invalid mode {mode!r}: binary and text at once")
        kind = base.pop()
        plus = "+" in chars
        self.text = "b" not in chars
        self.writing = kind != "r" or plus
        self.create = kind != "r"
        self.exclusive = kind == "x"
        self.truncate = kind == "w"
        access = os.O_RDWR if plus else (os.O_RDONLY if kind == "r" else os.O_WRONLY)
        self.flags = access | (os.O_APPEND if kind == "a" else 0)
        # The descriptor already exists: "w" and "x" must not be re-applied by fdopen.
        self.fdopen_mode = mode.replace("x", "w")


def _verify_fd(fd: int, path: str, *, max_mode: int, owner: int, writing: bool) -> None:
    """The check that counts: fstat of the descriptor the caller will use."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        fail(path, [f"{path} is a {kind_of(st.st_mode)}, not a regular file"])
    try:
        acl = read_acl(fd)
    except (OSError, ValueError) as err:
        fail(path, [f"{path}: its ACL could not be read ({err})"], err)
    problems, notices = leaf_problems(path, st, max_mode=max_mode, owner=owner, acl=acl)
    if writing and st.st_nlink != 1:
        problems.append(
            f"{path} has {st.st_nlink} hard links: writing it would change the file behind "
            "another name too"
        )
    if problems:
        fail(path, problems)
    for notice in notices:
        log.info("%s", notice)


_OPEN_REASONS = {
    errno.ELOOP: "is a symlink (swapped in while it was being checked)",
    errno.ENXIO: "is not a regular file",
    errno.ENOENT: "disappeared while it was being checked",
    errno.EISDIR: "is a directory, not a regular file",
}


def _open_leaf(dir_fd: int, name: str, path: str, flags: int) -> int:
    """Open the checked leaf; a non-regular file swapped in since the walk is never opened.

    The name is first opened ``O_PATH`` (no open side effects: a FIFO's peer is not woken,
    a device's driver is not called), its type checked on that descriptor, and the very
    same inode then reopened through ``/proc/self/fd``. Without ``/proc`` the name is
    opened directly (``O_NONBLOCK``; the type is still checked on the descriptor after).
    """
    try:
        pinned = os.open(name, O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as err:
        _open_failed(path, err)
    try:
        kind = os.fstat(pinned).st_mode
        if not stat.S_ISREG(kind):
            swapped = f"{path} is a {kind_of(kind)} (swapped in while it was being checked)"
            fail(path, [swapped])
        try:
            return _reopen(pinned, name, dir_fd, flags)
        except OSError as err:
            _open_failed(path, err)
    finally:
        os.close(pinned)


def _reopen(pinned: int, name: str, dir_fd: int, flags: int) -> int:
    try:
        # A magic link to the inode itself: no name is looked up again, so nothing can be
        # swapped in between (and O_NOFOLLOW would refuse the link itself).
        return os.open(f"/proc/self/fd/{pinned}", flags | (_OPEN_FLAGS & ~os.O_NOFOLLOW))
    except FileNotFoundError:
        if os.path.isdir("/proc/self/fd"):
            raise
    return os.open(name, flags | _OPEN_FLAGS, dir_fd=dir_fd)  # no /proc: by name


def _regular_leaf(walk: Walk) -> tuple[str, Any, str, os.stat_result | None]:
    """The leaf of a walk that ends at a regular file or at a name to create.

    (leaf path, parent directory, leaf name, leaf stat or None when absent). Raises
    InsecurePathError otherwise: a problem on the way, a directory, or another kind of
    file (never opened: opening a device or FIFO can have effects of its own).
    """
    leaf = walk.leaf_path
    if walk.problems or not walk.complete:
        fail(leaf, walk.problems, walk.error)
    parent, name, st = walk.parent, walk.leaf_name, walk.leaf_st
    if parent is None or name is None:
        fail(leaf, [f"{leaf} is a directory, not a regular file"])
    if st is not None and not stat.S_ISREG(st.st_mode):
        fail(leaf, [f"{leaf} is a {kind_of(st.st_mode)}, not a regular file"])
    return leaf, parent, name, st


def _open_failed(path: str, err: OSError) -> NoReturn:
    why = _OPEN_REASONS.get(err.errno or 0, f"could not be opened: {err.strerror}")
    fail(path, [f"{path} {why}"], err)


def _create_leaf(dir_fd: int, name: str, path: str, flags: int, mode: int) -> int:
    try:
        fd = os.open(name, flags | _CREATE_FLAGS, mode & 0o600, dir_fd=dir_fd)
    except FileExistsError as err:
        fail(path, [f"{path} appeared while it was being created"], err)
    except OSError as err:
        fail(path, [f"{path} could not be created: {err.strerror}"], err)
    try:
        strip_acls(fd)  # a default ACL on the directory would otherwise be inherited
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


@overload
def open_secure(
    path: str | os.PathLike[str],
    mode: TextMode,
    *,
    max_mode: int = ...,
    owner: int | str | None = ...,
    parents: bool = ...,
    encoding: str | None = ...,
) -> TextIO: ...


@overload
def open_secure(
    path: str | os.PathLike[str],
    mode: BinaryMode = ...,
    *,
    max_mode: int = ...,
    owner: int | str | None = ...,
    parents: bool = ...,
    encoding: str | None = ...,
) -> BinaryIO: ...


@overload
def open_secure(
    path: str | os.PathLike[str],
    mode: str,
    *,
    max_mode: int = ...,
    owner: int | str | None = ...,
    parents: bool = ...,
    encoding: str | None = ...,
) -> IO[Any]: ...


def open_secure(
    path: str | os.PathLike[str],
    mode: str = "rb",
    *,
    max_mode: int = 0o600,
    owner: int | str | None = None,
    parents: bool = True,
    encoding: str | None = None,
) -> IO[Any]:
    """Open ``path`` only if it is safe, checking the very descriptor that is returned.

    The path is walked from ``/`` one component at a time with ``O_NOFOLLOW`` relative to
    the verified directory before it (a symlink anywhere is refused, a symlinked parent
    too); with ``parents`` each directory must pass the same rule as in
    :func:`check_path`. The file is opened with ``O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC`` (a FIFO
    cannot make it hang), then ``fstat`` of that descriptor must show a regular file owned
    by ``owner`` or root, with no bit outside ``max_mode`` and no ACL granting others, and,
    when writing, a single link. What you read is what was checked.

    Modes are ``open()``'s. ``"w"`` truncates only after the checks pass. ``"w"``, ``"a"``
    and ``"x"`` create a missing file with ``O_EXCL`` and mode ``max_mode & 0o600``.
    Text modes default to UTF-8. For replacing a file's content atomically use
    :func:`write_secure`.

    Examples:
        >>> import os, tempfile
        >>> from hardenkit.fileperms import open_secure, write_secure
        >>> d = tempfile.mkdtemp()
        >>> write_secure(os.path.join(d, "key"), b"not shown")
        >>> with open_secure(os.path.join(d, "key")) as f:
        ...     len(f.read())
        9
        >>> os.symlink(os.path.join(d, "key"), os.path.join(d, "link"))
        >>> open_secure(os.path.join(d, "link"))
        Traceback (most recent call last):
        ...
        hardenkit.errors.InsecurePathError: .../link is a symlink ...
        >>> import shutil; shutil.rmtree(d)

    Raises:
        InsecurePathError: listing what failed (never the file's content); also when the
            file cannot be opened or verified.
        ValueError: invalid ``mode`` or ``max_mode``, or an unknown ``owner``.
    """
    parsed = _Mode(mode)
    validate_mode(max_mode, "max_mode")
    owner_uid = resolve_owner(owner)
    # Who closes the leaf's descriptor: this function while ``unowned`` holds it, the file
    # object once open() has taken it. It is stored there as the open returns it (one call
    # later: no Python code closes that window), inside the walk (whose exit runs Python
    # code a KeyboardInterrupt can land in), and the hand-over
    # is dict.pop, called by open() as the opener: C code, so no signal handler or trace
    # function runs between taking it and FileIO owning it. An exception after that (a
    # KeyboardInterrupt as open() returns) drops the object, which closes the descriptor;
    # closing it here too would close it twice (EBADF, or another thread's new
    # descriptor), and hide the exception behind the OSError.
    unowned: dict[str, int] = {}
    hold = unowned.__setitem__  # bound first: the store is the next call after the open
    try:
        with Walk(path, owner=owner_uid, parents=parents) as walk:
            leaf, parent, name, st = _regular_leaf(walk)
            created = st is None
            if created:
                if not parsed.create:
                    fail(leaf, [f"{leaf} does not exist"], FileNotFoundError(errno.ENOENT, leaf))
                hold(leaf, _create_leaf(parent.fd, name, leaf, parsed.flags, max_mode & 0o600))
            elif parsed.exclusive:
                fail(leaf, [f"{leaf} already exists"], FileExistsError(errno.EEXIST, leaf))
            else:
                hold(leaf, _open_leaf(parent.fd, name, leaf, parsed.flags))
        fd = unowned[leaf]
        _verify_fd(fd, leaf, max_mode=max_mode, owner=owner_uid, writing=parsed.writing)
        os.set_blocking(fd, True)
        if parsed.truncate and not created:
            os.ftruncate(fd, 0)
        # The opener ignores open()'s flags: fd is already open, with ours ("w" and "x"
        # must not be re-applied). The file object's name is the path.
        encoding = (encoding or "utf-8") if parsed.text else None
        return open(leaf, parsed.fdopen_mode, encoding=encoding, opener=unowned.pop)
    except BaseException:
        while unowned:
            os.close(unowned.popitem()[1])
        raise


def _unlink_quietly(name: str, dir_fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


#: Test hook: called with the name of each step of a write (a crash test kills there).
_step_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if _step_hook is not None:
        _step_hook(name)


def _staging_prefix(name: str) -> str:
    """The start of every name a write of ``name`` links its new content under, briefly.

    Short (a 255-byte target name still fits) and fixed per target, so that the next
    write, which holds the same lock, finds and removes what a crashed one left.
    """
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:24]
    return f".hardenkit-{digest}."


def _staging_name(name: str) -> str:
    """A fresh, unpredictable staging name for ``name`` (none other can pre-create it)."""
    return f"{_staging_prefix(name)}{os.urandom(8).hex()}.new"


def _remove_stale_staging(dir_fd: int, name: str, euid: int) -> None:
    """Remove staging names of ``name`` that a writer of ours killed mid-way left behind.

    Only this user's (we hold the lock, so none is in use); another user's are left alone.
    """
    prefix = _staging_prefix(name)
    try:
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
    except PermissionError:  # a write-only directory: nothing to list, nothing found
        return
    try:
        with os.scandir(fd) as entries:
            names = [e.name for e in entries]
    finally:
        os.close(fd)
    for entry in (n for n in names if n.startswith(prefix) and n.endswith(".new")):
        try:
            st = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if st.st_uid == euid:
            _unlink_quietly(entry, dir_fd)


def _anonymous_file(dir_fd: int, leaf: str, mode: int) -> int | None:
    """An unnamed file in the directory (O_TMPFILE), or None where the filesystem lacks it."""
    flags = getattr(os, "O_TMPFILE", 0)
    if not flags:  # pragma: no cover - not Linux
        return None
    try:
        fd = os.open(".", flags | os.O_WRONLY | os.O_CLOEXEC, mode & 0o600, dir_fd=dir_fd)
    except OSError as err:
        if err.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None
        fail(leaf, [f"{leaf}: a new file could not be created: {err.strerror}"], err)
    try:
        strip_acls(fd)
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _replace(dir_fd: int, name: str, leaf: str, payload: memoryview, *, mode: int) -> None:
    """Write the new content unnamed, then link it in and rename it over ``name``.

    The content only ever has a name of its own between ``linkat`` and ``rename`` (two
    consecutive system calls); where ``O_TMPFILE`` is missing it has one from creation.
    Either way it is a fresh random staging name (so no other user can plant it first);
    a writer killed with it left leaves it to the next writer, which removes it.
    """
    euid = os.geteuid()
    _remove_stale_staging(dir_fd, name, euid)  # left by writers killed mid-way
    staging = _staging_name(name)
    fd = _anonymous_file(dir_fd, leaf, mode)
    named = fd is None
    if fd is None:
        fd = _create_leaf(dir_fd, staging, leaf, os.O_WRONLY, mode)
    try:
        _step("created")
        fst = os.fstat(fd)
        got = stat.S_IMODE(fst.st_mode)
        if got != mode or fst.st_uid != euid or read_acl(fd) is not None:
            fail(leaf, [f"{leaf}: the new file is mode {got:04o}, not {mode:04o}"])
        _write_all(fd, payload)
        _step("written")
        os.fsync(fd)
        _step("synced")
        if not named:
            try:
                os.link(fd_path(fd), staging, dst_dir_fd=dir_fd, follow_symlinks=True)
            except FileExistsError as err:
                fail(leaf, [f"{leaf}: its staging name appeared while it was being written"], err)
            named = True
            _step("linked")
        os.replace(staging, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        named = False
        _step("renamed")
    except BaseException:
        if named:
            _unlink_quietly(staging, dir_fd)
        raise
    finally:
        os.close(fd)
    dfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    _step("dir-synced")
    try:
        final = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as err:
        fail(leaf, [f"{leaf} was removed right after it was written"], err)
    if (final.st_dev, final.st_ino) != (fst.st_dev, fst.st_ino):
        fail(leaf, [f"{leaf} was replaced by someone else right after it was written"])


def write_secure(
    path: str | os.PathLike[str],
    data: str | bytes | bytearray | memoryview,
    *,
    mode: int = 0o600,
    parents: bool = True,
) -> None:
    """Replace ``path`` atomically and durably with ``data``, with exactly ``mode``.

    The parent directory is reached as in :func:`open_secure` (no symlink anywhere; with
    ``parents`` the directory rule applies). A symlink at ``path``, dangling or not, is
    refused before anything is created. The new content goes into an unnamed file
    (``O_TMPFILE``) in the target's directory, stripped of any inherited ACL, set to
    exactly ``mode`` with ``fchmod`` whatever the umask, verified, written and fsynced;
    only then is it linked in under a random staging name and renamed over the target
    (rename replaces a name, it never follows one), and the directory is fsynced. A
    process killed at any point leaves no named copy of the data behind, except between
    those last two calls (the next write removes it). Writers hold an advisory lock on the
    directory (``flock`` on a 0600 lock file there, ``.hardenkit.lock``, that no other
    user can open; re-entrant; see :func:`locked_for_update`) for the whole
    replacement. Readers see the old content or the new one, never a mix. ``str`` data is
    written as UTF-8.

    Examples:
        >>> import os, stat, tempfile
        >>> from hardenkit.fileperms import write_secure
        >>> d = tempfile.mkdtemp()
        >>> write_secure(os.path.join(d, "app.key"), b"s3cr3t", mode=0o640)
        >>> oct(stat.S_IMODE(os.stat(os.path.join(d, "app.key")).st_mode))
        '0o640'
        >>> import shutil; shutil.rmtree(d)

    Raises:
        InsecurePathError: a symlink at ``path`` or on the way, an unsafe parent directory,
            a non-regular file at ``path``, or a result the kernel does not confirm.
        OSError: writing failed (disk full, I/O error); the target is untouched.
        ValueError: ``mode`` is not a permission mode.
    """
    validate_mode(mode, "mode")
    payload = memoryview(data.encode() if isinstance(data, str) else data).cast("B")
    euid = os.geteuid()
    with Walk(path, owner=euid, parents=parents) as walk:
        leaf, parent, name, _ = _regular_leaf(walk)
        with dir_lock_fd(parent.fd, parent.path):
            _replace(parent.fd, name, leaf, payload, mode=mode)
    log.debug("wrote %s (%d bytes, mode %04o)", leaf, len(payload), mode)
