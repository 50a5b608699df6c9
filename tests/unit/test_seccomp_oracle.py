"""Differential test: hardenkit's seccomp programs against libseccomp's, through pyseccomp.

The oracle is built here from the policy's documented meaning, not from hardenkit's code:
groups are expanded from systemd's own table (tests/data), every rule goes to pyseccomp
(libseccomp's Python bindings, a test-only dependency) in ONE multi-ABI filter exported as
BPF, and hardenkit's prefix is modelled in Python from SeccompPolicy's docstring (foreign
arch and x32 numbers killed, clone3 ENOSYS unless allowed, namespace creation EPERM,
numbers above libseccomp's table ENOSYS unless the default allows). Both programs run in
the small classic-BPF evaluator below, for every syscall number of x86_64, i386 and x32,
with argument variants where the policy looks at arguments.
"""

from __future__ import annotations

import functools
import json
import operator
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit.sandbox import SeccompPolicy
from hardenkit.sandbox.seccomp import ArgCondition, SyscallRule

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.seccomp]

X86_64, I386 = 0xC000003E, 0x40000003  # AUDIT_ARCH_*: what seccomp_data.arch holds
AARCH64 = 0xC00000B7
X32_BIT = 0x40000000
KILL, ALLOW, LOG, TRAP, ERRNO = 0x80000000, 0x7FFF0000, 0x7FFC0000, 0x00030000, 0x00050000
ENOSYS, EPERM = 38, 1
CLONE_NS_MASK = 0x7E020000  # CLONE_NEWNS|CGROUP|UTS|IPC|USER|PID|NET
UNSHARE_NS_MASK = CLONE_NS_MASK | 0x80  # + CLONE_NEWTIME
U64 = (1 << 64) - 1
#: Arguments that exercise masks, both 32-bit halves and the namespace flags.
ARG_VARIANTS: tuple[tuple[int, ...], ...] = (
    (),
    (1,),
    (2, 1),
    (8,),
    (10,),
    (16,),
    (40,),
    (0x11,),
    (0x10000000,),
    (0x20000,),
    (0x80,),
    (CLONE_NS_MASK,),
    (0xFFFFFFFF,),
    (1 << 32,),
    ((1 << 32) | 8,),
    (U64, U64, U64),
    (0, 0x5401, 3),
)


# --- a small classic BPF evaluator ----------------------------------------------------


@functools.lru_cache(maxsize=64)
def _decode(prog: bytes) -> tuple[tuple[int, int, int, int], ...]:
    return tuple(struct.unpack_from("=HBBI", prog, i) for i in range(0, len(prog), 8))


#: Conditional jumps against k: jeq, jgt, jge, jset (all that either program uses).
_JUMPS = {0x15: operator.eq, 0x25: operator.gt, 0x35: operator.ge, 0x45: operator.and_}


def run_bpf(prog: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """The filter's return value for one seccomp_data (struct seccomp_data, host order)."""
    full = (*args, *(0,) * (6 - len(args)))
    data = struct.pack("=IIQ6Q", nr & 0xFFFFFFFF, arch, 0, *full)
    insns = _decode(prog)
    a = pc = 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:  # ld w abs
            a = struct.unpack_from("=I", data, k)[0]
        elif code in _JUMPS:
            pc += jt if _JUMPS[code](a, k) else jf
        elif code == 0x05:  # ja
            pc += k
        elif code == 0x54:  # and k
            a &= k
        elif code == 0x06:  # ret k
            return k
        else:  # pragma: no cover - an opcode this evaluator does not know
            raise AssertionError(f"unknown BPF opcode {code:#x}")


# --- the oracle -----------------------------------------------------------------------


@functools.cache
def _groups(shared_data: str) -> dict[str, frozenset[str]]:
    with open(shared_data, encoding="utf-8") as fh:
        table = json.load(fh)["groups"]
    return {name: frozenset(entry["flattened"]) for name, entry in table.items()}


@dataclass(frozen=True)
class Oracle:
    """libseccomp's program for the policy's rules, plus the documented prefix."""

    bpf: bytes
    arches: frozenset[int]  # audit arch tokens accepted
    x32: bool
    clone3_enosys: bool
    block_namespaces: bool
    enosys_above: bool
    max_known: dict[int, int]  # audit token (X32_BIT for the x32 half) -> highest number
    names: dict[tuple[int, int], str]  # (abi, nr) -> name
    conditional: frozenset[str]

    def verdict(self, nr: int, arch: int, args: tuple[int, ...]) -> int:
        nr &= 0xFFFFFFFF
        if arch not in self.arches:
            return KILL
        abi = arch
        if arch == X86_64 and nr & X32_BIT:
            if not self.x32:
                return KILL
            abi = X32_BIT
        ret = self._by_name(self.names.get((abi, nr)), args)
        if ret is not None:
            return ret
        if self.enosys_above and nr > self.max_known[abi]:
            return ERRNO | ENOSYS
        return run_bpf(self.bpf, nr, arch, args)

    def _by_name(self, name: str | None, args: tuple[int, ...]) -> int | None:
        """clone3 and namespace creation, decided before any rule."""
        first = (args[0] if args else 0) & 0xFFFFFFFF  # the kernel reads int flags
        if self.clone3_enosys and name == "clone3":
            return ERRNO | ENOSYS
        masks = {"unshare": UNSHARE_NS_MASK, "clone": CLONE_NS_MASK}
        if self.block_namespaces and (name == "setns" or first & masks.get(name or "", 0)):
            return ERRNO | EPERM
        return None


def _ret(action: str, err: int) -> int:
    return {"kill": KILL, "trap": TRAP, "errno": ERRNO | err, "log": LOG, "allow": ALLOW}[action]


def _expand(names: Any, groups: dict[str, frozenset[str]]) -> set[str]:
    out: set[str] = set()
    for name in names:
        out |= groups[name] if name.startswith("@") else {name}
    return out


_PS_OPS = {"ne": 1, "lt": 2, "le": 3, "eq": 4, "ge": 5, "gt": 6, "masked_eq": 7}
_IO_URING = {"io_uring_setup", "io_uring_enter", "io_uring_register"}


def build_oracle(policy: SeccompPolicy, groups: dict[str, frozenset[str]]) -> Oracle:  # noqa: C901, PLR0912
    ps = pytest.importorskip("pyseccomp")
    native = ps.system_arch()
    assert native == ps.Arch.X86_64, "this oracle models an x86_64 host"

    def known(name: str) -> bool:
        return bool(ps.resolve_syscall(native, name) != -1)  # libseccomp's __NR_SCMP_ERROR

    default = _ret(policy.default, policy.errno)
    # Rules own the names they list; deny beats allow; io_uring only when named.
    ruled: dict[str, list[tuple[int, tuple[ArgCondition, ...]]]] = {}
    for rule in policy.rules:
        err = policy.errno if rule.errno is None else rule.errno
        for name in _expand(rule.names, groups):
            if known(name):
                ruled.setdefault(name, []).append((_ret(rule.action, err), tuple(rule.args)))
    plain: dict[str, int] = {}
    for name in _expand(policy.deny, groups):
        if name not in ruled and known(name):
            plain[name] = ERRNO | policy.errno
    for name in _expand(policy.allow, groups):
        if name in _IO_URING and name not in policy.allow:
            continue
        if name not in ruled and name not in plain and known(name):
            plain[name] = ALLOW
    conditional: dict[str, list[tuple[int, tuple[ArgCondition, ...]]]] = {}
    for name, entries in ruled.items():
        uncond = {ret for ret, args in entries if not args}
        if uncond:
            (plain[name],) = uncond
        else:
            conditional[name] = entries

    f = ps.SyscallFilter(default)
    f.set_attr(ps.Attr.ACT_BADARCH, KILL)
    tokens = {"SCMP_ARCH_X86": ps.Arch.X86, "SCMP_ARCH_X32": ps.Arch.X32}
    abis = [native] + [tokens[a] for a in policy.arches if tokens.get(a) not in (None, native)]
    for abi in abis[1:]:
        f.add_arch(abi)
    for name, ret in sorted(plain.items()):
        if ret != default:
            f.add_rule(ret, name)
    for name, entries in sorted(conditional.items()):
        for ret, conds in entries:
            if ret == default:
                continue
            args = [
                ps.Arg(c.index, _PS_OPS[c.op], c.mask, c.value)
                if c.mask is not None
                else ps.Arg(c.index, _PS_OPS[c.op], c.value)
                for c in conds
            ]
            f.add_rule(ret, name, *args)
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryFile() as fh:
        f.export_bpf(fh)
        fh.seek(0)
        bpf = fh.read()

    names, max_known = _tables(ps)
    clone3 = plain.get("clone3")
    clone3_allowed = (
        clone3 in (ALLOW, LOG)
        if clone3 is not None
        else default in (ALLOW, LOG) and "clone3" not in conditional
    )
    return Oracle(
        bpf=bpf,
        arches=frozenset({X86_64, *(I386 for a in abis if a == ps.Arch.X86)}),
        x32=ps.Arch.X32 in abis,
        clone3_enosys=policy.block_namespaces or not clone3_allowed,
        block_namespaces=policy.block_namespaces,
        enosys_above=policy.default not in ("allow", "log"),
        max_known=max_known,
        names=names,
        conditional=frozenset(conditional),
    )


@functools.cache
def _tables(ps: Any) -> tuple[dict[tuple[int, int], str], dict[int, int]]:
    """libseccomp's names of every number per ABI, and each ABI's highest number."""
    audit = {ps.Arch.X86_64: X86_64, ps.Arch.X86: I386, ps.Arch.X32: X32_BIT}
    names: dict[tuple[int, int], str] = {}
    max_known: dict[int, int] = {}
    for abi, token in audit.items():
        base = X32_BIT if abi == ps.Arch.X32 else 0
        top = -1
        for n in range(2048):
            try:
                names[(token, base | n)] = ps.resolve_syscall(abi, base | n).decode()
            except ValueError:
                continue
            top = base | n
        max_known[token] = top
    return names, max_known


def _inputs(oracle: Oracle) -> list[tuple[int, int, tuple[int, ...]]]:
    """Every number of each ABI (and past its table), arguments where they matter."""
    looked_at = {*oracle.conditional, "clone", "clone3", "unshare", "setns", "socketcall", "ipc"}
    out: list[tuple[int, int, tuple[int, ...]]] = []
    for arch, base, abi in ((X86_64, 0, X86_64), (I386, 0, I386), (X86_64, X32_BIT, X32_BIT)):
        top = oracle.max_known[abi] & ~X32_BIT
        for n in [*range(top + 40), 0x3FFFFFFF, 0x7FFFFFFF, 0xFFFFFFFF]:
            nr = (base | n) & 0xFFFFFFFF
            variants = (
                ARG_VARIANTS if oracle.names.get((abi, nr)) in looked_at else ARG_VARIANTS[:1]
            )
            out += [(nr, arch, args) for args in variants]
            out.append((nr, arch, (U64,) * 6))
    out += [(n, AARCH64, ()) for n in (0, 63, 220)]
    return out


def _diffs(policy: SeccompPolicy, groups: dict[str, frozenset[str]]) -> list[str]:
    oracle = build_oracle(policy, groups)
    ours = policy.to_bpf()
    assert ours != oracle.bpf
    out = []
    for nr, arch, args in _inputs(oracle):
        want, got = oracle.verdict(nr, arch, args), run_bpf(ours, nr, arch, args)
        if want != got:
            out.append(f"arch {arch:#x} nr {nr:#x} args {args}: libseccomp {want:#x}, us {got:#x}")
    return out[:20]


@pytest.fixture
def groups(shared_data: Path) -> dict[str, frozenset[str]]:
    return _groups(str(shared_data / "systemd-syscall-groups.json"))


DOCKER_CAPS = (
    (),
    ("CAP_SYS_ADMIN",),
    ("CAP_SYS_PTRACE", "CAP_SYS_BOOT", "CAP_SYS_MODULE", "CAP_SYSLOG", "CAP_SYS_TIME"),
    (
        "CAP_BPF",
        "CAP_PERFMON",
        "CAP_SYS_NICE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PACCT",
        "CAP_DAC_READ_SEARCH",
        "CAP_SYS_TTY_CONFIG",
        "CAP_SYS_RESOURCE",
        "CAP_NET_ADMIN",
    ),
)


@pytest.mark.parametrize("caps", DOCKER_CAPS, ids=lambda c: "+".join(c) or "none")
def test_docker_default_profile_decides_like_libseccomp(
    shared_data: Path, groups: dict[str, frozenset[str]], caps: tuple[str, ...]
) -> None:
    policy = SeccompPolicy.from_docker_profile(
        shared_data / "docker-default-seccomp.json", capabilities=caps
    )
    assert policy.block_namespaces
    assert _diffs(policy, groups) == []


def test_every_systemd_group_allowed_and_denied_decides_like_libseccomp(
    groups: dict[str, frozenset[str]],
) -> None:
    every = sorted(g for g in groups if g != "@known")
    for allow, deny, default in (
        (every[::2], every[1::2], "kill"),
        (every[1::2], every[::3], "errno"),
    ):
        policy = SeccompPolicy(
            default=default,
            allow=allow,
            deny=deny,
            errno=13,
            arches=("SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        )
        assert _diffs(policy, groups) == [], (allow, deny)


@pytest.mark.parametrize("block", [True, False])
def test_deny_lists_under_an_allow_default_decide_like_libseccomp(
    groups: dict[str, frozenset[str]], *, block: bool
) -> None:
    policy = SeccompPolicy(
        default="allow",
        deny=["@mount", "@reboot", "@module", "ptrace", "kexec_load", "clone3", "io_uring_setup"],
        errno=1,
        arches=("SCMP_ARCH_X86",),
        block_namespaces=block,
    )
    assert _diffs(policy, groups) == []


def test_argument_rules_decide_like_libseccomp(groups: dict[str, frozenset[str]]) -> None:
    policy = SeccompPolicy(
        default="errno",
        errno=38,
        allow=["@basic-io", "@process"],
        deny=["@privileged"],
        arches=("SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        rules=(
            SyscallRule(
                names=["personality"],
                action="allow",
                args=(ArgCondition(index=0, op="eq", value=8),),
            ),
            SyscallRule(
                names=["personality"],
                action="allow",
                args=(ArgCondition(index=0, op="eq", value=0xFFFFFFFF),),
            ),
            SyscallRule(
                names=["socket"],
                action="allow",
                args=(
                    ArgCondition(index=0, op="ne", value=16),
                    ArgCondition(index=1, op="le", value=2),
                ),
            ),
            SyscallRule(
                names=["fcntl"], action="trap", args=(ArgCondition(index=1, op="eq", value=16),)
            ),
            SyscallRule(
                names=["ioctl"],
                action="allow",
                args=(ArgCondition(index=1, op="masked_eq", mask=0xFFFF, value=0x5401),),
            ),
            SyscallRule(
                names=["kill"], action="log", args=(ArgCondition(index=0, op="gt", value=1 << 32),)
            ),
            SyscallRule(
                names=["tgkill"], action="kill", args=(ArgCondition(index=2, op="ge", value=10),)
            ),
            SyscallRule(
                names=["setpgid"],
                action="errno",
                errno=13,
                args=(ArgCondition(index=0, op="lt", value=2),),
            ),
            SyscallRule(names=["reboot"], action="kill"),
        ),
    )
    assert _diffs(policy, groups) == []
