"""The classic BPF hardenkit writes itself, and why each part is not libseccomp's.

Everything else is libseccomp's (:mod:`hardenkit._linux.seccomp_compile`). Each part below
exists for one of two reasons: libseccomp cannot express the rule (runc's precedent:
ENOSYS above the syscall table), or a measured user path in ``benchmarks/`` needs it
(benchmarks/README.md, "seccomp package" section). The differential tests run the whole
program against one multi-ABI libseccomp filter for the same policy
(tests/unit/test_sandbox_seccomp.py) and against pyseccomp's output with the documented
checks modelled (tests/unit/test_seccomp_oracle.py, including generated policies).

The prefix (:func:`build_prefix`, :func:`build_filter`), per known arch:

- numbers above libseccomp's table -> ENOSYS, so libc's fallbacks for newer calls work.
  *Cannot express*: libseccomp has no rule for "every number it does not know".
- clone3 -> ENOSYS (its flags sit behind a pointer seccomp cannot read; libc falls back
  to clone, whose flags it can); with namespace blocking, setns -> EPERM and
  unshare/clone with any CLONE_NEW* bit -> EPERM; ``ioctl(fd, TIOCSTI)`` -> EPERM on the
  low 32 bits. *Cannot express*: these must win over the policy's own rules for the same
  call (Docker's clone rules, an allowed ioctl), and libseccomp gives overlapping rules of
  one syscall no precedence; "any of these bits" (``JSET``) is not one of its operators.
- x86_64 numbers with the x32 bit: the x32 section when the policy allows x32, otherwise
  kill the process (an x32 syscall must never bypass a native filter); one section per
  ABI, each jumping to its own program, any other arch killed. *Measured*: libseccomp's
  export time grows faster than linearly with the ABIs in one filter (Docker profile,
  x86_64 + i386 + x32: 24 ms of CPU as one filter, 12 ms as three).

Each ABI's program (x86_64, x32, i386; other ABIs are all libseccomp):

- :func:`build_mux_guard` (i386, s390...): ``socketcall``/``ipc`` sub-calls get the
  decision their name gets without its arguments. *Cannot express*: libseccomp turns
  "allow socket(AF_UNIX)" into "allow socketcall(SYS_SOCKET)" for any family, as the
  multiplexed arguments sit in memory.
- :func:`build_table`: the unconditional rules as intervals of numbers, found by binary
  search. *Measured*: the first compile of the Docker profile (benchmark row "seccomp
  docker profile ... first in a process", goal 20 ms) and ``hardenkit exec``'s cold start;
  names libseccomp multiplexes on i386 stay with libseccomp.
- :func:`build_low_word`: conditions on arguments the kernel reads as 32-bit (or 16-bit)
  compared on that word. *Cannot express* compactly: libseccomp compares all 64 bits on
  a 64-bit ABI, so "family > 40" on the low word is up to 32 masked equalities per side
  (Docker's socket rules: 34 rules per ABI); also *measured* by the same rows. Only for
  calls whose rules share one action (overlaps then need no precedence); the others are
  libseccomp's, as masked alternatives from :mod:`.argwidth`.
- ``RET default`` when no rule is left for libseccomp (no context built for nothing).

BPF jumps are relative and forward-only, so a fragment in front of libseccomp's program
never disturbs it.
"""

from __future__ import annotations

from hardenkit.sandbox.seccomp.asm import (
    AUDIT_ARCH_LE as _AUDIT_ARCH_LE,
    CLONE_NS_MASK,
    ENOSYS as _ENOSYS,
    EPERM as _EPERM,
    JMP_JA as _JMP_JA,
    JMP_JEQ_K as _JMP_JEQ_K,
    JMP_JGT_K as _JMP_JGT_K,
    JMP_JSET_K as _JMP_JSET_K,
    LD_W_ABS as _LD_W_ABS,
    OFF_ARCH as _OFF_ARCH,
    OFF_ARGS as _OFF_ARGS,
    OFF_NR as _OFF_NR,
    RET_K as _RET_K,
    SECCOMP_RET_ERRNO,
    SECCOMP_RET_KILL_PROCESS,
    TIOCSTI,
    UNSHARE_NS_MASK,
    X32_SYSCALL_BIT,
    Asm as _Asm,
)
from hardenkit.sandbox.seccomp.rules import Record

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class NumberSpace(Record):
    """The syscall numbers the prefix needs for one ABI (None: absent on that ABI)."""

    __slots__ = (
        "clone",
        "clone3",
        "clone_flags_arg",
        "ioctl",
        "max_known",
        "setns",
        "tiocsti",
        "unshare",
    )
    clone: int | None
    clone3: int | None
    unshare: int | None
    setns: int | None
    max_known: int
    clone_flags_arg: int
    ioctl: int | None
    #: The ABI's TIOCSTI request number (0x5412 on most; mips numbers it 0x5472).
    tiocsti: int

    def __init__(
        self,
        *,
        clone: int | None,
        clone3: int | None,
        unshare: int | None,
        setns: int | None,
        max_known: int,
        clone_flags_arg: int = 0,
        ioctl: int | None = None,
        tiocsti: int = TIOCSTI,
    ) -> None:
        init = object.__setattr__
        init(self, "clone", clone)
        init(self, "clone3", clone3)
        init(self, "unshare", unshare)
        init(self, "setns", setns)
        init(self, "max_known", max_known)
        init(self, "clone_flags_arg", clone_flags_arg)
        init(self, "ioctl", ioctl)
        init(self, "tiocsti", tiocsti)


class ArchSection(Record):
    """One audit arch token and its number space; ``x32`` for x86_64's x32 half.

    ``program``/``x32_program`` are libseccomp's single-ABI programs that
    :func:`build_filter` links behind the prefix (unused by :func:`build_prefix`).
    """

    __slots__ = ("program", "space", "token", "x32", "x32_bit_kills", "x32_program")
    token: int
    space: NumberSpace
    x32: NumberSpace | None
    x32_bit_kills: bool
    program: bytes
    x32_program: bytes

    def __init__(
        self,
        *,
        token: int,
        space: NumberSpace,
        x32: NumberSpace | None = None,
        x32_bit_kills: bool = False,
        program: bytes = b"",
        x32_program: bytes = b"",
    ) -> None:
        init = object.__setattr__
        init(self, "token", token)
        init(self, "space", space)
        init(self, "x32", x32)
        init(self, "x32_bit_kills", x32_bit_kills)
        init(self, "program", program)
        init(self, "x32_program", x32_program)


class PrefixOptions(Record):
    """Which checks the prefix makes."""

    __slots__ = ("block_namespaces", "clone3_enosys", "enosys_above_table", "refuse_tiocsti")
    clone3_enosys: bool
    block_namespaces: bool
    enosys_above_table: bool
    #: ioctl(fd, TIOCSTI) -> EPERM: it pushes input into a terminal the process shares
    #: with whoever started it (the shell that runs ``hardenkit exec``), which then runs it.
    refuse_tiocsti: bool

    def __init__(
        self,
        *,
        clone3_enosys: bool,
        block_namespaces: bool,
        enosys_above_table: bool,
        refuse_tiocsti: bool = False,
    ) -> None:
        init = object.__setattr__
        init(self, "clone3_enosys", clone3_enosys)
        init(self, "block_namespaces", block_namespaces)
        init(self, "enosys_above_table", enosys_above_table)
        init(self, "refuse_tiocsti", refuse_tiocsti)


def _checks(  # noqa: C901 -- one branch per always-on check
    asm: _Asm, space: NumberSpace, opts: PrefixOptions, *, little: bool, lib: str
) -> None:
    if opts.clone3_enosys and space.clone3 is not None:
        asm.op(_JMP_JEQ_K, space.clone3, jt="enosys")
    flag_checks: list[tuple[int, int, int]] = []
    if opts.block_namespaces:
        if space.setns is not None:
            asm.op(_JMP_JEQ_K, space.setns, jt="eperm")
        for nr, arg, mask in (
            (space.unshare, 0, UNSHARE_NS_MASK),
            (space.clone, space.clone_flags_arg, CLONE_NS_MASK),
        ):
            if nr is not None:
                flag_checks.append((nr, arg, mask))
    targets = []
    for nr, arg, mask in flag_checks:
        target = asm.fresh("flags")
        targets.append((target, arg, mask))
        asm.op(_JMP_JEQ_K, nr, jt=target)
    tiocsti = None
    if opts.refuse_tiocsti and space.ioctl is not None:
        tiocsti = asm.fresh("ioctl")
        asm.op(_JMP_JEQ_K, space.ioctl, jt=tiocsti)
    if opts.enosys_above_table:
        asm.op(_JMP_JGT_K, space.max_known, jt="enosys")
    asm.op(_JMP_JA, jt=lib)
    for target, arg, mask in targets:
        asm.label(target)
        # The low 32 bits of the argument: every CLONE_NEW* flag lives there, and the
        # kernel itself truncates clone's flags to 32 bits.
        asm.op(_LD_W_ABS, _OFF_ARGS + 8 * arg + (0 if little else 4))
        asm.op(_JMP_JSET_K, mask, jt="eperm")
        asm.op(_JMP_JA, jt=lib)
    if tiocsti is not None:
        asm.label(tiocsti)
        # ioctl's cmd is an unsigned int: the kernel reads the low 32 bits (CVE-2019-10063).
        asm.op(_LD_W_ABS, _OFF_ARGS + 8 + (0 if little else 4))
        asm.op(_JMP_JEQ_K, space.tiocsti, jt="eperm")
        asm.op(_JMP_JA, jt=lib)


def build_prefix(sections: tuple[ArchSection, ...], opts: PrefixOptions) -> bytes:
    """Return the prefix program (ending in a jump to the instruction after it).

    Every section, and every other arch, continues at the instruction after the prefix:
    one multi-ABI libseccomp program goes there.

    Examples:
        >>> space = NumberSpace(clone=56, clone3=435, unshare=272, setns=308, max_known=456)
        >>> sec = ArchSection(token=0xC000003E, space=space, x32_bit_kills=True)
        >>> opts = PrefixOptions(clone3_enosys=True, block_namespaces=True,
        ...                      enosys_above_table=True)
        >>> len(build_prefix((sec,), opts)) % 8
        0
    """
    return _assemble(sections, opts, linked=False)


def build_filter(sections: tuple[ArchSection, ...], opts: PrefixOptions) -> bytes:
    """Return the prefix with each section's single-ABI programs linked behind it.

    Each section continues in its own ``program`` (its x32 half in ``x32_program``); an
    arch no section names is killed by the prefix itself (the bad-arch action).

    Examples:
        >>> ret_allow = bytes.fromhex("06000000 0000ff7f")
        >>> space = NumberSpace(clone=56, clone3=435, unshare=272, setns=308, max_known=456)
        >>> sec = ArchSection(token=0xC000003E, space=space, x32_bit_kills=True,
        ...                   program=ret_allow)
        >>> opts = PrefixOptions(clone3_enosys=True, block_namespaces=False,
        ...                      enosys_above_table=True)
        >>> build_filter((sec,), opts).endswith(ret_allow)
        True
    """
    for sec in sections:
        if not sec.program or (sec.x32 is not None and not sec.x32_program):
            raise ValueError(f"arch {sec.token:#x}: no program to link")
    return _assemble(sections, opts, linked=True)


def _assemble(sections: tuple[ArchSection, ...], opts: PrefixOptions, *, linked: bool) -> bytes:
    asm = _Asm()
    asm.op(_LD_W_ABS, _OFF_ARCH)
    for i, sec in enumerate(sections):
        nxt = asm.fresh("arch")
        little = bool(sec.token & _AUDIT_ARCH_LE)
        asm.op(_JMP_JEQ_K, sec.token, jf=nxt)
        asm.op(_LD_W_ABS, _OFF_NR)
        lib = f"lib{i}" if linked else "lib"
        x32_label = asm.fresh("x32")
        if sec.x32 is not None:
            asm.op(_JMP_JSET_K, X32_SYSCALL_BIT, jt=x32_label)
        elif sec.x32_bit_kills:
            # syscall(-1) is no x32 call: the kernel answers ENOSYS and libseccomp's
            # program the default action; it is above the table, like any unknown number.
            above = "enosys" if opts.enosys_above_table else lib
            asm.op(_JMP_JEQ_K, _NR_MINUS_ONE, jt=above)
            asm.op(_JMP_JSET_K, X32_SYSCALL_BIT, jt="kill")
        _checks(asm, sec.space, opts, little=little, lib=lib)
        if sec.x32 is not None:
            asm.label(x32_label)
            _checks(asm, sec.x32, opts, little=little, lib=f"lib{i}x32" if linked else "lib")
        asm.label(nxt)
    # Any other arch: libseccomp's multi-ABI program kills it, or (linked) the prefix does.
    asm.op(_JMP_JA, jt="kill" if linked else "lib")
    asm.label("kill")
    asm.op(_RET_K, SECCOMP_RET_KILL_PROCESS)
    asm.label("enosys")
    asm.op(_RET_K, SECCOMP_RET_ERRNO | _ENOSYS)
    asm.label("eperm")
    asm.op(_RET_K, SECCOMP_RET_ERRNO | _EPERM)
    if not linked:
        asm.label("lib")
        return asm.assemble()
    for i, sec in enumerate(sections):
        asm.label(f"lib{i}")
        asm.raw(sec.program)
        if sec.x32 is not None:
            asm.label(f"lib{i}x32")
            asm.raw(sec.x32_program)
    return asm.assemble()


#: syscall(-1), as the 32-bit number the filter loads: not a syscall, never an x32 one.
_NR_MINUS_ONE = 0xFFFFFFFF
#: Audit arch token -> its TIOCSTI (asm-generic 0x5412; mips 0x5472). x32 shares x86_64's
#: ioctl numbering and must be listed too (its token is 0x4000003E). ppc's and sparc's
#: are not listed: on them only a policy's own ioctl rules decide TIOCSTI.
_TIOCSTI_BY_ARCH: dict[int, int] = dict.fromkeys(
    (0xC000003E, 0x4000003E, 0x40000003, 0xC00000B7, 0x40000028, 0xC00000F3, 0x80000016, 0x16),
    TIOCSTI,
) | dict.fromkeys((0x08, 0x40000008, 0x80000008, 0xC0000008, 0xA0000008, 0xE0000008), 0x5472)


def _space(token: int, known: int | None = None) -> NumberSpace:
    """The numbers the prefix needs on ``token``, from libseccomp's tables."""
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    s390 = {sc.ARCH_NAMES["SCMP_ARCH_S390"], sc.ARCH_NAMES["SCMP_ARCH_S390X"]}

    def nr(name: str) -> int | None:
        value = sc.resolve(name, token)
        return value if value is not None and value >= 0 else None  # <0: absent on token

    return NumberSpace(
        clone=nr("clone"),
        clone3=nr("clone3"),
        unshare=nr("unshare"),
        setns=nr("setns"),
        max_known=sc.max_syscall(token, known=known),
        clone_flags_arg=1 if token in s390 else 0,
        ioctl=nr("ioctl") if token in _TIOCSTI_BY_ARCH else None,
        tiocsti=_TIOCSTI_BY_ARCH.get(token, TIOCSTI),
    )


def arch_sections(
    native: int,
    extra: Sequence[int],
    program: Callable[[int], bytes],
    *,
    known: Callable[[int], int | None] | None = None,
) -> tuple[ArchSection, ...]:
    """One prefix section per ABI (native first), each with ``program(token)`` to link.

    ``known(token)``, asked after ``program(token)``, may name a syscall number
    libseccomp knows on ``token`` (see :func:`~hardenkit._linux.seccomp_compile.max_syscall`).

    x32 shares x86_64's audit token, so it is the x32 half of the x86_64 section; without
    it, x32 numbers in that section kill the process.

    Examples:
        >>> ret_allow = bytes.fromhex("06000000 0000ff7f")
        >>> [hex(s.token) for s in arch_sections(0xC000003E, [0x40000003], lambda t: ret_allow)]
        ['0xc000003e', '0x40000003']
    """
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    x86_64 = sc.ARCH_NAMES["SCMP_ARCH_X86_64"]
    x32 = sc.ARCH_NAMES["SCMP_ARCH_X32"]
    sections: list[ArchSection] = []

    def space(token: int) -> NumberSpace:
        return _space(token, None if known is None else known(token))

    for token in [native, *extra]:
        if token == x32:
            continue  # handled inside the x86_64 section
        code = program(token)
        if token == x86_64 and x32 in extra:
            x32_code = program(x32)
            sections.append(
                ArchSection(
                    token=token,
                    space=space(token),
                    x32=space(x32),
                    program=code,
                    x32_program=x32_code,
                )
            )
        else:
            sections.append(
                ArchSection(
                    token=token,
                    space=space(token),
                    x32_bit_kills=token == x86_64,
                    program=code,
                )
            )
    return tuple(sections)
