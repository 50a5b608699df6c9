"""``confine()``: every sandbox step, in the one correct order, then verified.

The order is minijail's: ids and capabilities (needs privileges, so first), rlimits,
no_new_privs, Landlock, seccomp last (an earlier step's syscalls may be ones the filter
forbids). :func:`prepare_confinement` does all the parent-side work (name lookups, limit
checks, the seccomp compile, opening Landlock paths) so that :meth:`ConfinementPlan.enter`
can run in a freshly forked child right before exec: no imports, lookups or logging there.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

from hardenkit._linux import caps as _caps, require_linux
from hardenkit._linux.caps import prctl
from hardenkit._linux.libc import PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP, PR_SET_NO_NEW_PRIVS
from hardenkit.errors import SandboxError
from hardenkit.sandbox.landlock import LandlockPlan
from hardenkit.sandbox.limits import (
    check_limits,
    refuse_unenforced,
    set_rlimits,
    verify_limits,
)
from hardenkit.sandbox.seccomp import SeccompPolicy, compile_policy, verify_seccomp

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from hardenkit._linux.procfs import ProcStatus
    from hardenkit.privileges import DropPlan, Identity
    from hardenkit.sandbox.landlock import FilesystemPolicy
    from hardenkit.sandbox.limits import ResourceLimits
    from hardenkit.sandbox.network import NetworkPlan, NetworkPolicy
    from hardenkit.sandbox.seccomp import CompiledPolicy

__all__ = [
    "METADATA_SYSCALLS",
    "ConfinementPlan",
    "confine",
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
        #: The NetworkPolicy's Landlock part and probes, and its filter (loaded after the
        #: guard, probed, then the caller's filter).
        self.network = network
        self.network_filter = network_filter
        self._landlock_probed = False
        self.identity: Identity | None = None
        #: Called (before Landlock) by ``enter(verify=True)`` to record the identity.
        self.identity_source: Callable[[], Identity] | None = None

    def __repr__(self) -> str:
        return (
            f"ConfinementPlan(drop={self.drop is not None}, rlimits={len(self.rlimits)}, "
            f"no_new_privs={self.no_new_privs}, landlock={self.landlock is not None}, "
            f"seccomp={self.seccomp is not None}"
            f"{', metadata_guard=True' if self.metadata_guard is not None else ''}"
            f"{', network=True' if self.network is not None else ''})"
        )

    @property
    def filters(self) -> tuple[CompiledPolicy, ...]:
        """The programs to load, in order (the guard first)."""
        return tuple(
            f for f in (self.metadata_guard, self.network_filter, self.seccomp) if f is not None
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
        if self.drop is not None and self._apply_drop is not None:
            self._apply_drop(self.drop)
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
        if self.landlock is not None:
            self.landlock.enforce()
            self.landlock.verify()  # probe now: the seccomp filter may forbid the probe
            self._landlock_probed = True
        if self.network is not None:
            self.network.enforce_landlock()
        # The guard first: the caller's filter may forbid seccomp() itself.
        for compiled in self.filters:
            _load(compiled)
            if compiled is self.network_filter and self.network is not None:
                self.network.probe()  # before the caller's filter, which may forbid sockets

    def _check_before_landlock(self) -> None:
        if self.drop is not None and self._check_drop is not None:
            self._check_drop(self.drop, no_new_privs=self.no_new_privs)
        elif self.drop is not None:
            raise SandboxError("a drop was planned without a way to check it")
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
        verify_limits(self.rlimits)
        if self.no_new_privs:
            if not self.filters:
                _all_tasks_nnp()
            elif prctl(PR_GET_NO_NEW_PRIVS) != 1:
                # Other threads get it from seccomp's TSYNC, checked after the load.
                raise SandboxError("no_new_privs is not set on this thread")

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
    user: str | int | None = None,
    group: str | int | None = None,
    groups: Iterable[str | int] | None = None,
    keep: Iterable[Any] = (),
    limits: ResourceLimits | None = None,
    no_new_privs: bool = True,
    filesystem: FilesystemPolicy | None = None,
    seccomp: SeccompPolicy | None = None,
    block_namespaces: bool = True,
    network: NetworkPolicy | None = None,
) -> ConfinementPlan:
    """Do the parent-side work of a confinement with no effect on this process.

    Resolves the target ids, checks limits against the current hard limits, compiles the
    seccomp filter (cached per policy; with ``block_namespaces`` an allow-all filter that
    only refuses namespace creation is used when ``seccomp`` is None) and opens the
    Landlock paths.

    Examples:
        >>> from hardenkit.sandbox.limits import ResourceLimits
        >>> with prepare_confinement(limits=ResourceLimits(open_files=16)) as plan:
        ...     plan
        ConfinementPlan(drop=False, rlimits=2, no_new_privs=True, landlock=False, seccomp=True)

    Raises:
        SandboxError: a limit above the hard limit, ``processes`` for a process the kernel
            exempts from RLIMIT_NPROC (uid 0, CAP_SYS_ADMIN or CAP_SYS_RESOURCE kept, or
            no drop from root), a Landlock path or ABI problem, a
            policy libseccomp rejects, or seccomp/Landlock after a drop without
            no_new_privs.
        PrivilegeError: the user or groups cannot be resolved.
    """
    require_linux("confinement")
    keep = tuple(keep)
    drop = apply_drop = verify_drop = check_drop = None
    if user is None:
        if group is not None or groups is not None or keep:
            raise SandboxError("group=, groups= and keep= need user= (the user to become)")
    else:
        from hardenkit import privileges  # noqa: PLC0415 -- loaded only for a drop

        drop = privileges.prepare_drop(user, group, groups=groups, keep=keep)
        apply_drop, verify_drop = privileges.apply_drop, privileges.verify_drop
        check_drop = privileges.verify_drop_here
    _caps.prepare()  # the prctl entry point enter() uses: nothing is set up in a child
    rlimits = check_limits(limits) if limits is not None else ()
    # Refused here, in the parent: a spawn child would otherwise find out after the fork.
    if drop is None:
        refuse_unenforced(rlimits)
    else:
        refuse_unenforced(rlimits, uid=drop.uid, caps=drop.keep_mask)
    will_filter = seccomp is not None or block_namespaces or network is not None
    if drop is not None and not no_new_privs and (will_filter or filesystem is not None):
        raise SandboxError(
            "seccomp and Landlock need no_new_privs once privileges are dropped: "
            "pass no_new_privs=True"
        )
    policy, compiled = _compiled(seccomp, block_namespaces=block_namespaces)
    guard = None
    if filesystem is not None and _changes_foreign_metadata(drop) is not None:
        guard = compile_policy(metadata_guard_policy(policy.arches if policy else ()))
    net_plan = net_filter = None
    if network is not None:
        net_plan, net_filter = _network(network)
    landlock = LandlockPlan(filesystem) if filesystem is not None else None
    return ConfinementPlan(
        drop=drop,
        apply_drop=apply_drop,
        verify_drop=verify_drop,
        check_drop=check_drop,
        rlimits=rlimits,
        no_new_privs=no_new_privs,
        landlock=landlock,
        seccomp=compiled,
        seccomp_policy=policy,
        metadata_guard=guard,
        network=net_plan,
        network_filter=net_filter,
    )


def _network(network: NetworkPolicy) -> tuple[NetworkPlan, CompiledPolicy]:
    """The NetworkPolicy's Landlock plan (ABI checked here) and its compiled filter.

    The filter covers the native ABI only, so every other ABI (i386, x32) is killed even
    when the caller's filter allows it: libseccomp turns socket rules into i386
    ``socketcall`` rules whose arguments sit behind a pointer seccomp cannot read.
    """
    from hardenkit.sandbox.landlock import landlock_abi  # noqa: PLC0415
    from hardenkit.sandbox.network import NetworkPlan, network_filter  # noqa: PLC0415

    plan = NetworkPlan(network, abi=landlock_abi())
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
    user: str | int | None = None,
    group: str | int | None = None,
    groups: Iterable[str | int] | None = None,
    keep: Iterable[Any] = (),
    limits: ResourceLimits | None = None,
    no_new_privs: bool = True,
    filesystem: FilesystemPolicy | None = None,
    seccomp: SeccompPolicy | None = None,
    block_namespaces: bool = True,
    network: NetworkPolicy | None = None,
) -> Identity:
    r"""Confine the calling process, in order, verify it, and return the identity now in force.

    Ids and capabilities, rlimits, no_new_privs, Landlock, seccomp last; namespace creation
    is refused by default (an unprivileged user namespace hands back a full capability
    set). With other live threads only steps that cover every thread are allowed: rlimits
    (per process) and seccomp with TSYNC (which also carries no_new_privs); a privilege
    drop or Landlock is refused.

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
        PrivilegeError: the privilege drop failed or could not be verified.
    """
    require_linux("confinement")
    keep = tuple(keep)
    threads = _threads()
    if threads != 1:
        loads_filter = seccomp is not None or block_namespaces
        why = [
            reason
            for reason, applies in (
                ("a privilege drop (capabilities are per thread)", user is not None),
                ("Landlock (ABI < 8 restricts one thread)", filesystem is not None),
                ("a network policy (Landlock and probes)", network is not None),
                ("no_new_privs without a seccomp filter", no_new_privs and not loads_filter),
            )
            if applies
        ]
        if why:
            raise SandboxError(
                f"{threads} threads are running and cannot all be covered by: "
                f"{'; '.join(why)}. Confine before starting threads."
            )
    with prepare_confinement(
        user=user,
        group=group,
        groups=groups,
        keep=keep,
        limits=limits,
        no_new_privs=no_new_privs,
        filesystem=filesystem,
        seccomp=seccomp,
        block_namespaces=block_namespaces,
        network=network,
    ) as plan:
        from hardenkit.privileges import current_identity  # noqa: PLC0415

        plan.identity_source = current_identity
        plan.enter(verify=True)
    if plan.identity is None:  # pragma: no cover - enter(verify=True) always sets it
        raise SandboxError("confinement was not verified")
    return plan.identity
