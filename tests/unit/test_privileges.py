from __future__ import annotations

import dataclasses
import grp
import os
import pwd
from pathlib import Path
from typing import Any

import pytest

from hardenkit.capabilities import Capability
from hardenkit.errors import CapabilityError, PrivilegeError
from hardenkit.privileges import DropPlan, Identity, current_identity, prepare_drop

pytestmark = pytest.mark.linux


def _ids() -> tuple[Any, ...]:
    return (os.getresuid(), os.getresgid(), sorted(os.getgroups()))


def test_current_identity_matches_the_kernel() -> None:
    me = current_identity()
    assert (me.uid, me.euid, me.suid) == os.getresuid()
    assert (me.gid, me.egid, me.sgid) == os.getresgid()
    assert me.groups == tuple(sorted(set(os.getgroups())))
    assert me.user == pwd.getpwuid(os.geteuid()).pw_name
    assert current_identity(os.getpid()) == me


def test_current_identity_of_pid_1_reads_procfs() -> None:
    text = Path("/proc/1/status").read_text()
    uids = next(line for line in text.splitlines() if line.startswith("Uid:")).split()[1:4]
    other = current_identity(1)
    assert [other.uid, other.euid, other.suid] == [int(u) for u in uids]


def test_current_identity_of_a_missing_pid() -> None:
    with pytest.raises(PrivilegeError, match="pid 999999999"):
        current_identity(999_999_999)


def test_identity_is_frozen_and_keyword_only() -> None:
    me = current_identity()
    with pytest.raises(dataclasses.FrozenInstanceError):
        me.uid = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        Identity(0, 0, 0, 0, 0, 0, (), None)  # type: ignore[call-arg]


@pytest.mark.root
def test_plan_for_nobody_never_has_roots_groups() -> None:
    before = _ids()
    assert 0 in os.getgroups() or os.getgroups() == [] or os.getgid() == 0
    plan = prepare_drop("nobody", keep={"NET_BIND_SERVICE"})
    assert (plan.uid, plan.gid, plan.groups) == (65534, 65534, (65534,))
    assert 0 not in plan.groups
    assert plan.keep == {Capability.CAP_NET_BIND_SERVICE}
    assert plan.keep_mask == 1 << 10
    assert (plan.user, plan.home, plan.shell) == ("nobody", "/nonexistent", "/usr/sbin/nologin")
    assert _ids() == before  # no side effects


def test_plan_defaults_groups_like_initgroups() -> None:
    user = pwd.getpwnam("nobody")
    expected = tuple(sorted(set(os.getgrouplist("nobody", user.pw_gid))))
    assert prepare_drop("nobody").groups == expected
    member_of = sorted(g.gr_gid for g in grp.getgrall() if "nobody" in g.gr_mem)
    assert set(member_of) <= set(expected)


@pytest.mark.parametrize("user", ["nobody", 65534, "65534"])
def test_plan_accepts_names_and_numbers(user: str | int) -> None:
    plan = prepare_drop(user)
    assert (plan.uid, plan.user) == (65534, "nobody")


def test_plan_with_explicit_group_and_groups() -> None:
    plan = prepare_drop("nobody", "adm", groups=["nogroup", 4, "4", 4])
    assert plan.gid == 4
    assert plan.groups == (4, 65534)
    assert prepare_drop("nobody", 65534, groups=[]).groups == ()


def test_plan_for_a_uid_without_passwd_entry() -> None:
    with pytest.raises(PrivilegeError, match="uid 424242 has no passwd entry"):
        prepare_drop(424242)
    plan = prepare_drop(424242, 424242)
    assert (plan.uid, plan.gid, plan.groups, plan.user, plan.home) == (
        424242,
        424242,
        (),
        None,
        None,
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("no-such-user-hk",), {}, "unknown user 'no-such-user-hk'"),
        (("nobody", "no-such-group-hk"), {}, "unknown group 'no-such-group-hk'"),
        (("nobody",), {"groups": ["no-such-group-hk"]}, "unknown supplementary group"),
        ((-1,), {}, "uid -1 is out of range"),
        (("nobody", -5), {}, "group -5 is out of range"),
        (("nobody",), {"groups": [-1]}, "out of range"),
        ((2**32 - 1,), {}, "out of range"),
        ((True,), {}, "must be a name or a number"),
        ((1.5,), {}, "must be a name or a number"),
        (("nobody",), {"groups": "adm"}, "not a single value"),
        (("nobody",), {"keep": {"SETUID"}}, "CAP_SETUID would let uid 65534 become root"),
        (("nobody",), {"keep": ["SETGID", "NET_RAW"]}, "CAP_SETGID"),
    ],
)
def test_bad_requests_raise_before_anything(
    args: tuple[Any, ...], kwargs: dict[str, Any], match: str
) -> None:
    before = _ids()
    with pytest.raises(PrivilegeError, match=match):
        prepare_drop(*args, **kwargs)
    assert _ids() == before


def test_unknown_capability_is_a_capability_error() -> None:
    with pytest.raises(CapabilityError, match="unknown capability 'NET_BIND_SERVIC'"):
        prepare_drop("nobody", keep={"NET_BIND_SERVIC"})


def test_root_may_keep_setuid() -> None:
    plan = prepare_drop("root", keep={"SETUID"})
    assert plan.keep == {Capability.CAP_SETUID}


def test_drop_plan_is_validated_and_frozen() -> None:
    plan = DropPlan(uid=1, gid=2, groups=(3, 3, 2), keep=frozenset({Capability.CAP_KILL}))
    assert plan.groups == (2, 3)
    assert plan.keep_mask == 1 << 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.uid = 0
    with pytest.raises(PrivilegeError):
        DropPlan(uid=1, gid=2, groups=[3])  # type: ignore[arg-type]
    with pytest.raises(PrivilegeError):
        DropPlan(uid=-1, gid=2, groups=())
    assert not hasattr(plan, "__dict__")


def test_drop_plan_compares_hashes_copies_and_pickles_like_a_dataclass() -> None:
    import copy  # noqa: PLC0415
    import pickle  # noqa: PLC0415

    plan = DropPlan(uid=1, gid=2, groups=(3,), keep=frozenset({Capability.CAP_KILL}))
    twin = DropPlan(uid=1, gid=2, groups=(3, 3), keep=frozenset({Capability.CAP_KILL}))
    assert plan == twin
    assert hash(plan) == hash(twin)
    assert plan != DropPlan(uid=1, gid=2, groups=(3,))
    assert plan != (1, 2, (3,))
    for other in (copy.copy(plan), copy.deepcopy(plan), pickle.loads(pickle.dumps(plan))):  # noqa: S301
        assert other == plan
        assert other.status_lines == plan.status_lines
    assert repr(plan).startswith("DropPlan(uid=1, gid=2, groups=(3,), keep=frozenset({")
    assert "status_lines" not in repr(plan)
    with pytest.raises(dataclasses.FrozenInstanceError):
        del plan.keep_mask
    with pytest.raises(TypeError):
        DropPlan(1, 2, ())  # type: ignore[call-arg]
    # Nothing kept: the same plan without the capability enum's help.
    assert DropPlan(uid=1, gid=2, groups=()).keep_mask == 0
    assert DropPlan(uid=1, gid=2, groups=()).last_cap == len(Capability) - 1
