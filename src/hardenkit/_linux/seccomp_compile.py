"""libseccomp (through pyseccomp) as a compiler: rules in, classic BPF bytes out.

Nothing here loads a filter: hardenkit loads the exported program itself with one
seccomp(2) call (see :mod:`hardenkit._linux.seccomp_load`), so a compiled policy can be
cached, handed to bubblewrap's ``--seccomp FD`` or loaded in a forked child before exec.
"""

from __future__ import annotations

import ctypes
import functools
import os
from typing import TYPE_CHECKING

from hardenkit._linux.deps import pyseccomp

if TYPE_CHECKING:
    from collections.abc import Sequence

#: libseccomp's answer for a name it does not know (__NR_SCMP_ERROR).
_NR_SCMP_ERROR = -1
#: Bit that marks an x32-ABI syscall number on x86_64 (__X32_SYSCALL_BIT).
X32_SYSCALL_BIT = 0x40000000
#: Highest syscall number probed when looking for the end of libseccomp's table.
_PROBE_LIMIT = 1024

#: SCMP_ARCH_* names (as Docker and OCI profiles spell them) -> attribute of pyseccomp.Arch.
ARCH_NAMES: dict[str, str] = {
    "SCMP_ARCH_X86": "X86",
    "SCMP_ARCH_X86_64": "X86_64",
    "SCMP_ARCH_X32": "X32",
    "SCMP_ARCH_ARM": "ARM",
    "SCMP_ARCH_AARCH64": "AARCH64",
    "SCMP_ARCH_MIPS": "MIPS",
    "SCMP_ARCH_MIPS64": "MIPS64",
    "SCMP_ARCH_MIPS64N32": "MIPS64N32",
    "SCMP_ARCH_MIPSEL": "MIPSEL",
    "SCMP_ARCH_MIPSEL64": "MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32": "MIPSEL64N32",
    "SCMP_ARCH_PPC": "PPC",
    "SCMP_ARCH_PPC64": "PPC64",
    "SCMP_ARCH_PPC64LE": "PPC64LE",
    "SCMP_ARCH_S390": "S390",
    "SCMP_ARCH_S390X": "S390X",
    "SCMP_ARCH_RISCV64": "RISCV64",
}

# A rule as the compiler takes it: (action, syscall number, ((arg, op, datum_a, datum_b), ...)).
Rule = tuple[int, int, tuple[tuple[int, int, int, int], ...]]


@functools.cache
def _lib() -> ctypes.CDLL:
    pyseccomp()  # translated MissingDependency / UnsupportedPlatform when absent
    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_syscall_resolve_name_arch.argtypes = (ctypes.c_uint32, ctypes.c_char_p)
    lib.seccomp_syscall_resolve_name_arch.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_num_arch.argtypes = (ctypes.c_uint32, ctypes.c_int)
    lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p
    lib.seccomp_arch_native.argtypes = ()
    lib.seccomp_arch_native.restype = ctypes.c_uint32
    return lib


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
    attr = ARCH_NAMES.get(name)
    if attr is None:
        return None
    return int(getattr(pyseccomp().Arch, attr))


def resolve(name: str, arch: int | None = None) -> int | None:
    """Return the syscall number of ``name`` for ``arch`` (None when libseccomp lacks it).

    Negative numbers are libseccomp's pseudo-syscalls (known, absent on that arch).

    Examples:
        >>> resolve("read")
        0
        >>> resolve("no_such_call") is None
        True
    """
    nr = int(_lib().seccomp_syscall_resolve_name_arch(arch or 0, name.encode("ascii")))
    return None if nr == _NR_SCMP_ERROR else nr


@functools.cache
def max_syscall(arch: int) -> int:
    """Return the highest syscall number libseccomp knows for ``arch`` (x32 bit included).

    Numbers above it are newer than the table: policies return ENOSYS for them.

    Examples:
        >>> max_syscall(native_arch()) >= 435  # clone3
        True
    """
    lib = _lib()
    libc = ctypes.CDLL(None)
    libc.free.argtypes = (ctypes.c_void_p,)
    base = X32_SYSCALL_BIT if arch == arch_token("SCMP_ARCH_X32") else 0
    highest = -1
    for nr in range(_PROBE_LIMIT):
        ptr = lib.seccomp_syscall_resolve_num_arch(arch, base | nr)
        if ptr:
            libc.free(ptr)
            highest = nr
    return base | highest


def compile_bpf(
    *,
    default_action: int,
    badarch_action: int,
    arches: Sequence[int],
    rules: Sequence[Rule],
) -> bytes:
    """Compile rules into a classic BPF program (``struct sock_filter`` array, native order).

    ``arches`` beyond the native one are added to the filter (each gets its own section).
    Raises OSError with libseccomp's errno when a rule is rejected.

    Examples:
        >>> prog = compile_bpf(default_action=0x7FFF0000, badarch_action=0x80000000,
        ...                    arches=(), rules=((0x00050001, resolve("mount") or 0, ()),))
        >>> len(prog) % 8, len(prog) > 0
        (0, True)
    """
    sc = pyseccomp()
    flt = sc.SyscallFilter(default_action)
    flt.set_attr(sc.Attr.ACT_BADARCH, badarch_action)
    flt.set_attr(sc.Attr.CTL_NNP, 0)  # hardenkit sets no_new_privs itself
    flt.set_attr(sc.Attr.CTL_OPTIMIZE, 2)  # binary tree: big allow-lists stay fast
    native = native_arch()
    for arch in arches:
        if arch != native and not flt.exist_arch(arch):
            flt.add_arch(arch)
    for action, nr, args in rules:
        conds = [sc.Arg(a, op, da, db) for a, op, da, db in args]
        flt.add_rule(action, nr, *conds)
    fd = os.memfd_create("hardenkit-seccomp", os.MFD_CLOEXEC)
    with open(fd, "w+b", closefd=True) as fh:
        flt.export_bpf(fh)
        fh.seek(0)
        return fh.read()


def syscall_name(nr: int, arch: int | None = None) -> str | None:
    """Return the name of syscall ``nr`` on ``arch`` (default native), None if unknown.

    Examples:
        >>> syscall_name(0)
        'read'
    """
    lib = _lib()
    ptr = lib.seccomp_syscall_resolve_num_arch(arch or 0, nr)
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("ascii", "replace")
    finally:
        libc = ctypes.CDLL(None)
        libc.free.argtypes = (ctypes.c_void_p,)
        libc.free(ptr)
