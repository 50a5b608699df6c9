"""The numbers behind the exposure score, shipped as data.

Source of the systemd rows: the assessor table of ``systemd-analyze security`` in
systemd v257.13 (``src/analyze/analyze-security.c``, LGPL-2.1-or-later), as captured in
``tests/data/systemd-security-assessors.json``: name, weight and range are copied exactly;
only the assessors a running process shows through procfs are used. The ``hardenkit:`` rows
are our own weights for what systemd does not score; docs/audit.md explains every one of them.
Capabilities are named as ``Capability.short_name`` gives them (``"SYS_ADMIN"``).
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING, for import time: typing.NamedTuple costs a first audit ~3 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from hardenkit._record import NamedTuple


class Assessor(NamedTuple):  # a NamedTuple: ~70 of them, built at import
    """One scored item: systemd's name for it, its weight and its badness range."""

    name: str
    weight: int
    range: int
    source: str = "systemd"


# systemd v257.13, analyze-security.c: CapabilityBoundingSet=~... rows and their members.
# Badness is 1 when any member is in the bounding, permitted or ambient set.
CAPABILITY_ASSESSORS: tuple[tuple[Assessor, frozenset[str]], ...] = (
    (Assessor("CapabilityBoundingSet=~CAP_SYS_ADMIN", 1500, 1), frozenset({"SYS_ADMIN"})),
    (
        Assessor("CapabilityBoundingSet=~CAP_SET(UID|GID|PCAP)", 1500, 1),
        frozenset({"SETUID", "SETGID", "SETPCAP"}),
    ),
    (Assessor("CapabilityBoundingSet=~CAP_SYS_PTRACE", 1500, 1), frozenset({"SYS_PTRACE"})),
    (Assessor("CapabilityBoundingSet=~CAP_SYS_TIME", 1000, 1), frozenset({"SYS_TIME"})),
    (
        Assessor("CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)", 1000, 1),
        frozenset({"DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "IPC_OWNER"}),
    ),
    (Assessor("CapabilityBoundingSet=~CAP_SYS_MODULE", 1000, 1), frozenset({"SYS_MODULE"})),
    (
        Assessor("CapabilityBoundingSet=~CAP_(CHOWN|FSETID|SETFCAP)", 1000, 1),
        frozenset({"CHOWN", "FSETID", "SETFCAP"}),
    ),
    (Assessor("CapabilityBoundingSet=~CAP_SYS_RAWIO", 1000, 1), frozenset({"SYS_RAWIO"})),
    (Assessor("CapabilityBoundingSet=~CAP_NET_ADMIN", 1000, 1), frozenset({"NET_ADMIN"})),
    (Assessor("CapabilityBoundingSet=~CAP_KILL", 500, 1), frozenset({"KILL"})),
    (Assessor("CapabilityBoundingSet=~CAP_MKNOD", 500, 1), frozenset({"MKNOD"})),
    (
        Assessor("CapabilityBoundingSet=~CAP_SYS_(NICE|RESOURCE)", 500, 1),
        frozenset({"SYS_NICE", "SYS_RESOURCE"}),
    ),
    (
        Assessor("CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)", 500, 1),
        frozenset({"NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW"}),
    ),
    (
        Assessor("CapabilityBoundingSet=~CAP_AUDIT_*", 500, 1),
        frozenset({"AUDIT_WRITE", "AUDIT_CONTROL", "AUDIT_READ"}),
    ),
    (Assessor("CapabilityBoundingSet=~CAP_SYSLOG", 500, 1), frozenset({"SYSLOG"})),
    (Assessor("CapabilityBoundingSet=~CAP_SYS_BOOT", 100, 1), frozenset({"SYS_BOOT"})),
    (
        Assessor("CapabilityBoundingSet=~CAP_MAC_*", 100, 1),
        frozenset({"MAC_OVERRIDE", "MAC_ADMIN"}),
    ),
    (
        Assessor("CapabilityBoundingSet=~CAP_LINUX_IMMUTABLE", 75, 1),
        frozenset({"LINUX_IMMUTABLE"}),
    ),
    (Assessor("CapabilityBoundingSet=~CAP_IPC_LOCK", 50, 1), frozenset({"IPC_LOCK"})),
    (Assessor("CapabilityBoundingSet=~CAP_SYS_CHROOT", 50, 1), frozenset({"SYS_CHROOT"})),
    (Assessor("CapabilityBoundingSet=~CAP_SYS_PACCT", 25, 1), frozenset({"SYS_PACCT"})),
    (Assessor("CapabilityBoundingSet=~CAP_WAKE_ALARM", 25, 1), frozenset({"WAKE_ALARM"})),
    (Assessor("CapabilityBoundingSet=~CAP_BPF", 25, 1), frozenset({"BPF"})),
    (
        Assessor("CapabilityBoundingSet=~CAP_SYS_TTY_CONFIG", 25, 1),
        frozenset({"SYS_TTY_CONFIG"}),
    ),
    (
        Assessor("CapabilityBoundingSet=~CAP_BLOCK_SUSPEND", 25, 1),
        frozenset({"BLOCK_SUSPEND"}),
    ),
    (Assessor("CapabilityBoundingSet=~CAP_LEASE", 25, 1), frozenset({"LEASE"})),
)
#: Every capability some systemd row covers; the rest fall under OTHER_CAPABILITIES.
SYSTEMD_COVERED_CAPS: frozenset[str] = frozenset().union(*(m for _, m in CAPABILITY_ASSESSORS))
#: Ours: capabilities systemd v257 does not score (PERFMON, CHECKPOINT_RESTORE, newer ones).
OTHER_CAPABILITIES = Assessor(
    "CapabilityBoundingSet=~CAP_(PERFMON|CHECKPOINT_RESTORE|...)", 250, 1, "hardenkit"
)

USER = Assessor("User=/DynamicUser=", 2000, 10)
SUPPLEMENTARY_GROUPS = Assessor("SupplementaryGroups=", 200, 1)
AMBIENT = Assessor("AmbientCapabilities=", 500, 1)
NO_NEW_PRIVILEGES = Assessor("NoNewPrivileges=", 1000, 1)
SYSTEM_CALL_ARCHITECTURES = Assessor("SystemCallArchitectures=", 1000, 10)
SYSTEM_CALL_FILTERS: tuple[Assessor, ...] = (
    Assessor("SystemCallFilter=~@clock", 1000, 10),
    Assessor("SystemCallFilter=~@cpu-emulation", 250, 10),
    Assessor("SystemCallFilter=~@debug", 1000, 10),
    Assessor("SystemCallFilter=~@module", 1000, 10),
    Assessor("SystemCallFilter=~@mount", 1000, 10),
    Assessor("SystemCallFilter=~@obsolete", 250, 10),
    Assessor("SystemCallFilter=~@privileged", 700, 10),
    Assessor("SystemCallFilter=~@raw-io", 1000, 10),
    Assessor("SystemCallFilter=~@reboot", 1000, 10),
    Assessor("SystemCallFilter=~@resources", 700, 10),
    Assessor("SystemCallFilter=~@swap", 1000, 10),
)
#: RestrictNamespaces=~kind rows, keyed by kind (badness 1 when the filter lets one be made).
RESTRICT_NAMESPACES: dict[str, Assessor] = {
    "user": Assessor("RestrictNamespaces=~user", 1500, 1),
    "pid": Assessor("RestrictNamespaces=~pid", 500, 1),
    "net": Assessor("RestrictNamespaces=~net", 500, 1),
    "uts": Assessor("RestrictNamespaces=~uts", 100, 1),
    "mnt": Assessor("RestrictNamespaces=~mnt", 500, 1),
    "cgroup": Assessor("RestrictNamespaces=~cgroup", 500, 1),
    "ipc": Assessor("RestrictNamespaces=~ipc", 500, 1),
}
#: Rows systemd enforces with seccomp filters of its own, judged from the process's filters.
FILTER_PROBES: tuple[Assessor, ...] = (
    Assessor("LockPersonality=", 100, 1),
    Assessor("MemoryDenyWriteExecute=", 100, 1),
    Assessor("RestrictRealtime=", 500, 1),
    Assessor("RestrictSUIDSGID=", 1000, 1),
    Assessor("RestrictAddressFamilies=~AF_(INET|INET6)", 1500, 1),
    Assessor("RestrictAddressFamilies=~AF_UNIX", 25, 1),
    Assessor("RestrictAddressFamilies=~AF_NETLINK", 200, 1),
    Assessor("RestrictAddressFamilies=~AF_PACKET", 1000, 1),
    Assessor("RestrictAddressFamilies=~…", 1250, 1),
)
ROOT_DIRECTORY = Assessor("RootDirectory=/RootImage=", 200, 1)
PRIVATE_NETWORK = Assessor("PrivateNetwork=", 2500, 1)
PRIVATE_USERS = Assessor("PrivateUsers=", 1000, 1)
UMASK = Assessor("UMask=", 100, 10)

_MOUNTS = (
    "a mount in the service's mount namespace; hardenkit does not judge the process's "
    "mount table (/proc/<pid>/mountinfo), so it is not scored"
)
_CONFIG = "a setting of the service manager, not a property of the running process"
#: systemd rows a running process does not show (or hardenkit does not judge): name, weight
#: and why. They are listed in every report and left out of the score.
UNOBSERVABLE: tuple[tuple[str, int, str], ...] = (
    ("RemoveIPC=", 100, _CONFIG + " (IPC objects are removed when the service stops)"),
    ("PrivateDevices=", 1000, _MOUNTS + " (a private /dev)"),
    ("ProtectClock=", 1000, _MOUNTS + " (no /dev/rtc; the @clock part is its own row)"),
    ("ProtectKernelLogs=", 1000, _MOUNTS + " (no /dev/kmsg, /proc/kmsg)"),
    ("ProtectControlGroups=", 1000, _MOUNTS + " (/sys/fs/cgroup read-only)"),
    ("ProtectKernelModules=", 1000, _MOUNTS + " (no /usr/lib/modules)"),
    ("ProtectKernelTunables=", 1000, _MOUNTS + " (/proc/sys, /sys read-only)"),
    ("ProtectHome=", 1000, _MOUNTS + " (/home, /root, /run/user hidden)"),
    ("ProtectSystem=", 1000, _MOUNTS + " (/usr, /boot, /etc read-only)"),
    ("PrivateTmp=", 1000, _MOUNTS + " (a private /tmp and /var/tmp)"),
    ("PrivateMounts=", 1000, _MOUNTS + " (mount propagation to the host)"),
    ("ProtectProc=", 1000, _MOUNTS + " (the hidepid= option of its /proc)"),
    ("ProcSubset=", 10, _MOUNTS + " (the subset= option of its /proc)"),
    ("ProtectHostname=", 50, "a UTS namespace plus a filter; not judged by hardenkit"),
    (
        "DeviceAllow=",
        1000,
        "the cgroup device controller's list for the service's cgroup; not judged by hardenkit",
    ),
    (
        "IPAddressDeny=",
        1000,
        "cgroup BPF programs attached by the service manager; a process cannot show them",
    ),
    ("KeyringMode=", 1000, _CONFIG + " (which session keyring the service gets)"),
    ("Delegate=", 100, _CONFIG + " (cgroup subtree delegation)"),
    ("NotifyAccess=", 1000, _CONFIG + " (who may send sd_notify messages)"),
)

# Ours (weights on systemd's scale, where 1000 is a typical "important" directive).
GID_ROOT = Assessor("hardenkit:Group=root", 500, 1, "hardenkit")
PRIVATE_PIDS = Assessor("hardenkit:PrivatePIDs=", 500, 1, "hardenkit")
DUMPABLE = Assessor("hardenkit:Dumpable", 500, 1, "hardenkit")
# LimitCORE: 2 when the soft limit is unlimited, 1 when only the hard one is (raisable).
CORE_LIMIT = Assessor("hardenkit:LimitCORE=", 250, 2, "hardenkit")
ENV_DANGEROUS = Assessor("hardenkit:Environment=dangerous", 500, 1, "hardenkit")
ENV_SECRET = Assessor("hardenkit:Environment=secret", 250, 1, "hardenkit")
CWD_WRITABLE = Assessor("hardenkit:WorkingDirectory=world-writable", 500, 1, "hardenkit")
EXE_WRITABLE = Assessor("hardenkit:ExecStart=world-writable", 1000, 1, "hardenkit")
LISTEN_ALL = Assessor("hardenkit:Listen=any-address", 1000, 1, "hardenkit")
PATHS = Assessor("hardenkit:Paths=insecure", 1000, 1, "hardenkit")

#: systemd's levels: the lowest exposure (x10, 0-100) at which each one starts.
LEVELS: tuple[tuple[int, str], ...] = (
    (100, "DANGEROUS"),
    (90, "UNSAFE"),
    (75, "EXPOSED"),
    (50, "MEDIUM"),
    (10, "OK"),
    (1, "SAFE"),
    (0, "PERFECT"),
)
