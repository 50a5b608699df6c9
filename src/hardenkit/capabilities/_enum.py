"""Capability names and numbers: :class:`Capability`, built from the running kernel, and parsing.

The class's module is ``hardenkit.capabilities`` (where it is imported from and pickled by).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from hardenkit._linux.capnames import CAP_NAMES, kernel_last_cap
from hardenkit.errors import CapabilityError, UnsupportedPlatform

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
        "Capability", members, module="hardenkit.capabilities", qualname="Capability"
    )
    return result


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
    Capability = build_capability_enum(kernel_last_cap())
    Capability.__doc__ = """Every capability the running kernel knows (``cap_last_cap``).

    Members are named as in the kernel headers (``CAP_NET_BIND_SERVICE``); numbers past
    hardenkit's table are ``CAP_<n>``. ``Capability.parse`` takes a name or a number.

    Examples:
        >>> from hardenkit._linux import procfs
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
