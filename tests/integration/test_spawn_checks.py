"""The spawn child's own check has teeth: a sabotaged step is caught before exec.

Each test breaks one step of the drop or the plan in the parent (the child inherits the
broken function), runs a command that would leave a marker, and expects an error and no
marker: the check in the child, not the step itself, is what stops it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit import privileges
from hardenkit._linux import caps as _caps, libc
from hardenkit.errors import PrivilegeError, SandboxError
from hardenkit.sandbox import (
    ResourceLimits,
    SeccompPolicy,
    _enter,
    _prepare,
    confinement,
    limits,
)
from hardenkit.spawn import CommandPolicy, _run as spawn_run, run

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]


@pytest.fixture(autouse=True)
def _python_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests sabotage Python code the forked child runs: pin that path.

    The same sabotage, done to the exec helper's script, is in test_spawn_helper.py.
    """
    monkeypatch.setattr(spawn_run, "FORCE_PATH", "fork")


SH = CommandPolicy(["sh"])


def _run_marker(marker: Path, **options: Any) -> None:
    run(["sh", "-c", f"touch {marker}"], policy=SH, user="nobody", **options)


def _without(step: str) -> Any:
    """apply_drop with one step skipped (the child inherits this version)."""
    real = privileges.apply_drop

    def broken(plan: privileges.DropPlan) -> None:
        if step == "bounding":
            saved = _caps.bounding_limit
            _caps.bounding_limit = lambda *_: None
            try:
                real(plan)
            finally:
                _caps.bounding_limit = saved
        elif step == "groups":
            saved_set = os.setgroups
            os.setgroups = lambda *_: None
            try:
                real(plan)
            finally:
                os.setgroups = saved_set
        else:  # "capset": skipped, with keep-caps on so the permitted set survives setuid
            saved_capset = _caps.capset
            _caps.capset = lambda *_: None
            _caps.set_keepcaps(flag=True)
            try:
                real(plan)
            finally:
                _caps.capset = saved_capset

    return broken


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        ("bounding", "CapBnd"),
        ("groups", "groups are"),
        ("capset", "CapPrm"),
    ],
)
def test_a_skipped_drop_step_is_caught_in_the_child(
    step: str, reason: str, monkeypatch: pytest.MonkeyPatch, nobody_tmp: Path
) -> None:
    marker = nobody_tmp / "ran"
    monkeypatch.setattr(privileges, "apply_drop", _without(step))
    with pytest.raises(SandboxError, match=reason):
        _run_marker(marker)
    assert not marker.exists()


def test_missing_no_new_privs_is_caught(monkeypatch: pytest.MonkeyPatch, nobody_tmp: Path) -> None:
    real = _caps.prctl

    def no_nnp(option: int, *args: int) -> int:
        if option == libc.PR_SET_NO_NEW_PRIVS:
            return 0  # claims success, sets nothing
        return real(option, *args)

    marker = nobody_tmp / "ran"
    monkeypatch.setattr(_enter, "prctl", no_nnp)  # the in-process executor
    with pytest.raises(SandboxError, match="NoNewPrivs"):
        _run_marker(marker)
    with pytest.raises(SandboxError, match="no_new_privs is not set"):
        run(["sh", "-c", f"touch {marker}"], policy=SH, limits=ResourceLimits(core_bytes=0))
    assert not marker.exists()


def test_a_filter_that_is_not_loaded_is_caught(
    monkeypatch: pytest.MonkeyPatch, nobody_tmp: Path
) -> None:
    class Unloaded:
        def load(self, *, tsync: bool = True) -> None:
            """Claim success without loading anything."""

    real = confinement.prepare_confinement

    def prepare(**kwargs: Any) -> confinement.ConfinementPlan:
        plan = real(**kwargs)
        assert plan.seccomp is not None
        plan.seccomp = dataclasses.replace(plan.seccomp, program=Unloaded())  # type: ignore[arg-type]
        return plan

    marker = nobody_tmp / "ran"
    monkeypatch.setattr(confinement, "prepare_confinement", prepare)
    with pytest.raises(SandboxError, match="seccomp filter mode"):
        _run_marker(marker, seccomp=SeccompPolicy(default="allow", deny=["mount"]))
    assert not marker.exists()


def test_a_limit_that_did_not_take_is_caught(
    monkeypatch: pytest.MonkeyPatch, nobody_tmp: Path
) -> None:
    monkeypatch.setattr(limits, "set_rlimits", lambda *_: None)
    marker = nobody_tmp / "ran"
    with pytest.raises(SandboxError, match="RLIMIT_NOFILE"):
        _run_marker(marker, limits=ResourceLimits(open_files=33))
    assert not marker.exists()


def test_the_child_check_passes_for_a_kept_capability() -> None:
    out = run(
        ["sh", "-c", "grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status"],
        policy=SH,
        user="nobody",
        keep={"NET_BIND_SERVICE"},
    ).stdout.decode()
    mask = f"{1 << 10:016x}"
    assert out.split() == ["CapEff:", mask, "CapBnd:", mask, "CapAmb:", mask]


def test_status_lines_describe_the_plan() -> None:
    plan = privileges.prepare_drop("nobody", keep={"NET_BIND_SERVICE"})
    assert b"\nUid:\t65534\t65534\t65534\t65534\n" in plan.status_lines
    assert b"\nCapBnd:\t0000000000000400\n" in plan.status_lines
    assert len(plan.status_lines) == 7


def test_verify_drop_here_reports_every_mismatch(in_child: Any) -> None:
    applied = privileges.prepare_drop("nobody", groups=[])
    expected = privileges.prepare_drop("nobody", keep={"NET_BIND_SERVICE"})

    def child() -> str:
        privileges.apply_drop(applied)
        try:
            privileges.verify_drop_here(expected, no_new_privs=True)
        except PrivilegeError as err:
            return str(err)
        return "verified"

    message = in_child(child)
    for field in ("CapEff", "CapBnd", "NoNewPrivs", "groups are"):
        assert field in message


def test_bounding_limit_tolerates_caps_already_gone(in_child: Any) -> None:
    def child() -> list[Any]:
        _caps.bounding_limit(1 << 10, 40)
        _caps.capset(0, 0, 0)  # CAP_SETPCAP gone: dropping is no longer allowed
        _caps.bounding_limit(1 << 10, 40)  # already reduced: nothing to do, no error
        try:
            _caps.bounding_limit(0, 40)  # NET_BIND_SERVICE is still there: must fail
        except PermissionError:
            refused = True
        else:
            refused = False
        return [_caps.bounding_mask(40), refused]

    assert in_child(child) == [1 << 10, True]


def test_compiled_filters_are_cached_per_policy_object() -> None:
    # Policies block namespaces by default now: this one opts out, so confine's
    # block_namespaces= decides.
    policy = SeccompPolicy(default="allow", deny=["mount"], block_namespaces=False)
    first = _prepare._compiled(policy, block_namespaces=True)
    again = _prepare._compiled(policy, block_namespaces=True)
    assert first[1] is again[1]
    assert first[0] is not None
    assert first[0].block_namespaces
    equal = SeccompPolicy(default="allow", deny=["mount"], block_namespaces=False)
    assert _prepare._compiled(equal, block_namespaces=True)[1].bpf == first[1].bpf  # type: ignore[union-attr]
    assert _prepare._compiled(None, block_namespaces=False) == (None, None)
    unblocked = _prepare._compiled(policy, block_namespaces=False)
    assert unblocked[0] is policy
    assert unblocked[1] is not None
    assert unblocked[1].bpf != first[1].bpf  # type: ignore[union-attr]
