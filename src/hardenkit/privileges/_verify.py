"""Ask the kernel whether a drop holds.

:func:`verify_drop` checks every thread and that every way back to root is refused;
:func:`verify_drop_here` this thread, before exec; :func:`check_drop_report` judges what
a thread (or the exec helper) read about itself.
"""

from __future__ import annotations

import os

from hardenkit._linux import caps as _caps, procfs
from hardenkit.errors import PrivilegeError
from hardenkit.privileges._plan import Identity

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from hardenkit.privileges._plan import DropPlan

_STATUS = procfs.THREAD_STATUS
_NO_NEW_PRIVS_LINE = b"\nNoNewPrivs:\t1\n"


def _refusal_problem(name: str, attempt: Callable[[], None]) -> str | None:
    """Run one attempt to regain root; describe it unless the kernel said EPERM."""
    try:
        attempt()
    except PermissionError:
        return None
    except OSError as err:
        return f"{name} failed with {err.strerror} instead of EPERM"
    return f"{name} succeeded: root can be regained"


def _regain_attempts(plan: DropPlan) -> list[str]:
    """Try every way back to root; each must be refused with EPERM."""
    attempts: list[tuple[str, Callable[[], None]]] = [
        ("setuid(0)", lambda: os.setuid(0)),
        ("seteuid(0)", lambda: os.seteuid(0)),
        ("setgroups([0])", lambda: os.setgroups([0])),
    ]
    if plan.gid != 0:
        attempts.append(("setgid(0)", lambda: os.setgid(0)))
    results = [_refusal_problem(name, attempt) for name, attempt in attempts]
    return [r for r in results if r is not None]


def _task_problems(plan: DropPlan, *, no_new_privs: bool, bounding: bool) -> list[str]:
    problems: list[str] = []
    tasks = procfs.task_ids()
    for tid in tasks:
        try:
            status = procfs.read_task_status(tid)
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited after the listing: it runs nothing, so it holds nothing
        if set(status.uids) != {plan.uid} or set(status.gids) != {plan.gid}:
            problems.append(f"task {tid}: uids {status.uids}, gids {status.gids}")
        if tuple(sorted(set(status.groups))) != plan.groups:
            problems.append(f"task {tid}: groups {status.groups}, expected {plan.groups}")
        problems += _caps.status_problems(status, keep=plan.keep_mask, bounding=bounding)
        if no_new_privs and not status.no_new_privs:
            problems.append(f"task {tid}: NoNewPrivs is 0")
    return problems


def verify_drop(plan: DropPlan, *, no_new_privs: bool, bounding: bool = True) -> Identity:
    """Check from the kernel's side that the process is exactly what ``plan`` asked.

    Every thread's ids, groups and capability sets in procfs, the bounding set asked about
    each capability up to ``cap_last_cap``, keep-caps off, NoNewPrivs when asked, and (when
    the target is not root) every way back to root refused. For confine/spawn; with
    ``bounding=False`` the bounding set is not compared (an unprivileged process cannot
    shrink it).

    Examples:
        >>> from hardenkit._child import fork_call
        >>> from hardenkit.privileges import prepare_drop
        >>> plan = prepare_drop("nobody")
        >>> fork_call(verify_drop, (plan,), {"no_new_privs": False}).exc_type  # not applied
        'PrivilegeError'

    Raises:
        PrivilegeError: any mismatch (all are listed) or a check that could not run.
    """
    try:
        problems = _self_problems(plan, no_new_privs=no_new_privs, bounding=bounding)
        problems += _task_problems(plan, no_new_privs=no_new_privs, bounding=bounding)
        if plan.uid != 0:
            problems += _regain_attempts(plan)
    except (OSError, ValueError) as err:
        raise PrivilegeError(f"could not verify the privilege drop: {err}") from err
    if problems:
        raise PrivilegeError(
            f"privilege drop to uid {plan.uid} did not verify: " + "; ".join(problems)
        )
    return Identity(
        uid=plan.uid,
        euid=plan.uid,
        suid=plan.uid,
        gid=plan.gid,
        egid=plan.gid,
        sgid=plan.gid,
        groups=plan.groups,
        user=plan.user,
    )


def verify_drop_here(plan: DropPlan, *, no_new_privs: bool) -> None:
    """Check the calling thread against ``plan`` (for a spawn child, right before exec).

    What :func:`verify_drop` asks of this thread, in one procfs read instead of one
    syscall per capability: all four uids and gids and the five capability sets
    (inheritable, permitted, effective, bounding, ambient: each must equal ``keep``; a
    capability past ``cap_last_cap`` would show in the bounding set) and NoNewPrivs from
    ``/proc/thread-self/status`` (compared as bytes, nothing parsed or allocated),
    then groups and keep-caps off. No name lookups, imports or logging. Other threads
    are not checked: a forked child has none. The attempts to regain root that
    :func:`verify_drop` makes are left out (they cost more than the rest together in a
    fresh child): with all ids equal to a non-zero ``uid`` and no CAP_SETUID/CAP_SETGID
    (a plan never keeps them) the kernel refuses each of them by rule.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> from hardenkit.privileges import apply_drop, prepare_drop
        >>> plan = prepare_drop("nobody")
        >>> def child():
        ...     apply_drop(plan)
        ...     return verify_drop_here(plan, no_new_privs=False)
        >>> fork_call(child).value is None
        True
        >>> fork_call(verify_drop_here, (plan,), {"no_new_privs": False}).exc_type
        'PrivilegeError'

    Raises:
        PrivilegeError: any mismatch (all are listed) or a check that could not run.
    """
    try:
        data = procfs.read_thread_status_bytes()
        groups = os.getgroups()
        securebits = _caps.get_securebits()
    except (OSError, ValueError) as err:
        raise PrivilegeError(f"could not verify the privilege drop: {err}") from err
    check_drop_report(
        plan, status=data, groups=groups, securebits=securebits, no_new_privs=no_new_privs
    )


def check_drop_report(
    plan: DropPlan,
    *,
    status: bytes,
    groups: Iterable[int],
    securebits: int,
    no_new_privs: bool,
) -> None:
    r"""Check what a thread reported about itself against ``plan``; raise on any mismatch.

    The reading is :func:`verify_drop_here`'s (or the spawn exec helper's, which reads
    the same kernel answers in the child and sends them to the parent): the text of
    ``/proc/thread-self/status``, ``getgroups()`` and ``PR_GET_SECUREBITS``.

    Examples:
        >>> from hardenkit.privileges import prepare_drop
        >>> plan = prepare_drop("nobody")
        >>> check_drop_report(plan, status=b"\nUid:\t0\t0\t0\t0\n", groups=[0],
        ...                   securebits=0, no_new_privs=False)
        Traceback (most recent call last):
        ...
        hardenkit.errors.PrivilegeError: privilege drop to uid 65534 did not verify: 'Uid:...

    Raises:
        PrivilegeError: any mismatch (all are listed).
    """
    problems = [_status_problem(status, line) for line in plan.status_lines if line not in status]
    if no_new_privs and _NO_NEW_PRIVS_LINE not in status:
        problems.append(_status_problem(status, _NO_NEW_PRIVS_LINE))
    got = list(groups)
    if tuple(sorted(set(got))) != plan.groups:
        problems.append(f"groups are {got}, expected {list(plan.groups)}")
    if securebits & _caps.SECBIT_KEEP_CAPS:
        problems.append("SECBIT_KEEP_CAPS is still set")
    if problems:
        raise PrivilegeError(
            f"privilege drop to uid {plan.uid} did not verify: " + "; ".join(problems)
        )


def _status_problem(data: bytes, expected: bytes) -> str:
    """Describe how ``data`` differs from the ``expected`` status line (error path only)."""
    label = expected.strip().split(b":", 1)[0]
    start = data.find(b"\n" + label + b":")
    if start == -1:
        return f"{label.decode()} is missing from {_STATUS}"
    got = data[start + 1 : data.find(b"\n", start + 1)]
    return f"{got.decode(errors='replace')!r}, expected {expected.strip().decode()!r}"


def _self_problems(plan: DropPlan, *, no_new_privs: bool, bounding: bool) -> list[str]:
    """Ask the kernel directly (getres*id, getgroups, capget, prctl) about this thread."""
    problems: list[str] = []
    keep = plan.keep_mask
    if os.getresuid() != (plan.uid,) * 3:
        problems.append(f"uids are {os.getresuid()}, expected {plan.uid}")
    if os.getresgid() != (plan.gid,) * 3:
        problems.append(f"gids are {os.getresgid()}, expected {plan.gid}")
    if tuple(sorted(set(os.getgroups()))) != plan.groups:
        problems.append(f"groups are {os.getgroups()}, expected {list(plan.groups)}")
    problems += _capset_problems(keep, plan.last_cap)
    if bounding:
        probed = _caps.bounding_mask(plan.last_cap)
        if probed != plan.keep_mask:
            problems.append(f"PR_CAPBSET_READ gives bounding set {probed:#x}")
        if _probe_past_last_cap(plan.last_cap):
            problems.append(f"the kernel knows capabilities past {plan.last_cap}")
    if _caps.get_securebits() & _caps.SECBIT_KEEP_CAPS:
        problems.append("SECBIT_KEEP_CAPS is still set")
    if no_new_privs and not _caps.get_no_new_privs():
        problems.append("no_new_privs is not set")
    return problems


def _capset_problems(keep: int, last_cap: int) -> list[str]:
    """Effective, permitted and inheritable must equal ``keep``, ambient too."""
    problems = []
    eff, prm, inh = _caps.capget()
    if eff != keep or prm != keep or inh != keep:
        problems.append(
            f"capget gives effective {eff:#x}, permitted {prm:#x}, inheritable {inh:#x}"
        )
    # The kernel keeps ambient within permitted and inheritable (both equal keep now),
    # so only the kept capabilities need asking.
    missing = [cap for cap in range(last_cap + 1) if keep >> cap & 1 and not _caps.ambient_has(cap)]
    if missing:
        problems.append(f"capabilities {missing} are kept but not ambient")
    return problems


def _probe_past_last_cap(last_cap: int) -> bool:
    """True when the kernel answers for a capability past ``last_cap`` (it should not)."""
    try:
        _caps.bounding_has(last_cap + 1)
    except OSError:
        return False
    return True
