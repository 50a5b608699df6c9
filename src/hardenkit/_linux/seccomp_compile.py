"""libseccomp (through ctypes) as a compiler: rules in, classic BPF bytes out.

Nothing here loads a filter: hardenkit loads the exported program itself with one
seccomp(2) call (see :mod:`hardenkit._linux.seccomp_load`), so a compiled policy can be
cached, handed to bubblewrap's ``--seccomp FD`` or loaded in a forked child before exec.
libseccomp.so.2 is opened directly (:func:`hardenkit._linux.deps.libseccomp`), not
through pyseccomp, whose import runs ``ldconfig`` twice.
"""

from __future__ import annotations

import ctypes
import os

from hardenkit._linux.deps import libseccomp
from hardenkit._memo import cache

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Any

#: libseccomp's answer for a name it does not know (__NR_SCMP_ERROR).
_NR_SCMP_ERROR = -1
#: Bit that marks an x32-ABI syscall number on x86_64 (__X32_SYSCALL_BIT).
X32_SYSCALL_BIT = 0x40000000
#: The largest C int: the syscall numbers passed to libseccomp (x32's included) fit it.
_INT_MAX = 0x7FFFFFFF
#: Highest syscall number probed when looking for the end of libseccomp's table.
_PROBE_LIMIT = 1024

# Audit arch tokens (linux/audit.h): ELF machine | 64-bit | little-endian | MIPS n32.
_AUDIT_64BIT = 0x80000000
_AUDIT_LE = 0x40000000
_AUDIT_N32 = 0x20000000
_EM = {"386": 3, "MIPS": 8, "PPC": 20, "PPC64": 21, "S390": 22, "ARM": 40}
_EM |= {"X86_64": 62, "AARCH64": 183, "RISCV": 243}

#: SCMP_ARCH_* names (as Docker and OCI profiles spell them) -> audit arch token.
ARCH_NAMES: dict[str, int] = {
    "SCMP_ARCH_X86": _EM["386"] | _AUDIT_LE,
    "SCMP_ARCH_X86_64": _EM["X86_64"] | _AUDIT_64BIT | _AUDIT_LE,
    "SCMP_ARCH_X32": _EM["X86_64"] | _AUDIT_LE,
    "SCMP_ARCH_ARM": _EM["ARM"] | _AUDIT_LE,
    "SCMP_ARCH_AARCH64": _EM["AARCH64"] | _AUDIT_64BIT | _AUDIT_LE,
    "SCMP_ARCH_MIPS": _EM["MIPS"],
    "SCMP_ARCH_MIPS64": _EM["MIPS"] | _AUDIT_64BIT,
    "SCMP_ARCH_MIPS64N32": _EM["MIPS"] | _AUDIT_64BIT | _AUDIT_N32,
    "SCMP_ARCH_MIPSEL": _EM["MIPS"] | _AUDIT_LE,
    "SCMP_ARCH_MIPSEL64": _EM["MIPS"] | _AUDIT_64BIT | _AUDIT_LE,
    "SCMP_ARCH_MIPSEL64N32": _EM["MIPS"] | _AUDIT_64BIT | _AUDIT_LE | _AUDIT_N32,
    "SCMP_ARCH_PPC": _EM["PPC"],
    "SCMP_ARCH_PPC64": _EM["PPC64"] | _AUDIT_64BIT,
    "SCMP_ARCH_PPC64LE": _EM["PPC64"] | _AUDIT_64BIT | _AUDIT_LE,
    "SCMP_ARCH_S390": _EM["S390"],
    "SCMP_ARCH_S390X": _EM["S390"] | _AUDIT_64BIT,
    "SCMP_ARCH_RISCV64": _EM["RISCV"] | _AUDIT_64BIT | _AUDIT_LE,
}

# enum scmp_filter_attr (seccomp.h).
_ATTR_ACT_BADARCH = 2
_ATTR_CTL_NNP = 3
_ATTR_CTL_OPTIMIZE = 8
#: SCMP_FLTATR_CTL_OPTIMIZE: 1 = priority-ordered list, 2 = binary tree of syscall numbers.
OPTIMIZE_TREE = 2

# A rule as the compiler takes it: (action, syscall number, ((arg, op, datum_a, datum_b), ...)).
Rule = tuple[int, int, tuple[tuple[int, int, int, int], ...]]


class _ArgCmp(ctypes.Structure):
    """struct scmp_arg_cmp."""

    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


@cache
def _lib() -> ctypes.CDLL:
    lib = libseccomp()  # MissingDependency when libseccomp.so.2 is absent
    ptr, u32, c_int = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int
    signatures: dict[str, tuple[tuple[type, ...], type | None]] = {
        "seccomp_init": ((u32,), ptr),
        "seccomp_release": ((ptr,), None),
        "seccomp_attr_set": ((ptr, c_int, u32), c_int),
        "seccomp_arch_add": ((ptr, u32), c_int),
        "seccomp_arch_remove": ((ptr, u32), c_int),
        "seccomp_rule_add_array": ((ptr, u32, c_int, ctypes.c_uint, ptr), c_int),
        "seccomp_export_bpf": ((ptr, c_int), c_int),
        "seccomp_syscall_resolve_name_arch": ((u32, ctypes.c_char_p), c_int),
        "seccomp_syscall_resolve_num_arch": ((u32, c_int), ptr),
        "seccomp_arch_native": ((), u32),
    }
    for name, (argtypes, restype) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = restype
    return lib


@cache
def _free() -> Callable[[int], None]:
    fn = ctypes.CDLL(None)["free"]  # a private function object: no shared argtypes state
    fn.argtypes = (ctypes.c_void_p,)
    fn.restype = None
    return fn


def _ok(rc: int) -> None:
    if rc < 0:
        raise OSError(-rc, os.strerror(-rc))


@cache
def native_arch() -> int:
    """Return the audit token of this machine's native architecture.

    Examples:
        >>> native_arch() == arch_token("SCMP_ARCH_X86_64")  # on x86_64
        True
    """
    return int(_lib().seccomp_arch_native())


def arch_token(name: str) -> int | None:
    """Return the audit token for a ``SCMP_ARCH_*`` name, None when libseccomp lacks it.

    Examples:
        >>> hex(arch_token("SCMP_ARCH_X86_64"))
        '0xc000003e'
        >>> arch_token("SCMP_ARCH_LOONGARCH64") is None
        True
    """
    return ARCH_NAMES.get(name)


#: Syscall numbers as libseccomp resolved them, by arch (0: native) and name (None:
#: unknown). libseccomp's table does not change while a process runs: a confined
#: ``hardenkit exec`` resolves the same ~450 names for three filters and three ABIs.
_NUMBERS: dict[int, dict[str, int | None]] = {}
#: Names kept per arch at most: policies built from untrusted input may name anything, and
#: a long-running process must not grow with them (the table is emptied when full).
_NUMBERS_MAX = 8192


@cache
def _by_name() -> Any:
    """seccomp_syscall_resolve_name_arch, called with ctypes values (no argtypes).

    A private function object (as :func:`_free`): converting the arguments through
    ``argtypes`` costs more than the lookup itself, and names are resolved by the
    hundred (the Docker profile: ~1200 lookups over its three ABIs).
    """
    fn = _lib()["seccomp_syscall_resolve_name_arch"]
    fn.restype = ctypes.c_int
    return fn


def resolve(name: str, arch: int | None = None) -> int | None:
    """Return the syscall number of ``name`` for ``arch`` (None when libseccomp lacks it).

    Negative numbers are libseccomp's pseudo-syscalls (known, absent on that arch).
    Cached per process (see :func:`resolve_many`).

    Examples:
        >>> resolve("read")
        0
        >>> resolve("no_such_call") is None
        True
    """
    key = arch or 0
    known = _NUMBERS.get(key)
    if known is None:
        known = _NUMBERS.setdefault(key, {})
    elif name in known:
        return known[name]
    if len(known) >= _NUMBERS_MAX:
        known.clear()
    nr = int(_by_name()(ctypes.c_uint32(key), name.encode("ascii")))
    value = known[name] = None if nr == _NR_SCMP_ERROR else nr
    return value


def resolve_many(names: Iterable[str], arch: int | None = None) -> Mapping[str, int | None]:
    """Resolve ``names`` for ``arch``; return a mapping that answers :func:`resolve` for them.

    One loop for a policy's names instead of a call each (what the compiler does per
    ABI). The mapping is the per-process cache: read it, never change it.

    Examples:
        >>> numbers = resolve_many(["read", "write", "no_such_call"])
        >>> numbers["read"], numbers["write"], numbers["no_such_call"]
        (0, 1, None)
    """
    key = arch or 0
    known = _NUMBERS.get(key)
    if known is None:
        known = _NUMBERS.setdefault(key, {})
    wanted = names if isinstance(names, (list, tuple, set, frozenset)) else list(names)
    missing = [name for name in wanted if name not in known]
    if missing and len(known) + len(missing) > _NUMBERS_MAX:
        known.clear()  # bounded: what this call asks for is all resolved again below
        missing = list(dict.fromkeys(wanted))
    if missing:
        fn = _by_name()
        token = ctypes.c_uint32(key)
        for name in missing:
            nr = int(fn(token, name.encode("ascii")))
            known[name] = None if nr == _NR_SCMP_ERROR else nr
    return known


#: :func:`max_syscall`'s answers by arch (libseccomp's table cannot change while we run).
_TABLE_ENDS: dict[int, int] = {}
#: Numbers probed above a known number before it is taken as the end of the table: more
#: than any run of unknown numbers inside libseccomp's tables (the longest, aarch64's and
#: riscv64's 295-423, is 129; new syscalls are numbered consecutively, one number space
#: for every ABI since Linux 5.1). A unit test checks every known number of every ABI.
_END_WINDOW = 192


def max_syscall(arch: int, *, known: int | None = None) -> int:
    """Return the highest syscall number libseccomp knows for ``arch`` (x32 bit included).

    Numbers above it are newer than the table: policies return ENOSYS for them. The
    probe walks down from the top and stops at the first known number (~570 lookups,
    each a linear scan of libseccomp's table: ~1 ms an ABI). ``known``, a number
    libseccomp knows on ``arch`` (the compiler passes the highest of its policy's), is
    the answer when none of the :data:`_END_WINDOW` numbers above it is known, which
    costs a third of that; otherwise the full probe runs. Cached per process.

    Examples:
        >>> max_syscall(native_arch()) >= 435  # clone3
        True
        >>> max_syscall(native_arch(), known=resolve("clone3")) == max_syscall(native_arch())
        True
    """
    end = _TABLE_ENDS.get(arch)
    if end is not None:
        return end
    if known is not None and _knows(arch, known):
        window = range(known + 1, known + 1 + _END_WINDOW)
        if not _knows_any(arch, window):
            end = known
    if end is None:
        end = _probe_down(arch)
    _TABLE_ENDS[arch] = end
    return end


@cache
def _by_number() -> Any:
    """seccomp_syscall_resolve_num_arch, called with ctypes values (see :func:`_by_name`)."""
    fn = _lib()["seccomp_syscall_resolve_num_arch"]
    fn.restype = ctypes.c_void_p
    return fn


def _knows(arch: int, nr: int) -> bool:
    return _knows_any(arch, range(nr, nr + 1))


def _knows_any(arch: int, numbers: range) -> bool:
    """Whether libseccomp knows any of ``numbers`` on ``arch`` (one loop, as :func:`_knows`)."""
    ends = (numbers[0], numbers[-1]) if numbers else (0, 0)
    if not -_INT_MAX - 1 <= min(ends) <= max(ends) <= _INT_MAX:
        raise ValueError(f"syscall numbers {numbers} do not fit a C int")
    by_number, token = _by_number(), ctypes.c_uint32(arch)
    for nr in numbers:
        ptr = by_number(token, nr)  # a Python int is passed as a C int (checked above)
        if ptr:
            _free()(ptr)
            return True
    return False


def _probe_down(arch: int) -> int:
    base = X32_SYSCALL_BIT if arch == ARCH_NAMES["SCMP_ARCH_X32"] else 0
    for nr in range(_PROBE_LIMIT - 1, -1, -1):
        if _knows(arch, base | nr):
            return base | nr
    return base | -1


def compile_bpf(
    *,
    default_action: int,
    badarch_action: int,
    arches: Sequence[int] = (),
    rules: Sequence[Rule],
    optimize: int = OPTIMIZE_TREE,
) -> bytes:
    """Compile rules into a classic BPF program (``struct sock_filter`` array, native order).

    ``arches`` are exactly the ABIs the program covers (empty: the native one only); a
    single non-native arch gives a program for that ABI alone, which hardenkit links
    behind its own arch dispatch (see :mod:`hardenkit.sandbox.seccomp.bpf`): libseccomp's export
    time grows faster than linearly with the number of ABIs in one filter. Rule numbers
    are native numbers; libseccomp translates them by name for each ABI. Raises OSError
    with libseccomp's errno when a rule is rejected.

    Examples:
        >>> prog = compile_bpf(default_action=0x7FFF0000, badarch_action=0x80000000,
        ...                    rules=((0x00050001, resolve("mount") or 0, ()),))
        >>> len(prog) % 8, len(prog) > 0
        (0, True)
    """
    lib = _lib()
    ctx = lib.seccomp_init(default_action)
    if not ctx:
        raise OSError(22, "seccomp_init refused the default action")
    try:
        _ok(lib.seccomp_attr_set(ctx, _ATTR_ACT_BADARCH, badarch_action))
        _ok(lib.seccomp_attr_set(ctx, _ATTR_CTL_NNP, 0))  # hardenkit sets no_new_privs itself
        _ok(lib.seccomp_attr_set(ctx, _ATTR_CTL_OPTIMIZE, optimize))
        native = native_arch()
        wanted = list(dict.fromkeys(arches)) or [native]
        for arch in wanted:
            if arch != native:
                _ok(lib.seccomp_arch_add(ctx, arch))
        if native not in wanted:
            _ok(lib.seccomp_arch_remove(ctx, native))
        add = lib.seccomp_rule_add_array
        for action, nr, args in rules:
            if args:
                conds = (_ArgCmp * len(args))(*(_ArgCmp(*a) for a in args))
                _ok(add(ctx, action, nr, len(args), conds))
            else:
                _ok(add(ctx, action, nr, 0, None))
        fd = os.memfd_create("hardenkit-seccomp", os.MFD_CLOEXEC)
        with open(fd, "w+b", closefd=True) as fh:
            _ok(lib.seccomp_export_bpf(ctx, fd))
            fh.seek(0)
            return fh.read()
    finally:
        lib.seccomp_release(ctx)


def syscall_name(nr: int, arch: int | None = None) -> str | None:
    """Return the name of syscall ``nr`` on ``arch`` (default native), None if unknown.

    Examples:
        >>> syscall_name(0)
        'read'
    """
    ptr = _lib().seccomp_syscall_resolve_num_arch(arch or 0, nr)
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("ascii", "replace")
    finally:
        _free()(ptr)
