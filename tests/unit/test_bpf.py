"""The classic-BPF interpreter (hardenkit._linux.bpf) against libseccomp's own answers.

libseccomp compiles random rule sets (each rule: a syscall, an action and maybe one
argument comparison, of every operator libseccomp has); the interpreter must answer, for
random calls, what the rule set says: the matching rule's action, else the default. The
symbolic :func:`bpf.outcomes` must always include what :func:`bpf.run` returns, and be
exactly that when every argument is fixed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings, strategies as st

from hardenkit._linux import bpf, seccomp_compile as sc

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = [pytest.mark.linux, pytest.mark.seccomp]

ALLOW, LOG, TRAP, KILL = bpf.RET_ALLOW, bpf.RET_LOG, bpf.RET_TRAP, bpf.RET_KILL_PROCESS
#: libseccomp's scmp_compare: NE, LT, LE, EQ, GE, GT, MASKED_EQ.
OPS: dict[int, Callable[[int, int, int], bool]] = {
    1: lambda v, a, _b: v != a,
    2: lambda v, a, _b: v < a,
    3: lambda v, a, _b: v <= a,
    4: lambda v, a, _b: v == a,
    5: lambda v, a, _b: v >= a,
    6: lambda v, a, _b: v > a,
    7: lambda v, a, b: (v & a) == b,
}
NUMBERS = (0, 1, 2, 9, 16, 41, 56, 59, 101, 165, 272, 308, 435)
VALUES = st.sampled_from((0, 1, 2, 7, 0x10000000, 0xFFFFFFFF, 1 << 32, (1 << 64) - 1))
U64 = st.one_of(VALUES, st.integers(min_value=0, max_value=(1 << 64) - 1))
ACTIONS = st.sampled_from((ALLOW, LOG, TRAP, KILL, bpf.RET_ERRNO | 1, bpf.RET_ERRNO | 13))


@st.composite
def rule_sets(
    draw: st.DrawFn,
) -> tuple[int, list[tuple[int, int, tuple[tuple[int, int, int, int], ...]]]]:
    default = draw(st.sampled_from((ALLOW, bpf.RET_ERRNO | 38, KILL)))
    nrs = draw(st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=6, unique=True))
    rules: list[sc.Rule] = []
    for nr in nrs:
        action = draw(ACTIONS)
        if action == default:
            continue
        if draw(st.booleans()):
            op = draw(st.sampled_from(sorted(OPS)))
            index, datum, other = draw(st.integers(0, 5)), draw(U64), draw(U64)
            cond = (index, op, datum, other & datum if op == 7 else 0)
            rules.append((action, nr, (cond,)))
        else:
            rules.append((action, nr, ()))
    return default, rules


def _expected(default: int, rules: list[Any], nr: int, args: tuple[int, ...]) -> int:
    for action, rule_nr, conds in rules:
        if rule_nr != nr:
            continue
        if all(OPS[op](args[i], a, b) for i, op, a, b in conds):
            return int(action)
    return default


@settings(max_examples=120, deadline=None)
@given(
    spec=rule_sets(),
    nr=st.sampled_from((*NUMBERS, 3, 500)),
    args=st.lists(U64, min_size=6, max_size=6),
    optimize=st.sampled_from((1, 2)),
)
def test_interpreter_answers_what_libseccomp_compiled(
    spec: tuple[int, list[Any]], nr: int, args: list[int], optimize: int
) -> None:
    default, rules = spec
    # A condition's own datum is the interesting argument value: use it sometimes.
    for index, _op, datum, _b in (c for _a, r, cs in rules if r == nr for c in cs):
        args[index] = datum
    prog = sc.compile_bpf(
        default_action=default, badarch_action=KILL, rules=rules, optimize=optimize
    )
    native = sc.native_arch()
    got = bpf.run(prog, nr=nr, arch=native, args=args)
    assert got == _expected(default, rules, nr, tuple(args))
    assert bpf.run(prog, nr=nr, arch=native ^ 0x80000000, args=args) == KILL  # other arch
    fixed = dict(enumerate(args))
    assert bpf.outcomes(prog, nr=nr, arch=native, args=fixed) == {got}
    assert got in bpf.outcomes(prog, nr=nr, arch=native)


def test_outcomes_proves_blocked_only_when_no_argument_passes() -> None:
    mount = sc.resolve("mount") or 0
    prog = sc.compile_bpf(
        default_action=bpf.RET_ERRNO | 1,
        badarch_action=KILL,
        rules=[(ALLOW, mount, ((3, 4, 0x1234, 0),))],  # only with arg3 == 0x1234
    )
    native = sc.native_arch()
    assert bpf.run(prog, nr=mount, arch=native) == bpf.RET_ERRNO | 1
    assert bpf.may_pass(bpf.outcomes(prog, nr=mount, arch=native))  # some argument passes
    assert not bpf.may_pass(bpf.outcomes(prog, nr=mount, arch=native, args={3: 7}))


def test_every_classic_instruction_runs() -> None:
    def insn(code: int, k: int = 0, jt: int = 0, jf: int = 0) -> bytes:
        return code.to_bytes(2, "little") + bytes([jt, jf]) + k.to_bytes(4, "little")

    # Loads nr, copies it through X and scratch memory, runs every ALU operation on A,
    # reloads the copy and returns it when it still equals X.
    prog = b"".join(
        (
            insn(0x20, 0),
            insn(0x07),
            insn(0x03, 0),
            insn(0x00, 5),
            insn(0x0C),
            insn(0x24, 2),
            insn(0x14, 1),
            insn(0xA4, 1),
            insn(0x74, 1),
            insn(0x64, 1),
            insn(0x44, 0x100),
            insn(0x54, 0x1FF),
            insn(0x94, 7),
            insn(0x84),
            insn(0x60, 0),
            insn(0x1D, 0, 0, 1),
            insn(0x16),
            insn(0x06, 0),
        )
    )
    assert bpf.run(prog, nr=42, arch=0) == 42
    assert bpf.outcomes(prog, nr=42, arch=0) == {42}
    with pytest.raises(ValueError, match="multiple of 8"):
        bpf.decode(b"\x06")
