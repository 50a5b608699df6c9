"""The in-process executor: walk a plan's steps in the calling thread.

One of the two executors of :func:`hardenkit.sandbox._steps.compile_steps`'s tuple (the
other encodes it for the exec helper: :mod:`hardenkit.spawn._helper`). Used by
``confine()`` and ``call_sandboxed()`` (mode ``"verify"``), the fork path of ``run()``
(``"checked"``: safe between fork and exec) and :meth:`ConfinementPlan.enter`
(``"none"``: apply only). No imports, lookups or logging here.
"""

from __future__ import annotations

import errno

from hardenkit._linux import caps as _caps
from hardenkit._linux.caps import prctl
from hardenkit._linux.libc import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_LOWER,
    PR_CAPBSET_DROP,
    PR_GET_NO_NEW_PRIVS,
    PR_SET_NO_NEW_PRIVS,
)
from hardenkit.errors import HardenkitError, SandboxError
from hardenkit.sandbox import _check, _steps as s

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from hardenkit.sandbox._plan import ConfinementPlan
    from hardenkit.sandbox.seccomp import CompiledPolicy

__all__ = ["HANDLERS", "execute", "shed_capabilities"]


def execute(plan: ConfinementPlan, steps: tuple[s.Step, ...], mode: str) -> None:
    """Apply ``steps`` in their order; ``mode`` is "none", "checked" or "verify".

    Raises:
        PrivilegeError: the drop failed or does not hold.
        SandboxError: any other step failed or does not hold, or a step raised what no
            step should (a bug: as a SandboxError, not raw); later steps did not run.
    """
    step: s.Step | None = None
    done = 0
    try:
        for step in steps:
            HANDLERS[type(step)](plan, step, mode)
            done += 1
    except HardenkitError as err:
        # What ran before this step stays in force, and the failing step may have taken
        # effect in part (nothing here can be undone): the caller must stop, not carry on
        # as if nothing had changed. Said on the error.
        err.partly_confined = True
        if hasattr(err, "add_note"):  # Python 3.11+
            err.add_note(
                f"{done} confinement step(s) completed before {type(step).__name__} failed, "
                "which may have taken effect in part; none can be undone: this process "
                "is partly confined, exit it."
            )
        raise
    except Exception as err:
        # Fail closed and clearly: the steps before this one are in force, so the caller
        # must see a confinement error, never a raw one it may not expect.
        error = SandboxError(
            f"confinement step {type(step).__name__} failed unexpectedly "
            f"({type(err).__name__}: {err}); the steps before it are in force, the rest "
            "did not run: the process is only partly confined"
        )
        error.partly_confined = True
        raise error from err


def _drop(plan: ConfinementPlan, step: s.Step, _mode: str) -> None:
    assert isinstance(step, s.Drop)  # noqa: S101 -- dispatched by type
    if plan.apply_drop is None:
        raise SandboxError("a drop was planned without a way to apply it")
    plan.apply_drop(step.plan)


def _shed(_plan: ConfinementPlan, step: s.Step, _mode: str) -> None:
    assert isinstance(step, s.ShedCapabilities)  # noqa: S101 -- dispatched by type
    shed_capabilities(step.mask, step.last_cap, no_new_privs=step.no_new_privs)


def _arm(plan: ConfinementPlan, _step: s.Step, _mode: str) -> None:
    if plan.after_drop is not None:
        plan.after_drop()


def _limits(_plan: ConfinementPlan, step: s.Step, _mode: str) -> None:
    assert isinstance(step, s.SetLimits)  # noqa: S101 -- dispatched by type
    # For import time, and loaded already: plan_for checked these limits (parent side).
    from hardenkit.sandbox.limits import set_rlimits  # noqa: PLC0415

    try:
        set_rlimits(step.pairs)
    except (OSError, ValueError) as err:
        raise SandboxError(f"setrlimit failed: {err}") from err


def _nnp(_plan: ConfinementPlan, _step: s.Step, _mode: str) -> None:
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError as err:
        raise SandboxError(f"prctl(PR_SET_NO_NEW_PRIVS) failed: {err.strerror}") from err


def _answers(plan: ConfinementPlan, _step: s.Step, mode: str) -> None:
    if mode == "checked":
        _check.judge(plan, _check.read_answers(plan), exec_follows=False)
    elif mode == "verify":
        _verify_whole_process(plan)


def _verify_whole_process(plan: ConfinementPlan) -> None:
    """``confine()``'s check: the process lives on, so every thread is asked."""
    if plan.drop is not None and plan.verify_drop is not None:
        plan.identity = plan.verify_drop(plan.drop, no_new_privs=plan.no_new_privs)
    elif plan.identity_source is not None:
        plan.identity = plan.identity_source()
    _check.judge_shed_here(plan)
    if plan.rlimits:
        # For import time, and loaded already: plan_for checked these limits.
        from hardenkit.sandbox.limits import verify_limits  # noqa: PLC0415

        verify_limits(plan.rlimits)
    if plan.no_new_privs:
        if not plan.filters:
            _check.all_tasks_nnp()
        elif prctl(PR_GET_NO_NEW_PRIVS) != 1:
            # Other threads get it from seccomp's TSYNC, checked after the load.
            raise SandboxError("no_new_privs is not set on this thread")


def _landlock(plan: ConfinementPlan, step: s.Step, _mode: str) -> None:
    assert isinstance(step, s.EnterLandlock)  # noqa: S101 -- dispatched by type
    step.plan.enforce()
    step.plan.verify()  # the probe runs before any seccomp filter, which may forbid it
    plan.landlock_probed = True


def _network_landlock(_plan: ConfinementPlan, step: s.Step, _mode: str) -> None:
    assert isinstance(step, s.EnterNetworkLandlock)  # noqa: S101 -- dispatched by type
    step.plan.enforce_landlock()


def _go(_plan: ConfinementPlan, _step: s.Step, _mode: str) -> None:
    """In process the answers were judged at ReadAnswers already."""


def _filter(_plan: ConfinementPlan, step: s.Step, _mode: str) -> None:
    assert isinstance(step, s.LoadFilter)  # noqa: S101 -- dispatched by type
    _load(step.program)


def _probe_network(_plan: ConfinementPlan, step: s.Step, _mode: str) -> None:
    assert isinstance(step, s.ProbeNetwork)  # noqa: S101 -- dispatched by type
    step.plan.probe()


def _check_filters(plan: ConfinementPlan, step: s.Step, mode: str) -> None:
    assert isinstance(step, s.CheckFilters)  # noqa: S101 -- dispatched by type
    if mode == "checked" or (mode == "verify" and plan.landlock is not None):
        # Under Landlock /proc may be hidden, and the thread is the only one (refused
        # otherwise): prctl answers for it.
        _check.check_filters_here(no_new_privs=step.no_new_privs)
    elif mode == "verify":
        # For import time, and loaded already (plan_for, before any filter was loaded):
        # an import now could need syscalls the filters refuse.
        from hardenkit.sandbox.seccomp.apply import verify_seccomp  # noqa: PLC0415

        verify_seccomp(min_filters=step.count, no_new_privs=step.no_new_privs)


#: One handler per step type: the in-process meaning of each step.
HANDLERS: dict[type, Callable[[ConfinementPlan, s.Step, str], None]] = {
    s.Drop: _drop,
    s.ShedCapabilities: _shed,
    s.ArmParentDeath: _arm,
    s.SetLimits: _limits,
    s.SetNoNewPrivs: _nnp,
    s.ReadAnswers: _answers,
    s.EnterLandlock: _landlock,
    s.EnterNetworkLandlock: _network_landlock,
    s.AwaitGo: _go,
    s.LoadFilter: _filter,
    s.ProbeNetwork: _probe_network,
    s.CheckFilters: _check_filters,
}


def shed_capabilities(mask: int, last_cap: int, *, no_new_privs: bool) -> None:
    """Take the capabilities in ``mask`` out of every set of the calling thread.

    Bounding (needs CAP_SETPCAP; without it no_new_privs must stop exec from regaining
    them), ambient, then effective, permitted and inheritable. Fork-child safe.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> from hardenkit._linux.procfs import read_status
        >>> from hardenkit.sandbox._check import shed_problem
        >>> from hardenkit.sandbox.guards import CAP_MKNOD
        >>> def child():
        ...     shed_capabilities(1 << CAP_MKNOD, 40, no_new_privs=False)
        ...     return shed_problem(read_status(), 1 << CAP_MKNOD, no_new_privs=False)
        >>> fork_call(child).value is None
        True

    Raises:
        SandboxError: the kernel refused a step.
    """
    for cap in range(min(last_cap, 63) + 1):
        if not mask >> cap & 1:
            continue
        try:
            prctl(PR_CAPBSET_DROP, cap)
        except OSError as err:
            # Without CAP_SETPCAP a drop is refused: fine under no_new_privs, or when the
            # capability is not in the bounding set at all (as the exec helper judges).
            if err.errno != errno.EPERM or not (no_new_privs or not _caps.bounding_has(cap)):
                raise SandboxError(
                    f"cannot drop capability {cap} from the bounding set: {err.strerror}"
                ) from err
        try:
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap)
        except OSError as err:
            if err.errno != errno.EINVAL:  # no ambient capabilities on this kernel
                raise SandboxError(f"cannot lower ambient capability {cap}: {err}") from err
    try:
        eff, prm, inh = _caps.capget()
        if (eff | prm | inh) & mask:
            _caps.capset(eff & ~mask, prm & ~mask, inh & ~mask)
    except OSError as err:
        raise SandboxError(f"capset could not shed capabilities: {err.strerror}") from err


def _load(compiled: CompiledPolicy) -> None:
    try:
        compiled.program.load(tsync=True)
    except OSError as err:
        raise SandboxError(
            f"seccomp filter could not be loaded: {err.strerror}", syscall="seccomp"
        ) from err
