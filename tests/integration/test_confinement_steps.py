"""One order, two executors, one checker (issue 14).

A plan compiles into one tuple of steps; the in-process executor and the exec helper's
encoder both walk exactly that tuple (reordering it reorders both), every step type has
a meaning in each and a check, and every Confinement option becomes a step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from hardenkit._linux import exec_helper
from hardenkit.errors import SandboxError
from hardenkit.sandbox import (
    Confinement,
    FilesystemPolicy,
    NetworkPolicy,
    ResourceLimits,
    SeccompPolicy,
    _check,
    _enter,
    _steps as st,
    limits,
)
from hardenkit.sandbox.confinement import ConfinementPlan, prepare_confinement
from hardenkit.sandbox.options import OPTION_NAMES
from hardenkit.spawn import CommandPolicy, _helper, _run as spawn_run, run

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]

#: One value per option that asks for its step(s), with what it needs beside it.
SAMPLES: dict[str, dict[str, Any]] = {
    "user": {"user": "nobody"},
    "group": {"user": "nobody", "group": "nogroup"},
    "groups": {"user": "nobody", "groups": ("nogroup",)},
    "keep": {"keep": ("CAP_NET_BIND_SERVICE",)},
    "limits": {"limits": ResourceLimits(open_files=64)},
    "no_new_privs": {"no_new_privs": True},
    "filesystem": {"filesystem": FilesystemPolicy(read=["/usr"])},
    "seccomp": {"seccomp": SeccompPolicy(default="allow", deny=["mount"])},
    "block_namespaces": {"block_namespaces": True},
    "isolate": {"isolate": True},
    "network": {"network": NetworkPolicy()},
}
#: Options that acknowledge a risk and add no step (checked when the plan is prepared).
ACKNOWLEDGEMENTS = {"allow_root_equivalent"}
#: The baseline every sample is compared against: nothing asked...
BARE = {"isolate": False, "block_namespaces": False, "no_new_privs": False}
#: ... but what an option needs beside it (Landlock for a process keeping our ids).
NEEDS: dict[str, dict[str, Any]] = {
    name: {"no_new_privs": True} for name in ("filesystem", "isolate", "network")
}
NEEDS["keep"] = {"user": "nobody"}  # keep changes the Drop step's content


@pytest.fixture
def plan() -> Iterator[ConfinementPlan]:
    with prepare_confinement(
        limits=ResourceLimits(open_files=64),
        seccomp=SeccompPolicy(default="allow", deny=["mount"]),
    ) as p:
        yield p


def test_every_step_type_has_both_executors_and_a_check() -> None:
    from hardenkit.spawn._helper import ENCODERS  # noqa: PLC0415

    assert set(_enter.HANDLERS) == set(st.STEP_TYPES)
    assert set(ENCODERS) == set(st.STEP_TYPES)
    assert set(_check.STEP_CHECKS) == set(st.STEP_TYPES)
    assert all(_check.STEP_CHECKS.values())


def test_every_option_has_its_steps_and_a_sample() -> None:
    assert set(st.OPTION_STEPS) == set(OPTION_NAMES)
    assert set(SAMPLES) | ACKNOWLEDGEMENTS == set(OPTION_NAMES)
    for name in ACKNOWLEDGEMENTS:
        assert st.OPTION_STEPS[name] == ()
    for steps in st.OPTION_STEPS.values():
        assert set(steps) <= set(st.STEP_TYPES)


@pytest.mark.landlock
@pytest.mark.seccomp
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_option_becomes_its_first_step(name: str) -> None:
    first = st.OPTION_STEPS[name][0]

    def steps_of_kind(**options: Any) -> list[object]:
        with prepare_confinement(confinement=Confinement(**options)) as p:
            return [s for s in p.steps if isinstance(s, first)]

    base = {**BARE, **NEEDS.get(name, {})}
    asked = steps_of_kind(**{**base, **SAMPLES[name]})
    assert asked
    assert asked != steps_of_kind(**base)


def test_both_executors_walk_the_same_tuple(
    plan: ConfinementPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = [type(s) for s in plan.steps]
    in_process: list[type] = []
    encoded: list[type] = []
    for kind in st.STEP_TYPES:
        monkeypatch.setitem(
            _enter.HANDLERS, kind, lambda _p, step, _m: in_process.append(type(step))
        )
        monkeypatch.setitem(_helper.ENCODERS, kind, lambda _e, step: encoded.append(type(step)))
    plan.enter()
    _helper.build_script(plan, exe_fd=None, ruleset_fd=None)
    assert in_process == expected
    assert encoded == expected


def test_reordering_the_tuple_reorders_both_executors(
    plan: ConfinementPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = list(plan.steps)
    i, j = (
        next(n for n, s in enumerate(steps) if isinstance(s, kind))
        for kind in (st.SetLimits, st.SetNoNewPrivs)
    )
    steps[i], steps[j] = steps[j], steps[i]
    monkeypatch.setattr(ConfinementPlan, "steps", property(lambda _self: tuple(steps)))

    script, _ = _helper.build_script(plan, exe_fd=None, ruleset_fd=99)
    labels = list(script.labels)
    nnp = labels.index("prctl(PR_SET_NO_NEW_PRIVS)")
    assert nnp < min(n for n, label in enumerate(labels) if label.startswith("setrlimit("))

    order: list[str] = []
    real = dict(_enter.HANDLERS)

    def recorded(kind: type) -> Any:
        def handler(p: ConfinementPlan, step: st.Step, mode: str) -> None:
            order.append(kind.__name__)
            real[kind](p, step, mode)

        return handler

    # Only the two steps' order is observed; everything else does nothing here.
    for kind in st.STEP_TYPES:
        quiet = kind not in (st.SetLimits, st.SetNoNewPrivs)
        monkeypatch.setitem(_enter.HANDLERS, kind, (lambda *_a: None) if quiet else recorded(kind))
    monkeypatch.setattr(limits, "set_rlimits", lambda _pairs: None)
    monkeypatch.setattr(_enter, "prctl", lambda *_a: 0)
    plan.enter()
    assert order == ["SetNoNewPrivs", "SetLimits"]


@pytest.mark.parametrize("path", ["fork", pytest.param("helper", marks=pytest.mark.exec_helper)])
def test_one_checker_judges_both_executors(
    path: str, monkeypatch: pytest.MonkeyPatch, nobody_tmp: Path
) -> None:
    monkeypatch.setattr(spawn_run, "FORCE_PATH", path)
    real = _check.judge

    def judge(plan: ConfinementPlan, answers: _check.Answers, *, exec_follows: bool) -> None:
        real(plan, answers, exec_follows=exec_follows)
        # The kernel's answers as the checker received them, then refused.
        answers = _check.Answers(
            status=answers.status,
            groups=answers.groups,
            securebits=answers.securebits,
            no_new_privs=0,
            limits=answers.limits,
        )
        real(plan, answers, exec_follows=exec_follows)

    monkeypatch.setattr(_check, "judge", judge)
    marker = nobody_tmp / "ran"
    with pytest.raises(SandboxError, match="no_new_privs is not set after entering the plan"):
        run(
            ["sh", "-c", f"touch {marker}"],
            policy=CommandPolicy(["sh"]),
            user="nobody",
            limits=ResourceLimits(open_files=64),
        )
    assert not marker.exists()


def test_the_drop_order_is_written_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from hardenkit import privileges  # noqa: PLC0415

    drop = privileges.prepare_drop("nobody", keep={"NET_BIND_SERVICE"})
    reordered = tuple(reversed(privileges.DROP_OPS))
    monkeypatch.setattr(privileges, "DROP_OPS", reordered)
    expected = privileges.drop_steps(drop, temporary_uid=False)
    assert expected == tuple(op for op in reordered if op != "seteuid0")

    script = exec_helper.Script()
    _helper._drop_steps(script, drop)
    labels = [label.split(": ", 1)[1] for label in script.labels]
    assert labels == [privileges.DROP_LABELS[op] for op in expected]

    applied: list[str] = []
    monkeypatch.setattr(privileges, "_apply_op", lambda _plan, op: applied.append(op))
    privileges.apply_drop(drop)  # recorded only: nothing changes in this process
    assert tuple(applied) == expected
