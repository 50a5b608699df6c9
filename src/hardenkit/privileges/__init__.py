"""Stop being root for good, keep only the capabilities asked for, and prove it.

:func:`drop_privileges` is three steps that :func:`hardenkit.confine` and the spawn path
also use, in a forked child right before exec:

- :func:`prepare_drop` resolves names and the group list and checks the request, with no
  side effects (name lookups cannot run safely between fork and exec);
- :func:`apply_drop` changes the process in the one correct order: keep-caps securebit,
  bounding set, ``setgroups`` → ``setresgid`` → ``setresuid`` (the libc calls: glibc
  broadcasts them to every thread, a raw syscall would change one thread only), then
  effective, inheritable and ambient capabilities;
- :func:`verify_drop` asks the kernel: all ids and groups of every thread, capability
  sets, the bounding set up to ``cap_last_cap``, and that ``setuid(0)``, ``seteuid(0)``,
  ``setgid(0)`` and ``setgroups([0])`` are all refused.

The plan is in ``_plan.py``, the executor here, the checks in ``_verify.py``.

Examples:
    >>> from hardenkit.privileges import prepare_drop
    >>> plan = prepare_drop("nobody", keep={"NET_BIND_SERVICE"})
    >>> plan.uid, plan.groups, sorted(c.name for c in plan.keep)
    (65534, (65534,), ['CAP_NET_BIND_SERVICE'])
"""

from __future__ import annotations

import os

from hardenkit._linux import IS_LINUX, caps as _caps, procfs as _procfs
from hardenkit._linux.capnames import CAP_NAMES
from hardenkit._log import get_logger
from hardenkit.errors import CapabilityError, PrivilegeError
from hardenkit.privileges._plan import (
    DropPlan as DropPlan,
    Identity as Identity,
    current_identity as current_identity,
    prepare_drop as prepare_drop,
)
from hardenkit.privileges._verify import (
    check_drop_report as check_drop_report,
    verify_drop as verify_drop,
    verify_drop_here as verify_drop_here,
)

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from hardenkit.capabilities import CapLike

__all__ = ["Identity", "current_identity", "drop_privileges"]

_log = get_logger("hardenkit.privileges")

_SETUID_BIT = 1 << CAP_NAMES.index("CAP_SETUID")

# ctypes and libc are made ready now, not on the first call: drop_privileges and
# apply_drop may run in a preexec_fn (a forked child), where importing ctypes waits
# forever on a module lock another parent thread held at the fork.
if IS_LINUX:
    _caps.prepare()


def __getattr__(name: str) -> Any:
    """``drop_privileges``, with the capability enum its ``keep=`` is parsed with loaded.

    Loaded when the name is looked up (``from hardenkit.privileges import
    drop_privileges``, in the parent), not when it is called: it may be called in a
    preexec_fn child, which must import nothing. The package itself does not load the
    enum: ``confine()`` and ``hardenkit exec --user`` parse ``keep=`` in the parent and
    need it only for a ``keep=`` (~7 ms of a cold exec).
    """
    if name == "drop_privileges":
        import hardenkit.capabilities  # noqa: F401, PLC0415 -- see above

        return _drop_privileges
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The drop's operations, in THE order; :func:`drop_steps` picks those a plan needs.
#: Why this order: the keep-caps securebit before setresuid (or the permitted set is
#: cleared), the bounding set while CAP_SETPCAP is still held, groups and gid while
#: CAP_SETGID is, the uid last of the ids, then capset (effective/inheritable from the
#: permitted set that keep-caps saved), ambient (needs them inheritable), keep-caps off.
DROP_OPS = (
    "seteuid0",
    "keepcaps_on",
    "bounding",
    "setgroups",
    "setresgid",
    "setresuid",
    "capset",
    "ambient",
    "keepcaps_off",
)
#: Each operation's name in errors and in the exec helper's script labels.
DROP_LABELS = {
    "seteuid0": "seteuid(0) (back from a temporary uid)",
    "keepcaps_on": "prctl(PR_SET_KEEPCAPS, 1)",
    "bounding": "prctl(PR_CAPBSET_DROP)",
    "setgroups": "setgroups",
    "setresgid": "setresgid",
    "setresuid": "setresuid",
    "capset": "capset",
    "ambient": "prctl(PR_CAP_AMBIENT)",
    "keepcaps_off": "prctl(PR_SET_KEEPCAPS, 0)",
}


def drop_steps(plan: DropPlan, *, temporary_uid: bool) -> tuple[str, ...]:
    """The operations of :data:`DROP_OPS` that ``plan`` needs, in that order.

    ``temporary_uid``: the process runs with a non-zero effective uid while root is
    still among its uids (it must take uid 0 back first). :func:`apply_drop` and the
    exec helper's encoder both walk this tuple; the order is written only above.

    Examples:
        >>> drop_steps(prepare_drop("nobody"), temporary_uid=False)
        ('bounding', 'setgroups', 'setresgid', 'setresuid', 'capset')
    """
    keep = bool(plan.keep_mask)
    skip = {"seteuid0"} if not temporary_uid else set()
    if not keep:
        skip |= {"keepcaps_on", "ambient", "keepcaps_off"}
    return tuple(op for op in DROP_OPS if op not in skip)


def _temporary_uid() -> bool:
    return os.geteuid() != 0 and 0 in os.getresuid()


def _apply_op(plan: DropPlan, op: str) -> None:
    """One operation of the drop in this process (fork-child safe)."""
    keep = plan.keep_mask
    if op == "seteuid0":
        os.seteuid(0)
    elif op == "keepcaps_on":
        _caps.set_keepcaps(True)
    elif op == "bounding":
        _caps.bounding_limit(keep, plan.last_cap)
    elif op == "setgroups":
        os.setgroups(plan.groups)
    elif op == "setresgid":
        os.setresgid(plan.gid, plan.gid, plan.gid)
    elif op == "setresuid":
        os.setresuid(plan.uid, plan.uid, plan.uid)
    elif op == "capset":
        _caps.capset(keep, keep, keep)
    elif op == "ambient":
        _caps.ambient_set(keep, plan.last_cap)
    elif op == "keepcaps_off":
        _caps.set_keepcaps(False)
    else:  # pragma: no cover - DROP_OPS is closed
        raise PrivilegeError(f"unknown drop operation {op!r}")


def apply_drop(plan: DropPlan) -> None:
    """Change ids and capabilities to ``plan`` in the one correct order (for confine/spawn).

    Safe between fork and exec: no name lookups, imports or logging. Does not verify; call
    :func:`verify_drop` (or use :func:`drop_privileges`). The order is :data:`DROP_OPS`'s.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> plan = prepare_drop("nobody")
        >>> fork_call(lambda: (apply_drop(plan), os.getresuid())[1]).value
        [65534, 65534, 65534]

    Raises:
        PrivilegeError: a step failed (the process is then in an unknown state: exit it).
    """
    step = "start"
    try:
        for op in drop_steps(plan, temporary_uid=_temporary_uid()):
            step = DROP_LABELS[op]
            _apply_op(plan, op)
    except OSError as err:
        raise PrivilegeError(
            f"dropping to uid {plan.uid} gid {plan.gid}: {step} failed: {err.strerror}"
        ) from err


def _shed_unprivileged(plan: DropPlan) -> None:
    """Already the target user: lower capabilities to ``keep`` (no privilege needed)."""
    keep = plan.keep_mask
    try:
        _caps.capset(keep, keep, keep)
        if keep:
            _caps.ambient_set(keep, plan.last_cap)
    except OSError as err:
        missing = ", ".join(c.name for c in sorted(plan.keep))
        raise CapabilityError(
            f"cannot keep {missing}: this process does not hold them ({err.strerror})",
            missing=plan.keep,
        ) from err


def _set_environ(plan: DropPlan) -> None:
    values = {"HOME": plan.home, "USER": plan.user, "LOGNAME": plan.user, "SHELL": plan.shell}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _drop_privileges(
    user: str | int,
    group: str | int | None = None,
    *,
    groups: Iterable[str | int] | None = None,
    keep: CapLike | Iterable[CapLike] = (),
    no_new_privs: bool = True,
    umask: int | None = None,
    allow_root_equivalent: bool = False,
) -> Identity:
    """Become ``user`` for good, keeping only ``keep``, and verify it from the kernel's side.

    Supplementary groups default to the user's own (never root's). With ``keep`` the
    capabilities survive the uid change and are raised in the ambient set, so an exec'd
    child keeps them too; every other capability leaves every set, bounding set included.
    ``no_new_privs`` (default on) stops setuid binaries and file capabilities from
    handing privileges back. Refused when other threads are alive (capabilities are
    per-thread). Already that user and unprivileged: the ids stay, the rest is applied
    and verified. ``HOME``, ``USER``, ``LOGNAME`` and ``SHELL`` come from the passwd entry.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> from hardenkit.privileges import drop_privileges
        >>> def child():
        ...     me = drop_privileges("nobody", keep={"NET_BIND_SERVICE"})
        ...     return me.uid, me.groups, os.environ["HOME"]
        >>> fork_call(child).value
        [65534, [65534], '/nonexistent']

    A capability that amounts to root (SYS_ADMIN, SYS_PTRACE, DAC_OVERRIDE...: see
    :data:`~hardenkit.capabilities.ROOT_EQUIVALENT`) is kept only with
    ``allow_root_equivalent=True``.

    Raises:
        PrivilegeError: bad request, not allowed, other threads, or any check failed.
        CapabilityError: an unknown capability, or one to keep that is not held.
        RootEquivalentError: a root-equivalent capability in ``keep``, unacknowledged.
    """
    plan = prepare_drop(
        user, group, groups=groups, keep=keep, allow_root_equivalent=allow_root_equivalent
    )
    if umask is not None and (isinstance(umask, bool) or not 0 <= umask <= 0o777):  # noqa: PLR2004
        raise PrivilegeError(f"umask must be between 0 and 0o777, got {umask!r}")
    _procfs.refuse_threads("drop_privileges")
    try:
        _, prm, _ = _caps.capget()
    except OSError as err:
        raise PrivilegeError(f"cannot read this thread's capabilities: {err}") from err
    privileged = 0 in os.getresuid() or bool(prm & _SETUID_BIT)
    who = plan.user or f"uid {plan.uid}"
    if privileged:
        apply_drop(plan)
    elif os.getresuid() != (plan.uid,) * 3:
        raise PrivilegeError(
            f"cannot switch to {who}: this process runs as uid {os.geteuid()} without "
            "CAP_SETUID; start it as root or as that user. Nothing was changed."
        )
    else:
        _shed_unprivileged(plan)
    if umask is not None:
        os.umask(umask)
    if no_new_privs:
        try:
            _caps.set_no_new_privs()
        except OSError as err:
            raise PrivilegeError(f"prctl(PR_SET_NO_NEW_PRIVS) failed: {err.strerror}") from err
    identity = verify_drop(plan, no_new_privs=no_new_privs, bounding=privileged)
    _set_environ(plan)
    _log.info(
        "dropped privileges to %s (uid %d, gid %d, groups %s), keeping %s",
        who,
        plan.uid,
        plan.gid,
        list(plan.groups),
        sorted(c.name for c in plan.keep) or "no capabilities",
    )
    return identity


_drop_privileges.__name__ = _drop_privileges.__qualname__ = "drop_privileges"
if TYPE_CHECKING:  # the name, for type checkers; at run time, through __getattr__
    drop_privileges = _drop_privileges
