"""The drop's plan: who to become and what to keep, resolved and checked with no side effects.

:func:`prepare_drop` resolves names and the group list (name lookups cannot run safely
between fork and exec); :class:`DropPlan` is what the executor and the checks use.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass, field

from hardenkit._linux import caps as _caps, procfs, require_linux
from hardenkit.capabilities import (
    LAST_CAP,
    ROOT_EQUIVALENT,
    ROOT_EQUIVALENT_WHY,
    Capability,
    CapLike,
    caps_to_mask,
    parse_caps,
)
from hardenkit.errors import PrivilegeError, RootEquivalentError

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

#: uid_t/gid_t are 32-bit and (uid_t)-1 means "unchanged" to the kernel.
_MAX_ID = 0xFFFFFFFE
#: Keeping these would let the process become root (or join gid 0) again.
_REGAIN = frozenset({Capability.CAP_SETUID, Capability.CAP_SETGID})
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
