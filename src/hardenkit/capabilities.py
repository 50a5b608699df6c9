"""Linux capabilities: the kernel's own list, read from procfs, required, dropped and verified.

:class:`Capability` is built at import from ``/proc/sys/kernel/cap_last_cap``, so a kernel
newer than our name table still gets every capability (unnamed ones are ``CAP_<n>``) and
an older kernel gets none it does not know. Reading never needs anything beyond procfs;
changing goes through capget/capset and prctl(2) in :mod:`hardenkit._linux.caps` (no
python-prctl needed: it lacks ambient capabilities and stops at the capabilities it was
built with).

Examples:
    >>> from hardenkit.capabilities import Capability, caps_to_mask, mask_to_caps
    >>> Capability.parse("cap_net_bind_service") is Capability.CAP_NET_BIND_SERVICE
    True
    >>> caps_to_mask({"NET_BIND_SERVICE", "CHOWN"})
    1025
    >>> sorted(c.name for c in mask_to_caps(0x401))
    ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE']
"""

from __future__ import annotations

import enum
import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass, fields

from hardenkit._linux import caps as _caps, procfs, require_linux
from hardenkit._linux.capnames import CAP_NAMES
from hardenkit._log import get_logger
from hardenkit.errors import CapabilityError, PrivilegeError, UnsupportedPlatform

__all__ = [
    "ROOT_EQUIVALENT",
    "Capability",
    "CapabilitySets",
    "drop_capabilities",
    "file_capabilities",
    "get_capabilities",
    "has_capability",
    "require_capabilities",
    "setcap_command",
]

_log = get_logger("hardenkit.capabilities")

#: Names from include/uapi/linux/capability.h, index = capability number.
KNOWN_NAMES: tuple[str, ...] = CAP_NAMES

#: Capability numbers fit in the kernel's 64-bit masks.
_MAX_CAPS = 64


class _CapabilityBase(enum.IntEnum):
    """Behaviour of :class:`Capability`; it has no members of its own."""

    @classmethod
    def parse(cls, value: str | int) -> Capability:
        """Return the member for a name (any case, ``cap_`` prefix optional) or a number.

        Examples:
            >>> Capability.parse("NET_BIND_SERVICE") == Capability.parse(10) == 10
            True
            >>> Capability.parse("nope")
            Traceback (most recent call last):
            ...
            hardenkit.errors.CapabilityError: unknown capability 'nope'...

        Raises:
            CapabilityError: the name or number is not a capability of the running kernel.
        """
        if isinstance(value, cls):
            return value  # type: ignore[return-value]
        last = len(cls.__members__) - 1
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = int(value)
        elif isinstance(value, str):
            text = value.strip().upper()
            if text.isdecimal():
                number = int(text)
            else:
                member = cls.__members__.get(text if text.startswith("CAP_") else f"CAP_{text}")
                if member is not None:
                    return member  # type: ignore[return-value]
                raise CapabilityError(
                    f"unknown capability {value!r}: the running kernel knows CAP_CHOWN (0) "
                    f"to {cls(last).name} ({last}); names look like 'NET_BIND_SERVICE'"
                )
        else:
            raise CapabilityError(f"a capability is a name or a number, not {type(value).__name__}")
        if not 0 <= number <= last:
            raise CapabilityError(
                f"capability number {number} is not known to the running kernel "
                f"(cap_last_cap is {last})"
            )
        return cls(number)  # type: ignore[return-value]

    @property
    def short_name(self) -> str:
        """The name without ``CAP_`` (``"NET_BIND_SERVICE"``), as systemd and Docker write it.

        Examples:
            >>> Capability.CAP_NET_BIND_SERVICE.short_name
            'NET_BIND_SERVICE'
        """
        return self.name.removeprefix("CAP_")

    @property
    def text(self) -> str:
        """The libcap text form used by ``setcap``/``getcap`` (a number when unnamed).

        Examples:
            >>> Capability.CAP_NET_BIND_SERVICE.text
            'cap_net_bind_service'
        """
        if self.value < len(KNOWN_NAMES):
            return self.name.lower()
        return str(self.value)


def build_capability_enum(last_cap: int) -> type[Capability]:
    """Build the enum for a kernel whose highest capability is ``last_cap``.

    Numbers past our name table get a synthetic name ``CAP_<n>``.

    Examples:
        >>> future = build_capability_enum(42)
        >>> future.CAP_42.value, len(future)
        (42, 43)
    """
    if not 0 <= last_cap < _MAX_CAPS:
        raise UnsupportedPlatform(f"cap_last_cap {last_cap} is outside 0..{_MAX_CAPS - 1}")
    members = [
        (KNOWN_NAMES[n] if n < len(KNOWN_NAMES) else f"CAP_{n}", n) for n in range(last_cap + 1)
    ]
    factory: Any = _CapabilityBase  # the functional API takes a run-time list
    result: type[Capability] = factory(
        "Capability", members, module=__name__, qualname="Capability"
    )
    return result


def _kernel_last_cap() -> int:
    try:
        return procfs.cap_last_cap()
    except (OSError, ValueError):
        # Not Linux (every name exists everywhere) or procfs hidden: use our table.
        return len(KNOWN_NAMES) - 1


# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    class Capability(_CapabilityBase):
        """Every capability the running kernel knows (static view for type checkers)."""

        CAP_CHOWN = 0
        CAP_DAC_OVERRIDE = 1
        CAP_DAC_READ_SEARCH = 2
        CAP_FOWNER = 3
        CAP_FSETID = 4
        CAP_KILL = 5
        CAP_SETGID = 6
        CAP_SETUID = 7
        CAP_SETPCAP = 8
        CAP_LINUX_IMMUTABLE = 9
        CAP_NET_BIND_SERVICE = 10
        CAP_NET_BROADCAST = 11
        CAP_NET_ADMIN = 12
        CAP_NET_RAW = 13
        CAP_IPC_LOCK = 14
        CAP_IPC_OWNER = 15
        CAP_SYS_MODULE = 16
        CAP_SYS_RAWIO = 17
        CAP_SYS_CHROOT = 18
        CAP_SYS_PTRACE = 19
        CAP_SYS_PACCT = 20
        CAP_SYS_ADMIN = 21
        CAP_SYS_BOOT = 22
        CAP_SYS_NICE = 23
        CAP_SYS_RESOURCE = 24
        CAP_SYS_TIME = 25
        CAP_SYS_TTY_CONFIG = 26
        CAP_MKNOD = 27
        CAP_LEASE = 28
        CAP_AUDIT_WRITE = 29
        CAP_AUDIT_CONTROL = 30
        CAP_SETFCAP = 31
        CAP_MAC_OVERRIDE = 32
        CAP_MAC_ADMIN = 33
        CAP_SYSLOG = 34
        CAP_WAKE_ALARM = 35
        CAP_BLOCK_SUSPEND = 36
        CAP_AUDIT_READ = 37
        CAP_PERFMON = 38
        CAP_BPF = 39
        CAP_CHECKPOINT_RESTORE = 40

else:
    Capability = build_capability_enum(_kernel_last_cap())
    Capability.__doc__ = """Every capability the running kernel knows (``cap_last_cap``).

    Members are named as in the kernel headers (``CAP_NET_BIND_SERVICE``); numbers past
    hardenkit's table are ``CAP_<n>``. ``Capability.parse`` takes a name or a number.

    Examples:
        >>> len(Capability) == procfs.cap_last_cap() + 1
        True
        >>> int(Capability.CAP_SYS_ADMIN)
        21
    """

#: The highest capability number of the running kernel.
LAST_CAP: int = len(Capability) - 1
ALL_MASK: int = (1 << (LAST_CAP + 1)) - 1

#: Capabilities that amount to root, each on its own, and why (capabilities(7); Brad
#: Spengler's "False Boundaries and Arbitrary Code Execution"; the kernel sources).
#: Keeping one through a privilege drop needs ``allow_root_equivalent=True``.
ROOT_EQUIVALENT_WHY: dict[str, str] = {
    "SYS_ADMIN": "mount, namespaces, bpf, keyctl, and dozens more: root in all but name",
    "SYS_PTRACE": "attach to (and run code in) any process, root's included",
    "SYS_MODULE": "load kernel code",
    "SYS_RAWIO": "raw I/O ports and /dev/mem: read and write any memory",
    "SYS_BOOT": "kexec_load: boot a kernel of its choosing",
    "BPF": "load BPF programs (kernel memory reads, verifier bugs)",
    "DAC_OVERRIDE": "write any file (/etc/shadow, /etc/sudoers, root's crontab)",
    "DAC_READ_SEARCH": "read any file and open any inode by handle (open_by_handle_at)",
    "CHOWN": "take ownership of any file, then change it",
    "FOWNER": "chmod any file (make /etc/shadow writable)",
    "MKNOD": "create device nodes for raw disks and memory",
    "SETUID": "become any user, root included",
    "SETGID": "join any group (disk, shadow, root)",
    "SETFCAP": "give any program any file capability",
    "SYS_CHROOT": "chroot next to a hard-linked setuid program with its own libc",
    "MAC_ADMIN": "change the LSM policy that confines it",
    "MAC_OVERRIDE": "bypass the LSM policy that confines it",
}
ROOT_EQUIVALENT: frozenset[Capability] = frozenset(
    Capability[f"CAP_{name}"] for name in ROOT_EQUIVALENT_WHY
)

CapLike = Capability | str | int


def parse_caps(caps: CapLike | Iterable[CapLike]) -> frozenset[Capability]:
    """Parse one capability or an iterable of them (a bare string is one name).

    Examples:
        >>> sorted(parse_caps(["chown", 10]))
        [<Capability.CAP_CHOWN: 0>, <Capability.CAP_NET_BIND_SERVICE: 10>]
        >>> parse_caps("NET_RAW") == {Capability.CAP_NET_RAW}
        True
        >>> parse_caps(b"NET_RAW")
        Traceback (most recent call last):
        ...
        TypeError: capabilities must be names or numbers, not bytes ...

    Raises:
        TypeError: ``caps`` is bytes-like (iterating it would yield numbers nobody
            wrote), or an item is neither a name nor an int.
        CapabilityError: a name or number the running kernel does not know.
    """
    if isinstance(caps, (str, int)) and not isinstance(caps, bool):
        return frozenset({Capability.parse(caps)})
    return frozenset(Capability.parse(c) for c in cap_items(caps))


def cap_items(caps: object) -> tuple[CapLike, ...]:
    """``caps`` as a tuple of names and numbers (a bare string is one name); no lookup.

    Examples:
        >>> cap_items("NET_RAW"), cap_items([10, "CHOWN"])
        (('NET_RAW',), (10, 'CHOWN'))

    Raises:
        TypeError: bytes-like, not iterable, or an item that is not a str or int.
    """
    if isinstance(caps, str):
        return (caps,)
    if isinstance(caps, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"capabilities must be names or numbers, not {type(caps).__name__} "
            "(its bytes are not capabilities)"
        )
    if isinstance(caps, int) and not isinstance(caps, bool):
        return (caps,)
    if not isinstance(caps, Iterable):
        raise TypeError(f"expected capability names or numbers, got {type(caps).__name__}")
    items = tuple(caps)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise TypeError(f"a capability is a name or a number, not {type(item).__name__}")
    return items


def caps_to_mask(caps: CapLike | Iterable[CapLike]) -> int:
    """Return the kernel bit mask (bit N = capability N) of ``caps``.

    Examples:
        >>> hex(caps_to_mask(["NET_BIND_SERVICE"]))
        '0x400'
    """
    mask = 0
    for cap in parse_caps(caps):
        mask |= 1 << cap.value
    return mask


def mask_to_caps(mask: int) -> frozenset[Capability]:
    """Return the capabilities whose bits are set in ``mask`` (as procfs shows them).

    Examples:
        >>> mask_to_caps(0x400) == {Capability.CAP_NET_BIND_SERVICE}
        True

    Raises:
        CapabilityError: a bit is set past the running kernel's last capability.
    """
    if mask < 0 or mask & ~ALL_MASK:
        raise CapabilityError(
            f"capability mask {mask:#x} has bits the running kernel does not know "
            f"(cap_last_cap is {LAST_CAP})"
        )
    return frozenset(c for c in Capability if mask >> c.value & 1)


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
            f"{f.name}={_names(getattr(self, f.name))}" for f in fields(self) if f.name != "rootid"
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


def refuse_threads(what: str) -> None:
    """Raise PrivilegeError when this process has other live threads (per-thread state).

    Examples:
        >>> refuse_threads("a test")  # single-threaded doctest process
    """
    try:
        threads = procfs.thread_count()
    except OSError as err:
        raise PrivilegeError(f"{what}: cannot list this process's threads: {err}") from err
    if threads > 1:
        raise PrivilegeError(
            f"{what} refused: {threads - 1} other live thread(s); capabilities, "
            "securebits and no_new_privs are per-thread, so the others would keep their "
            "privileges. Call it before starting threads, or in a child process. "
            "Nothing was changed."
        )


def drop_capabilities(
    keep: CapLike | Iterable[CapLike] = (),
    *,
    bounding: bool = True,
    ambient: bool = True,
    lock: bool = False,
) -> CapabilitySets:
    """Shed every capability but ``keep``, then verify from procfs.

    Afterwards effective == permitted == keep; with ``bounding`` the bounding set is keep
    (so exec cannot hand back more, not even to root); with ``ambient`` the ambient set is
    keep (an exec'd child keeps them); with ``lock`` SECBIT_NOROOT, NO_SETUID_FIXUP and
    NO_CAP_AMBIENT_RAISE are set and, with KEEP_CAPS off, locked. Refused with other
    threads alive. Returns the verified sets.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> def child():
        ...     sets = drop_capabilities({"NET_BIND_SERVICE"})
        ...     return repr(sets)
        >>> print(fork_call(child).value)
        CapabilitySets(effective={CAP_NET_BIND_SERVICE}, permitted={CAP_NET_BIND_SERVICE}, \
inheritable={CAP_NET_BIND_SERVICE}, bounding={CAP_NET_BIND_SERVICE}, \
ambient={CAP_NET_BIND_SERVICE})

    Raises:
        CapabilityError: a capability to keep is not held, or CAP_SETPCAP is needed.
        PrivilegeError: other threads are alive, or the result does not verify.
        UnsupportedPlatform: not Linux, or no ambient capabilities in this kernel.
    """
    require_linux("dropping capabilities")
    keep_caps = parse_caps(keep)
    keep_mask = caps_to_mask(keep_caps)
    _caps.prepare()
    refuse_threads("drop_capabilities")
    setpcap = 1 << Capability.CAP_SETPCAP.value
    try:
        eff, prm, inh = _caps.capget()
        bnd = _caps.bounding_mask(LAST_CAP)
        bits = _caps.get_securebits()
    except OSError as err:
        raise PrivilegeError(f"cannot read this thread's capabilities: {err}") from err
    _check_keepable(keep_mask, prm, bnd if bounding or ambient else ALL_MASK)
    if ambient and not _caps.ambient_supported():
        if keep_mask:
            raise UnsupportedPlatform("this kernel has no ambient capabilities (needs Linux 4.3)")
        ambient = False  # nothing to raise, and no ambient set to clear
    lock_bits = (
        _caps.SECURE_LOCKDOWN
        | _caps.SECBIT_NO_CAP_AMBIENT_RAISE
        | _caps.SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED
    )
    to_drop = (bnd & ~keep_mask) if bounding else 0
    want_bits = (bits | lock_bits) & ~_caps.SECBIT_KEEP_CAPS if lock else bits
    need_setpcap = bool(to_drop) or want_bits != bits
    if need_setpcap and not prm & setpcap:
        raise CapabilityError(
            "CAP_SETPCAP is needed to shrink the bounding set or set securebits",
            missing=frozenset({Capability.CAP_SETPCAP}),
        )
    new_inh = keep_mask if ambient else inh & keep_mask
    try:
        _caps.capset(eff | (setpcap if need_setpcap else 0), prm, new_inh)
        _caps.bounding_drop_mask(to_drop, LAST_CAP)
        if ambient:
            _caps.ambient_set(keep_mask, LAST_CAP)
        if want_bits != bits:
            _caps.set_securebits(want_bits)
        _caps.capset(keep_mask, keep_mask, new_inh)
    except OSError as err:
        raise PrivilegeError(f"dropping capabilities failed: {err}") from err
    result = _verify_caps(keep_mask, new_inh, bounding=bounding, ambient=ambient)
    if lock:
        bits_now = _caps.get_securebits()
        if bits_now & lock_bits != lock_bits or bits_now & _caps.SECBIT_KEEP_CAPS:
            raise PrivilegeError(f"securebits are {bits_now:#x}, expected {lock_bits:#x} set")
    _log.info("capabilities dropped; kept %s", _names(keep_caps))
    return result


def _check_keepable(keep: int, permitted: int, bounding: int) -> None:
    """Raise CapabilityError naming every capability to keep that is not held."""
    for held, where in ((permitted, "permitted"), (bounding, "bounding")):
        if keep & ~held:
            missing = mask_to_caps(keep & ~held)
            raise CapabilityError(
                f"cannot keep {', '.join(c.name for c in sorted(missing))}: not in the {where} set",
                missing=missing,
            )


def _verify_caps(keep: int, inh: int, *, bounding: bool, ambient: bool) -> CapabilitySets:
    """Check the sets from procfs and the kernel's own answers; raise on any mismatch."""
    status = procfs.read_status()
    problems = _caps.status_problems(
        status, keep=keep, inheritable=inh, bounding=bounding, ambient=ambient
    )
    if bounding and _caps.bounding_mask(LAST_CAP) != keep:
        problems.append(f"PR_CAPBSET_READ shows {_caps.bounding_mask(LAST_CAP):#x}")
    if problems:
        raise PrivilegeError("capability drop did not verify: " + "; ".join(problems))
    return _sets_from_status(status)


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
