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

Examples:
    >>> from hardenkit.privileges import prepare_drop
    >>> plan = prepare_drop("nobody", keep={"NET_BIND_SERVICE"})
    >>> plan.uid, plan.groups, sorted(c.name for c in plan.keep)
    (65534, (65534,), ['CAP_NET_BIND_SERVICE'])
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass, field

from hardenkit._linux import caps as _caps, procfs, require_linux
from hardenkit._log import get_logger
from hardenkit.capabilities import (
    LAST_CAP,
    Capability,
    CapLike,
    caps_to_mask,
    parse_caps,
    refuse_threads,
)
from hardenkit.errors import CapabilityError, PrivilegeError, RootEquivalentError

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["Identity", "current_identity", "drop_privileges"]

_log = get_logger("hardenkit.privileges")

#: uid_t/gid_t are 32-bit and (uid_t)-1 means "unchanged" to the kernel.
_MAX_ID = 0xFFFFFFFE
#: Keeping these would let the process become root (or join gid 0) again.
_REGAIN = frozenset({Capability.CAP_SETUID, Capability.CAP_SETGID})
_SETUID_BIT = 1 << Capability.CAP_SETUID.value
_CAP_LINES = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
_STATUS = "/proc/thread-self/status"
_NO_NEW_PRIVS_LINE = b"\nNoNewPrivs:\t1\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who a process is: real, effective and saved ids, supplementary groups, user name.

    ``user`` is the name of the effective uid (None when it has no passwd entry).

    Examples:
        >>> me = current_identity()
        >>> (me.uid, me.euid, me.suid) == os.getresuid()
        True
    """

    uid: int
    euid: int
    suid: int
    gid: int
    egid: int
    sgid: int
    groups: tuple[int, ...]
    user: str | None


def _user_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def current_identity(pid: int | None = None) -> Identity:
    """Return the ids of ``pid`` (default: this process) as the kernel reports them.

    Examples:
        >>> me = current_identity()
        >>> (me.uid, me.euid, me.gid) == (os.getuid(), os.geteuid(), os.getgid())
        True
        >>> current_identity(1).uid >= 0
        True

    Raises:
        PrivilegeError: the process does not exist or cannot be read.
    """
    if pid is None or pid == procfs.self_pid():
        uid, euid, suid = os.getresuid()
        gid, egid, sgid = os.getresgid()
        groups = tuple(sorted(set(os.getgroups())))
    else:
        require_linux("reading another process's identity")
        try:
            status = procfs.read_status(pid)
        except (OSError, ValueError) as err:
            raise PrivilegeError(f"cannot read the identity of pid {pid}: {err}") from err
        uid, euid, suid, _ = status.uids
        gid, egid, sgid, _ = status.gids
        groups = tuple(sorted(set(status.groups)))
    return Identity(
        uid=uid,
        euid=euid,
        suid=suid,
        gid=gid,
        egid=egid,
        sgid=sgid,
        groups=groups,
        user=_user_name(euid),
    )


def _check_id(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PrivilegeError(f"{what} must be a name or a number, got {type(value).__name__}")
    if not 0 <= value <= _MAX_ID:
        raise PrivilegeError(f"{what} {value} is out of range (0..{_MAX_ID})")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class DropPlan:
    """A checked request to become ``uid``/``gid`` with ``groups``, keeping ``keep``.

    Made by :func:`prepare_drop` in the parent; :func:`apply_drop` and :func:`verify_drop`
    only read it (for confine/spawn). ``keep_mask`` and ``last_cap`` are derived.
    """

    uid: int
    gid: int
    groups: tuple[int, ...]
    keep: frozenset[Capability] = frozenset()
    user: str | None = None
    home: str | None = None
    shell: str | None = None
    #: Keeping a capability in :data:`~hardenkit.capabilities.ROOT_EQUIVALENT` was
    #: acknowledged (otherwise RootEquivalentError).
    allow_root_equivalent: bool = False
    keep_mask: int = field(init=False)
    last_cap: int = field(init=False)
    #: The /proc/<tid>/status lines this plan must produce, for :func:`verify_drop_here`.
    status_lines: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_id(self.uid, "uid")
        _check_id(self.gid, "gid")
        if not isinstance(self.groups, tuple):
            raise PrivilegeError("groups must be a tuple of gids")
        for gid in self.groups:
            _check_id(gid, "supplementary gid")
        keep = parse_caps(self.keep)
        if self.uid != 0 and keep & _REGAIN:
            names = ", ".join(c.name for c in sorted(keep & _REGAIN))
            raise PrivilegeError(
                f"keeping {names} would let uid {self.uid} become root again; "
                "drop_privileges refuses what it cannot verify as dropped"
            )
        if self.uid != 0:  # a uid-0 target is root anyway: keep= only lowers it
            _check_root_equivalent(keep, allowed=self.allow_root_equivalent)
        object.__setattr__(self, "groups", tuple(sorted(set(self.groups))))
        object.__setattr__(self, "keep", keep)
        mask = caps_to_mask(keep)
        object.__setattr__(self, "keep_mask", mask)
        object.__setattr__(self, "last_cap", LAST_CAP)
        # Every capability set equals keep: CapBnd shows every capability the kernel
        # knows, so one past LAST_CAP would show up as a mismatch too.
        lines = [
            f"\n{label}:\t{v}\t{v}\t{v}\t{v}\n"
            for label, v in (("Uid", self.uid), ("Gid", self.gid))
        ]
        lines += [f"\n{label}:\t{mask:016x}\n" for label in _CAP_LINES]
        object.__setattr__(self, "status_lines", tuple(line.encode() for line in lines))


def _check_root_equivalent(keep: frozenset[Capability], *, allowed: bool) -> None:
    """Refuse to keep root-equivalent capabilities unless the caller said so."""
    from hardenkit.capabilities import ROOT_EQUIVALENT, ROOT_EQUIVALENT_WHY  # noqa: PLC0415

    if not isinstance(allowed, bool):
        raise PrivilegeError("allow_root_equivalent must be a bool")
    risky = sorted(c.short_name for c in keep & ROOT_EQUIVALENT)
    if risky and not allowed:
        why = "; ".join(f"{name}: {ROOT_EQUIVALENT_WHY[name]}" for name in risky)
        raise RootEquivalentError(
            f"keeping {', '.join(risky)} amounts to root ({why}): the drop would not "
            "contain the process; pass allow_root_equivalent=True to keep them knowingly",
            capabilities=frozenset(risky),
        )


def _resolve_user(user: str | int) -> tuple[int, pwd.struct_passwd | None]:
    if isinstance(user, str):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            if not user.isdecimal():
                raise PrivilegeError(f"unknown user {user!r}: no passwd entry") from None
            user = int(user)
        else:
            return entry.pw_uid, entry
    uid = _check_id(user, "uid")
    try:
        return uid, pwd.getpwuid(uid)
    except KeyError:
        return uid, None


def _resolve_group(group: str | int, what: str) -> int:
    if isinstance(group, str):
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            if not group.isdecimal():
                raise PrivilegeError(f"unknown {what} {group!r}: no group entry") from None
            group = int(group)
    return _check_id(group, what)


def prepare_drop(
    user: str | int,
    group: str | int | None = None,
    *,
    groups: Iterable[str | int] | None = None,
    keep: CapLike | Iterable[CapLike] = (),
    allow_root_equivalent: bool = False,
) -> DropPlan:
    """Resolve and check a drop request without changing anything (for confine/spawn).

    ``group=None`` is the user's primary group; ``groups=None`` is the user's groups from
    the group database with ``group`` added (what initgroups does), never the caller's.
    Also loads everything :func:`apply_drop` needs, so a forked child loads nothing.

    Examples:
        >>> prepare_drop("nobody", "nogroup", groups=[]).groups
        ()
        >>> prepare_drop("no-such-user")
        Traceback (most recent call last):
        ...
        hardenkit.errors.PrivilegeError: unknown user 'no-such-user': no passwd entry

    Raises:
        PrivilegeError: unknown user or group, bad id, or a capability that would let the
            process regain root (CapabilityError for an unknown capability).
        RootEquivalentError: ``keep`` holds a capability that amounts to root
            (:data:`~hardenkit.capabilities.ROOT_EQUIVALENT`) without
            ``allow_root_equivalent=True``.
    """
    require_linux("dropping privileges")
    uid, entry = _resolve_user(user)
    if group is None:
        if entry is None:
            raise PrivilegeError(f"uid {uid} has no passwd entry: pass group= explicitly")
        gid = entry.pw_gid
    else:
        gid = _resolve_group(group, "group")
    if groups is None:
        # The user's groups from the group database, like initgroups(3).
        gid_list = os.getgrouplist(entry.pw_name, gid) if entry is not None else []
    elif isinstance(groups, (str, int)):
        raise PrivilegeError("groups must be a list of group names or gids, not a single value")
    else:
        gid_list = [_resolve_group(g, "supplementary group") for g in groups]
    plan = DropPlan(
        uid=uid,
        gid=gid,
        groups=tuple(gid_list),
        keep=parse_caps(keep),
        user=entry.pw_name if entry is not None else None,
        home=entry.pw_dir if entry is not None else None,
        shell=entry.pw_shell if entry is not None else None,
        allow_root_equivalent=allow_root_equivalent,
    )
    _caps.prepare_capset(plan.keep_mask, plan.keep_mask, plan.keep_mask)  # apply_drop's capset
    return plan


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
        data = _read_status()
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


def _read_status() -> bytes:
    """Read /proc/thread-self/status in page-sized reads (a 64 KiB buffer costs faults)."""
    fd = os.open(_STATUS, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, 4096)
        while chunk := os.read(fd, 4096):
            data += chunk
    finally:
        os.close(fd)
    return data


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


def drop_privileges(
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
    refuse_threads("drop_privileges")
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
