"""SeccompPolicy, groups, Docker profiles and the compiled BPF, checked without loading.

A small classic-BPF interpreter runs the compiled program on synthetic seccomp_data, so
the filter's decisions (x32, namespaces, clone3, numbers past the table) are tested for
many inputs without confining anything.
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import json
import struct
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings, strategies as st

from hardenkit._linux import bpf
from hardenkit.errors import PolicyError
from hardenkit.sandbox import SeccompPolicy
from hardenkit.sandbox.groups import expand, group_names
from hardenkit.sandbox.seccomp import ArgCondition, SyscallRule, compile_policy

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.seccomp]

X86_64, I386 = 0xC000003E, 0x40000003
X32 = 0x40000000
KILL, ALLOW, ENOSYS, EPERM = 0x80000000, 0x7FFF0000, 0x50000 | 38, 0x50000 | 1
CLONE_NEWUSER = 0x10000000


def run_bpf(prog: bytes, nr: int, arch: int = X86_64, args: tuple[int, ...] = ()) -> int:
    """Run a seccomp program on one seccomp_data with the shared interpreter."""
    return bpf.run(prog, nr=nr, arch=arch, args=args)


@pytest.fixture(scope="module")
def docker_ns() -> bytes:
    return SeccompPolicy.docker_default(capabilities=()).with_namespace_block().to_bpf()


def test_every_group_resolves_like_systemd(shared_data: Path) -> None:
    table = json.loads((shared_data / "systemd-syscall-groups.json").read_text())["groups"]
    assert set(group_names()) == set(table)
    for name, entry in table.items():
        assert expand([name]) == frozenset(entry["flattened"]), name


def test_policy_validation() -> None:
    with pytest.raises(PolicyError, match="default must be"):
        SeccompPolicy(default="deny")
    with pytest.raises(PolicyError, match="unknown syscall group"):
        SeccompPolicy(allow=["@nonsense"])
    with pytest.raises(PolicyError, match="errno"):
        SeccompPolicy(errno=0)
    with pytest.raises(PolicyError, match="not a syscall"):
        SeccompPolicy(deny=["rm -rf"])
    with pytest.raises(PolicyError, match="compares argument 1 twice"):
        SyscallRule(
            names=["openat"],
            args=(ArgCondition(index=1, op="ge", value=1), ArgCondition(index=1, op="le", value=9)),
        )
    with pytest.raises(PolicyError, match="mask"):
        ArgCondition(index=0, op="masked_eq", value=0)
    with pytest.raises(PolicyError, match=r"outside 0\.\.5"):
        ArgCondition(index=6, op="eq", value=0)


def test_policy_is_frozen_normalised_and_hashable() -> None:
    a = SeccompPolicy(default="errno", allow=["read", "read", "write"])
    b = SeccompPolicy(default="errno", allow=("read", "write"))
    assert a == b
    assert hash(a) == hash(b)
    assert a.allow == ("read", "write")
    with pytest.raises(AttributeError):
        a.default = "allow"  # type: ignore[misc]


def test_compiled_once_per_policy() -> None:
    p = SeccompPolicy(default="errno", allow=["@basic-io"])
    assert compile_policy(p) is compile_policy(SeccompPolicy(default="errno", allow=["@basic-io"]))
    assert p.to_bpf() == compile_policy(p).bpf


def test_unknown_names_are_skipped_and_reported() -> None:
    p = SeccompPolicy(default="errno", allow=["read", "mseal", "not_a_real_call"])
    assert p.skipped == ("mseal", "not_a_real_call")
    assert run_bpf(p.to_bpf(), 0) == ALLOW  # the rest still compiles


def test_conflicting_rules_are_refused() -> None:
    p = SeccompPolicy(
        default="errno",
        rules=(
            SyscallRule(names=["socket"], action="allow"),
            SyscallRule(
                names=["socket"], action="kill", args=(ArgCondition(index=0, op="eq", value=2),)
            ),
        ),
    )
    with pytest.raises(PolicyError, match="shadow"):
        p.to_bpf()


def test_deny_wins_over_allow_and_default_kill_is_kill_process() -> None:
    prog = SeccompPolicy(default="kill", allow=["@system-service"], deny=["socket"]).to_bpf()
    assert run_bpf(prog, 41) == EPERM  # socket: denied
    assert run_bpf(prog, 0) == ALLOW  # read
    assert run_bpf(prog, 161) == KILL  # chroot: default, whole process


@settings(max_examples=60, deadline=None)
@given(nr=st.integers(min_value=0, max_value=X32 - 1))
def test_x32_numbers_never_bypass_a_native_filter(nr: int) -> None:
    prog = SeccompPolicy(default="allow", deny=["mkdir"]).to_bpf()
    assert run_bpf(prog, nr | X32) == KILL


def test_foreign_arch_is_killed() -> None:
    prog = SeccompPolicy(default="allow").to_bpf()
    assert run_bpf(prog, 1, arch=I386) == KILL


@settings(max_examples=80, deadline=None)
@given(flags=st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_namespace_flags_always_refused(docker_ns: bytes, flags: int) -> None:
    ns_bits = flags & 0x7E020080
    unshare = run_bpf(docker_ns, 272, args=(flags,))
    if ns_bits:
        assert unshare == EPERM
    clone = run_bpf(docker_ns, 56, args=(flags,))
    if flags & 0x7E020000:
        assert clone == EPERM
    elif flags & 0xFFFFFFFF == flags & 0x7FFFFFFF:
        assert clone in (ALLOW, EPERM)


def test_docker_profile_decisions(docker_ns: bytes) -> None:
    assert run_bpf(docker_ns, 435) == ENOSYS  # clone3
    assert run_bpf(docker_ns, 308) == EPERM  # setns
    assert run_bpf(docker_ns, 56, args=(0x11,)) == ALLOW  # plain clone (fork)
    assert run_bpf(docker_ns, 462) == ENOSYS  # mseal: newer than libseccomp's table
    assert run_bpf(docker_ns, 0) == ALLOW
    assert run_bpf(docker_ns, 165) == EPERM  # mount without CAP_SYS_ADMIN
    assert run_bpf(docker_ns, 272 | X32, args=(CLONE_NEWUSER,)) == EPERM  # x32 included
    assert run_bpf(docker_ns, 310, arch=I386, args=(CLONE_NEWUSER,)) == EPERM  # i386 unshare
    assert run_bpf(docker_ns, 3, arch=I386) == ALLOW  # i386 read


@settings(max_examples=60, deadline=None)
@given(nr=st.integers(min_value=457, max_value=X32 - 1))
def test_numbers_past_the_table_get_enosys(nr: int) -> None:
    prog = SeccompPolicy(default="kill", allow=["@default"]).to_bpf()
    assert run_bpf(prog, nr) == ENOSYS


def test_allow_default_leaves_new_numbers_alone() -> None:
    prog = SeccompPolicy(default="allow", deny=["mount"], block_namespaces=False).to_bpf()
    assert run_bpf(prog, 500) == ALLOW
    assert run_bpf(prog, 435) == ALLOW  # clone3 allowed: namespace block turned off
    blocked = SeccompPolicy(default="allow", deny=["mount"]).to_bpf()  # the default
    assert run_bpf(blocked, 435) == 0x50000 | errno.ENOSYS


def _profile(**entry: Any) -> dict[str, Any]:
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", **entry}],
    }


def test_docker_includes_and_excludes() -> None:
    sys_admin = {"caps": ["CAP_SYS_ADMIN"]}
    assert (
        SeccompPolicy.from_docker_profile(_profile(includes=sys_admin), capabilities=[]).rules == ()
    )
    assert SeccompPolicy.from_docker_profile(
        _profile(includes=sys_admin), capabilities=["SYS_ADMIN"]
    ).rules
    assert (
        SeccompPolicy.from_docker_profile(_profile(excludes=sys_admin), capabilities=[21]).rules
        == ()
    )
    assert not SeccompPolicy.from_docker_profile(_profile(includes={"arches": ["s390x"]})).rules
    assert SeccompPolicy.from_docker_profile(_profile(includes={"arches": ["amd64"]})).rules
    assert SeccompPolicy.from_docker_profile(_profile(includes={"minKernel": "4.8"})).rules
    assert not SeccompPolicy.from_docker_profile(_profile(includes={"minKernel": "99.0"})).rules
    assert not SeccompPolicy.from_docker_profile(_profile(excludes={"minKernel": "4.8"})).rules


def test_docker_errno_and_masked_eq() -> None:
    prof = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["mount"], "action": "SCMP_ACT_ERRNO"},
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
            },
        ],
    }
    p = dataclasses.replace(
        SeccompPolicy.from_docker_profile(prof, capabilities=[]), block_namespaces=False
    )
    assert p.errno == 38
    assert [r.errno for r in p.rules] == [38, 1, None]
    (cond,) = p.rules[2].args
    assert (cond.op, cond.mask, cond.value) == ("masked_eq", 2114060288, 0)
    prog = p.to_bpf()
    assert run_bpf(prog, 56, args=(0x11,)) == ALLOW
    assert run_bpf(prog, 56, args=(CLONE_NEWUSER,)) == 0x50000 | 38  # default errno
    assert run_bpf(prog, 165) == EPERM  # mount: errnoRet missing means EPERM


def test_docker_same_argument_twice_becomes_separate_rules() -> None:
    prof = _profile(
        args=[
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
        ]
    )
    p = SeccompPolicy.from_docker_profile(prof)
    assert len(p.rules) == 2
    prog = p.to_bpf()
    assert run_bpf(prog, 0, args=(1,)) == ALLOW
    assert run_bpf(prog, 0, args=(2,)) == ALLOW
    assert run_bpf(prog, 0, args=(3,)) == EPERM


def test_docker_unsupported_parts_are_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="unsupported action"):
        SeccompPolicy.from_docker_profile(_profile(action="SCMP_ACT_NOTIFY"))
    with pytest.raises(PolicyError, match="listenerPath"):
        SeccompPolicy.from_docker_profile({"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/x"})
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(PolicyError, match="not valid JSON"):
        SeccompPolicy.from_docker_profile(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        SeccompPolicy.from_docker_profile(tmp_path / "missing.json")


def test_shared_profile_loads_with_twelve_skipped(shared_data: Path) -> None:
    p = SeccompPolicy.from_docker_profile(shared_data / "docker-default-seccomp.json")
    assert len(p.skipped) == 12
    assert "uretprobe" in p.skipped
    assert p.arches == ("SCMP_ARCH_X86", "SCMP_ARCH_X32")
    assert SeccompPolicy.docker_default() == p  # the bundled copy is the same profile


def test_export_bpf_writes_the_program() -> None:
    import os  # noqa: PLC0415

    p = SeccompPolicy(default="allow", deny=["ptrace"])
    r, w = os.pipe()
    try:
        p.export_bpf(w)
        os.close(w)
        assert os.read(r, 1 << 16) == p.to_bpf()
    finally:
        os.close(r)


# --- compile speed work: per-ABI programs linked behind the prefix, caches, libseccomp --

AARCH64 = 0xC00000B7
#: Argument patterns that exercise Docker's conditional rules (clone flags, personality,
#: socket families, namespace bits) and both halves of 64-bit comparisons.
ARG_PATTERNS: tuple[tuple[int, ...], ...] = (
    (),
    (0x11,),
    (CLONE_NEWUSER,),
    (0x7E020000,),
    (2,),
    (40,),
    (8,),
    (0x20000,),
    (0xFFFFFFFF,),
    (1 << 32,),
    ((1 << 64) - 1, (1 << 64) - 1),
)


def _reference_bpf(policy: SeccompPolicy) -> bytes:
    """What the same policy compiles to as ONE multi-ABI libseccomp filter (the old way)."""
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415
    from hardenkit.sandbox.seccomp import bpf as _bpf, compiler  # noqa: PLC0415
    from hardenkit.sandbox.seccomp.resolve import resolve_policy  # noqa: PLC0415
    from hardenkit.sandbox.seccomp.rules import ret  # noqa: PLC0415

    resolved = resolve_policy(policy)
    default_ret = ret(policy.default, policy.errno)
    native = sc.native_arch()
    extra = [t for t in (sc.arch_token(a) for a in policy.arches) if t is not None]
    rules: list[sc.Rule] = [
        (ret(a, e), nr, ()) for _n, nr, a, e in resolved.plain if ret(a, e) != default_ret
    ]
    rules += [(r, nr, args) for _n, nr, r, args in resolved.conditional if r != default_ret]
    lib = sc.compile_bpf(
        default_action=default_ret,
        badarch_action=KILL,
        arches=(native, *extra),
        rules=rules,
    )
    sections = _bpf.arch_sections(native, extra, lambda _arch: b"\x06\x00\x00\x00\x00\x00\x00\x00")
    return _bpf.build_prefix(sections, compiler._options(policy, resolved)) + lib


def _inputs() -> list[tuple[int, int, tuple[int, ...]]]:
    out: list[tuple[int, int, tuple[int, ...]]] = []
    for nr in range(600):
        for args in ARG_PATTERNS:
            out.append((nr, X86_64, args))
            out.append((nr | X32, X86_64, args))
            out.append((nr, I386, args))
    out += [(nr, AARCH64, ()) for nr in (0, 63, 220)]
    return out


@pytest.mark.parametrize("block_namespaces", [False, True])
def test_linked_per_abi_programs_decide_like_one_libseccomp_filter(
    shared_data: Path, *, block_namespaces: bool
) -> None:
    policy = SeccompPolicy.from_docker_profile(
        shared_data / "docker-default-seccomp.json", capabilities=()
    )
    if block_namespaces:
        policy = policy.with_namespace_block()
    linked, reference = policy.to_bpf(), _reference_bpf(policy)
    assert linked != reference  # really two different programs
    diffs = [
        (hex(arch), hex(nr), args)
        for nr, arch, args in _inputs()
        if run_bpf(linked, nr, arch, args) != run_bpf(reference, nr, arch, args)
    ]
    assert diffs == []


@settings(max_examples=150, deadline=None)
@given(
    nr=st.integers(min_value=0, max_value=(1 << 31) - 1),
    arch=st.sampled_from([X86_64, I386, AARCH64, 0x4000003E]),
    args=st.lists(st.integers(min_value=0, max_value=(1 << 64) - 1), max_size=6),
)
def test_linked_program_matches_libseccomp_on_random_input(
    nr: int, arch: int, args: list[int]
) -> None:
    policy = SeccompPolicy(
        default="kill",
        allow=["@system-service"],
        deny=["socket"],
        arches=("SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        rules=(
            SyscallRule(
                names=["personality"],
                action="allow",
                args=(ArgCondition(index=0, op="eq", value=8),),
            ),
        ),
    )
    linked, reference = _linked_and_reference(policy)
    assert run_bpf(linked, nr, arch, tuple(args)) == run_bpf(reference, nr, arch, tuple(args))


_PAIRS: dict[SeccompPolicy, tuple[bytes, bytes]] = {}


def _linked_and_reference(policy: SeccompPolicy) -> tuple[bytes, bytes]:
    if policy not in _PAIRS:
        _PAIRS[policy] = (policy.to_bpf(), _reference_bpf(policy))
    return _PAIRS[policy]


def test_linked_filter_without_x32_kills_x32_and_other_arches() -> None:
    prog = SeccompPolicy(default="allow", arches=("SCMP_ARCH_X86",)).to_bpf()
    assert run_bpf(prog, 0) == ALLOW
    assert run_bpf(prog, 3, arch=I386) == ALLOW
    assert run_bpf(prog, 0 | X32) == KILL  # x32 not asked for: killed, never allowed
    assert run_bpf(prog, 0, arch=AARCH64) == KILL  # bad arch: kill-process


def test_build_filter_refuses_a_section_without_its_program() -> None:
    from hardenkit.sandbox.seccomp import bpf as _bpf  # noqa: PLC0415

    space = _bpf.NumberSpace(clone=56, clone3=435, unshare=272, setns=308, max_known=456)
    opts = _bpf.PrefixOptions(clone3_enosys=True, block_namespaces=True, enosys_above_table=True)
    with pytest.raises(ValueError, match="no program"):
        _bpf.build_filter((_bpf.ArchSection(token=X86_64, space=space),), opts)
    with pytest.raises(ValueError, match="no program"):
        _bpf.build_filter(
            (_bpf.ArchSection(token=X86_64, space=space, x32=space, program=b"\x06" + bytes(7)),),
            opts,
        )


def test_docker_profile_is_translated_and_compiled_once_per_content(
    shared_data: Path, tmp_path: Path
) -> None:
    path = shared_data / "docker-default-seccomp.json"
    first = SeccompPolicy.from_docker_profile(path, capabilities=())
    copy = tmp_path / "copy.json"
    copy.write_bytes(path.read_bytes())
    assert SeccompPolicy.from_docker_profile(copy, capabilities=[]) is first  # same content
    assert SeccompPolicy.docker_default(capabilities=()) is first  # bundled copy: same bytes
    assert compile_policy(first) is compile_policy(SeccompPolicy.docker_default(capabilities=()))
    with_admin = SeccompPolicy.from_docker_profile(path, capabilities=["SYS_ADMIN"])
    assert with_admin is not first
    assert with_admin != first  # mount & co. are allowed with CAP_SYS_ADMIN
    data = json.loads(path.read_text())
    data["defaultErrnoRet"] = 38
    copy.write_text(json.dumps(data))
    changed = SeccompPolicy.from_docker_profile(copy, capabilities=())
    assert changed.errno == 38  # the content changed: a new translation, not the cache
    from_dict = SeccompPolicy.from_docker_profile(data, capabilities=())
    assert from_dict == changed
    assert SeccompPolicy.from_docker_profile(dict(data), capabilities=()) is from_dict


def test_non_json_mapping_profile_is_translated_without_caching() -> None:
    prof: dict[str, Any] = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ("read",), "action": "SCMP_ACT_ALLOW", "tag": {1, 2}}],
    }
    first = SeccompPolicy.from_docker_profile(prof, capabilities=())
    assert first.rules[0].names == ("read",)
    assert SeccompPolicy.from_docker_profile(prof, capabilities=()) == first


def test_arch_tokens_match_pyseccomp() -> None:
    import pyseccomp  # noqa: PLC0415 -- the test's own cross-check

    from hardenkit._linux.seccomp_compile import ARCH_NAMES  # noqa: PLC0415

    for name, token in ARCH_NAMES.items():
        assert token == getattr(pyseccomp.Arch, name.removeprefix("SCMP_ARCH_")), name


def test_missing_libseccomp_is_missing_dependency_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hardenkit._linux import deps  # noqa: PLC0415
    from hardenkit.errors import MissingDependency  # noqa: PLC0415

    monkeypatch.setattr(deps, "LIBSECCOMP_SONAME", "libseccomp-absent.so.2")
    with pytest.raises(MissingDependency, match=r"libseccomp-absent.*apt-get install libseccomp2"):
        deps.libseccomp.__wrapped__()


def test_compiling_never_imports_pyseccomp(tmp_path: Path) -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    script = (
        "import sys\n"
        "from hardenkit.sandbox import SeccompPolicy\n"
        "p = SeccompPolicy.docker_default(capabilities=())\n"
        "assert len(p.to_bpf()) > 0\n"
        "print('pyseccomp' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "False"


@settings(max_examples=60, deadline=None)
@given(
    table=st.dictionaries(
        st.integers(min_value=0, max_value=(1 << 32) - 1),
        st.sampled_from([ALLOW, EPERM, ENOSYS, KILL, 0x7FFC0000, 0x00030000]),
        max_size=600,
    ),
    probes=st.lists(st.integers(min_value=0, max_value=(1 << 32) - 1), max_size=20),
)
def test_lookup_table_returns_each_listed_number_and_falls_through_otherwise(
    table: dict[int, int], probes: list[int]
) -> None:
    from hardenkit.sandbox.seccomp.fragments import build_table  # noqa: PLC0415

    default = 0x50000 | 99  # what follows the fragment: only reached for unlisted numbers
    prog = build_table(list(table.items())) + struct.pack("=HBBI", 0x06, 0, 0, default)
    for nr in [*table, *probes, *(n + 1 for n in table), *(max(n - 1, 0) for n in table)]:
        nr32 = nr & 0xFFFFFFFF
        expected = table.get(nr32, default)
        assert run_bpf(prog, nr32 - (1 << 32) if nr32 >= 1 << 31 else nr32) == expected


def test_lookup_table_refuses_one_number_with_two_actions() -> None:
    from hardenkit.sandbox.seccomp.fragments import build_table  # noqa: PLC0415

    with pytest.raises(ValueError, match="two different actions"):
        build_table([(1, ALLOW), (1, EPERM)])
    assert build_table([(1, ALLOW), (1, ALLOW)]) == build_table([(1, ALLOW)])


def test_mixed_actions_over_every_group_match_libseccomp() -> None:
    groups = sorted(g for g in group_names() if g not in ("@known", "@default"))
    policy = SeccompPolicy(
        default="kill",
        allow=groups[::2],
        deny=groups[1::4],
        errno=13,
        arches=("SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        rules=(
            SyscallRule(names=["ptrace"], action="log"),
            SyscallRule(names=["kexec_load"], action="trap"),
            SyscallRule(names=["reboot"], action="errno", errno=38),
            SyscallRule(
                names=["socket"], action="allow", args=(ArgCondition(index=0, op="eq", value=1),)
            ),
            SyscallRule(
                names=["socket"],
                action="errno",
                errno=97,
                args=(ArgCondition(index=0, op="eq", value=40),),
            ),
        ),
    )
    linked, reference = _linked_and_reference(policy)
    diffs = [
        (hex(arch), hex(nr), args)
        for nr, arch, args in _inputs()
        if run_bpf(linked, nr, arch, args) != run_bpf(reference, nr, arch, args)
    ]
    assert diffs == []


# --- multiplexed calls: i386 socketcall/ipc sub-calls decided without their arguments ---

SOCKETCALL, IPC, SYS_SOCKET, SYS_CONNECT, SHMGET = 102, 117, 1, 3, 23


def test_multiplexed_subcalls_follow_the_names_decision() -> None:
    docker = SeccompPolicy.docker_default(capabilities=()).to_bpf()
    assert run_bpf(docker, SOCKETCALL, I386, (SYS_SOCKET,)) == EPERM  # family rules: refused
    assert run_bpf(docker, SOCKETCALL, I386, (SYS_CONNECT,)) == ALLOW  # allowed plainly
    assert run_bpf(docker, SOCKETCALL, I386, (1 << 32 | SYS_SOCKET,)) == EPERM  # low word
    unix_only = SeccompPolicy(
        default="errno",
        allow=["@system-service"],
        arches=["SCMP_ARCH_X86"],
        rules=[
            SyscallRule(
                names="socket", action="allow", args=(ArgCondition(index=0, op="eq", value=1),)
            )
        ],
    ).to_bpf()
    assert run_bpf(unix_only, SOCKETCALL, I386, (SYS_SOCKET,)) == EPERM
    assert run_bpf(unix_only, 359, I386, (1,)) == ALLOW  # the direct call is still decided
    assert run_bpf(unix_only, 359, I386, (2,)) == EPERM
    shm = SeccompPolicy(
        default="allow",
        arches=["SCMP_ARCH_X86"],
        rules=[
            SyscallRule(
                names="shmget", action="errno", args=(ArgCondition(index=0, op="eq", value=7),)
            )
        ],
    ).to_bpf()
    assert run_bpf(shm, IPC, I386, (SHMGET,)) == EPERM
    assert run_bpf(shm, IPC, I386, (1 << 16 | SHMGET,)) == EPERM  # the version half ignored
    assert run_bpf(shm, IPC, I386, (SHMGET + 1,)) == ALLOW
    only = SeccompPolicy(default="errno", allow=["socketcall", "socket"], arches=["SCMP_ARCH_X86"])
    prog = only.to_bpf()
    assert run_bpf(prog, SOCKETCALL, I386, (SYS_SOCKET,)) == ALLOW
    assert run_bpf(prog, SOCKETCALL, I386, (SYS_CONNECT,)) == EPERM  # connect: the default


TIOCSTI_CMD = 0x5412


@pytest.mark.parametrize(
    "policy",
    [
        SeccompPolicy(default="allow", block_namespaces=False),
        SeccompPolicy(default="allow"),
        SeccompPolicy(default="errno", allow=["ioctl", "read"], arches=("SCMP_ARCH_X86",)),
    ],
)
def test_every_filter_refuses_tiocsti_on_the_low_32_bits(policy: SeccompPolicy) -> None:
    # TIOCSTI pushes input into a terminal the process shares with the shell that started
    # it (hardenkit exec keeps the caller's terminal): the shell then runs it, unconfined.
    prog = policy.to_bpf()
    for cmd in (TIOCSTI_CMD, 1 << 32 | TIOCSTI_CMD):
        assert run_bpf(prog, 16, X86_64, (0, cmd)) == EPERM, hex(cmd)
    assert run_bpf(prog, 16, X86_64, (0, TIOCSTI_CMD + 1)) == ALLOW  # other ioctls
    if "SCMP_ARCH_X86" in policy.arches:
        assert run_bpf(prog, 54, I386, (0, TIOCSTI_CMD)) == EPERM


def test_table_end_found_from_a_known_number_is_the_full_probe_on_every_abi() -> None:
    # max_syscall(known=k) trusts k when the next _END_WINDOW numbers are unknown: that
    # holds only if no run of unknown numbers inside a table is that long. Check every
    # ABI's table, and the answer itself from a sample of known numbers.
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415

    for name, arch in sc.ARCH_NAMES.items():
        base = sc.X32_SYSCALL_BIT if name == "SCMP_ARCH_X32" else 0
        numbers = [base | n for n in range(1024) if sc._knows(arch, base | n)]
        full = sc._probe_down(arch)
        assert numbers[-1] == full, name
        gaps = [b - a - 1 for a, b in itertools.pairwise(numbers)]
        assert max(gaps) < sc._END_WINDOW, (name, max(gaps))
        for k in [*numbers[::25], numbers[-1]]:
            sc._TABLE_ENDS.pop(arch, None)
            assert sc.max_syscall(arch, known=k) == full, (name, k)
        sc._TABLE_ENDS.pop(arch, None)
        assert sc.max_syscall(arch, known=base | 1023) == full  # not known: the full probe
    sc._TABLE_ENDS.pop(sc.native_arch(), None)
    assert sc.max_syscall(sc.native_arch()) == sc._probe_down(sc.native_arch())
