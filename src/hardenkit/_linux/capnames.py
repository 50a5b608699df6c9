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
