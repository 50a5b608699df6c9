"""``confine()``: every sandbox step, in the one correct order, then verified.

The order is minijail's: ids and capabilities (needs privileges, so first), rlimits,
no_new_privs, Landlock, seccomp last (an earlier step's syscalls may be ones the filter
forbids). :func:`prepare_confinement` does all the parent-side work (name lookups, limit
checks, the seccomp compile, opening Landlock paths) so that :meth:`ConfinementPlan.enter`
can run in a freshly forked child right before exec: no imports, lookups or logging there.
"""

from __future__ import annotations

import errno
import functools
import threading

from hardenkit._linux import caps as _caps, procfs as _procfs, require_linux
from hardenkit._linux.capnames import CAP_NAMES
from hardenkit._linux.caps import prctl
from hardenkit._linux.libc import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_LOWER,
    PR_CAPBSET_DROP,
    PR_GET_NO_NEW_PRIVS,
    PR_GET_SECCOMP,
    PR_SET_NO_NEW_PRIVS,
)
from hardenkit.errors import RootEquivalentError, SandboxError
from hardenkit.sandbox.landlock import LandlockPlan
from hardenkit.sandbox.limits import (
    check_limits,
    refuse_unenforced,
    set_rlimits,
    verify_limits,
)
from hardenkit.sandbox.options import Confinement, resolve
from hardenkit.sandbox.seccomp import (
    ArgCondition,
    SeccompPolicy,
    SyscallRule,
    compile_policy,
    verify_seccomp,
)

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from hardenkit._linux.procfs import ProcStatus
    from hardenkit.capabilities import CapLike
    from hardenkit.privileges import DropPlan, Identity
    from hardenkit.sandbox.landlock import FilesystemPolicy
    from hardenkit.sandbox.limits import ResourceLimits
    from hardenkit.sandbox.network import NetworkPlan, NetworkPolicy
    from hardenkit.sandbox.seccomp import CompiledPolicy

__all__ = [
    "METADATA_SYSCALLS",
    "ConfinementPlan",
    "confine",
    "filesystem_guard_policy",
    "metadata_guard_policy",
    "prepare_confinement",
    "set_no_new_privs",
]

#: Compiled filters by the identity of the policy the caller passed (kept alive in the
#: value, so an id is never reused while cached): a spawn with the same policy object
#: then skips re-deriving the namespace-blocking policy (a dataclass rebuild that
#: re-validates every rule) and hashing it for compile_policy's cache.
_COMPILED: dict[tuple[int, bool], tuple[SeccompPolicy | None, SeccompPolicy, CompiledPolicy]] = {}
_COMPILED_MAX = 32
_COMPILED_LOCK = threading.Lock()


def _threads() -> int:
    from hardenkit._linux.procfs import read_status  # noqa: PLC0415

    try:
        return read_status().threads
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot count this process's threads: {err}") from err


def _live_task_statuses(what: str) -> list[ProcStatus]:
    """Every thread's status; a thread that exited after the listing is skipped.

    An exited thread runs nothing, so it is no risk; every other read failure raises.
    """
    from hardenkit._linux import procfs  # noqa: PLC0415

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
    from hardenkit._linux import procfs  # noqa: PLC0415

    try:
        return procfs.read_task_status(tid)
    except (FileNotFoundError, ProcessLookupError):
        return None
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot read thread {tid}'s status to verify {what}: {err}") from err


def _all_tasks_nnp() -> None:
    statuses = _live_task_statuses("no_new_privs")
    for st in statuses:
        if not st.no_new_privs:
            raise SandboxError(f"thread {st.pid} does not have no_new_privs set")


#: CAP_MKNOD: a confined process that keeps the caller's ids loses it unless the
#: FilesystemPolicy names ``devices`` (a device node for a disk reads every file).
CAP_MKNOD = 27
#: CAP_SYS_ADMIN and CAP_PERFMON: either one lets a process inside a Landlock domain
#: still open /proc/<pid>/environ and /proc/<pid>/maps of processes outside it (seen on
#: 6.18), so an isolating confinement that keeps the caller's ids sheds both.
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
#: What an isolating confinement that keeps the caller's ids sheds besides CAP_MKNOD.
ISOLATION_SHED = (1 << CAP_SYS_ADMIN) | (1 << CAP_PERFMON)


def shed_capabilities(mask: int, last_cap: int, *, no_new_privs: bool) -> None:
    """Take the capabilities in ``mask`` out of every set of the calling thread.

    Bounding (needs CAP_SETPCAP; without it no_new_privs must stop exec from regaining
    them), ambient, then effective, permitted and inheritable. Fork-child safe.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> from hardenkit._linux.procfs import read_status
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
            if err.errno != errno.EPERM or not no_new_privs:
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


def set_no_new_privs() -> None:
    r"""Set no_new_privs: exec can no longer grant privileges (setuid bits, file caps).

    It is per thread, so a process with other live threads is refused.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> def child():
        ...     set_no_new_privs()
        ...     return open("/proc/self/status").read().count("NoNewPrivs:\t1")
        >>> fork_call(child).value
        1

    Raises:
        SandboxError: other threads exist, or the flag is not set afterwards.
    """
    require_linux("no_new_privs")
    threads = _threads()
    if threads != 1:
        raise SandboxError(
            f"{threads} threads are running: no_new_privs is per thread; set it before "
            "starting threads (or let confine() carry it to every thread with seccomp TSYNC)"
        )
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError as err:
        raise SandboxError(f"prctl(PR_SET_NO_NEW_PRIVS) failed: {err.strerror}") from err
    _all_tasks_nnp()


def _load(compiled: CompiledPolicy) -> None:
    try:
        compiled.program.load(tsync=True)
    except OSError as err:
        raise SandboxError(
            f"seccomp filter could not be loaded: {err.strerror}", syscall="seccomp"
        ) from err


def _verify_seccomp_this_thread(*, no_new_privs: bool) -> None:
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


class ConfinementPlan:
    """Everything resolved and compiled; :meth:`enter` applies it, :meth:`verify` checks it.

    A plan holds open Landlock path descriptors: :meth:`close` it (or use ``with``).

    Examples:
        >>> from hardenkit._child import fork_call
        >>> from hardenkit.sandbox import ResourceLimits
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
        drop: Any,
        apply_drop: Callable[[Any], object] | None,
        verify_drop: Callable[..., Any] | None,
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
        self._apply_drop = apply_drop
        self._verify_drop = verify_drop
        self._check_drop = check_drop
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
        self._landlock_probed = False
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
        self._enter(self._verify_before_landlock if verify else None)
        if verify and self.filters:
            if self.landlock is not None:
                _verify_seccomp_this_thread(no_new_privs=self.no_new_privs)
            else:
                verify_seccomp(min_filters=len(self.filters), no_new_privs=self.no_new_privs)

    def enter_checked(self) -> None:
        """:meth:`enter`, checking this thread from the kernel's side before exec.

        For a freshly forked child (the spawn path): before Landlock (which may hide
        /proc), the drop is checked by the privileges module's ``verify_drop_here`` (one
        read of /proc/thread-self/status for ids, all five capability sets and
        NoNewPrivs, then groups and keep-caps), limits with getrlimit and no_new_privs
        with prctl; after the filter is loaded, prctl must report seccomp filter mode
        and no_new_privs. No import, lock, logging or name lookup.

        Raises:
            PrivilegeError: the drop failed or does not hold.
            SandboxError: any other step failed or does not hold.
        """
        self._enter(self._check_before_landlock)
        if self.filters:
            _verify_seccomp_this_thread(no_new_privs=self.no_new_privs)

    def _enter(self, before_landlock: Callable[[], None] | None) -> None:
        """The steps in order; ``before_landlock`` runs after no_new_privs."""
        self._enter_identity()
        try:
            set_rlimits(self.rlimits)
        except (OSError, ValueError) as err:
            raise SandboxError(f"setrlimit failed: {err}") from err
        if self.no_new_privs:
            try:
                prctl(PR_SET_NO_NEW_PRIVS, 1)
            except OSError as err:
                raise SandboxError(f"prctl(PR_SET_NO_NEW_PRIVS) failed: {err.strerror}") from err
        if before_landlock is not None:
            before_landlock()
        self._enter_landlock()
        # The guard first: the caller's filter may forbid seccomp() itself.
        for compiled in self.filters:
            _load(compiled)
            if compiled is self.network_filter and self.network is not None:
                self.network.probe()  # before the caller's filter, which may forbid sockets

    def _enter_identity(self) -> None:
        """The drop, the capabilities shed without one, then what must follow the drop."""
        if self.drop is not None and self._apply_drop is not None:
            self._apply_drop(self.drop)
        if self.shed_caps:
            shed_capabilities(self.shed_caps, self.last_cap, no_new_privs=self.no_new_privs)
        if self.after_drop is not None:
            self.after_drop()

    def _enter_landlock(self) -> None:
        """Enter the Landlock domains: filesystem/isolation (probed now), then network.

        The probe runs before any seccomp filter, which may forbid it.
        """
        if self.landlock is not None:
            self.landlock.enforce()
            self.landlock.verify()
            self._landlock_probed = True
        if self.network is not None:
            self.network.enforce_landlock()

    def _check_before_landlock(self) -> None:
        if self.drop is not None and self._check_drop is not None:
            self._check_drop(self.drop, no_new_privs=self.no_new_privs)
        elif self.drop is not None:
            raise SandboxError("a drop was planned without a way to check it")
        self._check_shed()
        verify_limits(self.rlimits)
        if self.no_new_privs:
            try:
                nnp = prctl(PR_GET_NO_NEW_PRIVS)
            except OSError as err:
                raise SandboxError(f"prctl could not report no_new_privs: {err.strerror}") from err
            if nnp != 1:
                raise SandboxError("no_new_privs is not set after entering the plan")

    def _verify_before_landlock(self) -> None:
        if self.drop is not None and self._verify_drop is not None:
            self.identity = self._verify_drop(self.drop, no_new_privs=self.no_new_privs)
        elif self.identity_source is not None:
            self.identity = self.identity_source()
        self._check_shed()
        verify_limits(self.rlimits)
        if self.no_new_privs:
            if not self.filters:
                _all_tasks_nnp()
            elif prctl(PR_GET_NO_NEW_PRIVS) != 1:
                # Other threads get it from seccomp's TSYNC, checked after the load.
                raise SandboxError("no_new_privs is not set on this thread")

    def _check_shed(self) -> None:
        """The shed capabilities are in no set of this thread (procfs, before Landlock)."""
        if not self.shed_caps:
            return
        try:
            with open("/proc/thread-self/status", "rb") as fh:
                status = _procfs.parse_status(fh.read().decode("ascii", "replace"))
        except (OSError, ValueError) as err:
            raise SandboxError(f"cannot read this thread's capabilities: {err}") from err
        problem = shed_problem(status, self.shed_caps, no_new_privs=self.no_new_privs)
        if problem:
            raise SandboxError(problem)

    def verify(self) -> Identity | None:
        """Check from the kernel's side that the plan is in force; return the identity.

        Reads procfs for every thread, so under a Landlock policy that hides /proc it
        raises (fail closed): :func:`confine` uses ``enter(verify=True)`` instead. Returns
        the privileges module's Identity when a drop was planned, else None.

        Raises:
            SandboxError: a step is not in force (PrivilegeError for ids and capabilities).
        """
        identity = None
        if self.drop is not None and self._verify_drop is not None:
            identity = self._verify_drop(self.drop, no_new_privs=self.no_new_privs)
        self._check_shed()
        verify_limits(self.rlimits)
        if self.no_new_privs:
            _all_tasks_nnp()
        if self.landlock is not None and not self._landlock_probed:
            raise SandboxError("Landlock was planned but not entered")
        if self.filters:
            verify_seccomp(min_filters=len(self.filters), no_new_privs=self.no_new_privs)
        return identity

    def close(self) -> None:
        """Release the Landlock path descriptors (the plan cannot be entered afterwards)."""
        if self.landlock is not None:
            self.landlock.close()


def prepare_confinement(
    *,
    confinement: Confinement | None = None,
    user: str | int | None = None,
    group: str | int | None = None,
    groups: Iterable[str | int] | None = None,
    keep: Iterable[CapLike] = (),
    limits: ResourceLimits | None = None,
    no_new_privs: bool = True,
    filesystem: FilesystemPolicy | None = None,
    seccomp: SeccompPolicy | None = None,
    block_namespaces: bool = True,
    isolate: bool = True,
    allow_root_equivalent: bool = False,
    network: NetworkPolicy | None = None,
) -> ConfinementPlan:
    """Do the parent-side work of a confinement with no effect on this process.

    Takes the options as :func:`confine` does (``confinement=`` or keywords).

    Resolves the target ids, checks limits against the current hard limits, compiles the
    seccomp filter (cached per policy; with ``block_namespaces`` an allow-all filter that
    only refuses namespace creation is used when ``seccomp`` is None) and opens the
    Landlock paths.

    With ``isolate`` (the default) the process enters a Landlock domain even without a
    FilesystemPolicy: it can then not ptrace, read or write the memory of (nor, on ABI
    6+, signal) any process outside its own domain, whatever uid it runs as, and it
    makes no device nodes. Without Landlock this raises; ``isolate=False`` goes without.
    A process that keeps the caller's ids (no ``user=``) loses CAP_MKNOD unless the
    FilesystemPolicy names ``devices`` or ``keep=`` names it, and inside a Landlock domain
    CAP_SYS_ADMIN and CAP_PERFMON too (with either it could still read /proc/<pid>/environ
    and maps outside its domain) unless ``keep=`` names them (CAP_SYS_ADMIN with
    ``allow_root_equivalent=True``); without ``user=`` ``keep=`` may name only these.

    Examples:
        >>> from hardenkit.sandbox.limits import ResourceLimits
        >>> with prepare_confinement(limits=ResourceLimits(open_files=16)) as plan:
        ...     plan
        ConfinementPlan(drop=False, rlimits=2, no_new_privs=True, landlock=True, seccomp=True)

    Raises:
        SandboxError: a limit above the hard limit, ``processes`` for a process the kernel
            exempts from RLIMIT_NPROC (uid 0, CAP_SYS_ADMIN or CAP_SYS_RESOURCE kept, or
            no drop from root), a Landlock path or ABI problem (no Landlock at all
            with ``isolate``), a policy libseccomp rejects, or seccomp/Landlock after
            a drop without no_new_privs.
        PrivilegeError: the user or groups cannot be resolved.
    """
    return _prepare(
        resolve(
            confinement,
            user=user,
            group=group,
            groups=groups,
            keep=keep,
            limits=limits,
            no_new_privs=no_new_privs,
            filesystem=filesystem,
            seccomp=seccomp,
            block_namespaces=block_namespaces,
            isolate=isolate,
            allow_root_equivalent=allow_root_equivalent,
            network=network,
        )
    )


def _prepare(c: Confinement) -> ConfinementPlan:
    """:func:`prepare_confinement` for one checked :class:`Confinement`."""
    require_linux("confinement")
    user, group, groups, keep, limits = c.user, c.group, c.groups, c.keep, c.limits
    filesystem, seccomp, network, isolate = c.filesystem, c.seccomp, c.network, c.isolate
    no_new_privs, block_namespaces = c.no_new_privs, c.block_namespaces
    allow_root_equivalent = c.allow_root_equivalent
    drop = apply_drop = verify_drop = check_drop = None
    kept_here = 0
    if user is None:
        if group is not None or groups is not None:
            raise SandboxError("group=, groups= and keep= need user= (the user to become)")
        kept_here = _kept_without_drop(keep, allow_root_equivalent=allow_root_equivalent)
    else:
        from hardenkit import privileges  # noqa: PLC0415 -- loaded only for a drop

        drop = privileges.prepare_drop(
            user, group, groups=groups, keep=keep, allow_root_equivalent=allow_root_equivalent
        )
        apply_drop, verify_drop = privileges.apply_drop, privileges.verify_drop
        check_drop = privileges.verify_drop_here
    _caps.prepare()  # the prctl entry point enter() uses: nothing is set up in a child
    rlimits = check_limits(limits) if limits is not None else ()
    # Refused here, in the parent: a spawn child would otherwise find out after the fork.
    if drop is None:
        refuse_unenforced(rlimits)
    else:
        refuse_unenforced(rlimits, uid=drop.uid, caps=drop.keep_mask)
    _refuse_without_nnp(
        drop,
        no_new_privs=no_new_privs,
        will_filter=seccomp is not None or block_namespaces or network is not None,
        filesystem=filesystem,
        isolate=isolate,
    )
    shed = _shed_mask(
        drop,
        filesystem,
        kept_here,
        no_new_privs=no_new_privs,
        isolates=filesystem is not None or isolate,
    )
    if seccomp is not None and seccomp._profile is not None:  # noqa: SLF001 -- same package
        # Decided against what the child will hold: after the drop, and after shedding.
        seccomp = seccomp.for_capabilities(_held_after(drop, shed=shed))
    policy, compiled = _compiled(seccomp, block_namespaces=block_namespaces)
    arches = tuple(policy.arches) if policy else ()
    guard = None
    if filesystem is not None and _changes_foreign_metadata(drop) is not None:
        guard = compile_policy(metadata_guard_policy(arches))
    net_plan = net_filter = None
    if network is not None:
        unix_refused = filesystem is not None and not filesystem.sockets
        net_plan, net_filter = _network(network, unix_refused=unix_refused)
    last_cap = drop.last_cap if drop is not None else _procfs.cap_last_cap()
    return ConfinementPlan(
        drop=drop,
        apply_drop=apply_drop,
        verify_drop=verify_drop,
        check_drop=check_drop,
        rlimits=rlimits,
        no_new_privs=no_new_privs,
        landlock=_landlock_plan(
            filesystem,
            isolate=isolate,
            # NetworkPolicy(scope=False) keeps signals to processes outside the sandbox.
            scope_signals=isolate and (network is None or network.scope),
        ),
        seccomp=compiled,
        seccomp_policy=policy,
        metadata_guard=guard,
        filesystem_guard=_filesystem_guard(filesystem, arches, drop),
        shed_caps=shed,
        last_cap=last_cap,
        network=net_plan,
        network_filter=net_filter,
    )


_CAP_SYS_ADMIN = CAP_SYS_ADMIN
_CAP_SETPCAP = 8


def _refuse_without_nnp(
    drop: DropPlan | None,
    *,
    no_new_privs: bool,
    will_filter: bool,
    filesystem: FilesystemPolicy | None,
    isolate: bool,
) -> None:
    """Refuse seccomp/Landlock that the kernel would not accept without no_new_privs."""
    landlocked = filesystem is not None or isolate
    if drop is not None and not no_new_privs and (will_filter or landlocked):
        raise SandboxError(
            "seccomp and Landlock need no_new_privs once privileges are dropped: "
            "pass no_new_privs=True"
        )
    if landlocked and not no_new_privs and not _caps.capget()[0] >> _CAP_SYS_ADMIN & 1:
        raise SandboxError(
            "Landlock needs no_new_privs or CAP_SYS_ADMIN: pass no_new_privs=True"
            + ("" if filesystem is not None else " (or isolate=False to go without Landlock)")
        )


def _shed_mask(
    drop: DropPlan | None,
    filesystem: FilesystemPolicy | None,
    kept_here: int,
    *,
    no_new_privs: bool,
    isolates: bool = True,
) -> int:
    """The capabilities a process keeping our ids loses, unless ``keep=`` names them.

    CAP_MKNOD unless the FilesystemPolicy names ``devices``; inside a Landlock domain
    (``isolates``) also CAP_SYS_ADMIN and CAP_PERFMON, with which the process could still
    read /proc/<pid>/environ and maps of processes outside it.
    """
    if drop is not None:
        return 0
    shed = 0 if filesystem is not None and filesystem.devices else 1 << CAP_MKNOD
    if isolates:
        shed |= ISOLATION_SHED
    shed &= ~kept_here & ((1 << (_procfs.cap_last_cap() + 1)) - 1)
    if shed and not no_new_privs:
        if shed >> CAP_SYS_ADMIN & 1:
            raise SandboxError(
                "without no_new_privs Landlock and seccomp need CAP_SYS_ADMIN, which an "
                "isolated process keeping the caller's ids loses (it would read processes "
                "outside the sandbox): pass no_new_privs=True (or keep=['CAP_SYS_ADMIN'] "
                "with allow_root_equivalent=True)"
            )
        if not _caps.capget()[0] >> _CAP_SETPCAP & 1:
            stuck = [
                CAP_NAMES[cap] if cap < len(CAP_NAMES) else f"capability {cap}"
                for cap in range(shed.bit_length())
                if shed >> cap & 1 and _caps.bounding_has(cap)
            ]
            if stuck:
                raise SandboxError(
                    f"{', '.join(stuck)} cannot leave the bounding set without "
                    "CAP_SETPCAP, and without no_new_privs exec could grant them: pass "
                    f"no_new_privs=True (or keep={stuck!r})"
                )
    return shed


#: What ``keep=`` may name without ``user=``: what the confinement would shed otherwise.
_SHEDDABLE = (1 << CAP_MKNOD) | ISOLATION_SHED


def _kept_without_drop(keep: tuple[CapLike, ...], *, allow_root_equivalent: bool = False) -> int:
    """Without ``user=``, ``keep=`` may only name what the confinement would shed.

    Keeping CAP_SYS_ADMIN or CAP_PERFMON re-opens reads of /proc/<pid>/environ and maps
    of processes outside the sandbox; CAP_SYS_ADMIN, root in all but name, also needs
    ``allow_root_equivalent=True``.
    """
    if not keep:
        return 0
    from hardenkit.capabilities import caps_to_mask, parse_caps  # noqa: PLC0415

    mask = int(caps_to_mask(parse_caps(keep)))  # CapabilityError for an unknown name
    if mask & ~_SHEDDABLE:
        raise SandboxError(
            "group=, groups= and keep= need user= (the user to become); without user= "
            "keep= may only name CAP_MKNOD, CAP_SYS_ADMIN or CAP_PERFMON, which are shed "
            "otherwise"
        )
    if mask >> CAP_SYS_ADMIN & 1 and not allow_root_equivalent:
        raise RootEquivalentError(
            "keeping SYS_ADMIN amounts to root (mount, namespaces, bpf, keyctl...) and "
            "lets the confined process read /proc/<pid>/environ and maps outside its "
            "sandbox: pass allow_root_equivalent=True to keep it knowingly",
            capabilities=frozenset({"SYS_ADMIN"}),
        )
    return mask


def _landlock_plan(
    filesystem: FilesystemPolicy | None, *, isolate: bool, scope_signals: bool
) -> LandlockPlan | None:
    """The domain to enter: the policy's, or (``isolate``) one that only isolates."""
    if filesystem is not None:
        return LandlockPlan(filesystem, scope_signals=scope_signals)
    if not isolate:
        return None
    if _landlock_abi() == 0:
        raise SandboxError(
            "Landlock is absent or disabled, so the confined process could ptrace and "
            "rewrite processes of its uid outside the sandbox: pass isolate=False to "
            "confine without that isolation"
        )
    return LandlockPlan.isolation(scope_signals=scope_signals)


def _filesystem_guard(
    filesystem: FilesystemPolicy | None, arches: tuple[str, ...], drop: DropPlan | None
) -> CompiledPolicy | None:
    """The compiled :func:`filesystem_guard_policy` a policy needs, if any."""
    if filesystem is None:
        return None
    unix_ok, exec_ok = bool(filesystem.sockets), not filesystem.restricts_execute()
    if unix_ok and exec_ok:
        return None
    shared_ok = exec_ok or not _held_caps(drop) & _MAP_FILES_CAPS
    return compile_policy(
        filesystem_guard_policy(
            arches, unix_sockets=unix_ok, anonymous_exec=exec_ok, shared_anonymous=shared_ok
        )
    )


def _held_caps(drop: DropPlan | None) -> int:
    """The capabilities the confined process will hold (the kept ones, or this thread's)."""
    if drop is not None:
        return int(drop.keep_mask)
    try:
        status = _procfs.read_status()
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot read this process's capabilities: {err}") from err
    return status.cap_permitted | status.cap_effective


@functools.cache
def _landlock_abi() -> int:
    """The running Landlock ABI (it cannot change while this process runs)."""
    from hardenkit.sandbox.landlock import landlock_abi  # noqa: PLC0415

    return landlock_abi()


def _network(network: NetworkPolicy, *, unix_refused: bool) -> tuple[NetworkPlan, CompiledPolicy]:
    """The NetworkPolicy's Landlock plan (ABI checked here) and its compiled filter.

    The filter covers the native ABI only, so every other ABI (i386, x32) is killed even
    when the caller's filter allows it: libseccomp turns socket rules into i386
    ``socketcall`` rules whose arguments sit behind a pointer seccomp cannot read.
    """
    from hardenkit.sandbox.landlock import landlock_abi  # noqa: PLC0415
    from hardenkit.sandbox.network import NetworkPlan, network_filter  # noqa: PLC0415

    plan = NetworkPlan(network, abi=landlock_abi(), unix_refused=unix_refused)
    return plan, compile_policy(network_filter(network))


#: Syscalls that change a file's mode, owner, times or extended attributes by path or
#: descriptor. Landlock governs opening, creating, removing, renaming, linking and
#: truncating, not these: a process that may change metadata of files it does not own
#: could change it outside its FilesystemPolicy.
METADATA_SYSCALLS: tuple[str, ...] = (
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "setxattrat",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "removexattrat",
    "file_setattr",
)
#: io_uring runs operations (IORING_OP_SETXATTR, FSETXATTR...) that seccomp never sees.
_IO_URING = frozenset({"io_uring_setup", "io_uring_enter", "io_uring_register"})
#: Capabilities that let a process change metadata of files it does not own.
_METADATA_CAPS = (
    (0, "CAP_CHOWN"),
    (1, "CAP_DAC_OVERRIDE"),
    (3, "CAP_FOWNER"),
    (21, "CAP_SYS_ADMIN"),
)


def _held_after(drop: DropPlan | None, *, shed: int = 0) -> tuple[int, ...]:
    """The capabilities the confined process holds: ``keep`` after a drop, else ours.

    Under no_new_privs an exec grants nothing beyond the permitted set, so that set is
    what the process can ever use (empty for an unprivileged caller); ``shed`` is the mask
    the confinement takes away from a process that keeps our ids.
    """
    if drop is not None:
        mask = drop.keep_mask
    else:
        from hardenkit._linux.procfs import read_status  # noqa: PLC0415

        try:
            mask = read_status().cap_permitted
        except (OSError, ValueError) as err:
            raise SandboxError(f"cannot read this process's capabilities: {err}") from err
    mask &= ~shed
    return tuple(bit for bit in range(mask.bit_length()) if mask >> bit & 1)


def _changes_foreign_metadata(drop: DropPlan | None) -> str | None:
    """Say why the confined process could change metadata of files it does not own."""
    if drop is not None:
        uid, caps = drop.uid, drop.keep_mask
    else:
        from hardenkit._linux.procfs import read_status  # noqa: PLC0415

        try:
            status = read_status()
        except (OSError, ValueError) as err:
            raise SandboxError(f"cannot read this process's ids and capabilities: {err}") from err
        uid = 0 if 0 in status.uids else status.uids[1]
        caps = status.cap_permitted | status.cap_effective
    if uid == 0:
        return "uid 0"
    held = [name for bit, name in _METADATA_CAPS if caps >> bit & 1]
    return ", ".join(held) if held else None


@functools.cache
def metadata_guard_policy(arches: tuple[str, ...] = ()) -> SeccompPolicy:
    """Return the filter that makes :data:`METADATA_SYSCALLS` fail with EPERM.

    :func:`prepare_confinement` adds it under a FilesystemPolicy when the confined
    process keeps uid 0 or a capability that changes metadata of files it does not own
    (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_SYS_ADMIN).

    Its default is ``errno`` with every syscall the local libseccomp knows allowed, so a
    number newer than libseccomp's table (``setxattrat``, ``file_setattr``... on
    libseccomp 2.5) fails with ENOSYS instead of slipping through, and io_uring is
    refused (``IORING_OP_SETXATTR`` would change attributes the filter never sees); the
    caller's own filter, loaded after it, decides everything else (the stricter result
    wins).

    Examples:
        >>> p = metadata_guard_policy()
        >>> p.default, "chmod" in p.deny, "openat" in p.allow
        ('errno', True, True)
    """
    from hardenkit._linux.seccomp_compile import resolve  # noqa: PLC0415 -- ctypes on use
    from hardenkit.sandbox.groups import expand  # noqa: PLC0415

    def known(names: Iterable[str]) -> list[str]:
        return sorted(n for n in names if resolve(n) is not None)  # nothing skipped or logged

    return SeccompPolicy(
        default="errno",
        allow=known(expand(["@known"]) - set(METADATA_SYSCALLS) - _IO_URING),
        deny=known(METADATA_SYSCALLS),
        arches=arches,
        block_namespaces=False,  # the caller's filter decides that
    )


#: socket(2)'s domain for UNIX sockets; memfd_create(2)'s flag for a never-executable file.
_AF_UNIX = 1
#: socketpair(2) types (type & SOCK_TYPE_MASK) whose sockets can still reach a named
#: socket: a datagram socket (SOCK_RAW is made SOCK_DGRAM in AF_UNIX) may sendto() any
#: path or be connect()ed again; stream and seqpacket pairs stay connected to each other.
_SOCK_TYPE_MASK = 0xF
_UNIX_PAIR_REACHES = (2, 3)  # SOCK_DGRAM, SOCK_RAW
_MFD_NOEXEC_SEAL = 0x0008
#: mmap flags: MAP_ANONYMOUS | MAP_TYPE, and the shared anonymous kinds (MAP_SHARED,
#: MAP_SHARED_VALIDATE) whose shmem file /proc/self/map_files hands to CAP_SYS_ADMIN.
_MAP_ANON_TYPE = 0x20 | 0x0F
_MAP_SHARED_ANON = (0x20 | 0x01, 0x20 | 0x03)
#: Capabilities that open /proc/<pid>/map_files (CAP_SYS_ADMIN, CAP_CHECKPOINT_RESTORE).
_MAP_FILES_CAPS = (1 << 21) | (1 << 40)
#: The kernel reads these arguments as 32-bit ints: only the low half is compared.
_LOW32 = 0xFFFFFFFF


@functools.cache
def filesystem_guard_policy(
    arches: tuple[str, ...] = (),
    *,
    unix_sockets: bool = False,
    anonymous_exec: bool = False,
    shared_anonymous: bool = True,
) -> SeccompPolicy:
    """Return the filter that closes what Landlock leaves open under a FilesystemPolicy.

    :func:`prepare_confinement` adds it whenever ``filesystem=`` is set (loaded before the
    caller's filter; the stricter answer wins), default ``allow``:

    - unless ``unix_sockets`` (the policy names ``sockets``), ``socket(AF_UNIX, ...)``
      fails with EACCES (the low 32 bits of the domain are compared, as the kernel reads
      them): Landlock (ABI <= 7) does not govern ``connect()``, so a socket outside the
      policy would be reachable. ``socketpair`` stays allowed for stream and seqpacket
      sockets; a datagram pair (``SOCK_DGRAM``, or ``SOCK_RAW`` which AF_UNIX turns into
      it) fails with EACCES, since it can ``sendto()`` any path or be re-``connect()``ed
      to one. io_uring is refused
      (``IORING_OP_SOCKET`` makes sockets the filter never sees), and so is i386's
      ``socketcall`` when that ABI is allowed (its arguments are in memory).
    - unless ``anonymous_exec`` (``execute`` covers "/"), ``memfd_create`` without
      ``MFD_NOEXEC_SEAL`` fails with EACCES: a memfd lives outside every hierarchy, so
      Landlock's EXECUTE right never applies to it, and ``execve``/``execveat`` of a
      memfd copy of any binary would run it. A sealed memfd can never be executable.
    - unless ``shared_anonymous`` (it is False for a process that keeps CAP_SYS_ADMIN or
      CAP_CHECKPOINT_RESTORE while ``execute`` is restricted), shared anonymous
      mappings (``mmap(MAP_SHARED | MAP_ANONYMOUS)``) fail with EACCES and SysV shared
      memory (``shmget``, ``shmat``) is refused: such a process can open the shmem file
      behind them through ``/proc/self/map_files`` and execute it.

    Examples:
        >>> p = filesystem_guard_policy()
        >>> p.default, [r.names for r in p.rules]
        ('allow', [('socket',), ('socketpair',), ('socketpair',), ('memfd_create',)])
    """
    rules: list[SyscallRule] = []
    deny: list[str] = []
    if not unix_sockets:
        rules.append(
            SyscallRule(
                names="socket",
                action="errno",
                errno=errno.EACCES,
                args=(ArgCondition(index=0, op="masked_eq", mask=_LOW32, value=_AF_UNIX),),
            )
        )
        rules.extend(
            SyscallRule(
                names="socketpair",
                action="errno",
                errno=errno.EACCES,
                args=(
                    ArgCondition(index=0, op="masked_eq", mask=_LOW32, value=_AF_UNIX),
                    ArgCondition(index=1, op="masked_eq", mask=_SOCK_TYPE_MASK, value=kind),
                ),
            )
            for kind in _UNIX_PAIR_REACHES
        )
        deny.extend(sorted(_IO_URING))
        if "SCMP_ARCH_X86" in arches:
            deny.append("socketcall")
    if not anonymous_exec:
        rules.append(
            SyscallRule(
                names="memfd_create",
                action="errno",
                errno=errno.EACCES,
                args=(ArgCondition(index=1, op="masked_eq", mask=_MFD_NOEXEC_SEAL, value=0),),
            )
        )
    if not shared_anonymous:
        rules.extend(
            SyscallRule(
                names="mmap",
                action="errno",
                errno=errno.EACCES,
                args=(ArgCondition(index=3, op="masked_eq", mask=_MAP_ANON_TYPE, value=kind),),
            )
            for kind in _MAP_SHARED_ANON
        )
        deny.extend(("shmget", "shmat"))
    return SeccompPolicy(
        default="allow",
        deny=deny,
        rules=rules,
        arches=arches,
        block_namespaces=False,  # the caller's filter decides that
    )


def _compiled(
    seccomp: SeccompPolicy | None, *, block_namespaces: bool
) -> tuple[SeccompPolicy | None, CompiledPolicy | None]:
    """Return the policy to load (namespace creation refused if asked) and its program."""
    if seccomp is None and not block_namespaces:
        return None, None
    key = (id(seccomp), block_namespaces)
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is seccomp:
        return hit[1], hit[2]
    policy = seccomp if seccomp is not None else SeccompPolicy(default="allow")
    if block_namespaces:
        policy = policy.with_namespace_block()
    compiled = compile_policy(policy)
    with _COMPILED_LOCK:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = (seccomp, policy, compiled)
    return policy, compiled


def confine(
    *,
    confinement: Confinement | None = None,
    user: str | int | None = None,
    group: str | int | None = None,
    groups: Iterable[str | int] | None = None,
    keep: Iterable[CapLike] = (),
    limits: ResourceLimits | None = None,
    no_new_privs: bool = True,
    filesystem: FilesystemPolicy | None = None,
    seccomp: SeccompPolicy | None = None,
    block_namespaces: bool = True,
    isolate: bool = True,
    allow_root_equivalent: bool = False,
    network: NetworkPolicy | None = None,
) -> Identity:
    r"""Confine the calling process, in order, verify it, and return the identity now in force.

    The options come either as one :class:`~hardenkit.sandbox.options.Confinement`
    (``confinement=``) or as the keywords below, which build the same object (not both).

    Ids and capabilities, rlimits, no_new_privs, Landlock, seccomp last; namespace creation
    is refused by default (an unprivileged user namespace hands back a full capability
    set). With ``isolate`` (the default) the process enters a Landlock domain even
    without ``filesystem``: it can no longer ptrace, read or write the memory of, or (ABI
    6+) signal processes outside it, and makes no device nodes; without Landlock that
    raises unless ``isolate=False``. Without ``user=`` CAP_MKNOD is shed, and with
    isolation CAP_SYS_ADMIN and CAP_PERFMON too (see
    :func:`prepare_confinement`). With other live threads only steps that cover every
    thread are allowed: rlimits (per process) and seccomp with TSYNC (which also carries
    no_new_privs); a privilege drop or Landlock (``isolate`` included) is refused.
    ``keep`` holding a capability that amounts to root
    (:data:`~hardenkit.capabilities.ROOT_EQUIVALENT`) needs ``allow_root_equivalent=True``.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> from hardenkit.sandbox.limits import ResourceLimits
        >>> def child():
        ...     ident = confine(limits=ResourceLimits(open_files=64))
        ...     status = open("/proc/self/status").read()
        ...     return ident.uid, "NoNewPrivs:\t1" in status, "Seccomp:\t2" in status
        >>> fork_call(child).value
        [0, True, True]

    Raises:
        SandboxError: a step could not be applied or verified, or threads forbid it.
        PrivilegeError: the privilege drop failed or could not be verified
            (RootEquivalentError: a root-equivalent ``keep`` not acknowledged).
    """
    c = resolve(
        confinement,
        user=user,
        group=group,
        groups=groups,
        keep=keep,
        limits=limits,
        no_new_privs=no_new_privs,
        filesystem=filesystem,
        seccomp=seccomp,
        block_namespaces=block_namespaces,
        isolate=isolate,
        allow_root_equivalent=allow_root_equivalent,
        network=network,
    )
    require_linux("confinement")
    threads = _threads()
    if threads != 1:
        loads_filter = c.seccomp is not None or c.block_namespaces
        why = [
            reason
            for reason, applies in (
                ("a privilege drop (capabilities are per thread)", c.user is not None),
                ("Landlock (ABI < 8 restricts one thread)", c.filesystem is not None),
                (
                    (
                        "Landlock isolation from other processes (ABI < 8 restricts one "
                        "thread; isolate=False goes without it)"
                    ),
                    c.isolate and c.filesystem is None,
                ),
                ("a network policy (Landlock and probes)", c.network is not None),
                ("no_new_privs without a seccomp filter", c.no_new_privs and not loads_filter),
            )
            if applies
        ]
        if why:
            raise SandboxError(
                f"{threads} threads are running and cannot all be covered by: "
                f"{'; '.join(why)}. Confine before starting threads."
            )
    with _prepare(c) as plan:
        from hardenkit.privileges import current_identity  # noqa: PLC0415

        plan.identity_source = current_identity
        plan.enter(verify=True)
    if plan.identity is None:  # pragma: no cover - enter(verify=True) always sets it
        raise SandboxError("confinement was not verified")
    return plan.identity
