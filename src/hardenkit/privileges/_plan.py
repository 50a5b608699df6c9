"""The drop's plan: who to become and what to keep, resolved and checked with no side effects.

:func:`prepare_drop` resolves names and the group list (name lookups cannot run safely
between fork and exec); :class:`DropPlan` is what the executor and the checks use.
"""

from __future__ import annotations

import grp
import os
import pwd

from hardenkit._dataclass import dataclass
from hardenkit._linux import caps as _caps, procfs, require_linux
from hardenkit._linux.capnames import CAP_NAMES, kernel_last_cap
from hardenkit.errors import PrivilegeError, RootEquivalentError

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from hardenkit.capabilities import Capability, CapLike

#: uid_t/gid_t are 32-bit and (uid_t)-1 means "unchanged" to the kernel.
_MAX_ID = 0xFFFFFFFE
#: Keeping these would let the process become root (or join gid 0) again.
_REGAIN = frozenset({CAP_NAMES.index("CAP_SETUID"), CAP_NAMES.index("CAP_SETGID")})
_CAP_LINES = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


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


#: DropPlan's fields in order; all but ``status_lines`` are compared, hashed and shown.
_PLAN_FIELDS = (
    "uid",
    "gid",
    "groups",
    "keep",
    "user",
    "home",
    "shell",
    "allow_root_equivalent",
    "keep_mask",
    "last_cap",
)


class DropPlan:
    """A checked request to become ``uid``/``gid`` with ``groups``, keeping ``keep``.

    Made by :func:`prepare_drop` in the parent; :func:`apply_drop` and :func:`verify_drop`
    only read it (for confine/spawn). ``keep_mask``, ``last_cap`` and ``status_lines`` are
    derived. Frozen, slotted and keyword-only like a dataclass, but a plain class: it is
    internal, and a dataclass costs every ``hardenkit exec`` ~1.5 ms to build (issue 18).

    Examples:
        >>> plan = DropPlan(uid=65534, gid=65534, groups=(65534, 65534))
        >>> plan.groups, plan.keep_mask, plan == DropPlan(uid=65534, gid=65534, groups=(65534,))
        ((65534,), 0, True)
    """

    __slots__ = (*_PLAN_FIELDS, "status_lines")

    uid: int
    gid: int
    groups: tuple[int, ...]
    keep: frozenset[Capability]
    user: str | None
    home: str | None
    shell: str | None
    #: Keeping a capability in :data:`~hardenkit.capabilities.ROOT_EQUIVALENT` was
    #: acknowledged (otherwise RootEquivalentError).
    allow_root_equivalent: bool
    keep_mask: int
    last_cap: int
    #: The /proc/<tid>/status lines this plan must produce, for :func:`verify_drop_here`.
    status_lines: tuple[bytes, ...]

    def __init__(
        self,
        *,
        uid: int,
        gid: int,
        groups: tuple[int, ...],
        keep: frozenset[Capability] = frozenset(),
        user: str | None = None,
        home: str | None = None,
        shell: str | None = None,
        allow_root_equivalent: bool = False,
    ) -> None:
        _check_id(uid, "uid")
        _check_id(gid, "gid")
        if not isinstance(groups, tuple):
            raise PrivilegeError("groups must be a tuple of gids")
        for gid_ in groups:
            _check_id(gid_, "supplementary gid")
        caps = parse_keep(keep)
        regain = sorted(c for c in caps if c in _REGAIN)
        if uid != 0 and regain:
            names = ", ".join(c.name for c in regain)
            raise PrivilegeError(
                f"keeping {names} would let uid {uid} become root again; "
                "drop_privileges refuses what it cannot verify as dropped"
            )
        if uid != 0:  # a uid-0 target is root anyway: keep= only lowers it
            _check_root_equivalent(caps, allowed=allow_root_equivalent)
        mask = 0
        for cap in caps:
            mask |= 1 << cap
        # Every capability set equals keep: CapBnd shows every capability the kernel
        # knows, so one past LAST_CAP would show up as a mismatch too.
        lines = [f"\n{label}:\t{v}\t{v}\t{v}\t{v}\n" for label, v in (("Uid", uid), ("Gid", gid))]
        lines += [f"\n{label}:\t{mask:016x}\n" for label in _CAP_LINES]
        values = (
            uid,
            gid,
            tuple(sorted(set(groups))),
            caps,
            user,
            home,
            shell,
            allow_root_equivalent,
            mask,
            kernel_last_cap(),
        )
        for name, value in zip(_PLAN_FIELDS, values, strict=True):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "status_lines", tuple(line.encode() for line in lines))

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _PLAN_FIELDS)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _PLAN_FIELDS)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DropPlan) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: object) -> None:
        from dataclasses import FrozenInstanceError  # noqa: PLC0415 -- only on misuse

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError  # noqa: PLC0415 -- only on misuse

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[object, ...]:
        # Every field as it is (as a dataclass's copy and pickle do): nothing is re-derived,
        # so an unpickling process (even a confined one) reads no procfs.
        return (_restore_plan, ((*self._key(), self.status_lines),))


def _restore_plan(values: tuple[object, ...]) -> DropPlan:
    plan = object.__new__(DropPlan)
    for name, value in zip((*_PLAN_FIELDS, "status_lines"), values, strict=True):
        object.__setattr__(plan, name, value)
    return plan


def parse_keep(keep: CapLike | Iterable[CapLike]) -> frozenset[Capability]:
    """:func:`~hardenkit.capabilities.parse_caps`, without its import when nothing is kept.

    The capability enum costs ~4 ms of a process's start (``hardenkit exec --user``):
    a drop that keeps nothing never needs it.

    Examples:
        >>> parse_keep(()), sorted(c.name for c in parse_keep("CHOWN"))
        (frozenset(), ['CAP_CHOWN'])
    """
    if isinstance(keep, (tuple, list, set, frozenset)) and not keep:
        return frozenset()
    from hardenkit.capabilities import parse_caps  # noqa: PLC0415 -- see above

    return parse_caps(keep)


def _check_root_equivalent(keep: frozenset[Capability], *, allowed: bool) -> None:
    """Refuse to keep root-equivalent capabilities unless the caller said so."""
    if not isinstance(allowed, bool):
        raise PrivilegeError("allow_root_equivalent must be a bool")
    if not keep:
        return
    from hardenkit.capabilities import ROOT_EQUIVALENT, ROOT_EQUIVALENT_WHY  # noqa: PLC0415

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
        keep=parse_keep(keep),
        user=entry.pw_name if entry is not None else None,
        home=entry.pw_dir if entry is not None else None,
        shell=entry.pw_shell if entry is not None else None,
        allow_root_equivalent=allow_root_equivalent,
    )
    _caps.prepare_capset(plan.keep_mask, plan.keep_mask, plan.keep_mask)  # apply_drop's capset
    return plan
