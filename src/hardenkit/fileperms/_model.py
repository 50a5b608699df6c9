"""Result types and the bitwise mode rule shared by every fileperms check."""

from __future__ import annotations

import grp  # imported now: after a privilege drop the stdlib may be out of reach
import os
import pwd
import stat

from hardenkit._dataclass import dataclass, field_names

__all__ = [
    "KINDS",
    "FindingKind",
    "PathStatus",
    "Severity",
    "excess_bits",
    "group_name",
    "kind_of",
    "resolve_owner",
    "user_name",
    "validate_mode",
]

# The Literal types are the type checker's; at run time the module's __getattr__ makes
# them on first use, for import time (typing costs a first check_path several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    #: File kinds as PathStatus reports them (from the S_IFMT bits of st_mode).
    Kind = Literal["file", "directory", "symlink", "fifo", "socket", "char-device", "block-device"]
    FindingKind = Literal[
        "world-writable",
        "world-writable-dir",
        "setuid",
        "setgid",
        "no-user",
        "no-group",
        "unreadable",
    ]
    Severity = Literal["high", "medium", "low"]

_KIND_NAMES: tuple[Kind, ...] = (
    "file",
    "directory",
    "symlink",
    "fifo",
    "socket",
    "char-device",
    "block-device",
)
_FINDING_KIND_NAMES: tuple[FindingKind, ...] = (
    "world-writable",
    "world-writable-dir",
    "setuid",
    "setgid",
    "no-user",
    "no-group",
    "unreadable",
)
_SEVERITY_NAMES: tuple[Severity, ...] = ("high", "medium", "low")
_LITERALS = {"Kind": _KIND_NAMES, "FindingKind": _FINDING_KIND_NAMES, "Severity": _SEVERITY_NAMES}

KINDS: frozenset[str] = frozenset(_KIND_NAMES)
_ALL_BITS = 0o7777
_FINDING_KINDS = frozenset(_FINDING_KIND_NAMES)
_SEVERITIES = frozenset(_SEVERITY_NAMES)


def __getattr__(name: str) -> object:
    """``Kind``, ``FindingKind``, ``Severity``: the Literal types, made on first use.

    ``Finding`` lived here before it moved to ``_tree``: pickles made then name this
    module, so the old name still resolves (``_tree`` loads only when it is asked for).
    """
    if name == "Finding":
        # By name: _tree imports this module, and the layers contract forbids the cycle
        # a static import would draw (this is a lookup for old pickles only).
        import importlib  # noqa: PLC0415 -- only for an old pickle

        finding: object = importlib.import_module("hardenkit.fileperms._tree").Finding
        return finding
    if name in _LITERALS:
        from typing import Literal  # noqa: PLC0415 -- for import time

        value = Literal[_LITERALS[name]]  # type: ignore[valid-type]
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_KIND_BY_FMT = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "directory",
    stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "char-device",
    stat.S_IFBLK: "block-device",
}


def kind_of(st_mode: int) -> Kind:
    """Name the file type in ``st_mode``.

    Examples:
        >>> kind_of(0o100600), kind_of(0o040755), kind_of(0o010600)
        ('file', 'directory', 'fifo')
    """
    kind = _KIND_BY_FMT.get(stat.S_IFMT(st_mode))
    if kind is None:
        raise ValueError(f"unknown file type in mode {st_mode:#o}")
    return kind  # type: ignore[return-value]  # values of _KIND_BY_FMT are all Kind


def validate_mode(value: int, name: str) -> int:
    """Return ``value`` if it is a permission mode (0 to 0o7777), else raise ValueError.

    Examples:
        >>> validate_mode(0o600, "max_mode") == 0o600
        True
        >>> validate_mode(0o10000, "max_mode")
        Traceback (most recent call last):
        ...
        ValueError: max_mode must be a permission mode between 0 and 0o7777, not 0o10000
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _ALL_BITS:
        shown = oct(value) if isinstance(value, int) else repr(value)
        raise ValueError(f"{name} must be a permission mode between 0 and 0o7777, not {shown}")
    return value


def excess_bits(mode: int, max_mode: int) -> int:
    """Return the permission bits of ``mode`` that ``max_mode`` does not allow.

    The rule is bitwise, never numeric: 0o077 is numerically below 0o600, yet every one of
    its bits is outside 0o600. Setuid, setgid and sticky bits count like any other bit.

    Examples:
        >>> oct(excess_bits(0o644, 0o600))
        '0o44'
        >>> oct(excess_bits(0o077, 0o600))
        '0o77'
        >>> excess_bits(0o400, 0o600)
        0
        >>> oct(excess_bits(0o4755, 0o755))
        '0o4000'
    """
    return stat.S_IMODE(mode) & ~max_mode & 0o7777


def resolve_owner(owner: int | str | None) -> int:
    """Turn ``owner`` (uid, user name, or None for the effective uid) into a uid.

    Examples:
        >>> resolve_owner(0), resolve_owner("root")
        (0, 0)
        >>> resolve_owner(None) == os.geteuid()
        True
    """
    if owner is None:
        return os.geteuid()
    if isinstance(owner, bool):
        raise TypeError("owner must be a uid, a user name or None")
    if isinstance(owner, int):
        if owner < 0:
            raise ValueError(f"owner must be a uid >= 0, not {owner}")
        return owner
    if isinstance(owner, str):
        try:
            return pwd.getpwnam(owner).pw_uid
        except KeyError:
            raise ValueError(f"owner: no user named {owner!r}") from None
    raise TypeError("owner must be a uid, a user name or None")


def user_name(uid: int) -> str | None:
    """Return the user name of ``uid``, or None when the user database has none.

    Examples:
        >>> user_name(0)
        'root'
    """
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def group_name(gid: int) -> str | None:
    """Return the group name of ``gid``, or None when the group database has none.

    Examples:
        >>> group_name(0)
        'root'
    """
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def _repr(obj: object) -> str:
    """A dataclass repr with modes in octal (``mode=0o600``, not ``mode=384``)."""
    parts = []
    for name in field_names(obj):
        value = getattr(obj, name)
        shown = oct(value) if name == "mode" and isinstance(value, int) else repr(value)
        parts.append(f"{name}={shown}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def describe_uid(uid: int) -> str:
    """Say ``uid 0 (root)`` or ``uid 4242 (no name)``."""
    name = user_name(uid)
    return f"uid {uid} ({name if name is not None else 'no name'})"


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)  # __repr__ = _repr
class PathStatus:
    """What a check saw at a path, taken from the kernel's stat of it.

    Attributes:
        path: the absolute path that was checked (as walked, symlinks resolved when allowed).
        kind: ``file``, ``directory``, ``symlink``, ``fifo``, ``socket``, ``char-device``
            or ``block-device``.
        mode: the permission bits (``stat.S_IMODE``), setuid/setgid/sticky included.
        uid, gid: the owner and group ids; ``user`` and ``group`` their names (None if none).
        size, nlink, dev, ino: as fstat reports them.
        acl: the path carries a POSIX access ACL (extra entries hidden in the group bits).
        parents: the ancestor directories that were verified, from ``/`` down.
        notices: observations that are not problems (for example a masked-out ACL).

    Examples:
        >>> st = PathStatus(path="/x", kind="file", mode=0o600, uid=0, gid=0)
        >>> st.mode_text, st.acl
        ('0600', False)
        >>> st
        PathStatus(path='/x', kind='file', mode=0o600, uid=0, gid=0, ...)
        >>> PathStatus(path="/x", kind="pipe", mode=0o600, uid=0, gid=0)
        Traceback (most recent call last):
        ...
        ValueError: kind must be one of ...
    """

    path: str
    kind: str
    mode: int
    uid: int
    gid: int
    user: str | None = None
    group: str | None = None
    size: int = 0
    nlink: int = 1
    dev: int = 0
    ino: int = 0
    acl: bool = False
    parents: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, not {self.kind!r}")
        validate_mode(self.mode, "mode")
        if self.uid < 0 or self.gid < 0:
            raise ValueError("uid and gid must be >= 0")
        object.__setattr__(self, "parents", tuple(self.parents))
        object.__setattr__(self, "notices", tuple(self.notices))

    __repr__ = _repr

    @property
    def mode_text(self) -> str:
        """The mode as four octal digits, like ``ls`` and ``chmod`` write it."""
        return f"{self.mode:04o}"

    @classmethod
    def from_stat(
        cls,
        path: str,
        st: os.stat_result,
        *,
        acl: bool = False,
        parents: tuple[str, ...] = (),
        notices: tuple[str, ...] = (),
    ) -> PathStatus:
        """Build a status from a stat result."""
        return cls(
            path=path,
            kind=kind_of(st.st_mode),
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            user=user_name(st.st_uid),
            group=group_name(st.st_gid),
            size=st.st_size,
            nlink=st.st_nlink,
            dev=st.st_dev,
            ino=st.st_ino,
            acl=acl,
            parents=parents,
            notices=notices,
        )
