"""POSIX access ACLs: read, explain and strip them.

An extended ACL hides behind the group bits of the mode: ``ls -l`` and ``stat`` show the
ACL *mask* there, and named users or groups may hold up to that mask. A file that looks
0640 may therefore be readable by users outside its group. The kernel keeps the ACL in the
``system.posix_acl_access`` xattr (format of ``include/uapi/linux/posix_acl_xattr.h``).
"""

from __future__ import annotations

import errno
import os

# Not typing.TYPE_CHECKING, for import time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from dataclasses import dataclass as record
else:
    from hardenkit._record import record


__all__ = ["ACL_XATTR", "AclEntry", "describe_grants", "parse_acl", "read_acl", "strip_acls"]

ACL_XATTR = "system.posix_acl_access"
ACL_DEFAULT_XATTR = "system.posix_acl_default"
_VERSION = 2
_HEADER_SIZE = 4  # struct "<I": the version
_ENTRY_FORMAT = "<HHI"  # tag, perm, id
_ENTRY_SIZE = 8
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_NO_ACL = frozenset({errno.ENODATA, errno.EOPNOTSUPP, errno.ENOTSUP})


# A record (hardenkit._record): a frozen dataclass's behaviour without its ~1 ms of import
# time; internal, and check_path needs it only when a file carries an ACL.
@record(frozen=True, slots=True)
class AclEntry:
    """One entry of an ACL: tag (USER, GROUP...), permission bits (rwx = 4|2|1) and id."""

    tag: int
    perm: int
    id: int


def parse_acl(raw: bytes) -> tuple[AclEntry, ...]:
    """Decode the xattr value; raise ValueError when it is not a version 2 ACL.

    Examples:
        >>> import struct
        >>> raw = struct.pack("<I", 2) + struct.pack("<HHI", USER, 4, 1000)
        >>> parse_acl(raw)
        (AclEntry(tag=2, perm=4, id=1000),)
        >>> parse_acl(b"junk")
        Traceback (most recent call last):
        ...
        ValueError: not a POSIX ACL (version 1802401130, 4 bytes)
    """
    import struct  # noqa: PLC0415 -- for import time: only a file with an ACL is parsed

    if len(raw) < _HEADER_SIZE or (len(raw) - _HEADER_SIZE) % _ENTRY_SIZE:
        raise ValueError(f"not a POSIX ACL ({len(raw)} bytes)")
    (version,) = struct.unpack_from("<I", raw)
    if version != _VERSION:
        raise ValueError(f"not a POSIX ACL (version {version}, {len(raw)} bytes)")
    return tuple(
        AclEntry(tag=tag, perm=perm, id=ident)
        for tag, perm, ident in struct.iter_unpack(_ENTRY_FORMAT, raw[_HEADER_SIZE:])
    )


def read_acl(target: str | int, *, follow: bool = False) -> tuple[AclEntry, ...] | None:
    """Return the access ACL of ``target``: an fd, or a path (followed only with ``follow``).

    None means there is no extended ACL (or the filesystem has none). Any other failure
    raises OSError: a check that could not run must not pass.
    """
    if not hasattr(os, "getxattr"):  # pragma: no cover - macOS: ACLs are not xattrs there
        return None
    try:
        if isinstance(target, int):
            raw = os.getxattr(target, ACL_XATTR)
        else:
            raw = os.getxattr(target, ACL_XATTR, follow_symlinks=follow)
    except OSError as err:
        if err.errno in _NO_ACL:
            return None
        raise
    return parse_acl(raw)


def _perm_text(perm: int) -> str:
    return "".join(c if perm & bit else "-" for c, bit in (("r", 4), ("w", 2), ("x", 1)))


def describe_grants(entries: tuple[AclEntry, ...], *, perms: int = 0o7) -> list[str]:
    """List what named users and groups may effectively do (entry & mask & ``perms``).

    Examples:
        >>> acl = (AclEntry(tag=USER, perm=6, id=1000), AclEntry(tag=MASK, perm=4, id=0))
        >>> describe_grants(acl)
        ['user 1000 r--']
        >>> describe_grants(acl, perms=2)
        []
    """
    mask = next((e.perm for e in entries if e.tag == MASK), 0o7)
    grants = []
    for entry in entries:
        if entry.tag not in (USER, GROUP):
            continue
        effective = entry.perm & mask & perms
        if effective:
            who = "user" if entry.tag == USER else "group"
            grants.append(f"{who} {entry.id} {_perm_text(effective)}")
    return grants


def strip_acls(fd_path: str | int, *, default: bool = False) -> None:
    """Remove the access ACL (and with ``default`` the default ACL) of an fd or fd path."""
    if not hasattr(os, "removexattr"):  # pragma: no cover - macOS: ACLs are not xattrs there
        return
    names = (ACL_XATTR, ACL_DEFAULT_XATTR) if default else (ACL_XATTR,)
    for name in names:
        _remove_xattr(fd_path, name)


def _remove_xattr(target: str | int, name: str) -> None:
    try:
        os.removexattr(target, name)
    except OSError as err:
        if err.errno not in _NO_ACL:
            raise
