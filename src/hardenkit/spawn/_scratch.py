"""private_tmpdir(): a scratch directory only the child's user can enter, removed afterwards."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import stat
import tempfile
from pathlib import Path

from hardenkit._dataclass import dataclass
from hardenkit.errors import InsecurePathError, PolicyError

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ScratchDir", "private_tmpdir"]

_PRIVATE = 0o700


@dataclass(frozen=True, slots=True, kw_only=True)
class ScratchDir:
    """A private scratch directory: ``path`` (0700), with ``home`` and ``tmp`` inside it.

    Examples:
        >>> with private_tmpdir() as scratch:
        ...     sorted(scratch.environ()) == ["HOME", "TMPDIR"]
        True
    """

    path: Path
    home: Path
    tmp: Path
    uid: int
    gid: int

    def environ(self) -> dict[str, str]:
        """Return ``HOME`` and ``TMPDIR`` pointing into the scratch directory."""
        return {"HOME": str(self.home), "TMPDIR": str(self.tmp)}

    def env(self, **extra: str) -> dict[str, str]:
        """Return ``sanitize_env()`` with HOME and TMPDIR set here (and ``extra``).

        TMPDIR is on the dangerous list for inherited environments; here it points into a
        directory we just created privately, which is what makes it safe.

        Examples:
            >>> with private_tmpdir() as scratch:
            ...     scratch.env()["HOME"] == str(scratch.home)
            True
        """
        from hardenkit.env import sanitize_env  # noqa: PLC0415 -- first use only

        return {**sanitize_env(), **self.environ(), **extra}


def _owner(owner: str | int | None) -> tuple[int, int]:
    if owner is None:
        return os.geteuid(), os.getegid()
    try:
        entry = pwd.getpwuid(owner) if isinstance(owner, int) else pwd.getpwnam(owner)
    except KeyError as err:
        raise PolicyError(f"private_tmpdir owner {owner!r} is not a known user") from err
    return entry.pw_uid, entry.pw_gid


def _make_private(parent_fd: int, name: str, uid: int, gid: int) -> None:
    os.mkdir(name, 0o700, dir_fd=parent_fd)
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    try:
        _seal(fd, name, uid, gid)
    finally:
        os.close(fd)


def _seal(fd: int, name: str, uid: int, gid: int) -> None:
    # Through the descriptor: a hostile umask or a swapped name cannot change what we fix.
    os.fchmod(fd, 0o700)
    if (uid, gid) != (os.geteuid(), os.getegid()):
        os.fchown(fd, uid, gid)
    st = os.fstat(fd)
    if stat.S_IMODE(st.st_mode) != _PRIVATE or st.st_uid != uid or not stat.S_ISDIR(st.st_mode):
        raise InsecurePathError(
            f"{name} is not a private directory after creation",
            path=name,
            problems=(f"mode {stat.S_IMODE(st.st_mode):04o}, owner {st.st_uid}",),
        )


@contextlib.contextmanager
def private_tmpdir(
    *,
    owner: str | int | None = None,
    prefix: str = "hardenkit-",
    dir: str | None = None,  # noqa: A002 -- the name tempfile uses
) -> Iterator[ScratchDir]:
    """Create a fresh 0700 directory (with ``home/`` and ``tmp/``), remove it afterwards.

    Creation cannot race: the name is created exclusively (mkdtemp), and mode and owner
    are fixed and verified through a descriptor opened with O_NOFOLLOW. ``owner`` (a
    user name or uid) is the user the child will run as; it owns the three directories.
    Removal does not follow symlinks the child may have planted.

    Examples:
        >>> with private_tmpdir() as scratch:
        ...     oct(scratch.path.stat().st_mode & 0o777), scratch.home.parent == scratch.path
        ('0o700', True)
        >>> scratch.path.exists()
        False
    """
    uid, gid = _owner(owner)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            _make_private(fd, "home", uid, gid)
            _make_private(fd, "tmp", uid, gid)
            _seal(fd, str(path), uid, gid)
        finally:
            os.close(fd)
        yield ScratchDir(path=path, home=path / "home", tmp=path / "tmp", uid=uid, gid=gid)
    finally:
        shutil.rmtree(path, ignore_errors=not shutil.rmtree.avoids_symlink_attacks)
