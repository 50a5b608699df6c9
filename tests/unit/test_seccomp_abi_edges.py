"""Loaded filters against the policy's meaning, at the edges an adversarial review found.

i386's 16-bit id calls (``setuid`` is ``sys_setuid16`` there), ioctl(TIOCSTI) on x32,
``syscall(-1)``, arguments declared ``long`` that the kernel truncates (ptrace's pid,
mmap's fd, fcntl's arg) and the rule sets libseccomp 2.5 compiles wrongly. Programs are
run by hardenkit's classic-BPF interpreter; the oracle evaluates the policy directly
(strongest matching action, compared on the bits the kernel reads). The kernel-side
attacks are in tests/integration/test_seccomp_abi_edges.py.
"""

from __future__ import annotations

import errno
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hardenkit._linux import bpf, seccomp_compile as sc
from hardenkit.errors import PolicyError, SandboxError
from hardenkit.sandbox import SeccompPolicy
from hardenkit.sandbox.seccomp import ArgCondition, SyscallRule
from hardenkit.sandbox.seccomp.argwidth import UID16, uid16_conditions, width
from hardenkit.sandbox.seccomp.rules import ret as ret_value

pytestmark = [pytest.mark.linux, pytest.mark.seccomp]

X86_64, I386, ARM = 0xC000003E, 0x40000003, 0x40000028
X32_TOKEN = 0x4000003E
ALLOW = 0x7FFF0000
KILL = 0x80000000
MARK = 0x50000 | errno.EHOSTDOWN
EPERM = 0x50000 | errno.EPERM
ENOSYS = 0x50000 | errno.ENOSYS
TIOCSTI = 0x5412
U32, U64 = (1 << 32) - 1, (1 << 64) - 1
_OPS = {"ne": 1, "lt": 2, "le": 3, "eq": 4, "ge": 5, "gt": 6, "masked_eq": 7}


def _nr(name: str, arch: int) -> int:
    nr = sc.resolve(name, arch)
    assert nr is not None
    assert nr >= 0
    return nr


def _run(prog: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    return bpf.run(prog, nr=nr, arch=arch, args=args)


def _holds(op: str, value: int, mask: int | None, v: int, bits: int) -> bool:
    low = (1 << bits) - 1
    v &= low
    if op == "masked_eq":
        assert mask is not None
        return v & mask & low == value & low
    k = value & low
    return {"eq": v == k, "ne": v != k, "lt": v < k, "le": v <= k, "gt": v > k, "ge": v >= k}[op]


# --- F1: i386's 16-bit id calls -----------------------------------------------------------


def _uid16_id(low16: int) -> int:
    """low2highuid: the 32-bit id the kernel uses for a 16-bit one."""
    return U32 if low16 == 0xFFFF else low16


_UID16_CASES = [
    (op, value, None)
    for op in ("eq", "ne", "lt", "le", "gt", "ge")
    for value in (0, 1, 999, 1000, 0xFFFE, 0xFFFF, 0x10000, 70000, U32 - 1, U32, U64)
] + [
    ("masked_eq", value & mask, mask)
    for mask in (0, 1, 0xFF, 0xFFFF, 0x1FFFF, 0xFFFF0000, U32, 0xFFFFFFFE)
    for value in (0, 1, 0xFFFF, 0x10000, U32)
]


@pytest.mark.parametrize(("op", "value", "mask"), _UID16_CASES)
def test_uid16_conditions_hold_exactly_on_the_id_the_kernel_uses(
    op: str, value: int, mask: int | None
) -> None:
    raw_a, raw_b = (mask, value) if op == "masked_eq" else (value, 0)
    assert raw_a is not None
    conds = uid16_conditions(_OPS[op], raw_a, raw_b, what="setuid")
    rev = {v: k for k, v in _OPS.items()}
    for low16 in [*range(0, 0x10000, 97), 0, 1, 999, 1000, 0xFFFE, 0xFFFF]:
        want = _holds(op, value, mask, _uid16_id(low16), 32)
        got = conds is not None and all(
            _holds(rev[o], b if o == 7 else a, a if o == 7 else None, low16, 16)
            for o, a, b in conds
        )
        assert got == want, (op, hex(value), mask, hex(low16), conds)


def _uid16_calls() -> list[tuple[str, int]]:
    return sorted((name, index) for name, indexes in UID16.items() for index in indexes)


@pytest.mark.parametrize("arch_name", ["SCMP_ARCH_X86", "SCMP_ARCH_ARM"])
@pytest.mark.parametrize(("name", "index"), _uid16_calls())
def test_16_bit_id_calls_compare_the_id_the_kernel_uses(
    arch_name: str, name: str, index: int
) -> None:
    """``setuid(0x10000)`` on i386 is setuid16(0): root, so "lt 1000" must refuse it."""
    arch = sc.ARCH_NAMES[arch_name]
    cond = ArgCondition(index=index, op="lt", value=1000)
    rule = SyscallRule(names=name, action="errno", errno=errno.EHOSTDOWN, args=(cond,))
    prog = SeccompPolicy(
        default="allow", rules=[rule], arches=(arch_name,), block_namespaces=False
    ).to_bpf()
    nr = _nr(name, arch)

    def at(value: int) -> int:
        return _run(prog, nr, arch, tuple(value if i == index else 0 for i in range(6)))

    assert at(0x10000) == MARK  # the high half is dropped: id 0
    assert at(0xFFFF0000 | 999) == MARK
    assert at(0x10000 | 1000) == ALLOW  # id 1000
    assert at(0xFFFF) == ALLOW  # -1: "unchanged"
    assert at(5) == MARK
    # The 32-bit calls keep comparing 32 bits, and x86_64's own call too.
    assert (
        _run(prog, _nr(name, X86_64), X86_64, tuple(0x10000 if i == index else 0 for i in range(6)))
        == ALLOW
    )


def test_16_bit_minus_one_means_unchanged() -> None:
    """``eq -1`` (uid_t)-1 matches old_uid_t 0xFFFF, and ``eq 65535`` matches nothing."""
    for value, want in ((U64, MARK), (0xFFFF, ALLOW)):
        cond = ArgCondition(index=0, op="eq", value=value)
        rule = SyscallRule(names="setuid", action="errno", errno=errno.EHOSTDOWN, args=(cond,))
        prog = SeccompPolicy(
            default="allow", rules=[rule], arches=("SCMP_ARCH_X86",), block_namespaces=False
        ).to_bpf()
        assert _run(prog, 23, I386, (0xFFFF,)) == want
        assert _run(prog, 23, I386, (0x1FFFF,)) == want


def test_16_bit_calls_with_several_actions_go_through_libseccomp_correctly() -> None:
    rules = [
        SyscallRule(
            names="setuid", action="errno", args=(ArgCondition(index=0, op="eq", value=0),)
        ),
        SyscallRule(names="setuid", action="kill", args=(ArgCondition(index=0, op="eq", value=7),)),
    ]
    prog = SeccompPolicy(
        default="allow", rules=rules, arches=("SCMP_ARCH_X86",), block_namespaces=False
    ).to_bpf()
    assert _run(prog, 23, I386, (0x10000,)) == EPERM
    assert _run(prog, 23, I386, (0x70007,)) == KILL
    assert _run(prog, 23, I386, (0x70008,)) == ALLOW


# --- F3: TIOCSTI on every arch of the prefix ----------------------------------------------


@pytest.mark.parametrize(
    "policy",
    [
        SeccompPolicy(
            default="errno", allow=["ioctl", "read"], arches=("SCMP_ARCH_X86", "SCMP_ARCH_X32")
        ),
        SeccompPolicy.docker_default(capabilities=()),
    ],
    ids=["allow-ioctl", "docker"],
)
def test_tiocsti_is_refused_on_every_abi_of_the_filter(policy: SeccompPolicy) -> None:
    prog = policy.to_bpf()
    abis = [(X86_64, _nr("ioctl", X86_64))]
    if "SCMP_ARCH_X86" in policy.arches:
        abis.append((I386, _nr("ioctl", I386)))
    if "SCMP_ARCH_X32" in policy.arches:
        abis.append((X86_64, _nr("ioctl", X32_TOKEN)))  # x32: the x86_64 token, x32 bit set
    assert len(abis) == 3
    for arch, nr in abis:
        assert _run(prog, nr, arch, (0, TIOCSTI)) == EPERM, hex(nr)
        assert _run(prog, nr, arch, (0, 1 << 32 | TIOCSTI)) == EPERM, hex(nr)
        assert _run(prog, nr, arch, (0, 0x5401)) == ALLOW, hex(nr)  # TCGETS still runs


# --- F4: syscall(-1) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("default", "want"),
    [("allow", ALLOW), ("log", 0x7FFC0000), ("errno", ENOSYS), ("kill", ENOSYS)],
)
def test_syscall_minus_one_is_not_killed_as_an_x32_call(default: str, want: int) -> None:
    """-1 is no syscall: the kernel answers ENOSYS; it was killed by the x32-bit check."""
    prog = SeccompPolicy(default=default, deny=["mount"], allow=["read"]).to_bpf()
    assert _run(prog, -1, X86_64) == want
    assert _run(prog, -2, X86_64) == KILL  # a real x32 number stays killed


# --- F5: arguments declared long that the kernel truncates --------------------------------


def _marked(name: str, index: int, op: str, value: int) -> bytes:
    cond = ArgCondition(index=index, op=op, value=value)
    rule = SyscallRule(names=name, action="errno", errno=errno.EHOSTDOWN, args=(cond,))
    return SeccompPolicy(default="allow", rules=[rule], block_namespaces=False).to_bpf()


@pytest.mark.parametrize(("name", "index"), [("ptrace", 1), ("mmap", 4)])
def test_truncated_long_arguments_are_compared_on_the_low_word(name: str, index: int) -> None:
    assert width(name, index) == 32
    prog = _marked(name, index, "eq", 4321)
    nr = _nr(name, X86_64)
    args = tuple((1 << 32 | 4321) if i == index else 0 for i in range(6))
    assert _run(prog, nr, X86_64, args) == MARK
    assert _run(prog, nr, X86_64, tuple(4322 if i == index else 0 for i in range(6))) == ALLOW


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "gt", "ge", "le"])
def test_fcntl_arg_conditions_that_depend_on_the_width_are_refused(op: str) -> None:
    with pytest.raises(PolicyError, match="fcntl argument 2"):
        _marked("fcntl", 2, op, 0o4000)


def test_fcntl_arg_masked_on_the_low_word_means_the_same_on_both_widths() -> None:
    cond = ArgCondition(index=2, op="masked_eq", mask=0o4000, value=0o4000)  # O_NONBLOCK
    rule = SyscallRule(names="fcntl", action="errno", errno=errno.EHOSTDOWN, args=(cond,))
    prog = SeccompPolicy(default="allow", rules=[rule], block_namespaces=False).to_bpf()
    assert _run(prog, 72, X86_64, (3, 4, 1 << 32 | 0o4000)) == MARK
    assert _run(prog, 72, X86_64, (3, 4, 0)) == ALLOW
    with pytest.raises(PolicyError, match="fcntl argument 2"):
        SeccompPolicy(
            default="allow",
            rules=[
                SyscallRule(
                    names="fcntl",
                    action="errno",
                    args=(ArgCondition(index=2, op="masked_eq", mask=1 << 40, value=0),),
                )
            ],
        ).to_bpf()


# --- F2: rule sets libseccomp compiles wrongly --------------------------------------------


def test_several_range_rules_on_one_call_are_refused() -> None:
    """libseccomp 2.5.4 allowed mmap(0x2000, 4096, PROT_EXEC) here; rule B alone kills."""
    a = SyscallRule(
        names="mmap", action="kill", args=(ArgCondition(index=0, op="ge", value=0x10000000),)
    )
    b = SyscallRule(
        names="mmap",
        action="kill",
        args=(
            ArgCondition(index=0, op="gt", value=0x1000),
            ArgCondition(index=2, op="masked_eq", mask=4, value=4),
        ),
    )
    with pytest.raises(PolicyError, match=r"^mmap: several rules with a range"):
        SeccompPolicy(default="allow", rules=[a, b]).to_bpf()
    for single in (a, b):  # one rule alone compiles, and decides as it says
        prog = SeccompPolicy(default="allow", rules=[single]).to_bpf()
        assert _run(prog, 9, X86_64, (0x20000000, 4096, 4)) == KILL


def test_overlapping_rules_with_different_actions_are_refused() -> None:
    rules = [
        SyscallRule(
            names="fcntl", action="allow", args=(ArgCondition(index=1, op="lt", value=40),)
        ),
        SyscallRule(
            names="fcntl", action="kill", args=(ArgCondition(index=0, op="lt", value=4096),)
        ),
    ]
    with pytest.raises(PolicyError, match=r"^fcntl: rules with different actions"):
        SeccompPolicy(default="errno", rules=rules).to_bpf()
    # Rules that exclude each other keep their own actions (Docker's socket pair).
    disjoint = [
        SyscallRule(
            names="socket", action="errno", args=(ArgCondition(index=0, op="eq", value=40),)
        ),
        SyscallRule(
            names="socket", action="allow", args=(ArgCondition(index=0, op="ne", value=40),)
        ),
    ]
    prog = SeccompPolicy(default="kill", rules=disjoint).to_bpf()
    assert _run(prog, 41, X86_64, (40,)) == EPERM
    assert _run(prog, 41, X86_64, (2,)) == ALLOW


def test_the_docker_profile_and_every_preset_still_load() -> None:
    from hardenkit.sandbox.profile import preset, preset_names  # noqa: PLC0415

    assert SeccompPolicy.docker_default().to_bpf()
    assert SeccompPolicy.docker_default(capabilities=()).to_bpf()
    names = preset_names()
    assert names
    for name in names:
        policy = preset(name).seccomp
        if policy is not None:
            assert policy.to_bpf(), name


_NR = {"mmap": 9, "mprotect": 10, "write": 1, "socket": 41, "fcntl": 72, "ptrace": 101}
_VALS = [
    0,
    1,
    2,
    3,
    4,
    40,
    41,
    0x1000,
    0x2000,
    0x7FFFFFFF,
    0x80000000,
    U32,
    1 << 32,
    (1 << 32) + 4,
    U64,
    U64 - 1,
]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_compiled_rule_sets_decide_as_the_policy_says(seed: int) -> None:
    """Generated multi-rule policies: refused, or every answer is the strongest matching
    rule's (the default when none matches), on the bits the kernel reads."""
    rnd = random.Random(seed)  # noqa: S311 -- test inputs, not secrets
    name = rnd.choice(sorted(_NR))
    rules = []
    for _ in range(rnd.randint(1, 3)):
        conds = []
        for i in rnd.sample(range(3), rnd.randint(1, 2)):
            op, bits = rnd.choice(sorted(_OPS)), width(name, i)
            v = rnd.choice([x for x in _VALS if bits == 64 or x <= U32])
            if op == "masked_eq":
                m = rnd.choice([4, 0xFF, U32 << 32, U64, 3, U32])
                conds.append(ArgCondition(index=i, op=op, mask=m, value=v & m & ((1 << bits) - 1)))
            else:
                conds.append(ArgCondition(index=i, op=op, value=v))
        rules.append(
            SyscallRule(
                names=name, action=rnd.choice(["kill", "errno", "log", "allow"]), args=tuple(conds)
            )
        )
    default = rnd.choice(["allow", "errno", "log", "kill"])
    policy = SeccompPolicy(default=default, rules=rules, block_namespaces=False)
    try:
        prog = policy.to_bpf()
    except (PolicyError, SandboxError):
        return  # refused: fail closed
    for _ in range(60):
        args = tuple(rnd.choice(_VALS) for _ in range(6))
        matched = [
            ret_value(r.action, policy.errno)
            for r in rules
            if all(
                _holds(c.op, c.value, c.mask, args[c.index], width(name, c.index)) for c in r.args
            )
        ]
        want = bpf.strongest(matched) if matched else ret_value(default, policy.errno)
        got = _run(prog, _NR[name], X86_64, args)
        assert bpf.action(got) == bpf.action(want), (name, [hex(a) for a in args[:3]], rules)
