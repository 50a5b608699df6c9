"""A classic-BPF interpreter for seccomp programs: what a filter answers, without loading it.

Two ways to ask. :func:`run` executes a program on one concrete ``seccomp_data`` (the
kernel's view of one syscall), as the kernel would. :func:`outcomes` answers for a whole
family of calls at once: the syscall number and arch are fixed, arguments not given are
unknown, and every jump that depends on an unknown value is followed both ways. The result
is every return value some argument values may reach (None for ``RET A`` of an unknown A),
a superset of the truth: a syscall is only called blocked when no path allows it.

Both accept the whole instruction set the kernel's seccomp checker accepts (loads of
``seccomp_data`` words, immediates, scratch memory, ALU, jumps, ``RET``, ``TAX``/``TXA``).
The audit (hardenkit.audit) reads a process's filters with ptrace and judges them here; the
seccomp tests use :func:`run` to check compiled programs against libseccomp's.

Examples:
    >>> allow = bytes([6, 0, 0, 0, 0, 0, 0xFF, 0x7F])
    >>> hex(run(allow, nr=0, arch=0xC000003E))
    '0x7fff0000'
"""

from __future__ import annotations

import functools
import struct

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

#: seccomp return actions (linux/seccomp.h), and the mask of the action part.
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000
RET_ACTION_FULL = 0xFFFF0000
#: Actions under which the syscall may run (a tracer or a supervisor may let it through).
PASSING = frozenset({RET_ALLOW, RET_LOG, RET_TRACE, RET_USER_NOTIF})

_DATA_SIZE = 64  # sizeof(struct seccomp_data)
_OFF_ARGS = 16
_MASK = 0xFFFFFFFF
_MEMWORDS = 16

# Instruction classes and fields (linux/bpf_common.h).
_LD, _LDX, _ST, _STX, _ALU, _JMP, _RET, _MISC = range(8)
_W, _IMM, _ABS, _MEM, _LEN = 0x00, 0x00, 0x20, 0x60, 0x80
_K, _X, _A = 0x00, 0x08, 0x10


@functools.lru_cache(maxsize=256)
def decode(program: bytes) -> tuple[tuple[int, int, int, int], ...]:
    """Split a program into (code, jt, jf, k) instructions (host byte order, like the kernel).

    Examples:
        >>> decode(bytes([6, 0, 0, 0, 0, 0, 0xFF, 0x7F]))
        ((6, 0, 0, 2147418112),)
    """
    if not program or len(program) % 8:
        raise ValueError("a BPF program is a non-empty multiple of 8 bytes")
    return tuple(struct.iter_unpack("=HBBI", program))


def seccomp_data(nr: int, arch: int, args: Sequence[int] = (), ip: int = 0) -> bytes:
    """Pack one ``struct seccomp_data`` (nr, arch, instruction pointer, six arguments).

    Examples:
        >>> len(seccomp_data(0, 0xC000003E, (1, 2)))
        64
    """
    full = (*args, *(0,) * (6 - len(args)))
    return struct.pack("=iIQ6Q", nr, arch, ip, *full)


def action(ret: int) -> int:
    """The action part of a return value (SECCOMP_RET_ACTION_FULL).

    Examples:
        >>> hex(action(0x00050001))
        '0x50000'
    """
    return ret & RET_ACTION_FULL


def strongest(rets: Sequence[int]) -> int:
    """Of several filters' answers, the one the kernel acts on (lowest action as s32).

    Examples:
        >>> hex(strongest([RET_ALLOW, RET_ERRNO | 1, RET_LOG]))
        '0x50001'
    """

    def rank(ret: int) -> int:
        a = action(ret)
        return a - (1 << 32) if a & 0x80000000 else a

    return min(rets, key=rank)


_ALU_OPS: dict[int, Callable[[int, int], int]] = {
    0x00: lambda a, b: (a + b) & _MASK,
    0x10: lambda a, b: (a - b) & _MASK,
    0x20: lambda a, b: (a * b) & _MASK,
    0x30: lambda a, b: a // b if b else 0,
    0x40: lambda a, b: a | b,
    0x50: lambda a, b: a & b,
    0x60: lambda a, b: (a << (b & 31)) & _MASK,
    0x70: lambda a, b: a >> (b & 31),
    0x80: lambda a, _b: (-a) & _MASK,
    0x90: lambda a, b: a % b if b else 0,
    0xA0: lambda a, b: a ^ b,
}
_JUMPS: dict[int, Callable[[int, int], bool]] = {
    0x10: lambda a, b: a == b,
    0x20: lambda a, b: a > b,
    0x30: lambda a, b: a >= b,
    0x40: lambda a, b: bool(a & b),
}


def _alu(op: int, a: int, operand: int) -> int:
    try:
        return _ALU_OPS[op](a, operand)
    except KeyError:
        raise ValueError(f"ALU operation {op:#x} is not classic BPF") from None


def _jump(op: int, a: int, operand: int) -> bool:
    try:
        return _JUMPS[op](a, operand)
    except KeyError:
        raise ValueError(f"jump operation {op:#x} is not classic BPF") from None


def run(  # noqa: C901, PLR0912 -- an interpreter is one dispatch loop
    program: bytes, *, nr: int, arch: int, args: Sequence[int] = (), ip: int = 0
) -> int:
    """Run a seccomp program on one syscall and return what it returns, as the kernel would.

    Examples:
        >>> from hardenkit.sandbox import SeccompPolicy
        >>> prog = SeccompPolicy(default="allow", deny=["ptrace"]).to_bpf()
        >>> hex(run(prog, nr=101, arch=0xC000003E))  # ptrace on x86_64
        '0x50001'
    """
    data = seccomp_data(nr, arch, args, ip)
    insns = decode(program)
    a = x = pc = 0
    mem = [0] * _MEMWORDS
    while True:
        if pc >= len(insns):
            raise ValueError("the program runs past its end")
        code, jt, jf, k = insns[pc]
        pc += 1
        cls = code & 0x07
        if cls == _RET:
            return a if code & 0x18 == _A else k
        if cls == _LD:
            mode = code & 0xE0
            if mode == _ABS:
                a = _word(data, k)
            elif mode == _IMM:
                a = k
            elif mode == _MEM:
                a = mem[k]
            elif mode == _LEN:
                a = _DATA_SIZE
            else:
                raise ValueError(f"load mode {mode:#x} is not allowed in seccomp")
        elif cls == _LDX:
            mode = code & 0xE0
            x = k if mode == _IMM else mem[k] if mode == _MEM else _DATA_SIZE
        elif cls == _ST:
            mem[k] = a
        elif cls == _STX:
            mem[k] = x
        elif cls == _ALU:
            a = _alu(code & 0xF0, a, x if code & _X else k)
        elif cls == _JMP:
            op = code & 0xF0
            if op == 0x00:
                pc += k
            else:
                pc += jt if _jump(op, a, x if code & _X else k) else jf
        elif code & 0xF8 == 0:  # TAX
            x = a
        else:  # TXA
            a = x


def _word(data: bytes, k: int) -> int:
    if k % 4 or k + 4 > _DATA_SIZE:
        raise ValueError(f"load at offset {k} is outside seccomp_data")
    return int.from_bytes(data[k : k + 4], "little" if struct.pack("=H", 1)[0] else "big")


def outcomes(
    program: bytes,
    *,
    nr: int,
    arch: int,
    args: Mapping[int, int] | None = None,
) -> frozenset[int | None]:
    """Every value the program may return for syscall ``nr`` on ``arch``.

    Arguments not fixed in ``args`` (index -> value) and the instruction pointer may be
    anything.

    A superset of the truth (both sides of every jump on an unknown value are followed),
    so "no path passes" proves a call blocked. None stands for ``RET A`` of an unknown A.

    Examples:
        >>> from hardenkit.sandbox import SeccompPolicy
        >>> prog = SeccompPolicy(default="allow").with_namespace_block().to_bpf()
        >>> sorted(hex(r) for r in outcomes(prog, nr=272, arch=0xC000003E))  # unshare(?)
        ['0x50001', '0x7fff0000']
        >>> [hex(r) for r in outcomes(prog, nr=272, arch=0xC000003E, args={0: 0x10000000})]
        ['0x50001']
    """
    known: dict[int, int] = {0: nr & _MASK, 4: arch & _MASK}
    for index, value in (args or {}).items():
        known[_OFF_ARGS + 8 * index] = value & _MASK
        known[_OFF_ARGS + 8 * index + 4] = (value >> 32) & _MASK
    if struct.pack("=H", 1)[0] == 0:  # big-endian: the high half comes first
        known = {(off ^ 4 if off >= 8 else off): v for off, v in known.items()}  # noqa: PLR2004
    return _explore(program, tuple(sorted(known.items())))


@functools.lru_cache(maxsize=8192)
def _explore(  # noqa: C901, PLR0912, PLR0915 -- the dispatch loop, forking on unknowns
    program: bytes, known_items: tuple[tuple[int, int], ...]
) -> frozenset[int | None]:
    insns = decode(program)  # keyed by bytes: their hash is cached, a tuple's is not
    known = dict(known_items)
    found: set[int | None] = set()
    Value = int | None  # noqa: N806 -- a local alias for readability
    start: tuple[int, Value, Value, tuple[Value, ...]] = (0, 0, 0, (0,) * _MEMWORDS)
    stack = [start]
    seen = {start}
    while stack:
        pc, a, x, mem = stack.pop()
        while True:
            if pc >= len(insns):
                raise ValueError("the program runs past its end")
            code, jt, jf, k = insns[pc]
            pc += 1
            cls = code & 0x07
            if cls == _RET:
                found.add(a if code & 0x18 == _A else k)
                break
            if cls == _LD:
                mode = code & 0xE0
                if mode == _ABS:
                    if k % 4 or k + 4 > _DATA_SIZE:
                        raise ValueError(f"load at offset {k} is outside seccomp_data")
                    a = known.get(k)
                else:
                    a = k if mode == _IMM else mem[k] if mode == _MEM else _DATA_SIZE
            elif cls == _LDX:
                mode = code & 0xE0
                x = k if mode == _IMM else mem[k] if mode == _MEM else _DATA_SIZE
            elif cls in (_ST, _STX):
                mem = (*mem[:k], a if cls == _ST else x, *mem[k + 1 :])
            elif cls == _ALU:
                operand = x if code & _X else k
                a = None if a is None or operand is None else _alu(code & 0xF0, a, operand)
            elif cls == _JMP:
                op = code & 0xF0
                if op == 0x00:
                    pc += k
                    continue
                operand = x if code & _X else k
                if a is not None and operand is not None:
                    pc += jt if _jump(op, a, operand) else jf
                    continue
                other = (pc + jf, a, x, mem)
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
                pc += jt
            elif code & 0xF8 == 0:
                x = a
            else:
                a = x
    return frozenset(found)


def may_pass(rets: frozenset[int | None]) -> bool:
    """Tell whether any of these return values lets the syscall run (None: it may).

    Examples:
        >>> may_pass(frozenset({RET_ERRNO | 1})), may_pass(frozenset({RET_ERRNO, RET_LOG}))
        (False, True)
    """
    return any(r is None or action(r) in PASSING for r in rets)
