"""Resource limits that can only go down: ``ResourceLimits`` and ``apply_limits``.

Soft and hard limits are both set to the value, so the process cannot raise them back.
Notes that matter: RLIMIT_NPROC counts every process of the real uid (not just this
process tree) and is not enforced for root or holders of CAP_SYS_ADMIN/CAP_SYS_RESOURCE;
RLIMIT_AS counts address space mappings (thread stacks, reserved arenas, PROT_NONE guard
regions), so ``data_bytes`` (RLIMIT_DATA, private writable memory) is usually the better
memory cap; ``core_bytes=0`` (the default) keeps secrets out of core dumps.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, fields

from hardenkit.errors import SandboxError

__all__ = ["ResourceLimits", "apply_limits", "verify_limits"]

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
    (per real uid, ignored for root), ``core_bytes`` defaults to 0 (no core dumps).

    Examples:
        >>> ResourceLimits(open_files=64).as_rlimits()
        ((7, 64), (4, 0))
        >>> ResourceLimits(open_files=-1)
        Traceback (most recent call last):
        ...
        ValueError: ResourceLimits.open_files must be a non-negative int or None, not -1
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
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                msg = f"ResourceLimits.{f.name} must be a non-negative int or None, not {value!r}"
                raise ValueError(msg)

    def as_rlimits(self) -> tuple[tuple[int, int], ...]:
        """Return ``(RLIMIT_*, value)`` pairs for the limits that are set, in field order."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out.append((_FIELDS[f.name][0], int(value)))
        return tuple(out)


def _name(which: int) -> str:
    return next(name for res, name in _FIELDS.values() if res == which)


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


def set_rlimits(pairs: tuple[tuple[int, int], ...]) -> None:
    """Set soft = hard = value for each pair (no checks, no allocation; fork-child safe)."""
    for which, value in pairs:
        resource.setrlimit(which, (value, value))


def apply_limits(limits: ResourceLimits) -> None:
    """Set each given limit's soft and hard value, so it cannot be raised back.

    Every value is checked against the current hard limit before anything changes.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> def child():
        ...     apply_limits(ResourceLimits(open_files=32))
        ...     return resource.getrlimit(resource.RLIMIT_NOFILE)
        >>> fork_call(child).value
        [32, 32]

    Raises:
        SandboxError: a value is above the current hard limit, or setrlimit failed.
    """
    pairs = check_limits(limits)
    try:
        set_rlimits(pairs)
    except (OSError, ValueError) as err:
        # Python reports a refused raise of a hard limit as ValueError, not PermissionError.
        raise SandboxError(f"setrlimit failed: {err}") from err
    verify_limits(pairs)


def verify_limits(pairs: tuple[tuple[int, int], ...]) -> None:
    """Check with getrlimit that every pair is in force as soft = hard = value.

    Raises:
        SandboxError: a limit is not what was set.
    """
    for which, value in pairs:
        got = resource.getrlimit(which)
        if got != (value, value):
            raise SandboxError(f"{_name(which)} is {got}, expected ({value}, {value})")
