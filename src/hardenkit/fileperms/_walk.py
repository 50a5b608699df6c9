"""Resolve a path from ``/`` one component at a time, holding a verified fd per directory.

Every component is looked up with ``fstatat(AT_SYMLINK_NOFOLLOW)`` relative to the
descriptor of the directory before it, and every directory is opened with
``O_PATH|O_DIRECTORY|O_NOFOLLOW`` relative to that same descriptor, then compared by
device and inode with what the lookup saw. Nothing is ever resolved by path string, so a
directory swapped for a symlink halfway through cannot redirect the walk.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from functools import cache

from hardenkit._log import get_logger
from hardenkit.fileperms._acl import read_acl, strip_acls
from hardenkit.fileperms._model import describe_uid
from hardenkit.fileperms._rules import dir_problems

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType

    from hardenkit.fileperms._acl import AclEntry

__all__ = ["DIR_FLAGS", "MAX_SYMLINKS", "Walk", "acl_of_entry", "acl_of_fd", "fd_path"]

log = get_logger("hardenkit.fileperms")

#: O_PATH needs only search permission and has no side effects (macOS lacks it).
O_PATH: int = getattr(os, "O_PATH", os.O_RDONLY)
DIR_FLAGS = O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_SYMLINKS = 40  # the kernel's own limit (MAXSYMLINKS)


@cache
def _have_proc_fd() -> bool:
    return os.path.isdir("/proc/self/fd")


def fd_path(fd: int, name: str | None = None) -> str:
    """Return a path that reaches ``fd`` (and ``name`` inside it) through procfs."""
    base = f"/proc/self/fd/{fd}"
    return base if name is None else f"{base}/{name}"


def acl_of_fd(fd: int, fallback: str) -> tuple[AclEntry, ...] | None:
    """Read the access ACL of the object ``fd`` refers to (O_PATH descriptors too)."""
    if _have_proc_fd():
        return read_acl(fd_path(fd), follow=True)  # the magic link reaches this inode
    return read_acl(fallback)  # pragma: no cover - no procfs


def acl_of_entry(dir_fd: int, name: str, fallback: str) -> tuple[AclEntry, ...] | None:
    """Read the access ACL of ``name`` inside ``dir_fd`` without following a final symlink."""
    if _have_proc_fd():
        return read_acl(fd_path(dir_fd, name))
    return read_acl(fallback)  # pragma: no cover - no procfs


#: The root directory of a procfs mount has inode 1 (PROC_ROOT_INO).
_PROC_ROOT_INO = 1


def _procfs_dev() -> int | None:
    """The device of the procfs at /proc; None when /proc is not one."""
    try:
        st = os.stat("/proc", follow_symlinks=False)
    except OSError:
        return None
    return st.st_dev if st.st_ino == _PROC_ROOT_INO and stat.S_ISDIR(st.st_mode) else None


def _join(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"


class _Dir:
    """A verified directory on the walk's stack (plain: a dataclass costs ~1 ms at import)."""

    __slots__ = ("fd", "path", "st")

    def __init__(self, fd: int, path: str, st: os.stat_result) -> None:
        self.fd = fd
        self.path = path
        self.st = st


class Walk:
    """Walk ``path`` under the StrictModes rule; use as a context manager (it owns fds).

    After entering: ``problems`` and ``notices`` (lists of messages), ``parent`` (the
    verified directory holding the leaf, None when the leaf is ``/``), ``leaf_name`` (None
    when the leaf is a directory already on the stack), ``leaf_path``, ``leaf_st`` (the
    lstat of the leaf, None when it does not exist), ``checked`` (directories verified)
    and ``complete`` (False when the walk stopped early; ``problems`` then says why).

    ``through_symlinks`` keeps walking past a refused symlink so that a report can list
    what lies behind it too; open and write paths stop at it. ``create_dirs`` (a mode)
    creates missing directories, each with exactly that mode, and records them in
    ``created``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        owner: int,
        parents: bool = True,
        allow_symlinks: bool = False,
        through_symlinks: bool = False,
        create_dirs: int | None = None,
    ) -> None:
        text = os.fsdecode(path)
        if not text:
            raise ValueError("path must not be empty")
        if "\0" in text:
            raise ValueError("path must not contain a NUL byte")
        if not text.startswith("/"):
            text = _join(os.getcwd(), text)
        self.given = text
        # "key/" names a directory, as the kernel reads it (ENOTDIR for a file).
        self.dir_only = text.endswith(("/", "/.", "/.."))
        self.owner = owner
        self.check_parents = parents
        self.allow_symlinks = allow_symlinks
        self.through_symlinks = through_symlinks
        self.create_mode = create_dirs
        self.problems: list[str] = []
        self.notices: list[str] = []
        self.checked: list[str] = []
        self.created: list[str] = []
        self.complete = False
        self.parent: _Dir | None = None
        self.leaf_name: str | None = None
        self.leaf_path = text
        self.leaf_st: os.stat_result | None = None
        self.error: OSError | None = None
        self._stack: list[_Dir] = []
        self._seen: set[tuple[int, int]] = set()
        self._remaining: deque[str] = deque()

    def __enter__(self) -> Walk:  # noqa: PYI034 -- final in practice; Self needs 3.11
        try:
            self._run()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def top_fd(self) -> int:
        """The descriptor of the deepest directory held (the leaf itself when it is one)."""
        return self._stack[-1].fd

    def close(self) -> None:
        """Close every directory descriptor the walk holds."""
        while self._stack:
            os.close(self._stack.pop().fd)

    # -- the walk -------------------------------------------------------------------------

    def _pop(self) -> None:
        """Leave the deepest directory (``..`` or an absolute link), judging it first.

        The kernel walks through it too: whoever can write it can swap what comes next.
        """
        d = self._stack[-1]
        self._check_dir(d)
        self._stack.pop()
        os.close(d.fd)

    def _stop(self, message: str, err: OSError | None = None) -> None:
        self.problems.append(message)
        self.error = err

    def _run(self) -> None:
        fd = os.open("/", DIR_FLAGS)
        self._stack.append(_Dir(fd, "/", os.fstat(fd)))
        leaf_on_stack = self._walk()
        # Every directory held is an ancestor of the leaf (or of the component that failed).
        for d in self._stack[:-1] if leaf_on_stack else self._stack:
            self._check_dir(d)

    def _walk(self) -> bool:
        """Resolve every component; return True when the leaf is the top of the stack."""
        parts = deque(p for p in self.given.split("/") if p not in ("", "."))
        hops = 0
        while parts:
            name = parts.popleft()
            top = self._stack[-1]
            if name == "..":
                if len(self._stack) > 1:
                    self._pop()
                continue
            full = _join(top.path, name)
            self._remaining = parts
            st = self._lookup(top, name, full, last=not parts)
            if st is None:
                return False
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if not self._follow(top, name, full, parts, hops, st):
                    return False
                continue
            if not parts:
                return self._end(top, name, full, st)
            if not stat.S_ISDIR(st.st_mode):
                self._stop(f"{full} is not a directory", OSError(errno.ENOTDIR, full))
                return False
            if not self._descend(top, name, full, st):
                return False
        # The path ended on a directory already held: "/", "..", or a link to a directory.
        top = self._stack[-1]
        self.parent = self._stack[-2] if len(self._stack) > 1 else None
        self.leaf_name, self.leaf_path, self.leaf_st = None, top.path, top.st
        self.complete = True
        return True

    def _lookup(self, top: _Dir, name: str, full: str, *, last: bool) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=top.fd, follow_symlinks=False)
        except FileNotFoundError as err:
            if self.create_mode is not None:
                return self._mkdir(top, name, full)
            if last and self.dir_only:
                self._stop(f"{full}/ ends with a slash but there is no directory {full}", err)
                return None
            if last:
                self._set_leaf(top, name, full, None)
                self.complete = True
                self.error = err
                return None
            self._stop(f"{full} does not exist", err)
        except OSError as err:
            self._stop(f"{full} could not be checked: {err.strerror}", err)
        return None

    def _end(self, top: _Dir, name: str, full: str, st: os.stat_result) -> bool:
        """Record the last component as the leaf; False: the leaf is not on the stack."""
        if self.dir_only and not stat.S_ISDIR(st.st_mode):
            self._stop(f"{full}/ ends with a slash but {full} is not a directory")
            self.error = OSError(errno.ENOTDIR, full)
            return False
        self._set_leaf(top, name, full, st)
        self.complete = True
        return False

    def _set_leaf(self, top: _Dir, name: str, full: str, st: os.stat_result | None) -> None:
        self.parent, self.leaf_name, self.leaf_path, self.leaf_st = top, name, full, st

    def _follow(  # noqa: PLR0917
        self, top: _Dir, name: str, full: str, parts: deque[str], hops: int, st: os.stat_result
    ) -> bool:
        try:
            target = os.readlink(name, dir_fd=top.fd)
        except OSError as err:
            self._stop(f"{full} could not be read: {err.strerror}", err)
            return False
        if not self.allow_symlinks:
            self.problems.append(
                f"{full} is a symlink (to {target}): symlinks are refused; pass the real path"
                " (os.path.realpath) if you trust every link on the way"
            )
            if not self.through_symlinks:
                self.error = OSError(errno.ELOOP, full)
                return False
        if hops > MAX_SYMLINKS:
            self._stop(f"{full}: too many levels of symbolic links", OSError(errno.ELOOP, full))
            return False
        if top.st.st_ino != _PROC_ROOT_INO and st.st_dev == _procfs_dev():
            # /proc/PID/root, cwd, exe, fd/N: the kernel jumps to the object itself (in the
            # process's mount namespace), whatever the text says ("/", "x (deleted)").
            self._stop(
                f"{full} is a procfs link (to {target}): the kernel does not resolve it by "
                "its text, so what lies behind it cannot be judged; pass the real path",
                OSError(errno.ELOOP, full),
            )
            return False
        # Whoever can write the directory holding a link we follow can re-point it; in a
        # sticky directory so can the link's owner (it may delete and re-create its link).
        self._check_dir(top)
        if (
            self.check_parents
            and top.st.st_mode & stat.S_ISVTX
            and st.st_uid not in (0, self.owner)
        ):
            self.problems.append(
                f"{full} is a symlink owned by {describe_uid(st.st_uid)} in the sticky directory "
                f"{top.path}: its owner can re-point it"
            )
        if target.startswith("/"):
            while len(self._stack) > 1:
                self._pop()
        parts.extendleft(reversed([p for p in target.split("/") if p not in ("", ".")]))
        return True

    def _descend(self, top: _Dir, name: str, full: str, st: os.stat_result) -> bool:
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=top.fd)
        except OSError as err:
            why = "was replaced while being checked" if err.errno == errno.ELOOP else None
            self._stop(f"{full} {why or 'could not be opened: ' + (err.strerror or '')}", err)
            return False
        fst = os.fstat(fd)
        if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
            os.close(fd)
            self._stop(f"{full} was replaced while being checked")
            return False
        self._stack.append(_Dir(fd, full, fst))
        return True

    def _mkdir(self, top: _Dir, name: str, full: str) -> os.stat_result | None:
        mode = self.create_mode
        assert mode is not None  # noqa: S101 -- only called in create mode
        # Nothing is created until every directory walked through so far passed.
        for d in self._stack:
            self._check_dir(d)
        if self.problems:
            self._stop(f"{full} was not created: the path is unsafe")
            return None
        if ".." in self._remaining:
            self._stop(
                f"{full} was not created: '..' follows it in the path (pass a normalized path)"
            )
            return None
        try:
            os.mkdir(name, mode & 0o700, dir_fd=top.fd)
        except FileExistsError:
            pass  # created meanwhile by someone else: checked like any existing directory
        except OSError as err:
            self._stop(f"{full} could not be created: {err.strerror}", err)
            return None
        else:
            try:
                set_exact_dir_mode(top.fd, name, full, mode)
            except OSError as err:
                self._stop(f"{full} was created but could not be secured: {err.strerror}", err)
                return None
            self.created.append(full)
            log.info("created directory %s with mode %04o", full, mode)
        try:
            return os.stat(name, dir_fd=top.fd, follow_symlinks=False)
        except OSError as err:
            self._stop(f"{full} could not be checked: {err.strerror}", err)
            return None

    # -- the parent rule ------------------------------------------------------------------

    def _check_dir(self, d: _Dir) -> None:
        key = (d.st.st_dev, d.st.st_ino)
        if not self.check_parents or key in self._seen:
            return
        self._seen.add(key)
        self.checked.append(d.path)
        try:
            acl = acl_of_fd(d.fd, d.path)
        except (OSError, ValueError) as err:
            self.problems.append(f"parent directory {d.path}: its ACL could not be read ({err})")
            acl = None
        self.problems.extend(dir_problems(d.path, d.st, owner=self.owner, acl=acl))


def set_exact_dir_mode(dir_fd: int, name: str, full: str, mode: int) -> os.stat_result:
    """Give directory ``name`` (ours) exactly ``mode`` and no ACL, through an O_NOFOLLOW fd."""
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise PermissionError(errno.EPERM, "owned by someone else", full)
        strip_acls(fd, default=True)
        os.fchmod(fd, mode)
        st = os.fstat(fd)
        if stat.S_IMODE(st.st_mode) != mode:
            raise PermissionError(errno.EPERM, f"mode is {stat.S_IMODE(st.st_mode):04o}", full)
        return st
    finally:
        os.close(fd)
