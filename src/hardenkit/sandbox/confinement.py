"""``confine()``: every sandbox step, in the one correct order, then verified.

The order is minijail's and is written once, in :mod:`hardenkit.sandbox._steps`: ids
and capabilities (needs privileges, so first), rlimits, no_new_privs, Landlock, seccomp
last (an earlier step's syscalls may be ones the filter forbids). The options are one
:class:`~hardenkit.sandbox.options.Confinement`; :func:`prepare_confinement` does all
the parent-side work so that :meth:`ConfinementPlan.enter` can run in a freshly forked
child right before exec: no imports, lookups or logging there.

This module keeps the public names; the work is split by job: ``options`` (the
options), ``_prepare`` (parent-side work), ``_steps`` (the order), ``_enter`` (the
in-process executor), ``_check`` (the checker), ``guards`` (guard filters).
"""

from __future__ import annotations

from hardenkit._lazy import import_module
from hardenkit._linux import require_linux
from hardenkit._linux.caps import prctl
from hardenkit._linux.libc import PR_SET_NO_NEW_PRIVS
from hardenkit._unset import UNSET
from hardenkit.errors import SandboxError
from hardenkit.sandbox._check import _threads, all_tasks_nnp, shed_problem
from hardenkit.sandbox._enter import shed_capabilities
from hardenkit.sandbox._load import load_for_confinement
from hardenkit.sandbox._plan import ConfinementPlan
from hardenkit.sandbox._prepare import plan_for, prepare_confinement
from hardenkit.sandbox.guards import (
    CAP_MKNOD,
    CAP_PERFMON,
    CAP_SYS_ADMIN,
    ISOLATION_SHED,
    METADATA_SYSCALLS,
    filesystem_guard_policy,
    metadata_guard_policy,
)
from hardenkit.sandbox.options import Confinement, resolve

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from hardenkit.capabilities import CapLike
    from hardenkit.privileges import Identity
    from hardenkit.sandbox.landlock import FilesystemPolicy
    from hardenkit.sandbox.limits import ResourceLimits
    from hardenkit.sandbox.network import NetworkPolicy
    from hardenkit.sandbox.seccomp import SeccompPolicy

__all__ = [
    "CAP_MKNOD",
    "CAP_PERFMON",
    "CAP_SYS_ADMIN",
    "ISOLATION_SHED",
    "METADATA_SYSCALLS",
    "Confinement",
    "ConfinementPlan",
    "confine",
    "filesystem_guard_policy",
    "metadata_guard_policy",
    "prepare_confinement",
    "set_no_new_privs",
    "shed_capabilities",
    "shed_problem",
]


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
    all_tasks_nnp()


def confine(
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
    isolation CAP_SYS_ADMIN and CAP_PERFMON too, and with ``network`` CAP_NET_ADMIN,
    CAP_NET_RAW, CAP_NET_BROADCAST and CAP_BPF (CAP_NET_BIND_SERVICE too when no TCP
    port may be bound) unless ``keep=`` names them (see :func:`prepare_confinement`).
    With other live threads only steps that cover every thread are allowed: rlimits
    (per process) and seccomp with TSYNC (which also carries no_new_privs); a privilege
    drop, Landlock (``isolate`` included) or shedding a capability a thread still holds
    (``keep=`` it to leave it) is refused.
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

    An error raised by a step leaves the steps before it in force, and the failing step
    may have taken effect in part (none can be undone): the error's ``partly_confined``
    is then True, and the process should exit rather than carry on. Errors found before
    the first step leave it unchanged (``partly_confined`` False). To keep the caller
    whole whatever happens, confine a child instead: :func:`hardenkit.run`,
    :func:`hardenkit.call_sandboxed`.
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
    return confine_resolved(c)


def confine_resolved(c: Confinement, *, carry_on: bool = True) -> Identity:
    """:func:`confine` for options already resolved (``hardenkit exec`` calls it too).

    ``carry_on``: the process goes on calling hardenkit after it is confined, so what the
    modules it has loaded import on first use is loaded now (:func:`_load_later_needs`).
    ``hardenkit exec`` passes False: it becomes its command once confined.
    """
    require_linux("confinement")
    threads = _threads()
    if threads != 1:
        _refuse_threads(c, None, threads)  # what the options alone forbid: before any load
    if carry_on:
        _load_later_needs()
    with plan_for(c) as plan:
        if threads != 1:
            _refuse_threads(c, plan, threads)
        load_for_confinement("hardenkit.privileges")
        from hardenkit.privileges import current_identity  # noqa: PLC0415 -- for import time: privileges loads capabilities, grp, pwd

        plan.identity_source = current_identity
        plan.enter(verify=True)
    if plan.identity is None:  # pragma: no cover - enter(verify=True) always sets it
        raise SandboxError("confinement was not verified")
    return plan.identity


def _load_later_needs() -> None:
    """Load what the hardenkit modules loaded so far import on first use, before confining.

    For import time, modules import some of what they need on first use (``re``, the
    secret-name patterns, ``copy``, ``json``, the builtin SHA-256). A confinement may
    leave those files unreadable (a Landlock read list without the standard library or
    hardenkit's directory, a dropped user that cannot read them): a function of a module
    the caller imported before confining must still work after it. Best effort: a module
    that cannot be loaded now (an earlier confinement left it out) could not be loaded
    later either, and this confinement does not need it; the function that needs it
    fails as it would have, and the confinement goes ahead.
    """
    import sys  # noqa: PLC0415 -- loaded already by every interpreter; only here

    wanted: list[str] = []
    if "hardenkit.env" in sys.modules:  # is_secret_name, validate_env's rules
        wanted += ["re", "fnmatch", "hardenkit.redaction._names"]
    if "hardenkit.sandbox._profile_model" in sys.modules:  # sizes in profiles
        wanted.append("re")
    profiles = sys.modules.get("hardenkit.sandbox.seccomp.profiles")
    if profiles is not None:  # Docker profiles read from files: a copy and a digest
        wanted += ["copy", "json"]
    for name in wanted:
        if name not in sys.modules:
            _load_if_possible(import_module, name)
    if profiles is not None:
        _load_if_possible(profiles.sha256, b"")


def _load_if_possible(load: Callable[[Any], object], arg: Any) -> None:
    """``load(arg)``, unless its files are out of reach (not this confinement's need)."""
    try:
        load(arg)
    except (ImportError, OSError):
        return


def _refuse_threads(c: Confinement, plan: ConfinementPlan | None, threads: int) -> None:
    """Raise unless every step of ``plan`` covers every one of ``threads`` threads.

    Without a plan (not prepared yet) only what the options alone decide is checked.
    """
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
    if plan is not None and c.user is None and _shed_needed(plan):
        why.append(
            f"shedding {_cap_names(plan.shed_caps)} (capabilities are per thread; "
            "keep= them to leave them)"
        )
    if why:
        raise SandboxError(
            f"{threads} threads are running and cannot all be covered by: "
            f"{'; '.join(why)}. Confine before starting threads."
        )


def _shed_needed(plan: ConfinementPlan) -> bool:
    """Whether a thread holds (or may regain) a capability the plan sheds."""
    from hardenkit.sandbox._check import shed_problems  # noqa: PLC0415 -- only with threads

    return bool(plan.shed_caps) and bool(
        shed_problems(plan.shed_caps, no_new_privs=plan.no_new_privs)
    )


def _cap_names(mask: int) -> str:
    load_for_confinement("hardenkit._linux.capnames")
    from hardenkit._linux.capnames import CAP_NAMES  # noqa: PLC0415 -- only when refusing

    return ", ".join(
        CAP_NAMES[bit] if bit < len(CAP_NAMES) else f"capability {bit}"
        for bit in range(mask.bit_length())
        if mask >> bit & 1
    )
