"""audit_tree: find risky permissions below a directory, streaming, without following links."""

from __future__ import annotations

import errno
import os
import stat

from hardenkit._dataclass import dataclass
from hardenkit._log import get_logger
from hardenkit.fileperms._model import (
    _FINDING_KINDS,
    _SEVERITIES,
    _repr,
    group_name,
    kind_of,
    user_name,
    validate_mode,
)
from hardenkit.fileperms._rules import fail

# Not typing.TYPE_CHECKING: importing typing costs several ms (see fileperms/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Finding", "audit_tree"]

log = get_logger("hardenkit.fileperms")

_DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_S_IFMT = 0o170000
_S_IFDIR = stat.S_IFDIR
_S_IFLNK = stat.S_IFLNK
# Bits that send an entry to the slow path: setuid, setgid, world-write.
_RISKY = stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH

#: (name, (dev, ino) expected, reached through a symlink)
_Sub = tuple[str, tuple[int, int], bool]


# Finding is audit_tree's result, here rather than in _model: check_path does not pay for
# its dataclass (for import time).
@dataclass(frozen=True, slots=True, kw_only=True, repr=False)  # __repr__ = _repr
class Finding:
    """One problem :func:`~hardenkit.fileperms.audit_tree` found.

    Attributes:
        path: where (the symlink's own path when a followed link led there).
        kind: ``world-writable`` (a non-directory anyone may write), ``world-writable-dir``
            (without the sticky bit), ``setuid``, ``setgid`` (non-directories), ``no-user``,
            ``no-group`` (the id has no name in the user or group database) or ``unreadable``
            (a directory that could not be listed, so the audit below it is incomplete).
        severity: ``high``, ``medium`` or ``low``.
        detail: one human-readable line (mode, owner, what to do).
        mode: the permission bits seen, or None for ``unreadable``.
        uid, gid: the owner and group ids seen, or None.

    Examples:
        >>> Finding(path="/srv/x", kind="setuid", severity="high", detail="runs as root",
        ...         mode=0o4755, uid=0, gid=0)
        Finding(path='/srv/x', kind='setuid', severity='high', detail='runs as root', mode=0o4755, uid=0, gid=0)
    """  # noqa: E501 -- a doctest output line cannot be wrapped

    path: str
    kind: str
    severity: str
    detail: str
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None

    __repr__ = _repr

    def __post_init__(self) -> None:
        if self.kind not in _FINDING_KINDS:
            raise ValueError(f"kind must be one of {sorted(_FINDING_KINDS)}, not {self.kind!r}")
        if self.severity not in _SEVERITIES:
            raise ValueError(f"severity must be one of {sorted(_SEVERITIES)}")
        if self.mode is not None:
            validate_mode(self.mode, "mode")


class _Auditor:
    """One audit: name caches, the visited set and the findings."""

    def __init__(self, *, follow: bool, one_filesystem: bool, root_dev: int) -> None:
        self.follow = follow
        self.one_filesystem = one_filesystem
        self.root_dev = root_dev
        self.findings: list[Finding] = []
        self.visited: set[tuple[int, int]] = set()
        # ids known to have a name: the fast path skips only entries whose ids are in these
        self.named_users: set[int] = set()
        self.named_groups: set[int] = set()

    def classify(self, path: str, st: os.stat_result) -> None:
        """Record every finding for one entry (the slow path: rare in a sane tree)."""
        perm = stat.S_IMODE(st.st_mode)
        is_dir = stat.S_ISDIR(st.st_mode)
        kind = kind_of(st.st_mode)
        owner = f"owner uid {st.st_uid}, group gid {st.st_gid}"
        found: list[tuple[str, str, str]] = []
        if perm & stat.S_IWOTH and not is_dir:
            found.append(
                (
                    "world-writable",
                    "high",
                    f"{kind} mode {perm:04o} ({owner}): anyone can change it; chmod o-w",
                )
            )
        if perm & stat.S_IWOTH and is_dir and not perm & stat.S_ISVTX:
            found.append(
                (
                    "world-writable-dir",
                    "high",
                    (
                        f"directory mode {perm:04o} ({owner}) without the sticky bit: "
                        "anyone can replace what is inside; chmod o-w or +t"
                    ),
                )
            )
        if perm & stat.S_ISUID and not is_dir:
            found.append(("setuid", "high", f"{kind} mode {perm:04o} runs as uid {st.st_uid}"))
        if perm & stat.S_ISGID and not is_dir:
            found.append(("setgid", "medium", f"{kind} mode {perm:04o} runs as gid {st.st_gid}"))
        if not self._known_user(st.st_uid):
            found.append(
                (
                    "no-user",
                    "medium",
                    (
                        f"uid {st.st_uid} has no user name: a user created later with "
                        "that uid would own it"
                    ),
                )
            )
        if not self._known_group(st.st_gid):
            found.append(("no-group", "low", f"gid {st.st_gid} has no group name"))
        self.findings.extend(
            Finding(
                path=path,
                kind=k,
                severity=sev,
                detail=detail,
                mode=perm,
                uid=st.st_uid,
                gid=st.st_gid,
            )
            for k, sev, detail in found
        )

    def _known_user(self, uid: int) -> bool:
        return _known(uid, self.named_users, user_name)

    def _known_group(self, gid: int) -> bool:
        return _known(gid, self.named_groups, group_name)

    def unreadable(self, path: str, err: OSError) -> None:
        self.findings.append(
            Finding(
                path=path,
                kind="unreadable",
                severity="medium",
                detail=f"could not be listed ({err.strerror}): nothing below it was audited",
            )
        )

    def scan(self, fd: int, path: str) -> list[_Sub]:
        """Check every entry of the open directory ``fd``; return the directories to enter."""
        subdirs: list[_Sub] = []
        users, groups = self.named_users, self.named_groups
        follow, one_fs, root_dev = self.follow, self.one_filesystem, self.root_dev
        prefix = path if path.endswith("/") else path + "/"
        try:
            with os.scandir(fd) as it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # removed while we were looking: nothing to report
                    mode = st.st_mode
                    fmt = mode & _S_IFMT
                    followed = False
                    if fmt == _S_IFLNK:
                        if not follow:
                            continue
                        try:
                            st = entry.stat(follow_symlinks=True)
                        except OSError:
                            continue  # dangling or looping link: it grants nothing
                        mode = st.st_mode
                        fmt = mode & _S_IFMT
                        followed = True
                    if mode & _RISKY or st.st_uid not in users or st.st_gid not in groups:
                        self.classify(prefix + entry.name, st)
                    if fmt == _S_IFDIR and (not one_fs or st.st_dev == root_dev):
                        subdirs.append((entry.name, (st.st_dev, st.st_ino), followed))
        except OSError as err:
            self.unreadable(path, err)
        return subdirs

    def enter(self, parent_fd: int, path: str, sub: _Sub) -> int | None:
        """Open a subdirectory relative to its parent and make sure it is the one listed."""
        name, key, followed = sub
        if key in self.visited:
            return None  # a loop (bind mount or followed link): already audited
        flags = _DIR_OPEN if followed else _DIR_OPEN | os.O_NOFOLLOW
        try:
            fd = os.open(name, flags, dir_fd=parent_fd)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.ENOTDIR):
                log.warning("%s changed during the audit; not entered", path)
            self.unreadable(path, err)
            return None
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != key:
            os.close(fd)
            log.warning("%s was replaced during the audit; not entered", path)
            # Not silent: what now sits there was never audited.
            self.unreadable(path, OSError(errno.ESTALE, "replaced during the audit"))
            return None
        self.visited.add(key)
        return fd


def audit_tree(
    root: str | os.PathLike[str],
    *,
    follow_symlinks: bool = False,
    one_filesystem: bool = True,
) -> list[Finding]:
    """Report risky permissions in the tree below ``root``, sorted by path.

    Reports world-writable files (any non-directory), world-writable directories without
    the sticky bit, setuid and setgid files, files whose owner or group has no name, and
    directories that could not be listed (``unreadable``: the audit below them is
    incomplete, so it is never silent). Symlinks are skipped, never followed, unless
    ``follow_symlinks`` (then link targets are judged and linked directories entered once,
    loops detected by device and inode). With ``one_filesystem`` it does not descend into
    other filesystems, like ``find -xdev``. It streams: directories are read with
    ``scandir`` one at a time and entered through ``O_NOFOLLOW`` descriptors relative to
    their parent, so memory stays small on large trees and a directory swapped for a
    symlink mid-walk cannot lead it elsewhere. :func:`tighten` fixes what you own.

    Examples:
        >>> import os, tempfile
        >>> from hardenkit.fileperms import audit_tree
        >>> d = tempfile.mkdtemp()
        >>> fd = os.open(os.path.join(d, "open"), os.O_CREAT | os.O_WRONLY, 0o600); os.close(fd)
        >>> os.chmod(os.path.join(d, "open"), 0o666)
        >>> [(os.path.basename(f.path), f.kind, f.severity) for f in audit_tree(d)]
        [('open', 'world-writable', 'high')]
        >>> import shutil; shutil.rmtree(d)

    Raises:
        InsecurePathError: ``root`` does not exist or cannot be examined, or it is a
            symlink and ``follow_symlinks`` is false (audit its real path instead).
    """
    path = os.fsdecode(root).rstrip("/") or "/"
    st = _root_stat(path, follow=follow_symlinks)
    auditor = _Auditor(follow=follow_symlinks, one_filesystem=one_filesystem, root_dev=st.st_dev)
    auditor.classify(path, st)
    if not stat.S_ISDIR(st.st_mode):
        return auditor.findings
    try:
        fd = os.open(path, _DIR_OPEN if follow_symlinks else _DIR_OPEN | os.O_NOFOLLOW)
    except OSError as err:
        auditor.unreadable(path, err)
        return auditor.findings
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        fail(path, [f"{path} was replaced while the audit started"])
    auditor.visited.add((st.st_dev, st.st_ino))
    stack: list[tuple[int, str, list[_Sub]]] = [(fd, path, [])]
    try:
        stack[-1] = (fd, path, auditor.scan(fd, path))
        while stack:
            dir_fd, dir_path, subs = stack[-1]
            if not subs:
                os.close(stack.pop()[0])
                continue
            sub = subs.pop()
            child = f"{dir_path.rstrip('/')}/{sub[0]}"
            child_fd = auditor.enter(dir_fd, child, sub)
            if child_fd is not None:
                stack.append((child_fd, child, []))  # held here so that finally closes it
                stack[-1] = (child_fd, child, auditor.scan(child_fd, child))
    finally:
        for dir_fd, _, _ in stack:
            os.close(dir_fd)
    auditor.findings.sort(key=lambda f: (f.path, f.kind))
    return auditor.findings


def _root_stat(path: str, *, follow: bool) -> os.stat_result:
    try:
        st = os.stat(path, follow_symlinks=False)
        target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
        if target is not None and follow:
            st = os.stat(path)
    except OSError as err:
        fail(path, [f"{path} could not be examined: {err.strerror}"], err)
    if target is not None and not follow:
        problem = (
            f"{path} is a symlink (to {target}): audit its real path (os.path.realpath) or "
            "pass follow_symlinks=True"
        )
        fail(path, [problem])
    return st


def _known(id_: int, named: set[int], lookup: Callable[[int], str | None]) -> bool:
    """Whether the user or group database names ``id_``; a hit is remembered in ``named``."""
    if id_ in named:
        return True
    if lookup(id_) is None:
        return False
    named.add(id_)
    return True
