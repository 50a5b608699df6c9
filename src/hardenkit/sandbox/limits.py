"""Resource limits that can only go down: ``ResourceLimits`` and ``apply_limits``.

Soft and hard limits are both set to the value, so the process cannot raise them back.
Notes that matter: RLIMIT_NPROC counts every process of the real uid (not just this
process tree) and is not enforced for root or holders of CAP_SYS_ADMIN/CAP_SYS_RESOURCE
(so ``processes`` is refused for such a process rather than reported as in force);
RLIMIT_AS counts address space mappings (thread stacks, reserved arenas, PROT_NONE guard
regions), so ``data_bytes`` (RLIMIT_DATA, private writable memory) is usually the better
memory cap; ``core_bytes=0`` (the default) keeps secrets out of core dumps.
"""

from __future__ import annotations

import os
import resource

from hardenkit._dataclass import dataclass, field_names
from hardenkit.errors import PolicyError, SandboxError

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["MAX_LIMIT", "ResourceLimits", "apply_limits", "verify_limits"]

#: The largest limit value: Python's setrlimit takes a C long, and the exec helper must
#: not set what the fork path cannot (a larger value would also be read back differently).
MAX_LIMIT = 2**63 - 1

_FIELDS: dict[str, tuple[int, str]] = {
    "cpu_seconds": (resource.RLIMIT_CPU, "RLIMIT_CPU"),
    "memory_bytes": (resource.RLIMIT_AS, "RLIMIT_AS"),
    "data_bytes": (resource.RLIMIT_DATA, "RLIMIT_DATA"),
    "stack_bytes": (resource.RLIMIT_STACK, "RLIMIT_STACK"),
    "file_size_bytes": (resource.RLIMIT_FSIZE, "RLIMIT_FSIZE"),
    "open_files": (resource.RLIMIT_NOFILE, "RLIMIT_NOFILE"),
    "processes": (resource.RLIMIT_NPROC, "RLIMIT_NPROC"),
    "core_bytes": (resource.RLIMIT_CORE, "RLIMIT_CORE"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceLimits:
    """Limits to impose; None leaves that limit as it is.

    ``memory_bytes`` is RLIMIT_AS (all mappings), ``data_bytes`` RLIMIT_DATA (heap and
    private writable mappings; usually the better memory cap), ``processes`` RLIMIT_NPROC
    (per real uid; refused for root, which the kernel exempts), ``open_files``
    RLIMIT_NOFILE (it caps new descriptor numbers: descriptors already open above it
    stay usable, so close what the process must not keep), ``core_bytes`` defaults to 0
    (no core dumps).

    Examples:
        >>> ResourceLimits(open_files=64).as_rlimits()
        ((7, 64), (4, 0))
        >>> ResourceLimits(open_files=-1)
        Traceback (most recent call last):
        ...
        hardenkit.errors.PolicyError: ResourceLimits.open_files must be an int from 0 to ...

    Raises:
        PolicyError: a value is not an int from 0 to :data:`MAX_LIMIT` (2**63-1, the
            largest setrlimit takes from Python; a ValueError): checked here, so no
            confinement step runs with a value it cannot set.
    """

    cpu_seconds: int | None = None
    memory_bytes: int | None = None
    file_size_bytes: int | None = None
    open_files: int | None = None
    processes: int | None = None
    core_bytes: int | None = 0
    data_bytes: int | None = None
    stack_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in field_names(self):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LIMIT
            ):
                msg = (
                    f"ResourceLimits.{name} must be an int from 0 to 2**63-1 or None, not {value!r}"
                )
                raise PolicyError(msg)

    def as_rlimits(self) -> tuple[tuple[int, int], ...]:
        """Return ``(RLIMIT_*, value)`` pairs for the limits that are set, in field order."""
        out = []
        for name in field_names(self):
            value = getattr(self, name)
            if value is not None:
                out.append((_FIELDS[name][0], int(value)))
        return tuple(out)


def _name(which: int) -> str:
    return next(name for res, name in _FIELDS.values() if res == which)


def rlimit_name(which: int) -> str:
    """The RLIMIT_* name of a resource number hardenkit sets.

    Examples:
        >>> rlimit_name(resource.RLIMIT_NOFILE)
        'RLIMIT_NOFILE'
    """
    return _name(which)


def check_limits(limits: ResourceLimits) -> tuple[tuple[int, int], ...]:
    """Check every value against the current hard limit; change nothing.

    Examples:
        >>> check_limits(ResourceLimits(core_bytes=0))
        ((4, 0),)

    Raises:
        SandboxError: a value is above the current hard limit (it could not be set).
    """
    pairs = limits.as_rlimits()
    for which, value in pairs:
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY and value > hard:
            raise SandboxError(
                f"{_name(which)} cannot be raised to {value}: the hard limit is {hard} and "
                "hard limits only go down"
            )
    return pairs


_CAP_SYS_ADMIN = 21
_CAP_SYS_RESOURCE = 24


def _nproc_unenforced() -> str | None:
    """Say why the kernel would ignore RLIMIT_NPROC for this process (None: it applies).

    copy_process() skips the check for real uid 0 and for CAP_SYS_ADMIN or
    CAP_SYS_RESOURCE holders (a permitted capability can be made effective at will).
    """
    from hardenkit._linux.procfs import read_status  # noqa: PLC0415 -- only when asked

    if os.getuid() == 0:
        return "the real uid is 0"
    try:
        status = read_status()
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot read this process's capabilities: {err}") from err
    held = status.cap_permitted | status.cap_effective
    for bit, cap in ((_CAP_SYS_ADMIN, "CAP_SYS_ADMIN"), (_CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE")):
        if held >> bit & 1:
            return f"the process holds {cap}"
    return None


def _nproc_unenforced_for(uid: int, caps: int) -> str | None:
    """Say why RLIMIT_NPROC would not bind a process with real ``uid`` and ``caps``."""
    if uid == 0:
        return "the real uid after the drop is 0"
    for bit, cap in ((_CAP_SYS_ADMIN, "CAP_SYS_ADMIN"), (_CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE")):
        if caps >> bit & 1:
            return f"the drop keeps {cap}"
    return None


def refuse_unenforced(
    pairs: tuple[tuple[int, int], ...], *, uid: int | None = None, caps: int = 0
) -> None:
    """Raise when ``pairs`` set RLIMIT_NPROC for a process the kernel exempts from it.

    The process is this one, or (with ``uid``) the one a privilege drop to ``uid``
    keeping the capability mask ``caps`` will produce: callers check before they fork.

    Examples:
        >>> refuse_unenforced(((resource.RLIMIT_NPROC, 8),), uid=65534)
        >>> refuse_unenforced(((resource.RLIMIT_NPROC, 8),), uid=0)
        Traceback (most recent call last):
        ...
        hardenkit.errors.SandboxError: RLIMIT_NPROC would not be enforced: the real uid ...

    Raises:
        SandboxError: RLIMIT_NPROC is set and the kernel would not enforce it.
    """
    if not any(which == resource.RLIMIT_NPROC for which, _ in pairs):
        return
    why = _nproc_unenforced() if uid is None else _nproc_unenforced_for(uid, caps)
    if why is not None:
        raise SandboxError(
            f"RLIMIT_NPROC would not be enforced: {why}, and the kernel exempts root and "
            "CAP_SYS_ADMIN/CAP_SYS_RESOURCE holders. Set processes= together with a drop "
            "to another user (confine(user=...)), or leave it None"
        )


def set_rlimits(pairs: tuple[tuple[int, int], ...]) -> None:
    """Set soft = hard = value for each pair (no checks, no allocation; fork-child safe)."""
    for which, value in pairs:
        resource.setrlimit(which, (value, value))


def apply_limits(limits: ResourceLimits) -> None:
    """Set each given limit's soft and hard value, so it cannot be raised back.

    Every value is checked against the current hard limit before anything changes.
    ``processes`` is refused for a process the kernel exempts from RLIMIT_NPROC (real
    uid 0, CAP_SYS_ADMIN or CAP_SYS_RESOURCE): the limit would be set but never bite.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> def child():
        ...     apply_limits(ResourceLimits(open_files=32))
        ...     return resource.getrlimit(resource.RLIMIT_NOFILE)
        >>> fork_call(child).value
        [32, 32]

    Raises:
        SandboxError: a value is above the current hard limit, ``processes`` cannot be
            enforced for this process, or setrlimit failed.
    """
    pairs = check_limits(limits)
    refuse_unenforced(pairs)
    try:
        set_rlimits(pairs)
    except (OSError, ValueError) as err:
        # Python reports a refused raise of a hard limit as ValueError, not PermissionError.
        raise SandboxError(f"setrlimit failed: {err}") from err
    verify_limits(pairs)


def verify_limits(pairs: tuple[tuple[int, int], ...]) -> None:
    """Check with getrlimit that every pair is in force as soft = hard = value.

    RLIMIT_NPROC also has to bind: the process must not be one the kernel exempts.

    Raises:
        SandboxError: a limit is not what was set, or RLIMIT_NPROC would not be enforced.
    """
    check_limit_values(pairs, {which: resource.getrlimit(which) for which, _ in pairs})
    refuse_unenforced(pairs)


def check_limit_values(
    pairs: tuple[tuple[int, int], ...], got: Mapping[int, tuple[int, int]]
) -> None:
    """Check reported (soft, hard) values: every pair must read soft = hard = value.

    ``got`` maps each resource to what getrlimit gave, here or in a spawn child (the
    exec helper reports it to the parent).

    Examples:
        >>> check_limit_values(((resource.RLIMIT_NOFILE, 64),), {resource.RLIMIT_NOFILE: (64, 64)})
        >>> check_limit_values(((resource.RLIMIT_NOFILE, 64),), {resource.RLIMIT_NOFILE: (64, 99)})
        Traceback (most recent call last):
        ...
        hardenkit.errors.SandboxError: RLIMIT_NOFILE is (64, 99), expected (64, 64)

    Raises:
        SandboxError: a limit is missing from ``got`` or differs.
    """
    for which, value in pairs:
        if which not in got:
            raise SandboxError(f"{_name(which)} was not reported")
        have = tuple(got[which])
        if have != (value, value):
            raise SandboxError(f"{_name(which)} is {have}, expected ({value}, {value})")
