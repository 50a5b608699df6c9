"""``ConfinementPlan``: a confinement resolved and compiled, ready to enter.

:func:`~hardenkit.sandbox.confinement.prepare_confinement` builds it in the parent; its
:attr:`~ConfinementPlan.steps` (the one order) are walked by the in-process executor
(:mod:`hardenkit.sandbox._enter`) or encoded for the exec helper.
"""

from __future__ import annotations

from hardenkit.errors import SandboxError
from hardenkit.sandbox._check import all_tasks_nnp, judge_shed_here
from hardenkit.sandbox._enter import execute
from hardenkit.sandbox._steps import compile_steps

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from hardenkit.privileges import DropPlan, Identity
    from hardenkit.sandbox._steps import Step
    from hardenkit.sandbox.landlock import LandlockPlan
    from hardenkit.sandbox.network import NetworkPlan
    from hardenkit.sandbox.seccomp import CompiledPolicy, SeccompPolicy

__all__ = ["ConfinementPlan"]


class ConfinementPlan:
    """Everything resolved and compiled; :meth:`enter` applies it, :meth:`verify` checks it.

    A plan holds open Landlock path descriptors: :meth:`close` it (or use ``with``).

    Examples:
        >>> from hardenkit._child import fork_call
        >>> from hardenkit.sandbox import ResourceLimits
        >>> from hardenkit.sandbox.confinement import prepare_confinement
        >>> plan = prepare_confinement(limits=ResourceLimits(open_files=64))  # no effect yet
        >>> def child():
        ...     plan.enter()
        ...     plan.verify()
        ...     import resource
        ...     return resource.getrlimit(resource.RLIMIT_NOFILE)
        >>> fork_call(child).value
        [64, 64]
        >>> plan.close()
    """

    def __init__(
        self,
        *,
        drop: DropPlan | None,
        apply_drop: Callable[[DropPlan], object] | None,
        verify_drop: Callable[..., Identity] | None,
        check_drop: Callable[..., object] | None = None,
        rlimits: tuple[tuple[int, int], ...],
        no_new_privs: bool,
        landlock: LandlockPlan | None,
        seccomp: CompiledPolicy | None,
        seccomp_policy: SeccompPolicy | None,
        metadata_guard: CompiledPolicy | None = None,
        filesystem_guard: CompiledPolicy | None = None,
        shed_caps: int = 0,
        last_cap: int = 63,
        network: NetworkPlan | None = None,
        network_filter: CompiledPolicy | None = None,
    ) -> None:
        self.drop = drop
        #: ``privileges.apply_drop``, ``verify_drop`` (confine's whole-process check) and
        #: ``check_drop_report`` (the judge of a thread's answers), passed in so that a
        #: plan without a drop never loads the privileges module.
        self.apply_drop = apply_drop
        self.verify_drop = verify_drop
        self.check_drop = check_drop
        self.rlimits = rlimits
        self.no_new_privs = no_new_privs
        self.landlock = landlock
        self.seccomp = seccomp
        self.seccomp_policy = seccomp_policy
        #: The filter refusing metadata syscalls Landlock does not govern (see
        #: :func:`metadata_guard_policy`); loaded before ``seccomp``.
        self.metadata_guard = metadata_guard
        #: The filter refusing what Landlock does not govern under a FilesystemPolicy
        #: (see :func:`filesystem_guard_policy`); loaded after the metadata guard.
        self.filesystem_guard = filesystem_guard
        #: Capabilities taken out of every set when the caller's ids are kept (CAP_MKNOD
        #: unless the policy names ``devices``; CAP_SYS_ADMIN and CAP_PERFMON inside a
        #: Landlock domain); ``last_cap`` bounds the bounding-set walk.
        self.shed_caps = shed_caps
        self.last_cap = last_cap
        #: The NetworkPolicy's Landlock part and probes, and its filter (loaded after the
        #: guards, probed, then the caller's filter).
        self.network = network
        self.network_filter = network_filter
        self.landlock_probed = False
        self.identity: Identity | None = None
        #: Called (before Landlock) by ``enter(verify=True)`` to record the identity.
        self.identity_source: Callable[[], Identity] | None = None
        #: Called by enter right after the drop (before seccomp): where a spawn arms its
        #: parent-death signal, which a change of user ids clears.
        self.after_drop: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return (
            f"ConfinementPlan(drop={self.drop is not None}, rlimits={len(self.rlimits)}, "
            f"no_new_privs={self.no_new_privs}, landlock={self.landlock is not None}, "
            f"seccomp={self.seccomp is not None}"
            f"{', metadata_guard=True' if self.metadata_guard is not None else ''}"
            f"{', filesystem_guard=True' if self.filesystem_guard is not None else ''}"
            f"{', network=True' if self.network is not None else ''})"
        )

    @property
    def filters(self) -> tuple[CompiledPolicy, ...]:
        """The programs to load, in order (the guards first)."""
        return tuple(
            f
            for f in (
                self.metadata_guard,
                self.filesystem_guard,
                self.network_filter,
                self.seccomp,
            )
            if f is not None
        )

    def __enter__(self) -> ConfinementPlan:  # noqa: PYI034 -- not subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def steps(self) -> tuple[Step, ...]:
        """The plan's steps in THE order (:func:`~hardenkit.sandbox._steps.compile_steps`).

        Compiled from the plan's current fields each time, for whichever executor walks
        them: :meth:`enter` here, or the exec helper's encoder.
        """
        return compile_steps(self)

    def enter(self, *, verify: bool = False) -> None:
        """Apply the plan to the calling process: ids, rlimits, no_new_privs, Landlock, seccomp.

        Safe in a freshly forked single-threaded child right before exec (with the
        default ``verify=False``). With ``verify=True`` (what :func:`confine` uses) each
        step is checked while it still can be: ids, limits and no_new_privs through
        procfs before Landlock (which may hide /proc), seccomp afterwards through prctl
        (single-threaded under Landlock) or procfs; :attr:`identity` is then set.

        Raises:
            PrivilegeError: the privilege drop failed.
            SandboxError: any other step failed; later steps were not attempted.
        """
        execute(self, self.steps, "verify" if verify else "none")

    def enter_checked(self) -> None:
        """:meth:`enter`, checking this thread from the kernel's side before exec.

        For a freshly forked child (the spawn path): before Landlock (which may hide
        /proc) the answers the exec helper would report (this thread's status, groups,
        securebits, limits, no_new_privs) are read and judged by the same checker
        (:func:`hardenkit.sandbox._check.judge`); after the filters are loaded, prctl
        must report seccomp filter mode and no_new_privs. No import, lock, logging or
        name lookup.

        Raises:
            PrivilegeError: the drop failed or does not hold.
            SandboxError: any other step failed or does not hold.
        """
        execute(self, self.steps, "checked")

    def verify(self) -> Identity | None:
        """Check from the kernel's side that the plan is in force; return the identity.

        Reads procfs for every thread, so under a Landlock policy that hides /proc it
        raises (fail closed): :func:`confine` uses ``enter(verify=True)`` instead. Returns
        the privileges module's Identity when a drop was planned, else None.

        Raises:
            SandboxError: a step is not in force (PrivilegeError for ids and capabilities).
        """
        identity = None
        if self.drop is not None and self.verify_drop is not None:
            identity = self.verify_drop(self.drop, no_new_privs=self.no_new_privs)
        judge_shed_here(self)
        if self.rlimits:
            # For import time, and loaded already: plan_for checked these limits.
            from hardenkit.sandbox.limits import verify_limits  # noqa: PLC0415

            verify_limits(self.rlimits)
        if self.no_new_privs:
            all_tasks_nnp()
        if self.landlock is not None and not self.landlock_probed:
            raise SandboxError("Landlock was planned but not entered")
        if self.filters:
            # For import time, and loaded already: plan_for compiled the filters.
            from hardenkit.sandbox.seccomp.apply import verify_seccomp  # noqa: PLC0415

            verify_seccomp(min_filters=len(self.filters), no_new_privs=self.no_new_privs)
        return identity

    def close(self) -> None:
        """Release the Landlock path descriptors (the plan cannot be entered afterwards)."""
        if self.landlock is not None:
            self.landlock.close()
