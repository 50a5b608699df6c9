"""The seccomp compile's fast paths give what the plain paths give.

Each shortcut taken for a cold compile's speed (benchmarks/bench_seccomp.py) is checked
against the path it skips: libseccomp's lookups called through ``argtypes`` one name at a
time, and a Docker profile decided again from its content.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings, strategies as st

from hardenkit.sandbox.seccomp import SeccompPolicy, compile_policy, profiles

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.seccomp]


def test_bulk_name_lookup_matches_libseccomp_one_by_one() -> None:
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415

    lib = sc._lib()
    names = sorted(
        {n for nr in range(1024) if (n := sc.syscall_name(nr)) is not None}
        | {"socketcall", "ipc", "no_such_call", "mseal", "x"}
    )
    for arch in (0, *sc.ARCH_NAMES.values()):
        sc._NUMBERS.pop(arch, None)
        got = sc.resolve_many(names, arch)
        for name in names:
            nr = lib.seccomp_syscall_resolve_name_arch(arch, name.encode())
            want = None if nr == -1 else nr
            assert got[name] == want, (hex(arch), name)
            assert sc.resolve(name, arch) == want, (hex(arch), name)
    assert sc.resolve("read") == 0
    assert sc.resolve("no_such_call") is None


def test_number_probe_matches_libseccomp_names() -> None:
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415

    for name, arch in sc.ARCH_NAMES.items():
        base = sc.X32_SYSCALL_BIT if name == "SCMP_ARCH_X32" else 0
        for nr in range(1024):
            known = sc.syscall_name(base | nr, arch) is not None
            assert sc._knows(arch, base | nr) == known, (name, nr)
        for start in range(0, 1024, 64):
            window = range(base | start, base | (start + 64))
            assert sc._knows_any(arch, window) == any(sc._knows(arch, n) for n in window)


def _from_scratch(raw: dict[str, object], caps: list[str]) -> SeccompPolicy:
    profiles._clear_cache()
    return SeccompPolicy.from_docker_profile(raw, capabilities=caps)


def test_redecided_profile_reuses_rules_only_when_named_caps_agree() -> None:
    raw = profiles.bundled_default()
    named = {"CAP_SYS_PTRACE", "CAP_SYS_NICE", "CAP_SYS_ADMIN"}
    loaded = SeccompPolicy.from_docker_profile(raw, capabilities=[*named, "CAP_CHOWN"])
    source = loaded._profile
    assert named <= source.named_caps
    assert "CAP_CHOWN" not in source.named_caps
    # CAP_CHOWN and CAP_KILL are named by no entry: the same rules, taken over.
    same = profiles.redecide(loaded, [*named, "CAP_KILL"])
    assert same._profile.base is same
    fresh = _from_scratch(raw, [*named, "CAP_KILL"])
    assert same == fresh
    assert same.rules == fresh.rules
    assert compile_policy(same).bpf == compile_policy(fresh).bpf
    # A named capability dropped: decided again, and not the loaded rules.
    fewer = profiles.redecide(loaded, ["CAP_SYS_NICE", "CAP_SYS_ADMIN"])
    assert fewer.rules != loaded.rules
    assert fewer == _from_scratch(raw, ["CAP_SYS_NICE", "CAP_SYS_ADMIN"])
    # A caller's change is carried over the taken-over rules too.
    changed = dataclasses.replace(loaded, deny=["mount"], block_namespaces=False)
    carried = profiles.redecide(changed, [*named])
    assert carried == dataclasses.replace(
        _from_scratch(raw, [*named]), deny=["mount"], block_namespaces=False
    )


def test_unreadable_cap_names_decide_in_full() -> None:
    raw = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            # No names: never decided, so its odd caps were never read (and must not fail).
            {"names": [], "action": "SCMP_ACT_ALLOW", "includes": {"caps": [None]}},
            {"names": ["kcmp"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["SYS_PTRACE"]}},
        ],
    }
    loaded = SeccompPolicy.from_docker_profile(raw, capabilities=["SYS_PTRACE"])
    assert loaded._profile.named_caps is None
    again = profiles.redecide(loaded, ["SYS_PTRACE"])
    assert again.rules == loaded.rules
    assert [r.names for r in profiles.redecide(loaded, []).rules] == [("read",)]


@pytest.mark.parametrize("module", ["_groups_table.py", "_docker_profile.py"])
def test_bundled_modules_are_rendered_from_the_json_data(module: str) -> None:
    from pathlib import Path  # noqa: PLC0415

    from hardenkit.sandbox.seccomp import _generate  # noqa: PLC0415

    shipped = Path(_generate.__file__).with_name(module).read_text(encoding="utf-8")
    assert shipped == _generate.render(module), "run python -m hardenkit.sandbox.seccomp._generate"


def test_bundled_modules_hold_the_json_data(shared_data: Path) -> None:
    import hashlib  # noqa: PLC0415
    import json  # noqa: PLC0415

    from hardenkit.sandbox.seccomp import _docker_profile, _groups_table  # noqa: PLC0415

    raw = (shared_data / "docker-default-seccomp.json").read_bytes()
    assert hashlib.sha256(raw).digest() == _docker_profile.SHA256
    assert json.loads(raw) == _docker_profile.PROFILE
    assert profiles.bundled_default() == json.loads(raw)
    assert profiles.bundled_default() is not profiles.bundled_default()
    table = json.loads((shared_data / "systemd-syscall-groups.json").read_bytes())["groups"]
    assert {
        name: (tuple(entry.get("includes", ())), tuple(entry.get("syscalls", ())))
        for name, entry in table.items()
    } == _groups_table.GROUPS
    # The bundled profile and the same file share one translation (keyed by content).
    from_file = SeccompPolicy.from_docker_profile(
        shared_data / "docker-default-seccomp.json", capabilities=()
    )
    assert from_file is SeccompPolicy.docker_default(capabilities=())


@pytest.mark.parametrize(
    ("held", "alike"),
    [
        (["SYS_PTRACE", "SYS_NICE", "CHOWN"], True),  # CHOWN and KILL: named by no entry
        (["SYS_PTRACE", "SYS_NICE", "KILL"], True),
        (["SYS_PTRACE"], False),
        (["SYS_PTRACE", "SYS_NICE", "SYS_ADMIN"], True),  # not asked for at load: ignored
    ],
)
def test_decided_alike_means_redecide_gives_the_same_rules(held: list[str], alike: bool) -> None:
    loaded = SeccompPolicy.docker_default(capabilities=["SYS_PTRACE", "SYS_NICE", "CHOWN"])
    changed = dataclasses.replace(loaded, deny=["mount"])
    for policy in (loaded, changed):
        assert profiles.decided_alike(policy, held) is alike
        again = profiles.redecide(policy, held)
        assert (again == policy) is alike
        assert (compile_policy(again).bpf == compile_policy(policy).bpf) is alike
    assert not profiles.decided_alike(SeccompPolicy(default="allow"), held)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="az09_-@.A \n\u0663é", max_size=8))
def test_name_check_matches_the_pattern(item: str) -> None:
    from hardenkit.sandbox.seccomp import rules  # noqa: PLC0415

    pattern = re.compile(r"@?[a-z0-9_-]+\Z")
    assert rules._is_name(item) == bool(pattern.match(item))


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="az09_-@.A", max_size=5),
            st.sampled_from(["read", "@sandbox", "", "@", b"read", 3, None]),
        ),
        max_size=6,
    )
)
def test_names_checked_together_as_one_by_one(items: list[object]) -> None:
    from hardenkit.errors import PolicyError  # noqa: PLC0415
    from hardenkit.sandbox.seccomp import rules  # noqa: PLC0415

    pattern = re.compile(r"@?[a-z0-9_-]+\Z")
    ok = all(isinstance(i, str) and pattern.match(i) for i in items)
    try:
        got = rules.names_of(items, "test")  # type: ignore[arg-type]
    except PolicyError:
        assert not ok
    else:
        assert ok
        assert got == tuple(dict.fromkeys(items))


def test_number_probe_refuses_numbers_a_c_int_cannot_hold() -> None:
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415

    native = sc.native_arch()
    assert sc._knows(native, 0)
    assert not sc._knows(native, -5)
    for bad in (range(2**31 - 1, 2**31 + 1), range(-(2**31) - 1, 0)):
        with pytest.raises(ValueError, match="C int"):
            sc._knows_any(native, bad)
    assert not sc._knows_any(native, range(0))


def _reuse_under_uname26(redecide_first: bool) -> list[bool]:
    """In a child whose uname() says 2.6 (personality UNAME26): does ptrace stay allowed?

    Docker allows ptrace with CAP_SYS_ADMIN only on kernels >= 4.8 ("minKernel"): the
    rules depend on the release, so a reuse of rules decided under another release must
    not happen, whichever call comes first.
    """
    import ctypes  # noqa: PLC0415 -- only in this child

    p = SeccompPolicy.docker_default(capabilities=["SYS_ADMIN", "CHOWN"])  # real release
    ctypes.CDLL(None, use_errno=True).personality(0x0020000)  # UNAME26
    assert os.uname().release.startswith("2.6")

    def allows_ptrace(policy: SeccompPolicy) -> bool:
        return any("ptrace" in rule.names for rule in policy.rules)

    if redecide_first:
        a = p.for_capabilities(["SYS_ADMIN"])
        b = SeccompPolicy.docker_default(capabilities=["SYS_ADMIN"])
    else:
        b = SeccompPolicy.docker_default(capabilities=["SYS_ADMIN"])
        a = p.for_capabilities(["SYS_ADMIN"])
    return [allows_ptrace(a), allows_ptrace(b), profiles.decided_alike(p, ["CAP_SYS_ADMIN"])]


@pytest.mark.parametrize("redecide_first", [True, False])
def test_rules_decided_under_another_kernel_release_are_not_reused(
    in_child: Any, redecide_first: bool
) -> None:
    # Found by review: reuse compared capabilities only, and cached the reused policy
    # under the new release's key, so the result depended on the order of the calls.
    assert in_child(_reuse_under_uname26, redecide_first) == [False, False, False]


def test_syscall_number_cache_is_bounded() -> None:
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415

    names = [f"no_such_call_{i}" for i in range(sc._NUMBERS_MAX + 50)]
    for start in range(0, len(names), 500):
        batch = names[start : start + 500]
        got = sc.resolve_many(iter(batch))  # an iterator: read once
        assert all(got[name] is None for name in batch)
    for name in names[-600:]:
        assert sc.resolve(name) is None
    assert len(sc._NUMBERS[0]) <= sc._NUMBERS_MAX
    assert sc.resolve("read") == 0


_KERNEL_VERSION = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789.-+abv \u0663\u00b2", max_size=14))
def test_kernel_version_parse_matches_the_regular_expression(text: str) -> None:
    # minKernel and the running release are parsed without re (hardenkit exec's start);
    # the expression is what the profile loader used, as moby parses them.
    match = _KERNEL_VERSION.match(text)
    expected = None if match is None else tuple(int(g or 0) for g in match.groups())
    assert profiles._version(text) == expected


def test_kernel_version_edges() -> None:
    for text in ("6.18.0-rc1", "4.8", "5..1", "5.", ".5", "", "5.4.3.2", "\u0663.1", "4\u00b2"):
        match = _KERNEL_VERSION.match(text)
        expected = None if match is None else tuple(int(g or 0) for g in match.groups())
        assert profiles._version(text) == expected, text
