"""Compiled filters compare what the kernel reads: 32-bit (and umode_t 16-bit) arguments on
their low bits, io_uring refused by any restricting policy, profiles' capability
conditions decided for the confined process. The programs are run by a small classic-BPF
interpreter on seccomp_data values; the kernel-side attacks are in
tests/integration/test_seccomp_edges.py.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import struct

import pytest
from hypothesis import given, settings, strategies as st

from hardenkit._linux import seccomp_compile as sc
from hardenkit.errors import PolicyError
from hardenkit.sandbox import SeccompPolicy
from hardenkit.sandbox.seccomp import ArgCondition, SyscallRule, compile_policy
from hardenkit.sandbox.seccomp.argwidth import WIDTHS, width

pytestmark = [pytest.mark.linux, pytest.mark.seccomp]

X86_64 = 0xC000003E
ALLOW = 0x7FFF0000
MARK = 0x50000 | errno.EHOSTDOWN  # a rule's errno nothing else returns
EPERM = 0x50000 | errno.EPERM
U64 = (1 << 64) - 1
AF_INET, AF_ALG, AF_VSOCK = 2, 38, 40
TIOCSTI = 0x5412


@functools.lru_cache(maxsize=64)
def _decode(prog: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack_from("=HBBI", prog, i) for i in range(0, len(prog), 8)]


def run_bpf(prog: bytes, nr: int, args: tuple[int, ...] = (), arch: int = X86_64) -> int:
    """Interpret a seccomp classic BPF program on one seccomp_data."""
    full = (*args, *(0,) * (6 - len(args)))
    data = struct.pack("=iIQ6Q", nr, arch, 0, *full)
    insns = _decode(prog)
    a, mem, pc = 0, [0] * 16, 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:  # ld [k]
            a = int(struct.unpack_from("=I", data, k)[0])
        elif code == 0x00:  # ld #k
            a = k
        elif code == 0x60:  # ld M[k]
            a = mem[k]
        elif code == 0x02:  # st M[k]
            mem[k] = a
        elif code == 0x54:  # and #k
            a &= k
        elif code == 0x05:  # ja
            pc += k
        elif code in (0x15, 0x25, 0x35, 0x45):  # jeq, jgt, jge, jset
            cond = {0x15: a == k, 0x25: a > k, 0x35: a >= k, 0x45: bool(a & k)}[code]
            pc += jt if cond else jf
        elif code == 0x06:  # ret #k
            return int(k)
        else:  # pragma: no cover - an opcode this test does not know
            raise AssertionError(f"unknown BPF opcode {code:#x}")


def nr(name: str) -> int:
    number = sc.resolve(name)
    assert number is not None
    return number


def _args(index: int, value: int) -> tuple[int, ...]:
    return tuple(value if i == index else 0 for i in range(6))


#: Every (syscall, argument, bits) of the table that libseccomp knows on this machine.
NARROW = sorted(
    (name, index, bits)
    for name, table in WIDTHS.items()
    for index, bits in table.items()
    if (sc.resolve(name) or -1) >= 0
)


@pytest.fixture(scope="module")
def table_program() -> bytes:
    """One rule per narrow argument: errno MARK when it equals 5."""
    rules = [
        SyscallRule(names=name, action="errno", errno=errno.EHOSTDOWN, args=(cond,))
        for name, index, _bits in NARROW
        for cond in (ArgCondition(index=index, op="eq", value=5),)
    ]
    policy = SeccompPolicy(default="allow", rules=rules, block_namespaces=False)
    return compile_policy(policy).bpf


def test_the_table_covers_the_calls_filters_are_written_for() -> None:
    for name, index in [
        ("socket", 0),
        ("socket", 1),
        ("ioctl", 1),
        ("prctl", 0),
        ("kill", 1),
        ("tgkill", 2),
        ("personality", 0),
        ("clone", 0),
        ("setsockopt", 1),
        ("setsockopt", 2),
        ("fcntl", 1),
        # Checked against the kernel's SYSCALL_DEFINEs: rwf_t, unsigned, pid_t, int.
        ("preadv2", 5),
        ("pwritev2", 5),
        ("mbind", 5),
        ("move_pages", 0),
        ("move_pages", 5),
        ("migrate_pages", 0),
        ("get_robust_list", 0),
        ("io_setup", 0),
    ]:
        assert width(name, index) == 32, (name, index)
    assert width("chmod", 1) == 16  # umode_t
    assert width("ioctl", 2) == 64  # unsigned long arg
    assert width("mmap", 3) == 64
    assert width("clone", 0, s390=True) == 64  # s390: (newsp, clone_flags, ...)
    assert width("clone", 1, s390=True) == 32
    assert len(NARROW) > 300


@settings(max_examples=40, deadline=None)
@given(high=st.integers(min_value=1, max_value=(1 << 48) - 1), data=st.data())
def test_every_narrow_argument_matches_on_the_bits_the_kernel_reads(
    table_program: bytes, high: int, data: st.DataObject
) -> None:
    name, index, bits = data.draw(st.sampled_from(NARROW))
    tainted = (5 | high << bits) & U64  # what the kernel truncates back to 5
    assert run_bpf(table_program, nr(name), _args(index, 5)) == MARK
    assert run_bpf(table_program, nr(name), _args(index, tainted)) == MARK, (name, index)
    assert run_bpf(table_program, nr(name), _args(index, tainted ^ 1)) == ALLOW


def test_every_narrow_argument_each_one(table_program: bytes) -> None:
    misses = [
        (name, index)
        for name, index, bits in NARROW
        if run_bpf(table_program, nr(name), _args(index, 5 | 0xABC << bits)) != MARK
    ]
    assert misses == []


def test_wide_arguments_still_compare_all_64_bits() -> None:
    cond = ArgCondition(index=2, op="eq", value=5)
    policy = SeccompPolicy(
        default="allow", rules=[SyscallRule(names="ioctl", action="errno", args=(cond,))]
    )
    prog = compile_policy(policy).bpf
    assert run_bpf(prog, nr("ioctl"), (0, 0, 5)) == EPERM
    assert run_bpf(prog, nr("ioctl"), (0, 0, 5 | 1 << 32)) == ALLOW  # the kernel reads it too


def _socket_policy(op: str, value: int) -> bytes:
    cond = ArgCondition(index=0, op=op, value=value)
    rule = SyscallRule(names="socket", action="errno", errno=errno.EHOSTDOWN, args=(cond,))
    return compile_policy(SeccompPolicy(default="allow", rules=[rule])).bpf


@settings(max_examples=200, deadline=None)
@given(
    op=st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]),
    value=st.sampled_from([0, 1, 2, 37, 38, 40, 41, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]),
    low=st.one_of(st.integers(min_value=0, max_value=64), st.integers(0, 0xFFFFFFFF)),
    high=st.integers(min_value=0, max_value=0xFFFFFFFF),
)
def test_range_conditions_compare_the_low_32_bits(op: str, value: int, low: int, high: int) -> None:
    expected = {
        "eq": low == value,
        "ne": low != value,
        "lt": low < value,
        "le": low <= value,
        "gt": low > value,
        "ge": low >= value,
    }[op]
    got = run_bpf(_socket_policy(op, value), nr("socket"), (high << 32 | low,))
    assert got == (MARK if expected else ALLOW)


def test_socket_rule_is_not_bypassed_by_high_bits() -> None:
    prog = _socket_policy("eq", AF_INET)
    assert run_bpf(prog, nr("socket"), (AF_INET | 1 << 32,)) == MARK
    assert run_bpf(prog, nr("socket"), (0xFFFFFFFF00000000 | AF_INET,)) == MARK
    tiocsti = ArgCondition(index=1, op="eq", value=TIOCSTI)
    rule = SyscallRule(names="ioctl", action="errno", errno=errno.EHOSTDOWN, args=(tiocsti,))
    prog = compile_policy(SeccompPolicy(default="allow", rules=[rule])).bpf
    assert run_bpf(prog, nr("ioctl"), (0, TIOCSTI | 1 << 32)) == MARK  # CVE-2019-10063
    # the same through an allow-list: only TIOCGWINSZ may pass, with or without high bits
    only = ArgCondition(index=1, op="eq", value=0x5413)
    allow = SeccompPolicy(
        default="errno", rules=[SyscallRule(names="ioctl", action="allow", args=(only,))]
    )
    prog = compile_policy(allow).bpf
    assert run_bpf(prog, nr("ioctl"), (0, 0x5413 | 1 << 40)) == ALLOW
    assert run_bpf(prog, nr("ioctl"), (0, TIOCSTI | 1 << 40)) == EPERM


def test_docker_socket_family_rules_see_the_family_the_kernel_reads() -> None:
    prog = SeccompPolicy.docker_default(capabilities=()).to_bpf()
    socket_nr = nr("socket")
    # Docker's own filter lets 0xffffffff00000026 through its "> 40" rule: AF_ALG
    for family in (AF_ALG, AF_VSOCK, 0xFFFFFFFF00000000 | AF_ALG, 1 << 32 | AF_VSOCK):
        assert run_bpf(prog, socket_nr, (family, 5, 0)) == EPERM, hex(family)
    for family in (AF_INET, 39, 41, 1 << 32 | AF_INET):
        assert run_bpf(prog, socket_nr, (family, 1, 0)) == ALLOW, hex(family)


def test_personality_and_sign_extended_values() -> None:
    prog = SeccompPolicy.docker_default(capabilities=()).to_bpf()
    pers = nr("personality")
    assert run_bpf(prog, pers, (0xFFFFFFFF,)) == ALLOW
    assert run_bpf(prog, pers, (U64,)) == ALLOW  # personality(-1) sign-extended: a query
    assert run_bpf(prog, pers, (1 << 32 | 8,)) == ALLOW  # the kernel reads PER_LINUX32
    assert run_bpf(prog, pers, (0x0400000,)) == EPERM  # ADDR_NO_RANDOMIZE stays refused
    # a user rule written with a sign-extended -1 matches the 32-bit -1 the kernel reads
    minus_one = ArgCondition(index=0, op="eq", value=U64)
    rule = SyscallRule(names="kill", action="errno", errno=errno.EHOSTDOWN, args=(minus_one,))
    prog = compile_policy(SeccompPolicy(default="allow", rules=[rule])).bpf
    assert run_bpf(prog, nr("kill"), (0xFFFFFFFF, 9)) == MARK
    assert run_bpf(prog, nr("kill"), (U64, 9)) == MARK


def test_a_value_wider_than_the_argument_is_refused() -> None:
    cond = ArgCondition(index=0, op="eq", value=1 << 33 | AF_INET)
    policy = SeccompPolicy(
        default="allow", rules=[SyscallRule(names="socket", action="errno", args=(cond,))]
    )
    with pytest.raises(PolicyError, match="32-bit"):
        compile_policy(policy)


# --- io_uring ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy",
    [
        SeccompPolicy(default="allow", deny=["@network-io"]),
        SeccompPolicy(default="log", deny=["socket"]),
        SeccompPolicy(default="allow", rules=[SyscallRule(names="mount", action="errno")]),
        SeccompPolicy(
            default="allow",
            rules=[
                SyscallRule(names="@aio", action="allow"),
                SyscallRule(names="mount", action="kill"),
            ],
        ),
        SeccompPolicy(default="errno", allow=["@system-service"]),
        SeccompPolicy(default="errno", rules=[SyscallRule(names="@aio", action="allow")]),
    ],
)
def test_a_restricting_policy_refuses_io_uring(policy: SeccompPolicy) -> None:
    prog = policy.to_bpf()
    for name in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
        assert run_bpf(prog, nr(name)) == 0x50000 | policy.errno, name


def test_io_uring_named_explicitly_or_nothing_restricted_is_allowed() -> None:
    named = SeccompPolicy(default="allow", allow=["io_uring_setup"], deny=["@network-io"])
    assert run_bpf(named.to_bpf(), nr("io_uring_setup")) == ALLOW
    assert run_bpf(named.to_bpf(), nr("io_uring_enter")) == EPERM
    by_rule = SeccompPolicy(
        default="allow",
        deny=["socket"],
        rules=[SyscallRule(names=["io_uring_setup", "io_uring_enter"], action="allow")],
    )
    assert run_bpf(by_rule.to_bpf(), nr("io_uring_enter")) == ALLOW
    assert run_bpf(SeccompPolicy(default="allow").to_bpf(), nr("io_uring_setup")) == ALLOW


# --- capability conditions -------------------------------------------------------------


def _names(policy: SeccompPolicy) -> set[str]:
    return {name for rule in policy.rules for name in rule.names}


def test_profile_capabilities_are_decided_again_for_the_holder() -> None:
    root = SeccompPolicy.docker_default(capabilities=range(41))
    empty = root.for_capabilities([])
    gone = _names(root) - _names(empty)
    assert {"bpf", "perf_event_open", "kcmp", "pidfd_getfd", "open_by_handle_at"} <= gone
    assert empty == SeccompPolicy.docker_default(capabilities=())
    nice = root.for_capabilities(["SYS_NICE"])
    assert "get_mempolicy" in _names(nice)
    assert "kcmp" not in _names(nice)
    # explicit capabilities at load time bound what a later decision may grant
    asked = SeccompPolicy.docker_default(capabilities=["SYS_NICE"])
    assert "kcmp" not in _names(asked.for_capabilities(range(41)))
    plain = SeccompPolicy(default="allow", deny=["mount"])
    assert plain.for_capabilities([]) is plain


def test_changes_made_to_a_translated_profile_survive_the_new_decision() -> None:
    root = SeccompPolicy.docker_default(capabilities=range(41))
    extra = SyscallRule(names="kexec_load", action="errno", errno=errno.EROFS)
    dropped = next(r for r in root.rules if "kcmp" in r.names)  # a capability rule
    edited = dataclasses.replace(
        root,
        rules=(*(r for r in root.rules if r is not dropped), extra),
        deny=["chmod"],
        errno=errno.EACCES,
        block_namespaces=False,
    )
    nobody = edited.for_capabilities([])
    assert extra in nobody.rules
    assert (nobody.deny, nobody.errno, nobody.block_namespaces) == (
        ("chmod",),
        errno.EACCES,
        False,
    )
    assert "kcmp" not in _names(nobody)
    assert "get_mempolicy" not in _names(nobody)  # still decided for the holder
    assert edited.for_capabilities([]) is nobody  # decided once per policy and holder
    ptrace = edited.for_capabilities(["SYS_PTRACE"])
    assert "kcmp" not in _names(ptrace)  # the caller removed that rule: it stays removed
    prog = nobody.to_bpf()
    assert run_bpf(prog, nr("kexec_load")) == 0x50000 | errno.EROFS
    assert run_bpf(prog, nr("kcmp")) == 0x50000 | errno.EACCES  # the edited default errno
