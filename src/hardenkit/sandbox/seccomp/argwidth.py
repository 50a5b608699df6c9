"""Which syscall arguments the kernel reads narrower than 64 bits, and how to compare them.

seccomp hands a filter all 64 bits of every argument register, but a syscall declared
``SYSCALL_DEFINE3(socket, int, family, int, type, int, protocol)`` is called through a
wrapper that casts each register to the declared type: the kernel uses the low 32 bits
(16 for ``umode_t``). A filter comparing 64 bits is then bypassed by setting high bits:
``socket(AF_INET | 1 << 32)`` is not ``eq AF_INET`` yet opens an AF_INET socket, and
``ioctl(fd, TIOCSTI | 1 << 32)`` passed the ``eq TIOCSTI`` rules of CVE-2019-10063.

:data:`WIDTHS` lists, from the kernel's ``SYSCALL_DEFINE`` signatures, the arguments
declared ``int``, ``unsigned int``, ``pid_t``, ``uid_t``, ``gid_t``, ``clockid_t``,
``timer_t``, ``key_serial_t``, ``qid_t``, ``mqd_t``, ``key_t``, ``u32``/``__s32`` (32 bits)
or ``umode_t`` (16 bits), plus ``clone``'s flags (declared ``unsigned long``, but the kernel
takes ``lower_32_bits(clone_flags)``). :func:`narrow` rewrites one condition on such an
argument into conditions libseccomp compiles and that look only at those low bits: an
equality becomes a masked equality, a range (``lt``, ``gt``, ``ne``...) becomes the few
aligned blocks that cover it (at most 32 per side), each a masked equality. Arguments
declared ``long``/``unsigned long``/pointers are compared on all 64 bits, as the kernel
reads them, except where the kernel truncates them itself (:data:`WIDTHS` lists ptrace's
pid, mmap's fd, clone's flags). Widths are per ABI: on i386, arm and s390 the plain id
calls (``setuid``...) are the kernel's 16-bit ones (:data:`UID16`,
:func:`uid16_conditions`); fcntl's third argument has no single width
(:data:`DUAL_WIDTH`, :func:`check_dual`).
"""

from __future__ import annotations

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


__all__ = ["UID16", "UID16_ARCHES", "WIDTHS", "narrow", "uid16_conditions"]

_U64: Final = (1 << 64) - 1
_MASKED_EQ: Final = 7
# libseccomp's enum scmp_compare.
_NE, _LT, _LE, _EQ, _GE, _GT = 1, 2, 3, 4, 5, 6

_I32: Final = 32
_MODE: Final = 16  # umode_t (unsigned short)


def _args(*indexes: int, width: int = _I32) -> dict[int, int]:
    return dict.fromkeys(indexes, width)


#: syscall name -> {argument index: bits the kernel reads}. From the kernel's
#: SYSCALL_DEFINE signatures (include/linux/syscalls.h, kernel/*.c, net/socket.c, fs/*.c).
WIDTHS: Final[dict[str, dict[int, int]]] = {
    # sockets: net/socket.c.
    "socket": _args(0, 1, 2),
    "socketpair": _args(0, 1, 2),
    "bind": _args(0, 2),
    "connect": _args(0, 2),
    "listen": _args(0, 1),
    "accept": _args(0),
    "accept4": _args(0, 3),
    "getsockname": _args(0),
    "getpeername": _args(0),
    "shutdown": _args(0, 1),
    "setsockopt": _args(0, 1, 2, 4),
    "getsockopt": _args(0, 1, 2),
    "sendto": _args(0, 3, 5),
    "recvfrom": _args(0, 3),
    "sendmsg": _args(0, 2),
    "recvmsg": _args(0, 2),
    "sendmmsg": _args(0, 2, 3),
    "recvmmsg": _args(0, 2, 3),
    "socketcall": _args(0),
    # descriptors and files: fs/.
    "ioctl": _args(0, 1),
    "fcntl": _args(0, 1),
    "flock": _args(0, 1),
    "close": _args(0),
    "close_range": _args(0, 1, 2),
    "dup": _args(0),
    "dup2": _args(0, 1),
    "dup3": _args(0, 1, 2),
    "read": _args(0),
    "write": _args(0),
    "pread64": _args(0),
    "preadv2": _args(5),  # rwf_t flags (int); the fd is declared unsigned long
    "pwritev2": _args(5),
    "pwrite64": _args(0),
    "lseek": _args(0, 2),
    "fsync": _args(0),
    "fdatasync": _args(0),
    "ftruncate": _args(0),
    "fchdir": _args(0),
    "fstat": _args(0),
    "fstatfs": _args(0),
    "getdents": _args(0, 2),
    "getdents64": _args(0, 2),
    "open": {1: _I32, 2: _MODE},
    "openat": {0: _I32, 2: _I32, 3: _MODE},
    "openat2": _args(0),
    "creat": {1: _MODE},
    "mkdir": {1: _MODE},
    "mkdirat": {0: _I32, 2: _MODE},
    "mknod": {1: _MODE, 2: _I32},
    "mknodat": {0: _I32, 2: _MODE, 3: _I32},
    "chmod": {1: _MODE},
    "fchmod": {0: _I32, 1: _MODE},
    "fchmodat": {0: _I32, 2: _MODE},
    "fchmodat2": {0: _I32, 2: _MODE, 3: _I32},
    "chown": _args(1, 2),
    "lchown": _args(1, 2),
    "fchown": _args(0, 1, 2),
    "fchownat": _args(0, 2, 3, 4),
    "access": _args(1),
    "faccessat": _args(0, 2),
    "faccessat2": _args(0, 2, 3),
    "unlinkat": _args(0, 2),
    "renameat": _args(0, 2),
    "renameat2": _args(0, 2, 4),
    "linkat": _args(0, 2, 4),
    "symlinkat": _args(1),
    "readlinkat": _args(0, 3),
    "newfstatat": _args(0, 3),
    "statx": _args(0, 2, 3),
    "utimensat": _args(0, 3),
    "futimesat": _args(0),
    "execveat": _args(0, 4),
    "umount2": _args(1),
    "fallocate": _args(0, 1),
    "fadvise64": _args(0, 3),
    "readahead": _args(0),
    "sync_file_range": _args(0, 3),
    "syncfs": _args(0),
    "copy_file_range": _args(0, 2, 5),
    "splice": _args(0, 2, 5),
    "tee": _args(0, 1, 3),
    "vmsplice": _args(0, 3),
    "sendfile": _args(0, 1),
    "setxattr": _args(4),
    "lsetxattr": _args(4),
    "fsetxattr": _args(0, 4),
    "fgetxattr": _args(0),
    "flistxattr": _args(0),
    "fremovexattr": _args(0),
    "name_to_handle_at": _args(0, 4),
    "open_by_handle_at": _args(0, 2),
    "memfd_create": _args(1),
    "memfd_secret": _args(0),
    "pipe2": _args(1),
    "umask": _args(0),
    "inotify_init1": _args(0),
    "inotify_add_watch": _args(0, 2),
    "inotify_rm_watch": _args(0, 1),
    "fanotify_init": _args(0, 1),
    "fanotify_mark": _args(0, 1, 3),
    "eventfd": _args(0),
    "eventfd2": _args(0, 1),
    "signalfd": _args(0),
    "signalfd4": _args(0, 3),
    "timerfd_create": _args(0, 1),
    "timerfd_settime": _args(0, 1),
    "timerfd_gettime": _args(0),
    "epoll_create": _args(0),
    "epoll_create1": _args(0),
    "epoll_ctl": _args(0, 1, 2),
    "epoll_wait": _args(0, 2, 3),
    "epoll_pwait": _args(0, 2, 3),
    "epoll_pwait2": _args(0, 2),
    "poll": _args(1, 2),
    "ppoll": _args(1),
    "select": _args(0),
    "pselect6": _args(0),
    "io_uring_setup": _args(0),
    "io_uring_enter": _args(0, 1, 2, 3),
    "io_uring_register": _args(0, 1, 3),
    "cachestat": _args(0, 3),
    # mounts: fs/namespace.c, fs/fsopen.c.
    "fsopen": _args(1),
    "fsmount": _args(0, 1, 2),
    "fsconfig": _args(0, 1, 4),
    "fspick": _args(0, 2),
    "move_mount": _args(0, 2, 4),
    "open_tree": _args(0, 2),
    "mount_setattr": _args(0, 2),
    "quotactl": _args(0, 2),
    "quotactl_fd": _args(0, 1, 2),
    "swapon": _args(1),
    # processes, signals, ids: kernel/.
    "clone": _args(0),  # lower_32_bits(clone_flags); s390's flags are argument 1
    "setns": _args(0, 1),
    "prctl": _args(0),
    "arch_prctl": _args(0),
    "personality": _args(0),
    "kill": _args(0, 1),
    "tkill": _args(0, 1),
    "tgkill": _args(0, 1, 2),
    "rt_sigqueueinfo": _args(0, 1),
    "rt_tgsigqueueinfo": _args(0, 1, 2),
    "rt_sigaction": _args(0),
    "rt_sigprocmask": _args(0),
    "pidfd_open": _args(0, 1),
    "pidfd_getfd": _args(0, 1, 2),
    "pidfd_send_signal": _args(0, 1, 3),
    "process_madvise": _args(0, 3, 4),
    "process_mrelease": _args(0, 1),
    "process_vm_readv": _args(0),
    "process_vm_writev": _args(0),
    "kcmp": _args(0, 1, 2),
    "get_robust_list": _args(0),  # int pid
    "io_setup": _args(0),  # unsigned nr_events
    "wait4": _args(0, 2),
    "waitid": _args(0, 1, 3),
    "exit": _args(0),
    "exit_group": _args(0),
    "setuid": _args(0),
    "setgid": _args(0),
    "setreuid": _args(0, 1),
    "setregid": _args(0, 1),
    "setresuid": _args(0, 1, 2),
    "setresgid": _args(0, 1, 2),
    "setfsuid": _args(0),
    "setfsgid": _args(0),
    # the 32-bit ids of ABIs whose plain names are the 16-bit calls (i386, arm, s390).
    "setuid32": _args(0),
    "setgid32": _args(0),
    "setreuid32": _args(0, 1),
    "setregid32": _args(0, 1),
    "setresuid32": _args(0, 1, 2),
    "setresgid32": _args(0, 1, 2),
    "setfsuid32": _args(0),
    "setfsgid32": _args(0),
    "chown32": _args(1, 2),
    "lchown32": _args(1, 2),
    "fchown32": _args(0, 1, 2),
    "setgroups": _args(0),
    "getgroups": _args(0),
    "setpgid": _args(0, 1),
    "getpgid": _args(0),
    "getsid": _args(0),
    "ptrace": _args(1),  # pid_t pid (find_get_task_by_vpid); the request is a long
    "sched_setscheduler": _args(0, 1),
    "sched_setparam": _args(0),
    "sched_getparam": _args(0),
    "sched_getscheduler": _args(0),
    "sched_setattr": _args(0, 2),
    "sched_getattr": _args(0, 2, 3),
    "sched_setaffinity": _args(0, 1),
    "sched_getaffinity": _args(0, 1),
    "sched_get_priority_max": _args(0),
    "sched_get_priority_min": _args(0),
    "sched_rr_get_interval": _args(0),
    "setpriority": _args(0, 1, 2),
    "getpriority": _args(0, 1),
    "ioprio_set": _args(0, 1, 2),
    "ioprio_get": _args(0, 1),
    "prlimit64": _args(0, 1),
    "setrlimit": _args(0),
    "getrlimit": _args(0),
    "getrusage": _args(0),
    "seccomp": _args(0, 1),
    "bpf": _args(0, 2),
    "perf_event_open": _args(1, 2, 3),
    "userfaultfd": _args(0),
    "membarrier": _args(0, 1, 2),
    "rseq": _args(1, 2, 3),
    "futex": _args(1, 2, 5),
    "futex_waitv": _args(1, 2, 4),
    "keyctl": _args(0),
    "add_key": _args(4),
    "request_key": _args(3),
    "reboot": _args(0, 1, 2),
    "syslog": _args(0, 2),
    "finit_module": _args(0, 2),
    "delete_module": _args(1),
    "kexec_file_load": _args(0, 1),
    "sethostname": _args(1),
    "setdomainname": _args(1),
    "iopl": _args(0),
    "ioperm": _args(2),
    "modify_ldt": _args(0),
    "landlock_create_ruleset": _args(2),
    "landlock_add_rule": _args(0, 1, 3),
    "landlock_restrict_self": _args(0, 1),
    # time: kernel/time/.
    "clock_settime": _args(0),
    "clock_gettime": _args(0),
    "clock_getres": _args(0),
    "clock_adjtime": _args(0),
    "clock_nanosleep": _args(0, 1),
    "timer_create": _args(0),
    "timer_settime": _args(0, 1),
    "timer_gettime": _args(0),
    "timer_getoverrun": _args(0),
    "timer_delete": _args(0),
    "getitimer": _args(0),
    "setitimer": _args(0),
    "alarm": _args(0),
    # memory: mm/.
    "mmap": _args(4),  # the fd: ksys_mmap_pgoff hands it to fget(unsigned int)
    "madvise": _args(2),
    "mlock2": _args(2),
    "mlockall": _args(0),
    "msync": _args(2),
    "pkey_mprotect": _args(3),
    "pkey_free": _args(0),
    "set_mempolicy": _args(0),
    "mbind": _args(5),  # unsigned flags
    "move_pages": _args(0, 5),  # pid_t pid, int flags
    "migrate_pages": _args(0),  # pid_t pid
    "map_shadow_stack": _args(2),
    # System V IPC and POSIX message queues: ipc/.
    "shmget": _args(0, 2),
    "shmat": _args(0, 2),
    "shmctl": _args(0, 1),
    "semget": _args(0, 1, 2),
    "semctl": _args(0, 1, 2),
    "semop": _args(0, 2),
    "semtimedop": _args(0, 2),
    "msgget": _args(0, 1),
    "msgsnd": _args(0, 3),
    "msgrcv": _args(0, 4),
    "msgctl": _args(0, 1),
    "mq_open": {1: _I32, 2: _MODE},
    "mq_timedsend": _args(0, 3),
    "mq_timedreceive": _args(0),
    "mq_notify": _args(0),
    "mq_getsetattr": _args(0),
    "getrandom": _args(2),
    # Linux security modules
    "lsm_get_self_attr": _args(0, 3),
    "lsm_set_self_attr": _args(0, 2, 3),
    "lsm_list_modules": _args(2),
}

#: The 16-bit id calls: on the ABIs of :data:`UID16_ARCHES` the plain names are the
#: kernel's ``*16`` variants (i386 ``setuid`` is 23 = ``sys_setuid16``, ``setuid32`` is
#: 213), which read ``old_uid_t``/``old_gid_t``: the low 16 bits, 0xFFFF meaning -1
#: ("unchanged"), see ``low2highuid``. name -> indexes of those arguments.
UID16: Final[dict[str, frozenset[int]]] = {
    "setuid": frozenset({0}),
    "setgid": frozenset({0}),
    "setreuid": frozenset({0, 1}),
    "setregid": frozenset({0, 1}),
    "setresuid": frozenset({0, 1, 2}),
    "setresgid": frozenset({0, 1, 2}),
    "setfsuid": frozenset({0}),
    "setfsgid": frozenset({0}),
    "chown": frozenset({1, 2}),
    "lchown": frozenset({1, 2}),
    "fchown": frozenset({1, 2}),
}
#: ABIs with CONFIG_UID16 calls under the plain names (arch/*/syscall*.tbl).
UID16_ARCHES: Final = ("SCMP_ARCH_X86", "SCMP_ARCH_ARM", "SCMP_ARCH_S390")
#: fcntl's third argument: ``(int)arg`` for F_DUPFD, F_SETFL, F_SETOWN..., a 64-bit
#: pointer for F_SETLK, F_GETOWN_EX...: one width cannot be right for every command, so
#: only conditions that mean the same on both widths are taken (see :func:`check_dual`).
DUAL_WIDTH: Final[dict[str, frozenset[int]]] = {"fcntl": frozenset({2})}

#: Rules one condition may turn into, times the other conditions' (a product per rule).
MAX_ALTERNATIVES: Final = 4096


def width(name: str, index: int, *, s390: bool = False, uid16: bool = False) -> int:
    """Bits of argument ``index`` of ``name`` the kernel reads (64 when not narrower).

    ``uid16``: on an ABI of :data:`UID16_ARCHES` (16 for the ids of :data:`UID16`, which
    :func:`uid16_conditions` compares).

    Examples:
        >>> width("socket", 0), width("ioctl", 2), width("chmod", 1)
        (32, 64, 16)
        >>> width("setuid", 0), width("setuid", 0, uid16=True)
        (32, 16)
    """
    if uid16 and index in UID16.get(name, ()):
        return _MODE
    if name == "clone" and s390:  # CLONE_BACKWARDS2: (newsp, clone_flags, ...)
        return _I32 if index == 1 else 64
    return WIDTHS.get(name, {}).get(index, 64)


def _fit(value: int, bits: int, what: str) -> int:
    """``value`` as the kernel reads it in ``bits`` bits; a sign extension is accepted."""
    low = (1 << bits) - 1
    if value <= low:
        return value
    if value | low == _U64 and value >> (bits - 1) & 1:  # e.g. -1 passed sign-extended
        return value & low
    raise ValueError(
        f"{what}: the kernel reads this argument as {bits}-bit, and {value:#x} is not a "
        f"{bits}-bit value: the comparison could never mean what it says"
    )


def _blocks(lo: int, hi: int, bits: int) -> list[tuple[int, int]]:
    """Cover ``lo..hi`` with aligned power-of-two blocks: (mask, value) masked equalities."""
    full = (1 << bits) - 1
    out: list[tuple[int, int]] = []
    while lo <= hi:
        size = lo & -lo if lo else 1 << bits
        while size > hi - lo + 1:
            size >>= 1
        out.append((full & ~(size - 1), lo))
        lo += size
    return out


def narrow(
    index: int, op: int, a: int, b: int, *, bits: int, what: str
) -> list[tuple[int, int, int, int]]:
    """Rewrite libseccomp condition ``(index, op, a, b)`` to look at the low ``bits`` only.

    Returns alternatives (any may match; an empty list never matches), each a raw
    ``(index, op, datum_a, datum_b)``. ``a``/``b`` are libseccomp's data: value and
    unused, or mask and value for ``masked_eq``. Values are read as the kernel reads
    them: truncated when sign-extended, refused (ValueError) when wider.

    Examples:
        >>> narrow(0, 4, 2, 0, bits=32, what="socket")  # eq AF_INET -> masked_eq 0xffffffff
        [(0, 7, 4294967295, 2)]
        >>> len(narrow(0, 6, 40, 0, bits=32, what="socket"))  # gt 40: 41..2**32-1 in aligned blocks
        30
    """
    if bits >= 64:  # noqa: PLR2004 -- the full register
        return [(index, op, a, b)]
    full = (1 << bits) - 1
    if op == _MASKED_EQ:
        mask = a & full
        value = _fit(b, bits, what)
        return [(index, _MASKED_EQ, mask, value)] if value & ~mask == 0 else []
    value = _fit(a, bits, what)
    ranges = {
        _EQ: [(value, value)],
        _NE: [(0, value - 1), (value + 1, full)],
        _LT: [(0, value - 1)],
        _LE: [(0, value)],
        _GT: [(value + 1, full)],
        _GE: [(value, full)],
    }[op]
    return [(index, _MASKED_EQ, m, v) for lo, hi in ranges for m, v in _blocks(lo, hi, bits)]


def fit_condition(op: int, a: int, b: int, *, bits: int, what: str) -> tuple[int, int] | None:
    """Condition ``(op, a, b)`` with its data read as the kernel reads ``bits`` bits.

    For a comparison, ``(value, 0)``; for ``masked_eq``, ``(mask, value)`` with the mask
    cut to ``bits``; None when the masked equality can never hold. Values are truncated
    when sign-extended and refused (ValueError) when wider, as :func:`narrow` does: the
    two describe the same comparison, one for libseccomp and one for a low-word compare.

    Examples:
        >>> fit_condition(4, (1 << 64) - 1, 0, bits=32, what="personality")  # eq -1
        (4294967295, 0)
        >>> fit_condition(7, 0xFF0, 0x1, bits=32, what="x") is None  # value outside mask
        True
    """
    full = (1 << bits) - 1
    if op == _MASKED_EQ:
        mask, value = a & full, _fit(b, bits, what)
        return (mask, value) if value & ~mask == 0 else None
    return (_fit(a, bits, what), 0)


_U32: Final = (1 << 32) - 1
_OLD_MINUS_ONE: Final = 0xFFFF  # old_uid_t -1: low2highuid maps it to (uid_t)-1


def uid16_conditions(op: int, a: int, b: int, *, what: str) -> list[tuple[int, int, int]] | None:
    """Condition ``(op, a, b)`` on a ``uid_t`` as conditions on ``old_uid_t``'s 16 bits.

    The kernel's id is ``low2highuid(low 16 bits)``: x for x < 0xFFFF, (uid_t)-1 for
    0xFFFF; the map is increasing, so a range's preimage is a range. Returns conditions
    ``(op, a, b)`` on the low 16 bits that must all hold (exactly when the condition holds
    on the id the kernel uses), or None when no value can make it hold. Values are read
    as 32-bit ids (a sign-extended -1 is accepted, wider values refused: ValueError).

    Examples:
        >>> uid16_conditions(2, 1000, 0, what="setuid")  # lt 1000: low 16 bits lt 1000
        [(2, 1000, 0)]
        >>> uid16_conditions(2, 70000, 0, what="setuid")  # lt 70000: any id but -1
        [(2, 65535, 0)]
        >>> uid16_conditions(4, 70000, 0, what="setuid") is None  # no 16-bit id is 70000
        True
    """
    if op == _MASKED_EQ:
        mask, value = a & _U32, _fit(b, 32, what)
        if value & ~mask:
            return None
        if value > _OLD_MINUS_ONE:  # only (uid_t)-1 has bits above 16
            return [(_EQ, _OLD_MINUS_ONE, 0)] if mask == value else None
        conds = [(_MASKED_EQ, mask & _OLD_MINUS_ONE, value)]
        if mask & _OLD_MINUS_ONE == value and mask != value:
            conds.append((_NE, _OLD_MINUS_ONE, 0))  # 0xFFFF matches 16 bits, not (uid_t)-1
        return conds
    k = _fit(a, 32, what)
    if k < _OLD_MINUS_ONE or k == _U32:  # an id the 16-bit call can produce
        return [(op, k & _OLD_MINUS_ONE, 0)]
    # 0xFFFF <= k < 2**32-1: no 16-bit id is k; below it lie all but -1, above it only -1.
    return {
        _EQ: None,
        _NE: [(_MASKED_EQ, 0, 0)],  # always holds
        _LT: [(_LT, _OLD_MINUS_ONE, 0)],
        _LE: [(_LT, _OLD_MINUS_ONE, 0)],
        _GT: [(_EQ, _OLD_MINUS_ONE, 0)],
        _GE: [(_EQ, _OLD_MINUS_ONE, 0)],
    }[op]


def check_dual(name: str, index: int, op: int, a: int, b: int) -> None:
    """Refuse a condition on a :data:`DUAL_WIDTH` argument that depends on the width.

    Only a masked equality within the low 32 bits means the same whether the kernel
    reads 32 or 64 bits; anything else would be bypassed on one of the two readings.

    Examples:
        >>> check_dual("fcntl", 2, 7, 0xFFFFFFFF, 4)  # masked_eq on the low word: fine
        >>> try:
        ...     check_dual("fcntl", 2, 4, 4, 0)  # eq 4: 4 | 1 << 32 is another pointer
        ... except ValueError:
        ...     print("refused")
        refused
    """
    if index not in DUAL_WIDTH.get(name, ()):
        return
    if op == _MASKED_EQ and a <= _U32 and b <= _U32:
        return
    raise ValueError(
        f"{name} argument {index} is read as a 32-bit int by some commands (F_SETFL, "
        "F_DUPFD, F_SETOWN...) and as a 64-bit pointer by others, so this comparison "
        "would be bypassed on one of them: use masked_eq with a mask within 0xffffffff"
    )
