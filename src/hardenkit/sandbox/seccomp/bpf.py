"""A hand-written classic BPF prefix placed in front of libseccomp's program.

libseccomp cannot say "every number above the table", "any of these flag bits" or "the
x32 half of the x86_64 number space" in the way hardenkit needs, so those checks run
first, here, and everything else falls through to libseccomp's program unchanged (BPF
jumps are relative and forward-only, so prepending never disturbs it). Per known arch:

- x86_64 numbers with the x32 bit: the x32 section when the policy allows x32, otherwise
  kill the process (an x32 syscall must never bypass a native filter);
- clone3 -> ENOSYS (its flags sit behind a pointer seccomp cannot read; libc falls back
  to clone, whose flags it can);
- with namespace blocking: setns -> EPERM, unshare/clone with any CLONE_NEW* bit -> EPERM;
- numbers above libseccomp's table -> ENOSYS, so libc's fallbacks for newer calls work.

:func:`build_filter` links one program per ABI behind this prefix (each section jumps to
its own program; any other arch is killed here), because libseccomp's export time grows
faster than linearly with the ABIs in one filter. On x86_64 and x32 (no multiplexed
syscalls) a program is :func:`build_table`'s lookup of the unconditional rules followed by
libseccomp's program for the conditional ones; other ABIs are all libseccomp. The
decisions are those of one multi-ABI libseccomp filter (the unit tests run both).
"""

from __future__ import annotations

import struct

from hardenkit.sandbox.seccomp.rules import Record

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# Classic BPF opcodes (linux/bpf_common.h).
_LD_W_ABS = 0x20
_JMP_JA = 0x05
_JMP_JEQ_K = 0x15
_JMP_JGT_K = 0x25
_JMP_JGE_K = 0x35
_JMP_JSET_K = 0x45
_ALU_AND_K = 0x54
_RET_K = 0x06

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
_ENOSYS = 38
_EPERM = 1

_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARGS = 16
_AUDIT_ARCH_LE = 0x40000000

#: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (Docker's mask), for clone.
CLONE_NS_MASK = 0x7E020000
#: The same plus CLONE_NEWTIME (only unshare and clone3 take it; in clone it is CSIGNAL).
UNSHARE_NS_MASK = CLONE_NS_MASK | 0x00000080
X32_SYSCALL_BIT = 0x40000000
#: ioctl(2) command that fakes terminal input (asm-generic; x86, arm, riscv, s390...).
TIOCSTI = 0x5412
_MAX_JUMP = 0xFF  # conditional jump offsets are 8 bits
_U32 = 0xFFFFFFFF
_INSN = 8  # sizeof(struct sock_filter)


class NumberSpace(Record):
    """The syscall numbers the prefix needs for one ABI (None: absent on that ABI)."""

    __slots__ = ("clone", "clone3", "clone_flags_arg", "ioctl", "max_known", "setns", "unshare")
    clone: int | None
    clone3: int | None
    unshare: int | None
    setns: int | None
    max_known: int
    clone_flags_arg: int
    ioctl: int | None

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
    ) -> None:
        init = object.__setattr__
        init(self, "clone", clone)
        init(self, "clone3", clone3)
        init(self, "unshare", unshare)
        init(self, "setns", setns)
        init(self, "max_known", max_known)
        init(self, "clone_flags_arg", clone_flags_arg)
        init(self, "ioctl", ioctl)


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


class _Asm:
    """A tiny assembler with forward labels."""

    def __init__(self) -> None:
        self.code: list[tuple[int, str | int, str | int, int] | bytes] = []
        self.labels: dict[str, int] = {}
        self.pos = 0  # instructions so far (a raw program counts all of its own)
        self._n = 0

    def fresh(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def label(self, name: str) -> None:
        self.labels[name] = self.pos

    def op(self, code: int, k: int = 0, jt: str | int = 0, jf: str | int = 0) -> None:
        self.code.append((code, jt, jf, k))
        self.pos += 1

    def raw(self, program: bytes) -> None:
        """Append an already assembled program (its jumps are relative: position-free)."""
        if not program or len(program) % _INSN:
            raise ValueError("a linked BPF program is a non-empty multiple of 8 bytes")
        self.code.append(program)
        self.pos += len(program) // _INSN

    def assemble(self) -> bytes:
        out = bytearray()
        i = 0
        for insn in self.code:
            if isinstance(insn, bytes):
                out += insn
                i += len(insn) // _INSN
                continue
            code, jt, jf, k = insn
            if code == _JMP_JA:
                assert isinstance(jt, str)  # noqa: S101 -- internal invariant
                k = self.labels[jt] - i - 1
                jt_off = jf_off = 0
            else:
                jt_off = self.labels[jt] - i - 1 if isinstance(jt, str) else jt
                jf_off = self.labels[jf] - i - 1 if isinstance(jf, str) else jf
            if not (0 <= jt_off <= _MAX_JUMP and 0 <= jf_off <= _MAX_JUMP and k >= 0):
                raise ValueError("BPF prefix jump out of range")
            out += struct.pack("=HBBI", code, jt_off, jf_off, k & 0xFFFFFFFF)
            i += 1
        return bytes(out)


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
        asm.op(_JMP_JEQ_K, TIOCSTI, jt="eperm")
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
        x32_label = asm.fresh("x32")
        if sec.x32 is not None:
            asm.op(_JMP_JSET_K, X32_SYSCALL_BIT, jt=x32_label)
        elif sec.x32_bit_kills:
            asm.op(_JMP_JSET_K, X32_SYSCALL_BIT, jt="kill")
        _checks(asm, sec.space, opts, little=little, lib=f"lib{i}" if linked else "lib")
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


#: Audit arch tokens whose TIOCSTI is 0x5412 (mips, ppc, sparc, alpha number it otherwise).
_TIOCSTI_5412 = frozenset(
    {0xC000003E, 0x40000003, 0xC00000B7, 0x40000028, 0xC00000F3, 0x80000016, 0x00000016}
)


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
        ioctl=nr("ioctl") if token in _TIOCSTI_5412 else None,
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


#: Sub-call numbers of the multiplexers (linux/net.h SYS_*, linux/ipc.h), by the names a
#: policy uses. ``send``/``recv`` are ``sendto``/``recvfrom`` in the kernel, ``SEMOP`` is
#: ``semtimedop`` without a timeout, so each name covers the sub-calls that run it.
SOCKETCALL_SUBCALLS: dict[str, tuple[int, ...]] = {
    "socket": (1,),
    "bind": (2,),
    "connect": (3,),
    "listen": (4,),
    "accept": (5,),
    "getsockname": (6,),
    "getpeername": (7,),
    "socketpair": (8,),
    "send": (9,),
    "recv": (10,),
    "sendto": (9, 11),
    "recvfrom": (10, 12),
    "shutdown": (13,),
    "setsockopt": (14,),
    "getsockopt": (15,),
    "sendmsg": (16,),
    "recvmsg": (17,),
    "accept4": (18,),
    "recvmmsg": (19,),
    "sendmmsg": (20,),
}
IPC_SUBCALLS: dict[str, tuple[int, ...]] = {
    "semop": (1, 4),
    "semget": (2,),
    "semctl": (3,),
    "semtimedop": (1, 4),
    "msgsnd": (11,),
    "msgrcv": (12,),
    "msgget": (13,),
    "msgctl": (14,),
    "shmat": (21,),
    "shmdt": (22,),
    "shmget": (23,),
    "shmctl": (24,),
}


def build_mux_guard(
    muxes: Sequence[tuple[int, int, Sequence[tuple[int, int]]]], *, little: bool
) -> bytes:
    """Return a fragment deciding multiplexed sub-calls (``socketcall``, ``ipc``) itself.

    ``muxes`` holds ``(multiplexer number, call mask, ((sub-call, ret), ...))``: the
    fragment loads the syscall number, and for a listed multiplexer compares the low
    word of argument 0 (masked: ``ipc`` keeps a version in the high half) with each
    sub-call, returning its ``ret``; anything else continues at the instruction after
    it. On ABIs with ``socketcall``/``ipc`` (i386, s390, ppc...) the arguments of the
    multiplexed call sit in memory the filter cannot read, and libseccomp turns a rule
    such as "allow ``socket`` when argument 0 is AF_UNIX" into "allow ``socketcall``
    with call SYS_SOCKET": for any family. The guard gives such a sub-call the decision
    the policy makes without its arguments, which is only ever a refusal.

    Examples:
        >>> prog = build_mux_guard([(102, 0xFFFFFFFF, [(1, SECCOMP_RET_ERRNO | 1)])],
        ...                        little=True)
        >>> len(prog) // 8  # ld nr; jeq 102; ja out; ld arg0; jeq 1; ja out; ret errno
        7
    """
    asm = _Asm()
    asm.op(_LD_W_ABS, _OFF_NR)
    labels = []
    for nr, mask, subs in muxes:
        if subs:
            label = asm.fresh("mux")
            labels.append((label, mask, subs))
            asm.op(_JMP_JEQ_K, nr, jt=label)
    asm.op(_JMP_JA, jt="out")
    for label, mask, subs in labels:
        asm.label(label)
        asm.op(_LD_W_ABS, _OFF_ARGS + (0 if little else 4))
        if mask != 0xFFFFFFFF:  # noqa: PLR2004 -- the whole word
            asm.op(_ALU_AND_K, mask)
        rets = {ret: asm.fresh("ret") for ret in dict.fromkeys(ret for _sub, ret in subs)}
        for sub, ret in subs:
            asm.op(_JMP_JEQ_K, sub, jt=rets[ret])
        asm.op(_JMP_JA, jt="out")
        for ret, ret_label in rets.items():
            asm.label(ret_label)
            asm.op(_RET_K, ret)
    asm.label("out")
    return asm.assemble()


def build_table(entries: Sequence[tuple[int, int]]) -> bytes:
    """Return a lookup of syscall numbers to filter return values, as a BPF fragment.

    The fragment loads the syscall number, returns ``ret`` for each listed ``nr`` and
    otherwise continues at the instruction after it (libseccomp's program for the same
    ABI, holding the conditional rules and the default). Consecutive numbers with one
    action are one interval (the Docker profile's ~340 x86_64 entries are 18 runs), found
    by a binary search of ``JGE`` on the interval bounds: about three instructions per
    interval, a logarithmic walk, and numbers the table does not list (gaps, numbers
    libseccomp does not know) always fall through. The kernel's action cache still proves
    allowed numbers constant, as every jump depends on the number alone.

    Examples:
        >>> prog = build_table([(0, SECCOMP_RET_ALLOW), (1, SECCOMP_RET_ALLOW),
        ...                     (3, SECCOMP_RET_ERRNO | 1)])
        >>> len(prog) // 8  # ld nr; 3 jge; ret allow; ja out; ret errno; ja out
        8
    """
    ordered = sorted(set(entries))
    if len({nr for nr, _ in ordered}) != len(ordered):
        raise ValueError("a syscall number has two different actions in the table")
    code: list[tuple[int, int, int, int] | None] = [(_LD_W_ABS, 0, 0, _OFF_NR)]
    if ordered:
        code += _search(_segments(ordered))
    end = len(code)
    flat: list[int] = []
    for i, insn in enumerate(code):
        flat.extend(insn if insn is not None else (_JMP_JA, 0, 0, end - i - 1))
    return struct.pack("=" + "HBBI" * end, *flat)


def _segments(ordered: list[tuple[int, int]]) -> list[tuple[int, int | None]]:
    """The number line as (first number, ret or None: fall through), from 0 upwards."""
    segments: list[tuple[int, int | None]] = []
    nxt = 0  # the first number not covered yet
    for nr, ret in ordered:
        if segments and nr == nxt and segments[-1][1] == ret:
            nxt = nr + 1  # the run goes on
            continue
        if nr > nxt:
            segments.append((nxt, None))
        segments.append((nr, ret))
        nxt = nr + 1
    if nxt <= _U32:
        segments.append((nxt, None))
    return segments


def _search(segments: list[tuple[int, int | None]]) -> list[tuple[int, int, int, int] | None]:
    """The search tree over ``segments`` (None: a jump to the fragment's end, set later)."""
    if len(segments) == 1:
        ret = segments[0][1]
        return [None] if ret is None else [(_RET_K, 0, 0, ret)]
    mid = len(segments) // 2
    lower, upper = _search(segments[:mid]), _search(segments[mid:])
    pivot = segments[mid][0]
    if len(lower) <= _MAX_JUMP:  # >= pivot: jump over the lower half
        return [(_JMP_JGE_K, len(lower), 0, pivot), *lower, *upper]
    return [(_JMP_JGE_K, 0, 1, pivot), (_JMP_JA, 0, 0, len(lower)), *lower, *upper]


# libseccomp's enum scmp_compare, as the policy's conditions carry it.
_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ = 1, 2, 3, 4, 5, 6, 7
#: op -> (jump opcode, whether the condition holds on the jump's true branch).
_COMPARE = {
    _EQ: (_JMP_JEQ_K, True),
    _NE: (_JMP_JEQ_K, False),
    _GT: (_JMP_JGT_K, True),
    _LE: (_JMP_JGT_K, False),
    _GE: (_JMP_JGE_K, True),
    _LT: (_JMP_JGE_K, False),
    _MASKED_EQ: (_JMP_JEQ_K, True),
}


def build_low_word(
    calls: Sequence[tuple[int, int, Sequence[Sequence[tuple[int, int, int, int, int]]]]],
    *,
    little: bool,
) -> bytes:
    """Return a fragment deciding syscalls by comparing the low word of their arguments.

    ``calls`` holds ``(syscall number, ret, rules)``; each rule is a tuple of conditions
    ``(index, op, a, b, bits)`` that must all hold (libseccomp's ops; ``masked_eq`` has
    mask ``a`` and value ``b``; ``bits`` is 32 or 16). When a rule holds the fragment
    returns ``ret``; a listed call no rule matches, and any other number, continue at
    the instruction after it. Each condition loads the argument's low 32-bit word (the
    kernel's ``int``/``unsigned int`` cast) and, for 16 bits, masks it. libseccomp always
    compares 64 bits on a 64-bit ABI, so a range on the low word alone ("socket family
    above 40") is up to 32 masked equalities per side there; here it is one jump.

    Examples:
        >>> gt40 = ((0, _GT, 40, 0, 32),)  # socket(family > 40)
        >>> prog = build_low_word([(41, SECCOMP_RET_ALLOW, (gt40,))], little=True)
        >>> len(prog) // 8  # ld nr; jeq; ja; ja out; ld arg0; jgt; ret; ja out
        8
    """
    asm = _Asm()
    asm.op(_LD_W_ABS, _OFF_NR)
    blocks = []
    for nr, ret, rules in calls:
        label = asm.fresh("call")
        blocks.append((label, ret, rules))
        asm.op(_JMP_JEQ_K, nr, jt=0, jf=1)
        asm.op(_JMP_JA, jt=label)
    asm.op(_JMP_JA, jt="out")
    for label, ret, rules in blocks:
        asm.label(label)
        for rule in rules:
            fail = asm.fresh("fail")
            for index, op, a, b, bits in rule:
                asm.op(_LD_W_ABS, _OFF_ARGS + 8 * index + (0 if little else 4))
                mask = (a if op == _MASKED_EQ else 0xFFFFFFFF) & ((1 << bits) - 1)
                if mask != 0xFFFFFFFF:  # noqa: PLR2004 -- the whole word
                    asm.op(_ALU_AND_K, mask)
                code, holds_on_true = _COMPARE[op]
                k = b if op == _MASKED_EQ else a
                if holds_on_true:
                    asm.op(code, k, jt=0, jf=fail)
                else:
                    asm.op(code, k, jt=fail, jf=0)
            asm.op(_RET_K, ret)
            asm.label(fail)
        asm.op(_JMP_JA, jt="out")
    asm.label("out")
    return asm.assemble()
