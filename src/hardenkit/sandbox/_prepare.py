"""``prepare_confinement``: all the parent-side work of a confinement, no effect here.

Name lookups, limit checks against the hard limits, the seccomp compile (cached per
policy), the guard filters, the capabilities to shed and the Landlock descriptors: all
done before a fork, so that the plan's steps need no imports, lookups or logging.
"""

from __future__ import annotations

import _thread  # not threading, for import time (~1 ms): one lock

from hardenkit._linux import caps as _caps, procfs as _procfs, require_linux
from hardenkit._memo import cache
from hardenkit._unset import UNSET
from hardenkit.errors import HardenkitError, SandboxError
from hardenkit.sandbox._held import (
    _changes_foreign_metadata,
    _held_after,
    _held_caps,
    _kept_without_drop,
    _refuse_without_nnp,
    _shed_mask,
)
from hardenkit.sandbox._load import _load_error, load_for_confinement
from hardenkit.sandbox._plan import ConfinementPlan
from hardenkit.sandbox.guards import (
    _MAP_FILES_CAPS,
    filesystem_guard_policy,
    metadata_guard_policy,
)
from hardenkit.sandbox.options import Confinement, resolve

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from hardenkit.capabilities import CapLike
    from hardenkit.privileges import DropPlan
    from hardenkit.sandbox.landlock import FilesystemPolicy, LandlockPlan
    from hardenkit.sandbox.limits import ResourceLimits
    from hardenkit.sandbox.network import NetworkPlan, NetworkPolicy
    from hardenkit.sandbox.seccomp import CompiledPolicy, SeccompPolicy

__all__ = ["load_for_confinement", "plan_for", "prepare_confinement"]

#: Compiled filters by the identity of the policy the caller passed (kept alive in the
#: value, so an id is never reused while cached): a spawn with the same policy object
#: then skips re-deriving the namespace-blocking policy (a dataclass rebuild that
#: re-validates every rule) and hashing it for compile_policy's cache.
#: The key's last part: compiled for the native ABI only (under a NetworkPolicy).
_COMPILED: dict[
    tuple[int, bool, bool], tuple[SeccompPolicy | None, SeccompPolicy, CompiledPolicy]
] = {}
_COMPILED_MAX = 32
_COMPILED_LOCK = _thread.allocate_lock()


def prepare_confinement(
    *,
    confinement: Confinement | None = None,
    user: str | int | None = UNSET,
    group: str | int | None = UNSET,
    groups: Iterable[str | int] | None = UNSET,
    keep: Iterable[CapLike] = UNSET,
    limits: ResourceLimits | None = UNSET,
    no_new_privs: bool = UNSET,
    filesystem: FilesystemPolicy | None = UNSET,
    seccomp: SeccompPolicy | None = UNSET,
    block_namespaces: bool = UNSET,
    isolate: bool = UNSET,
    allow_root_equivalent: bool = UNSET,
    network: NetworkPolicy | None = UNSET,
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
    ``allow_root_equivalent=True``). With a NetworkPolicy it also loses CAP_NET_ADMIN,
    CAP_NET_RAW, CAP_NET_BROADCAST and CAP_BPF (and CAP_NET_BIND_SERVICE when no TCP port
    may be bound; :func:`network_shed`), with which it could change the host's networking
    without a socket (a TAP device, a BPF program). Without ``user=`` ``keep=`` may name
    only these.

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
    return plan_for(
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


def plan_for(c: Confinement) -> ConfinementPlan:
    """:func:`prepare_confinement` for one checked :class:`Confinement`."""
    try:
        return _plan_for(c)
    except HardenkitError:
        raise
    except ImportError as err:  # a load deeper than load_for_confinement's: the same cause
        raise _load_error(err.name or "a hardenkit module", err) from err


def _plan_for(c: Confinement) -> ConfinementPlan:
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
        kept_here = _kept_without_drop(
            keep, allow_root_equivalent=allow_root_equivalent, network=network
        )
    else:
        # keep= is parsed with the capability enum (privileges.parse_keep): load it here.
        keeps = not (isinstance(keep, (tuple, list, set, frozenset)) and not keep)
        load_for_confinement("hardenkit.privileges", *(["hardenkit.capabilities"] if keeps else []))
        from hardenkit import privileges  # noqa: PLC0415 -- loaded only for a drop

        drop = privileges.prepare_drop(
            user, group, groups=groups, keep=keep, allow_root_equivalent=allow_root_equivalent
        )
        apply_drop, verify_drop = privileges.apply_drop, privileges.verify_drop
        check_drop = privileges.check_drop_report
    _caps.prepare()  # the prctl entry point enter() uses: nothing is set up in a child
    rlimits: tuple[tuple[int, int], ...] = ()
    if limits is not None:
        # For import time: the limits module only with limits. Loaded here, in the parent,
        # the executors and the checker find it loaded (they must not import).
        load_for_confinement("hardenkit.sandbox.limits")
        from hardenkit.sandbox.limits import check_limits, refuse_unenforced  # noqa: PLC0415

        rlimits = check_limits(limits)
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
        network=network,
    )
    if seccomp is not None and seccomp._profile is not None:  # noqa: SLF001 -- same package
        # Decided against what the child will hold: after the drop, and after shedding.
        seccomp = seccomp.for_capabilities(_held_after(drop, shed=shed))
    # The network filter kills every ABI but the native one, so the other filters'
    # programs for i386 and x32 could never decide a call: compile the native one only.
    policy, compiled = _compiled(
        seccomp, block_namespaces=block_namespaces, native_only=network is not None
    )
    arches = tuple(policy.arches) if policy else ()
    guard = None
    if filesystem is not None and _changes_foreign_metadata(drop) is not None:
        guard = _compile(metadata_guard_policy(arches))
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


def _landlock_plan(
    filesystem: FilesystemPolicy | None, *, isolate: bool, scope_signals: bool
) -> LandlockPlan | None:
    """The domain to enter: the policy's, or (``isolate``) one that only isolates."""
    if filesystem is None and not isolate:
        return None
    load_for_confinement("hardenkit.sandbox.landlock", "hardenkit._linux.landlock")
    from hardenkit.sandbox.landlock import LandlockPlan  # noqa: PLC0415 -- for import time

    if filesystem is not None:
        return LandlockPlan(filesystem, scope_signals=scope_signals)
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
    return _compile(
        filesystem_guard_policy(
            arches, unix_sockets=unix_ok, anonymous_exec=exec_ok, shared_anonymous=shared_ok
        )
    )


@cache
def _landlock_abi() -> int:
    """The running Landlock ABI (it cannot change while this process runs)."""
    load_for_confinement("hardenkit.sandbox.landlock")
    from hardenkit.sandbox.landlock import landlock_abi  # noqa: PLC0415 -- for import time

    return landlock_abi()


def _network(network: NetworkPolicy, *, unix_refused: bool) -> tuple[NetworkPlan, CompiledPolicy]:
    """The NetworkPolicy's Landlock plan (ABI checked here) and its compiled filter.

    The filter covers the native ABI only, so every other ABI (i386, x32) is killed even
    when the caller's filter allows it: libseccomp turns socket rules into i386
    ``socketcall`` rules whose arguments sit behind a pointer seccomp cannot read.
    """
    load_for_confinement(
        "hardenkit.sandbox.landlock",
        "hardenkit._linux.landlock",
        "hardenkit.sandbox.network",
        "hardenkit._linux.landlock_net",
    )
    from hardenkit.sandbox.landlock import landlock_abi  # noqa: PLC0415 -- for import time
    from hardenkit.sandbox.network import (  # noqa: PLC0415 -- for import time: with a NetworkPolicy only
        NetworkPlan,
        network_filter,
    )

    plan = NetworkPlan(network, abi=landlock_abi(), unix_refused=unix_refused)
    return plan, _compile(network_filter(network))


def _compiled(
    seccomp: SeccompPolicy | None, *, block_namespaces: bool, native_only: bool = False
) -> tuple[SeccompPolicy | None, CompiledPolicy | None]:
    """Return the policy to load (namespace creation refused if asked) and its program.

    ``native_only``: for the native ABI only (another filter kills every other ABI).
    """
    if seccomp is None and not block_namespaces:
        return None, None
    key = (id(seccomp), block_namespaces, native_only)
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is seccomp:
        return hit[1], hit[2]
    if seccomp is None:
        load_for_confinement("hardenkit.sandbox.seccomp.policy")
        from hardenkit.sandbox.seccomp.policy import SeccompPolicy  # noqa: PLC0415 -- for import time

        seccomp_or_allow = SeccompPolicy(default="allow")
    else:
        seccomp_or_allow = seccomp
    policy = seccomp_or_allow.with_namespace_block() if block_namespaces else seccomp_or_allow
    if native_only and policy.arches:
        policy = _native_only(policy)
    compiled = _compile(policy)
    with _COMPILED_LOCK:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = (seccomp, policy, compiled)
    return policy, compiled


def _native_only(policy: SeccompPolicy) -> SeccompPolicy:
    """``policy`` for the native ABI only: its program kills every other ABI."""
    return type(policy)(
        default=policy.default,
        allow=policy.allow,
        deny=policy.deny,
        errno=policy.errno,
        rules=policy.rules,
        arches=(),
        block_namespaces=policy.block_namespaces,
        _profile=policy._profile,  # noqa: SLF001 -- same package
    )


def _compile(policy: SeccompPolicy) -> CompiledPolicy:
    """``compile_policy``, with the seccomp package loaded on first use (for import time).

    Its checker (``apply.verify_seccomp``) is loaded with it, here in the parent: the
    executors use it after a filter is in force, when an import could be refused.
    """
    load_for_confinement(
        "hardenkit.sandbox.seccomp.apply",
        "hardenkit.sandbox.seccomp.compiler",
        "hardenkit._linux.seccomp_compile",
        "hardenkit._linux.seccomp_load",
    )
    from hardenkit.sandbox.seccomp import apply, compiler  # noqa: PLC0415 -- for import time

    del apply  # loaded for the executors (see above)
    return compiler.compile_policy(policy)
