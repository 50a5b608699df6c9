"""Guard filters: what Landlock leaves open, closed with seccomp, and what is shed.

:func:`~hardenkit.sandbox.confinement.prepare_confinement` adds these policies (loaded
before the caller's filter; the stricter answer wins) and sheds these capabilities from
a process that keeps the caller's ids.
"""

from __future__ import annotations

import errno

from hardenkit._memo import cache

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from hardenkit.sandbox.seccomp import SeccompPolicy

__all__ = [
    "CAP_MKNOD",
    "CAP_PERFMON",
    "CAP_SYS_ADMIN",
    "ISOLATION_SHED",
    "METADATA_SYSCALLS",
    "filesystem_guard_policy",
    "metadata_guard_policy",
]

#: CAP_MKNOD: a confined process that keeps the caller's ids loses it unless the
#: FilesystemPolicy names ``devices`` (a device node for a disk reads every file).
CAP_MKNOD = 27
#: CAP_SYS_ADMIN and CAP_PERFMON: either one lets a process inside a Landlock domain
#: still open /proc/<pid>/environ and /proc/<pid>/maps of processes outside it (seen on
#: 6.18), so an isolating confinement that keeps the caller's ids sheds both.
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
#: What an isolating confinement that keeps the caller's ids sheds besides CAP_MKNOD.
ISOLATION_SHED = (1 << CAP_SYS_ADMIN) | (1 << CAP_PERFMON)


#: Syscalls that change a file's mode, owner, times or extended attributes by path or
#: descriptor. Landlock governs opening, creating, removing, renaming, linking and
#: truncating, not these: a process that may change metadata of files it does not own
#: could change it outside its FilesystemPolicy.
METADATA_SYSCALLS: tuple[str, ...] = (
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "setxattrat",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "removexattrat",
    "file_setattr",
)
#: io_uring runs operations (IORING_OP_SETXATTR, FSETXATTR...) that seccomp never sees.
_IO_URING = frozenset({"io_uring_setup", "io_uring_enter", "io_uring_register"})
#: Capabilities that let a process change metadata of files it does not own.
_METADATA_CAPS = (
    (0, "CAP_CHOWN"),
    (1, "CAP_DAC_OVERRIDE"),
    (3, "CAP_FOWNER"),
    (21, "CAP_SYS_ADMIN"),
)


@cache
def metadata_guard_policy(arches: tuple[str, ...] = ()) -> SeccompPolicy:
    """Return the filter that makes :data:`METADATA_SYSCALLS` fail with EPERM.

    :func:`prepare_confinement` adds it under a FilesystemPolicy when the confined
    process keeps uid 0 or a capability that changes metadata of files it does not own
    (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_SYS_ADMIN).

    Its default is ``errno`` with every syscall the local libseccomp knows allowed, so a
    number newer than libseccomp's table (``setxattrat``, ``file_setattr``... on
    libseccomp 2.5) fails with ENOSYS instead of slipping through, and io_uring is
    refused (``IORING_OP_SETXATTR`` would change attributes the filter never sees); the
    caller's own filter, loaded after it, decides everything else (the stricter result
    wins).

    Examples:
        >>> p = metadata_guard_policy()
        >>> p.default, "chmod" in p.deny, "openat" in p.allow
        ('errno', True, True)
    """
    from hardenkit._linux.seccomp_compile import resolve  # noqa: PLC0415 -- ctypes on use
    from hardenkit.sandbox.seccomp.groups import expand  # noqa: PLC0415 -- for import time: the syscall groups, only for this guard
    from hardenkit.sandbox.seccomp.policy import SeccompPolicy  # noqa: PLC0415 -- for import time

    def known(names: Iterable[str]) -> list[str]:
        return sorted(n for n in names if resolve(n) is not None)  # nothing skipped or logged

    return SeccompPolicy(
        default="errno",
        allow=known(expand(["@known"]) - set(METADATA_SYSCALLS) - _IO_URING),
        deny=known(METADATA_SYSCALLS),
        arches=arches,
        block_namespaces=False,  # the caller's filter decides that
    )


#: socket(2)'s domain for UNIX sockets; memfd_create(2)'s flag for a never-executable file.
_AF_UNIX = 1
#: socketpair(2) types (type & SOCK_TYPE_MASK) whose sockets can still reach a named
#: socket: a datagram socket (SOCK_RAW is made SOCK_DGRAM in AF_UNIX) may sendto() any
#: path or be connect()ed again; stream and seqpacket pairs stay connected to each other.
_SOCK_TYPE_MASK = 0xF
_UNIX_PAIR_REACHES = (2, 3)  # SOCK_DGRAM, SOCK_RAW
_MFD_NOEXEC_SEAL = 0x0008
#: mmap flags: MAP_ANONYMOUS | MAP_TYPE, and the shared anonymous kinds (MAP_SHARED,
#: MAP_SHARED_VALIDATE) whose shmem file /proc/self/map_files hands to CAP_SYS_ADMIN.
_MAP_ANON_TYPE = 0x20 | 0x0F
_MAP_SHARED_ANON = (0x20 | 0x01, 0x20 | 0x03)
#: Capabilities that open /proc/<pid>/map_files (CAP_SYS_ADMIN, CAP_CHECKPOINT_RESTORE).
_MAP_FILES_CAPS = (1 << 21) | (1 << 40)
#: The kernel reads these arguments as 32-bit ints: only the low half is compared.
_LOW32 = 0xFFFFFFFF


@cache
def filesystem_guard_policy(
    arches: tuple[str, ...] = (),
    *,
    unix_sockets: bool = False,
    anonymous_exec: bool = False,
    shared_anonymous: bool = True,
) -> SeccompPolicy:
    """Return the filter that closes what Landlock leaves open under a FilesystemPolicy.

    :func:`prepare_confinement` adds it whenever ``filesystem=`` is set (loaded before the
    caller's filter; the stricter answer wins), default ``allow``:

    - unless ``unix_sockets`` (the policy names ``sockets``), ``socket(AF_UNIX, ...)``
      fails with EACCES (the low 32 bits of the domain are compared, as the kernel reads
      them): Landlock (ABI <= 7) does not govern ``connect()``, so a socket outside the
      policy would be reachable. ``socketpair`` stays allowed for stream and seqpacket
      sockets; a datagram pair (``SOCK_DGRAM``, or ``SOCK_RAW`` which AF_UNIX turns into
      it) fails with EACCES, since it can ``sendto()`` any path or be re-``connect()``ed
      to one. io_uring is refused
      (``IORING_OP_SOCKET`` makes sockets the filter never sees), and so is i386's
      ``socketcall`` when that ABI is allowed (its arguments are in memory).
    - unless ``anonymous_exec`` (``execute`` covers "/"), ``memfd_create`` without
      ``MFD_NOEXEC_SEAL`` fails with EACCES: a memfd lives outside every hierarchy, so
      Landlock's EXECUTE right never applies to it, and ``execve``/``execveat`` of a
      memfd copy of any binary would run it. A sealed memfd can never be executable.
    - unless ``shared_anonymous`` (it is False for a process that keeps CAP_SYS_ADMIN or
      CAP_CHECKPOINT_RESTORE while ``execute`` is restricted), shared anonymous
      mappings (``mmap(MAP_SHARED | MAP_ANONYMOUS)``) fail with EACCES and SysV shared
      memory (``shmget``, ``shmat``) is refused: such a process can open the shmem file
      behind them through ``/proc/self/map_files`` and execute it.

    Examples:
        >>> p = filesystem_guard_policy()
        >>> p.default, [r.names for r in p.rules]
        ('allow', [('socket',), ('socketpair',), ('socketpair',), ('memfd_create',)])
    """
    # For import time: the seccomp package only when a guard is built.
    from hardenkit.sandbox.seccomp.policy import SeccompPolicy  # noqa: PLC0415
    from hardenkit.sandbox.seccomp.rules import ArgCondition, SyscallRule  # noqa: PLC0415

    rules: list[SyscallRule] = []
    deny: list[str] = []
    if not unix_sockets:
        rules.append(
            SyscallRule(
                names="socket",
                action="errno",
                errno=errno.EACCES,
                args=(ArgCondition(index=0, op="masked_eq", mask=_LOW32, value=_AF_UNIX),),
            )
        )
        rules.extend(
            SyscallRule(
                names="socketpair",
                action="errno",
                errno=errno.EACCES,
                args=(
                    ArgCondition(index=0, op="masked_eq", mask=_LOW32, value=_AF_UNIX),
                    ArgCondition(index=1, op="masked_eq", mask=_SOCK_TYPE_MASK, value=kind),
                ),
            )
            for kind in _UNIX_PAIR_REACHES
        )
        deny.extend(sorted(_IO_URING))
        if "SCMP_ARCH_X86" in arches:
            deny.append("socketcall")
    if not anonymous_exec:
        rules.append(
            SyscallRule(
                names="memfd_create",
                action="errno",
                errno=errno.EACCES,
                args=(ArgCondition(index=1, op="masked_eq", mask=_MFD_NOEXEC_SEAL, value=0),),
            )
        )
    if not shared_anonymous:
        rules.extend(
            SyscallRule(
                names="mmap",
                action="errno",
                errno=errno.EACCES,
                args=(ArgCondition(index=3, op="masked_eq", mask=_MAP_ANON_TYPE, value=kind),),
            )
            for kind in _MAP_SHARED_ANON
        )
        deny.extend(("shmget", "shmat"))
    return SeccompPolicy(
        default="allow",
        deny=deny,
        rules=rules,
        arches=arches,
        block_namespaces=False,  # the caller's filter decides that
    )
