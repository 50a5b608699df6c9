"""The one checker: judge the kernel's answers about a confined thread.

Both executors read the same answers at the plan's ``ReadAnswers`` step (before Landlock,
which may hide /proc): the in-process one in its own thread (:func:`read_answers`), the
exec helper in the child, which sends them to the parent. :func:`judge` decides for
both. ``confine()`` keeps the process running afterwards, so it asks more (every
thread, the ways back to root: ``privileges.verify_drop``); filters are checked with
prctl (:func:`check_filters_here`) or, without Landlock, for every thread.
"""

from __future__ import annotations

import os

from hardenkit._linux import caps as _caps, procfs
from hardenkit._linux.caps import prctl
from hardenkit._linux.libc import PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP
from hardenkit.errors import SandboxError
from hardenkit.sandbox import _steps

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    # mypy checks Answers as the frozen dataclass it behaves as (hardenkit._record).
    from dataclasses import dataclass as record

    from hardenkit._linux.procfs import ProcStatus
    from hardenkit.sandbox._plan import ConfinementPlan
else:
    from hardenkit._record import record

__all__ = [
    "STEP_CHECKS",
    "Answers",
    "all_tasks_nnp",
    "check_filters_here",
    "judge",
    "judge_shed_here",
    "read_answers",
    "shed_problem",
    "shed_problems",
]


#: How each step is judged from the kernel's side (a new step type needs an entry:
#: tests/integration/test_confinement_steps.py checks that every one has one).
STEP_CHECKS: dict[type, str] = {
    _steps.Drop: "judge: the plan's check_drop (privileges.check_drop_report) on the answers",
    _steps.ShedCapabilities: "judge: shed_problem on the status answer",
    _steps.ArmParentDeath: "the go: the parent answers only if it outlived the arming",
    _steps.SetLimits: "judge: check_limit_values and refuse_unenforced on the answers",
    _steps.SetNoNewPrivs: "judge: the PR_GET_NO_NEW_PRIVS answer; CheckFilters after seccomp",
    _steps.ReadAnswers: "judge itself",
    _steps.EnterLandlock: "the Landlock probe (LandlockPlan.verify / landlock.check_probe)",
    _steps.EnterNetworkLandlock: "ProbeNetwork: every forbidden attempt must be refused",
    _steps.AwaitGo: "nothing below runs unless judge passed above",
    _steps.LoadFilter: "CheckFilters: filter mode through prctl (verify_seccomp for confine)",
    _steps.ProbeNetwork: "its own attempts, each refused with the expected errno",
    _steps.CheckFilters: "its own prctl answers",
}


@record(frozen=True, slots=True)
class Answers:
    """What the kernel says about the confined thread, read before Landlock.

    ``status`` is the text of /proc/thread-self/status; ``groups`` getgroups(),
    ``securebits`` PR_GET_SECUREBITS, ``no_new_privs`` PR_GET_NO_NEW_PRIVS and
    ``limits`` getrlimit's (soft, hard) per resource. A reader may leave out what the
    plan does not need (``status`` empty without a drop, shed or RLIMIT_NPROC).
    """

    status: bytes
    groups: tuple[int, ...]
    securebits: int
    no_new_privs: int
    limits: Mapping[int, tuple[int, int]]


def _limits_nproc(rlimits: tuple[tuple[int, int], ...]) -> bool:
    """Whether ``rlimits`` sets RLIMIT_NPROC."""
    if not rlimits:
        return False
    # For import time: resource comes with limits (which made these rlimits), loaded already.
    import resource  # noqa: PLC0415

    return any(which == resource.RLIMIT_NPROC for which, _ in rlimits)


def _read_limits(rlimits: tuple[tuple[int, int], ...]) -> dict[int, tuple[int, int]]:
    """The (soft, hard) limits getrlimit reports for each resource in ``rlimits``."""
    if not rlimits:
        return {}
    import resource  # noqa: PLC0415 -- as in _limits_nproc

    return {which: resource.getrlimit(which) for which, _ in rlimits}


def _needs_status(plan: ConfinementPlan) -> bool:
    return plan.drop is not None or bool(plan.shed_caps) or _limits_nproc(plan.rlimits)


def read_answers(plan: ConfinementPlan) -> Answers:
    """Read the answers :func:`judge` needs about the calling thread (fork-child safe).

    Raises:
        SandboxError: a reading failed (a check that cannot run never passes).
    """
    try:
        status = b""
        if _needs_status(plan):
            status = procfs.read_thread_status_bytes()
        drop = plan.drop is not None
        return Answers(
            status=status,
            groups=tuple(os.getgroups()) if drop else (),
            securebits=_caps.get_securebits() if drop else 0,
            no_new_privs=prctl(PR_GET_NO_NEW_PRIVS) if plan.no_new_privs else 0,
            limits=_read_limits(plan.rlimits),
        )
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot read back the confinement: {err}") from err


def judge(plan: ConfinementPlan, answers: Answers, *, exec_follows: bool) -> None:
    """Raise unless ``answers`` show every step before Landlock in force.

    ``exec_follows``: the exec helper does not capset its own sets when it sheds
    capabilities; the exec right after recomputes them (see :func:`shed_problem`).

    Raises:
        PrivilegeError: the drop does not hold.
        SandboxError: anything else does not hold.
    """
    if plan.drop is not None:
        if plan.check_drop is None:
            raise SandboxError("a drop was planned without a way to check it")
        plan.check_drop(
            plan.drop,
            status=answers.status,
            groups=answers.groups,
            securebits=answers.securebits,
            no_new_privs=plan.no_new_privs,
        )
    if plan.rlimits:
        # For import time, and loaded already: plan_for checked these limits.
        from hardenkit.sandbox.limits import check_limit_values  # noqa: PLC0415

        check_limit_values(plan.rlimits, answers.limits)
    nproc = _limits_nproc(plan.rlimits)
    if plan.shed_caps or nproc:
        try:
            st = procfs.parse_status(answers.status.decode(errors="replace"))
        except ValueError as err:
            raise SandboxError(f"the status report is unreadable: {err}") from err
        if nproc:
            from hardenkit.sandbox.limits import refuse_unenforced  # noqa: PLC0415 -- as above

            refuse_unenforced(
                plan.rlimits, uid=st.uids[0], caps=st.cap_permitted | st.cap_effective
            )
        if plan.shed_caps:
            problem = shed_problem(
                st, plan.shed_caps, no_new_privs=plan.no_new_privs, exec_follows=exec_follows
            )
            if problem:
                raise SandboxError(f"shedding capabilities did not hold: {problem}")
    if plan.no_new_privs and answers.no_new_privs != 1:
        raise SandboxError("no_new_privs is not set after entering the plan")


def _threads() -> int:
    try:
        return procfs.read_status().threads
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot count this process's threads: {err}") from err


def _live_task_statuses(what: str) -> list[ProcStatus]:
    """Every thread's status; a thread that exited after the listing is skipped.

    An exited thread runs nothing, so it is no risk; every other read failure raises.
    """
    try:
        tids = procfs.task_ids()
    except OSError as err:
        raise SandboxError(f"cannot list /proc/self/task to verify {what}: {err}") from err
    statuses = [st for tid in tids if (st := _task_status(tid, what)) is not None]
    if not statuses:
        raise SandboxError(f"no thread's status could be read to verify {what}")
    return statuses


def _task_status(tid: int, what: str) -> ProcStatus | None:
    """One thread's status, or None when it exited after the listing."""
    try:
        return procfs.read_task_status(tid)
    except (FileNotFoundError, ProcessLookupError):
        return None
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot read thread {tid}'s status to verify {what}: {err}") from err


def all_tasks_nnp() -> None:
    """Every live thread has no_new_privs (procfs)."""
    statuses = _live_task_statuses("no_new_privs")
    for st in statuses:
        if not st.no_new_privs:
            raise SandboxError(f"thread {st.pid} does not have no_new_privs set")


def shed_problem(
    status: ProcStatus, mask: int, *, no_new_privs: bool, exec_follows: bool = False
) -> str | None:
    """Say why ``status`` still holds (or may regain) a capability of ``mask``, or None.

    Inheritable and ambient must lack them; effective and permitted too, unless an exec
    follows that recomputes them from a bounding set and inheritable set that lack them.
    The bounding set may keep them only under no_new_privs (exec then gains nothing).

    Examples:
        >>> from hardenkit._linux.procfs import read_status
        >>> shed_problem(read_status(), 1 << 27, no_new_privs=False)  # as root
        'CapEff, CapPrm, CapBnd still hold 0x8000000'
    """
    held = [
        label
        for label, value in (
            ("CapEff", status.cap_effective),
            ("CapPrm", status.cap_permitted),
            ("CapInh", status.cap_inheritable),
            ("CapAmb", status.cap_ambient),
        )
        if value & mask and not (exec_follows and label in ("CapEff", "CapPrm"))
    ]
    if status.cap_bounding & mask and (
        not no_new_privs or (exec_follows and status.cap_permitted & mask)
    ):
        held.append("CapBnd")
    return f"{', '.join(held)} still hold {mask:#x}" if held else None


def check_filters_here(*, no_new_privs: bool) -> None:
    """Check filter mode and no_new_privs on the calling thread through prctl (no procfs)."""
    seccomp_mode_filter = 2
    try:
        mode = prctl(PR_GET_SECCOMP)
        nnp = prctl(PR_GET_NO_NEW_PRIVS)
    except OSError as err:
        raise SandboxError(f"prctl could not report the seccomp mode: {err.strerror}") from err
    if mode != seccomp_mode_filter:
        raise SandboxError(f"this thread is not in seccomp filter mode (mode {mode})")
    if no_new_privs and nnp != 1:
        raise SandboxError("this thread lacks no_new_privs after seccomp")


def judge_shed_here(plan: ConfinementPlan) -> None:
    """The shed capabilities are in no set of any thread of this process (procfs).

    A whole-process claim: every task is read, not only the calling thread (a thread
    that kept CAP_MKNOD could still make device nodes). Read before Landlock.
    """
    if not plan.shed_caps:
        return
    problems = shed_problems(plan.shed_caps, no_new_privs=plan.no_new_privs)
    if problems:
        raise SandboxError("; ".join(problems))


def shed_problems(mask: int, *, no_new_privs: bool) -> list[str]:
    """Why each live thread still holds (or may regain) a capability of ``mask``.

    Examples:
        >>> shed_problems(0, no_new_privs=False)
        []

    Raises:
        SandboxError: /proc/self/task or a thread's status could not be read.
    """
    out = []
    for status in _live_task_statuses("the shed capabilities"):
        problem = shed_problem(status, mask, no_new_privs=no_new_privs)
        if problem:
            out.append(f"thread {status.pid}: {problem}")
    return out
