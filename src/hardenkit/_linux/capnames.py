"""Capability names by number, from include/uapi/linux/capability.h (data only, no ctypes).

One table for everyone who names capabilities: ``hardenkit.capabilities``, the Docker profile
translator and the audit (which must not load ctypes for it).

Examples:
    >>> SHORT_NAMES[21], CAP_NAMES[0]
    ('SYS_ADMIN', 'CAP_CHOWN')
"""

from __future__ import annotations

__all__ = ["CAP_NAMES", "SHORT_NAMES"]

#: Without the ``CAP_`` prefix, index = capability number.
SHORT_NAMES: tuple[str, ...] = (
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
)
#: As profiles and ``capsh`` spell them.
CAP_NAMES: tuple[str, ...] = tuple(f"CAP_{name}" for name in SHORT_NAMES)


#: Capability numbers fit a 64-bit mask (capget/capset's two 32-bit words).
MAX_CAPS = 64


def kernel_last_cap() -> int:
    """The running kernel's highest capability number (this table's last if procfs hides it).

    What :class:`~hardenkit.capabilities.Capability` is built from; a drop that keeps
    nothing reads it here without building the enum (~2 ms of ``hardenkit exec``'s start).

    Examples:
        >>> kernel_last_cap() >= CAP_NAMES.index("CAP_SETUID")
        True

    Raises:
        UnsupportedPlatform: the kernel's number does not fit a 64-bit capability mask.
    """
    from hardenkit._linux import procfs  # noqa: PLC0415 -- loaded with every user of this

    try:
        last = procfs.cap_last_cap()
    except (OSError, ValueError):
        # Not Linux (every name exists everywhere) or procfs hidden: use our table.
        return len(CAP_NAMES) - 1
    if not 0 <= last < MAX_CAPS:
        from hardenkit.errors import UnsupportedPlatform  # noqa: PLC0415 -- only then

        raise UnsupportedPlatform(f"cap_last_cap {last} is outside 0..{MAX_CAPS - 1}")
    return last
