"""systemd's syscall groups (``@system-service``, ``@network-io``...), from the bundled table.

The table is systemd v257.13's ``SystemCallFilter=`` groups (see ``data/README.md``);
nested includes are resolved here rather than trusting a pre-flattened list.
"""

from __future__ import annotations

from hardenkit._memo import cache
from hardenkit.errors import PolicyError

# Imported now, not on first use: after a privilege drop the package may be out of reach.
from hardenkit.sandbox.seccomp._groups_table import GROUPS

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["check", "expand", "group_names"]


def _groups() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Group name -> (includes, direct syscalls).

    hardenkit/sandbox/data/systemd-syscall-groups.json as a Python module
    (:mod:`._generate`): no ``json`` import (~3 ms) and no parse for every first use.
    """
    return GROUPS


def group_names() -> tuple[str, ...]:
    """Return every known group name, sorted.

    Examples:
        >>> "@system-service" in group_names()
        True
    """
    return tuple(sorted(_groups()))


@cache
def _members(group: str, trail: tuple[str, ...] = ()) -> frozenset[str]:
    table = _groups()
    if group not in table:
        raise PolicyError(
            f"unknown syscall group {group!r}: known groups are {', '.join(group_names())}"
        )
    if group in trail:
        raise PolicyError(f"syscall group {group!r} includes itself via {' -> '.join(trail)}")
    includes, syscalls = table[group]
    out = set(syscalls)
    for inner in includes:
        out |= _members(inner, (*trail, group))
    return frozenset(out)


def expand(names: Iterable[str]) -> frozenset[str]:
    """Expand group names (``@...``) into syscall names; plain names pass through.

    Examples:
        >>> sorted(expand(["@sandbox"]))
        ['landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self', 'seccomp']
        >>> "socket" in expand(["@system-service"]), "mount" in expand(["@system-service"])
        (True, False)
        >>> expand(["@nope"])
        Traceback (most recent call last):
        ...
        hardenkit.errors.PolicyError: unknown syscall group '@nope': ...
    """
    out: set[str] = set()
    for name in names:
        if name.startswith("@"):
            out |= _members(name)
        else:
            out.add(name)
    return frozenset(out)


def check(names: Iterable[str]) -> None:
    """Raise PolicyError for an unknown group among ``names`` (as :func:`expand` would).

    A policy checks its names at construction: without building the expanded set.

    Examples:
        >>> check(["read", "@sandbox"])
        >>> check(["@nope"])
        Traceback (most recent call last):
        ...
        hardenkit.errors.PolicyError: unknown syscall group '@nope': ...
    """
    for name in names:
        if name.startswith("@"):
            _members(name)
