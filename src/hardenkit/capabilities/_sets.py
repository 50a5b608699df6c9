"""Capability sets: :class:`CapabilitySets`, reading them from procfs, and file capabilities."""

from __future__ import annotations

import errno
import os

from hardenkit._dataclass import dataclass, field_names
from hardenkit._linux import procfs, require_linux
from hardenkit.capabilities._enum import (
    Capability,
    CapLike,
    mask_to_caps,
    parse_caps,
)
from hardenkit.errors import CapabilityError, PrivilegeError

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


def _names(caps: Iterable[Capability]) -> str:
    ordered = sorted(caps)
    if len(ordered) == len(Capability):
        return "ALL"
    return "{" + ", ".join(c.name for c in ordered) + "}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CapabilitySets:
    """The five capability sets of a thread, or what a file grants (``rootid`` for v3 files).

    Any iterable of names or numbers is accepted and stored as a frozenset of Capability.

    Examples:
        >>> CapabilitySets(effective={"NET_BIND_SERVICE"}, permitted=[10])
        CapabilitySets(effective={CAP_NET_BIND_SERVICE}, permitted={CAP_NET_BIND_SERVICE}, \
inheritable={}, bounding={}, ambient={})
    """

    effective: frozenset[Capability] = frozenset()
    permitted: frozenset[Capability] = frozenset()
    inheritable: frozenset[Capability] = frozenset()
    bounding: frozenset[Capability] = frozenset()
    ambient: frozenset[Capability] = frozenset()
    rootid: int | None = None

    def __post_init__(self) -> None:
        for name in ("effective", "permitted", "inheritable", "bounding", "ambient"):
            object.__setattr__(self, name, parse_caps(getattr(self, name)))
        if self.rootid is not None and (isinstance(self.rootid, bool) or self.rootid < 0):
            raise CapabilityError(f"rootid must be a uid >= 0, got {self.rootid!r}")

    def __repr__(self) -> str:
        parts = [
            f"{name}={_names(getattr(self, name))}"
            for name in field_names(self)
            if name != "rootid"
        ]
        if self.rootid is not None:
            parts.append(f"rootid={self.rootid}")
        return f"CapabilitySets({', '.join(parts)})"


def _sets_from_status(status: procfs.ProcStatus) -> CapabilitySets:
    return CapabilitySets(
        effective=mask_to_caps(status.cap_effective),
        permitted=mask_to_caps(status.cap_permitted),
        inheritable=mask_to_caps(status.cap_inheritable),
        bounding=mask_to_caps(status.cap_bounding),
        ambient=mask_to_caps(status.cap_ambient),
    )


def get_capabilities(
    pid: int | None = None, *, proc_root: str = procfs.PROC_ROOT
) -> CapabilitySets:
    """Return the capability sets of ``pid`` (default: this thread group leader) from procfs.

    Examples:
        >>> sets = get_capabilities()
        >>> sets.effective <= sets.permitted <= sets.bounding | sets.permitted
        True
        >>> get_capabilities(1).bounding <= frozenset(Capability)
        True

    Raises:
        PrivilegeError: the process does not exist or its status cannot be read.
    """
    require_linux("reading capabilities")
    try:
        status = procfs.read_status(pid, proc_root=proc_root)
    except (OSError, ValueError) as err:
        who = "this process" if pid is None else f"pid {pid}"
        raise PrivilegeError(f"cannot read the capabilities of {who}: {err}") from err
    return _sets_from_status(status)


def has_capability(cap: CapLike, pid: int | None = None) -> bool:
    """Tell whether ``cap`` is in the effective set of ``pid`` (default: this process).

    Examples:
        >>> has_capability("NET_BIND_SERVICE") == (os.geteuid() == 0)
        True
    """
    return Capability.parse(cap) in get_capabilities(pid).effective


def require_capabilities(*caps: CapLike, pid: int | None = None) -> None:
    """Raise unless every capability in ``caps`` is effective; name every missing one.

    Examples:
        >>> require_capabilities()  # nothing asked, nothing missing
        >>> from hardenkit._child import fork_call
        >>> from hardenkit.capabilities import drop_capabilities
        >>> def child():
        ...     drop_capabilities()
        ...     require_capabilities("CHOWN", "KILL")
        >>> fork_call(child).exc_message
        'missing capabilities: CAP_CHOWN, CAP_KILL (effective set of this process)'

    Raises:
        CapabilityError: ``.missing`` is the frozenset of missing capabilities.
    """
    wanted = parse_caps(caps)
    missing = wanted - get_capabilities(pid).effective
    if missing:
        who = "this process" if pid is None else f"pid {pid}"
        raise CapabilityError(
            f"missing capabilities: {', '.join(c.name for c in sorted(missing))} "
            f"(effective set of {who})",
            missing=missing,
        )


def decode_vfs_cap(data: bytes) -> CapabilitySets:
    """Decode a ``security.capability`` value (revision 1, 2 or 3) as libcap reads it.

    With the effective flag set, effective = permitted | inheritable (``=eip`` in getcap).

    Examples:
        >>> import struct
        >>> raw = struct.pack("<5I", 0x02000001, 1 << 10, 0, 0, 0)
        >>> decode_vfs_cap(raw).permitted == {Capability.CAP_NET_BIND_SERVICE}
        True

    Raises:
        CapabilityError: malformed, unknown revision or flags, or unknown capabilities.
    """
    from hardenkit._linux import privfilecaps  # noqa: PLC0415 -- for import time (a dataclass)

    try:
        cap = privfilecaps.decode(data)
    except ValueError as err:
        raise CapabilityError(str(err)) from err
    return CapabilitySets(
        effective=mask_to_caps(cap.permitted | cap.inheritable if cap.effective else 0),
        permitted=mask_to_caps(cap.permitted),
        inheritable=mask_to_caps(cap.inheritable),
        rootid=cap.rootid,
    )


def file_capabilities(path: str | os.PathLike[str]) -> CapabilitySets | None:
    """Return the capabilities a file grants on exec (what ``getcap`` shows), or None.

    Examples:
        >>> file_capabilities("/bin/sh") is None
        True

    Raises:
        PrivilegeError: the attribute cannot be read (missing file, no permission).
        CapabilityError: the attribute is malformed.
    """
    require_linux("file capabilities")
    from hardenkit._linux.privfilecaps import XATTR_NAME  # noqa: PLC0415 -- for import time

    try:
        raw = os.getxattr(path, XATTR_NAME)
    except OSError as err:
        if err.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            return None
        raise PrivilegeError(
            f"cannot read security.capability of {os.fsdecode(path)}: {err.strerror}"
        ) from err
    return decode_vfs_cap(raw)


def setcap_command(
    path: str | os.PathLike[str], caps: CapLike | Iterable[CapLike], *, flags: str = "ep"
) -> str:
    """Return the ``setcap`` command an operator runs to grant ``caps`` to ``path``.

    Empty ``caps`` gives the command that removes file capabilities.

    Examples:
        >>> setcap_command("/usr/local/bin/my server", ["NET_BIND_SERVICE", "net_raw"])
        "setcap cap_net_bind_service,cap_net_raw=ep '/usr/local/bin/my server'"
        >>> setcap_command("-x", [])
        'setcap -r ./-x'
    """
    import shlex  # noqa: PLC0415 -- for import time: only for this text

    if not flags or set(flags) - set("eip") or len(set(flags)) != len(flags):
        raise CapabilityError(f"flags must be a combination of 'e', 'i' and 'p', got {flags!r}")
    target = os.fsdecode(path)
    if target.startswith("-"):
        target = "./" + target  # setcap has no "--"
    parsed = sorted(parse_caps(caps))
    if not parsed:
        return f"setcap -r {shlex.quote(target)}"
    text = ",".join(c.text for c in parsed) + "=" + "".join(sorted(flags, key="eip".index))
    return f"setcap {shlex.quote(text)} {shlex.quote(target)}"
