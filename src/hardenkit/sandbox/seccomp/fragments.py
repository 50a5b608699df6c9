"""Per-ABI fragments hardenkit writes itself: lookup table, low-word compares, mux guard.

Each is linked in front of libseccomp's program for one ABI by :mod:`.compiler`; why each
exists rather than a libseccomp rule is listed in :mod:`.bpf`.
"""

from __future__ import annotations

import struct

from hardenkit.sandbox.seccomp.asm import (
    ALU_AND_K as _ALU_AND_K,
    JMP_JA as _JMP_JA,
    JMP_JEQ_K as _JMP_JEQ_K,
    JMP_JGE_K as _JMP_JGE_K,
    JMP_JGT_K as _JMP_JGT_K,
    LD_W_ABS as _LD_W_ABS,
    MAX_JUMP as _MAX_JUMP,
    OFF_ARGS as _OFF_ARGS,
    OFF_NR as _OFF_NR,
    RET_K as _RET_K,
    U32 as _U32,
    Asm as _Asm,
)

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


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
        >>> from hardenkit.sandbox.seccomp.asm import SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO
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
        >>> from hardenkit.sandbox.seccomp.asm import SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO
        >>> prog = build_table([(0, SECCOMP_RET_ALLOW), (1, SECCOMP_RET_ALLOW),
        ...                     (3, SECCOMP_RET_ERRNO | 1)])
        >>> len(prog) // 8  # ld nr; 3 jge; ret allow; ja out; ret errno; ja out
        8
    """
    by_nr: dict[int, int] = {}
    for nr, ret in entries:
        if by_nr.setdefault(nr, ret) != ret:
            raise ValueError("a syscall number has two different actions in the table")
    code: list[tuple[int, int, int, int] | None] = [(_LD_W_ABS, 0, 0, _OFF_NR)]
    if by_nr:
        segments = _segments(sorted(by_nr.items()))
        code += _search(segments, 0, len(segments))
    end = len(code)
    flat: list[int] = []
    for i, insn in enumerate(code):
        flat.extend(insn if insn is not None else (_JMP_JA, 0, 0, end - i - 1))
    return struct.pack("=" + "HBBI" * end, *flat)


def _segments(ordered: list[tuple[int, int]]) -> list[tuple[int, int | None]]:
    """The number line as (first number, ret or None: fall through), from 0 upwards."""
    segments: list[tuple[int, int | None]] = []
    nxt = 0  # the first number not covered yet
    last: int | None = None  # the return value of the run that ends at nxt - 1
    for nr, ret in ordered:
        if nr == nxt and last == ret and segments:
            nxt = nr + 1  # the run goes on
            continue
        if nr > nxt:
            segments.append((nxt, None))
        segments.append((nr, ret))
        nxt, last = nr + 1, ret
    if nxt <= _U32:
        segments.append((nxt, None))
    return segments


def _search(
    segments: list[tuple[int, int | None]], lo: int, hi: int
) -> list[tuple[int, int, int, int] | None]:
    """The search tree over ``segments[lo:hi]`` (None: a jump to the fragment's end, set later)."""
    if hi - lo == 1:
        ret = segments[lo][1]
        return [None] if ret is None else [(_RET_K, 0, 0, ret)]
    mid = lo + (hi - lo) // 2
    lower, upper = _search(segments, lo, mid), _search(segments, mid, hi)
    pivot = segments[mid][0]
    if len(lower) <= _MAX_JUMP:  # >= pivot: jump over the lower half
        lower.insert(0, (_JMP_JGE_K, len(lower), 0, pivot))
    else:
        lower[:0] = [(_JMP_JGE_K, 0, 1, pivot), (_JMP_JA, 0, 0, len(lower))]
    lower += upper
    return lower


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
        >>> from hardenkit.sandbox.seccomp.asm import SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO
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
