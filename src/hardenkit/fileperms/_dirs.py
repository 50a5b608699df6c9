"""make_private_dir and tighten: change modes through descriptors, never by path."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from hardenkit._log import get_logger
from hardenkit.fileperms._acl import read_acl, strip_acls
from hardenkit.fileperms._model import PathStatus, describe_uid, kind_of, validate_mode
from hardenkit.fileperms._rules import fail
from hardenkit.fileperms._walk import O_PATH, Walk, fd_path, set_exact_dir_mode

__all__ = ["make_private_dir", "tighten"]

log = get_logger("hardenkit.fileperms")


def make_private_dir(path: str | os.PathLike[str], *, mode: int = 0o700) -> Path:
    """Create or verify a directory that only the effective user (and root) can use.

    Missing directories on the way are created with exactly ``mode`` too (``os.makedirs``
    gives intermediate directories the umask's default instead), each through an
    ``O_NOFOLLOW`` descriptor with ``fchmod``, with inherited ACLs removed. An existing
    directory must be owned by the effective user and is set to exactly ``mode``. Every
    existing ancestor must pass the directory rule of :func:`check_path`; a symlink anywhere
    is refused. ``mode`` must give the owner rwx and nobody else write.

    Examples:
        >>> import os, stat, tempfile
        >>> from hardenkit.fileperms import make_private_dir
        >>> d = tempfile.mkdtemp()
        >>> p = make_private_dir(os.path.join(d, "a", "b"))
        >>> [oct(stat.S_IMODE(os.stat(x).st_mode)) for x in (p.parent, p)]
        ['0o700', '0o700']
        >>> import shutil; shutil.rmtree(d)

    Raises:
        InsecurePathError: a symlink, a non-directory, a directory owned by someone else,
            an unsafe ancestor, or a directory that could not be created or set.
        ValueError: ``mode`` is not a private directory mode.
    """
    validate_mode(mode, "mode")
    if mode & stat.S_IRWXU != stat.S_IRWXU or mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ValueError(f"mode {mode:04o} is not private: the owner needs rwx, others no write")
    euid = os.geteuid()
    with Walk(path, owner=euid, create_dirs=mode) as walk:
        leaf = walk.leaf_path
        if walk.problems or not walk.complete:
            fail(leaf, walk.problems, walk.error)
        st = walk.leaf_st
        if st is None:  # pragma: no cover - the walk creates every missing component
            fail(leaf, [f"{leaf} does not exist"])
        if leaf in walk.created:
            return Path(leaf)
        problems = _existing_dir_problems(leaf, st, euid)
        parent, name = walk.parent, walk.leaf_name
        if problems or parent is None or name is None:
            fail(leaf, problems or [f"{leaf} is the root directory"])
        try:
            set_exact_dir_mode(parent.fd, name, leaf, mode)
        except OSError as err:
            fail(leaf, [f"{leaf} could not be set to mode {mode:04o}: {err.strerror}"], err)
    if stat.S_IMODE(st.st_mode) != mode:
        log.info("set %s from mode %04o to %04o", leaf, stat.S_IMODE(st.st_mode), mode)
    return Path(leaf)


def _existing_dir_problems(leaf: str, st: os.stat_result, euid: int) -> list[str]:
    mode = stat.S_IMODE(st.st_mode)
    if not stat.S_ISDIR(st.st_mode):
        return [f"{leaf} is a {kind_of(st.st_mode)}, not a directory"]
    if st.st_uid != euid:
        return [f"{leaf} is owned by {describe_uid(st.st_uid)}, not by {describe_uid(euid)}"]
    if leaf == "/" or mode & (stat.S_ISVTX | stat.S_IWOTH) == stat.S_ISVTX | stat.S_IWOTH:
        # Tightening "/" or a shared sticky directory (/tmp) would break the system.
        return [f"{leaf} is a shared directory (mode {mode:04o}): make one inside it instead"]
    return []


def _open_nofollow(dir_fd: int, name: str) -> tuple[int, bool]:
    """Open ``name`` without following it; (fd, True) when it had to be an O_PATH fd."""
    flags = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        return os.open(name, os.O_RDONLY | flags, dir_fd=dir_fd), False
    except PermissionError:
        if O_PATH == os.O_RDONLY:  # pragma: no cover - no O_PATH on this platform
            raise
        # We may own a file we cannot read (mode 0200): chmod it through its O_PATH fd.
        return os.open(name, O_PATH | flags, dir_fd=dir_fd), True


def tighten(path: str | os.PathLike[str], *, max_mode: int = 0o600) -> PathStatus:
    """Remove the permission bits of ``path`` outside ``max_mode``, and its access ACL.

    The fix for what :func:`check_path` and :func:`audit_tree` report on files you own:
    ``tighten(p, max_mode=0o7775)`` removes world-write, ``max_mode=0o1777`` removes
    setuid/setgid. Bits are only ever removed, never added. The change goes through a
    descriptor opened with ``O_NOFOLLOW`` from a symlink-free walk (``chmod`` by path
    follows symlinks, and ``follow_symlinks=False`` is not implemented on Linux), so a
    symlink planted at ``path`` makes it raise instead of changing the link's target.
    Only regular files and directories are changed.

    Examples:
        >>> import os, tempfile
        >>> from hardenkit.fileperms import tighten, write_secure
        >>> d = tempfile.mkdtemp()
        >>> write_secure(os.path.join(d, "f"), b"x", mode=0o666)
        >>> tighten(os.path.join(d, "f"), max_mode=0o640).mode_text
        '0640'
        >>> import shutil; shutil.rmtree(d)

    Raises:
        InsecurePathError: a symlink on the way or at ``path``, not a regular file or
            directory, or the kernel refused the change (not our file).
        ValueError: ``max_mode`` is not a permission mode.
    """
    validate_mode(max_mode, "max_mode")
    with Walk(path, owner=os.geteuid(), parents=False) as walk:
        leaf = walk.leaf_path
        if walk.problems or not walk.complete:
            fail(leaf, walk.problems, walk.error)
        st = walk.leaf_st
        if st is None:
            fail(leaf, [f"{leaf} does not exist"], FileNotFoundError(errno.ENOENT, leaf))
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            fail(leaf, [f"{leaf} is a {kind_of(st.st_mode)}: only files and directories"])
        dir_fd = walk.parent.fd if walk.parent is not None else walk.top_fd
        name = walk.leaf_name if walk.leaf_name is not None else "."
        try:
            fd, is_path_fd = _open_nofollow(dir_fd, name)
        except OSError as err:
            fail(leaf, [f"{leaf} could not be opened: {err.strerror}"], err)
        try:
            return _tighten_fd(fd, is_path_fd, leaf, st, max_mode)
        finally:
            os.close(fd)


def _tighten_fd(
    fd: int, is_path_fd: bool, leaf: str, st: os.stat_result, max_mode: int
) -> PathStatus:
    fst = os.fstat(fd)
    if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
        fail(leaf, [f"{leaf} was replaced while it was being changed"])
    old = stat.S_IMODE(fst.st_mode)
    new = old & max_mode
    target: int | str = fd_path(fd) if is_path_fd else fd
    try:
        acl = read_acl(target, follow=is_path_fd)
        if acl is not None:
            strip_acls(target)
        if acl is not None or new != old:
            if is_path_fd:
                os.chmod(target, new)  # procfs magic link: reaches this inode only
            else:
                os.fchmod(fd, new)
    except OSError as err:
        fail(leaf, [f"{leaf} could not be changed: {err.strerror}"], err)
    after = os.fstat(fd)
    if stat.S_IMODE(after.st_mode) & ~max_mode or read_acl(target, follow=is_path_fd):
        fail(leaf, [f"{leaf} is still mode {stat.S_IMODE(after.st_mode):04o} after chmod"])
    if new != old:
        log.info("tightened %s from mode %04o to %04o", leaf, old, new)
    return PathStatus.from_stat(leaf, after)
