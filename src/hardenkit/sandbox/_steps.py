"""The one order of a confinement, written once: a plan compiled into a tuple of steps.

Two executors walk this tuple and nothing else decides the order: the in-process one
(:meth:`ConfinementPlan.enter` and friends: ``confine()``, ``call_sandboxed()``, the
fork path of ``run()``) and the encoder for the compiled exec helper
(:func:`hardenkit.spawn._helper.build_script`). The kernel's answers read at
:class:`ReadAnswers` are judged by one checker (:mod:`hardenkit.sandbox._check`).

Steps are data (frozen records: a frozen dataclass's behaviour, see
:mod:`hardenkit._record`). Adding an option means a field of
:class:`~hardenkit.sandbox.options.Confinement`, the step(s) it becomes here
(:data:`OPTION_STEPS`), a handler in each executor and a check
(``tests/unit/test_confinement_steps.py`` fails until all four exist).
"""

from __future__ import annotations

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    # mypy checks the steps as the frozen dataclasses they behave as; at run time they are
    # records (hardenkit._record): @dataclass costs ~0.8 ms a class, 12 classes here.
    from dataclasses import dataclass as record

    from hardenkit.privileges import DropPlan
    from hardenkit.sandbox.confinement import ConfinementPlan
    from hardenkit.sandbox.landlock import LandlockPlan
    from hardenkit.sandbox.network import NetworkPlan
    from hardenkit.sandbox.seccomp import CompiledPolicy
else:
    from hardenkit._record import record

__all__ = [
    "OPTION_STEPS",
    "STEP_TYPES",
    "ArmParentDeath",
    "AwaitGo",
    "CheckFilters",
    "Drop",
    "EnterLandlock",
    "EnterNetworkLandlock",
    "LoadFilter",
    "ProbeNetwork",
    "ReadAnswers",
    "SetLimits",
    "SetNoNewPrivs",
    "ShedCapabilities",
    "Step",
    "compile_steps",
]


@record(frozen=True, slots=True)
class Drop:
    """Change ids and capabilities (``privileges.apply_drop``'s order)."""

    plan: DropPlan


@record(frozen=True, slots=True)
class ShedCapabilities:
    """Take ``mask`` out of the sets of a process that keeps the caller's ids."""

    mask: int
    last_cap: int
    no_new_privs: bool


@record(frozen=True, slots=True)
class ArmParentDeath:
    """Where a spawn arms its parent-death signal (a change of user ids clears it)."""


@record(frozen=True, slots=True)
class SetLimits:
    """setrlimit, soft = hard, for each ``(resource, value)``."""

    pairs: tuple[tuple[int, int], ...]


@record(frozen=True, slots=True)
class SetNoNewPrivs:
    """prctl(PR_SET_NO_NEW_PRIVS, 1)."""


@record(frozen=True, slots=True)
class ReadAnswers:
    """Read back ids, capabilities, groups, securebits, limits and no_new_privs."""


@record(frozen=True, slots=True)
class EnterLandlock:
    """Restrict to the filesystem (or isolation) domain, then probe that it holds."""

    plan: LandlockPlan


@record(frozen=True, slots=True)
class EnterNetworkLandlock:
    """Restrict to the NetworkPolicy's Landlock domain (ports, scopes)."""

    plan: NetworkPlan


@record(frozen=True, slots=True)
class AwaitGo:
    """Everything above is judged before anything below runs (the helper's "go")."""


@record(frozen=True, slots=True)
class LoadFilter:
    """Load one seccomp program with TSYNC; ``role`` says which one."""

    program: CompiledPolicy
    role: str


@record(frozen=True, slots=True)
class ProbeNetwork:
    """Try what the NetworkPolicy forbids: each attempt must be refused."""

    plan: NetworkPlan


@record(frozen=True, slots=True)
class CheckFilters:
    """prctl must report seccomp filter mode (and no_new_privs when it was asked)."""

    count: int
    no_new_privs: bool


Step = (
    Drop
    | ShedCapabilities
    | ArmParentDeath
    | SetLimits
    | SetNoNewPrivs
    | ReadAnswers
    | EnterLandlock
    | EnterNetworkLandlock
    | AwaitGo
    | LoadFilter
    | ProbeNetwork
    | CheckFilters
)

#: Every step type, in the order :func:`compile_steps` emits them (with a network
#: policy the first filters and ProbeNetwork come before AwaitGo: see step 9).
STEP_TYPES: tuple[type, ...] = (
    Drop,
    ShedCapabilities,
    ArmParentDeath,
    SetLimits,
    SetNoNewPrivs,
    ReadAnswers,
    EnterLandlock,
    EnterNetworkLandlock,
    AwaitGo,
    LoadFilter,
    ProbeNetwork,
    CheckFilters,
)

#: Each Confinement option -> the steps it becomes. ``allow_root_equivalent`` is an
#: acknowledgement checked when the plan is prepared: it adds no step.
OPTION_STEPS: dict[str, tuple[type, ...]] = {
    "user": (Drop,),
    "group": (Drop,),
    "groups": (Drop,),
    "keep": (Drop, ShedCapabilities),
    "limits": (SetLimits,),
    "no_new_privs": (SetNoNewPrivs,),
    "filesystem": (EnterLandlock, LoadFilter, ShedCapabilities),
    "seccomp": (LoadFilter,),
    "block_namespaces": (LoadFilter,),
    "isolate": (EnterLandlock, ShedCapabilities),
    "allow_root_equivalent": (),
    "network": (EnterNetworkLandlock, LoadFilter, ProbeNetwork),
}


def compile_steps(plan: ConfinementPlan) -> tuple[Step, ...]:
    """The plan's steps, in THE order (the reasons are the comments below).

    Fork-child safe (no imports, lookups or logging): the fork path compiles in the child.

    Examples:
        >>> from hardenkit.sandbox.confinement import prepare_confinement
        >>> from hardenkit.sandbox.limits import ResourceLimits
        >>> with prepare_confinement(limits=ResourceLimits(open_files=64)) as plan:
        ...     [type(s).__name__ for s in compile_steps(plan)]  # doctest: +NORMALIZE_WHITESPACE
        ['ShedCapabilities', 'ArmParentDeath', 'SetLimits', 'SetNoNewPrivs', 'ReadAnswers',
         'EnterLandlock', 'AwaitGo', 'LoadFilter', 'CheckFilters']
    """
    steps: list[Step] = []
    # 1. Ids and capabilities first: they need the privileges every later step gives up.
    if plan.drop is not None:
        steps.append(Drop(plan.drop))
    # 2. Without a drop, shed what a process keeping our ids must not hold (CAP_MKNOD;
    #    inside Landlock CAP_SYS_ADMIN and CAP_PERFMON), while CAP_SETPCAP still works.
    if plan.shed_caps:
        steps.append(ShedCapabilities(plan.shed_caps, plan.last_cap, plan.no_new_privs))
    # 3. Right after the drop: a change of user ids clears the parent-death signal.
    steps.append(ArmParentDeath())
    # 4. rlimits: per process, and lowering them needs nothing later steps take away.
    if plan.rlimits:
        steps.append(SetLimits(plan.rlimits))
    # 5. no_new_privs before Landlock and seccomp: an unprivileged process needs it for
    #    both, and exec must not grant back what was dropped.
    if plan.no_new_privs:
        steps.append(SetNoNewPrivs())
    # 6. Read the kernel's answers now: Landlock (next) may hide /proc.
    steps.append(ReadAnswers())
    # 7. Landlock, probed before any seccomp filter (which may forbid the probe).
    if plan.landlock is not None:
        steps.append(EnterLandlock(plan.landlock))
    if plan.network is not None:
        steps.append(EnterNetworkLandlock(plan.network))
    # 8. seccomp last (an earlier step's syscalls may be ones it forbids); the guards
    #    before the caller's filter, which may forbid seccomp() itself.
    filters = [
        LoadFilter(program, role)
        for role, program in (
            ("metadata guard", plan.metadata_guard),
            ("filesystem guard", plan.filesystem_guard),
            ("network", plan.network_filter),
            ("seccomp", plan.seccomp),
        )
        if program is not None
    ]
    # 9. The network probes run right after the network filter (they test it too) and
    #    before the caller's filter, which may forbid sockets. Their answers must reach
    #    the exec helper's parent, so with a network policy the filters up to the network
    #    filter and the probes come before the go; without one, every filter after it.
    before_go: list[Step] = []
    if plan.network is not None:
        while filters and filters[0].role != "seccomp":
            before_go.append(filters.pop(0))
        before_go.append(ProbeNetwork(plan.network))
    steps.extend(before_go)
    # 10. The exec helper's parent judges the answers here; a filter may forbid telling it.
    steps.append(AwaitGo())
    steps.extend(filters)
    # 11. Filter mode and no_new_privs asked of this thread with prctl (no /proc needed).
    count = sum(isinstance(s, LoadFilter) for s in steps)
    if count:
        steps.append(CheckFilters(count, plan.no_new_privs))
    return tuple(steps)
