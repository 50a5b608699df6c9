"""systemd's syscall groups (``@system-service``, ``@network-io``...), from the bundled table.

The table is systemd v257.13's ``SystemCallFilter=`` groups (see ``data/README.md``);
nested includes are resolved here rather than trusting a pre-flattened list.
"""

from __future__ import annotations

import functools
import json  # imported now: after a privilege drop the stdlib may be out of reach
import os

from hardenkit.errors import PolicyError

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["expand", "group_names"]

_TABLE = "systemd-syscall-groups.json"
#: hardenkit/sandbox/data, shared with the bundled Docker profile (see :mod:`.profiles`).
_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


@functools.cache
def _groups() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Group name -> (includes, direct syscalls)."""
    # A plain file next to this module (wheels install files): importlib.resources would
    # cost every first use of the sandbox its imports (pathlib, tempfile, zipfile...).
    path = os.path.join(_DATA, _TABLE)
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    raw = json.loads(text)["groups"]
    return {
        name: (tuple(entry.get("includes", ())), tuple(entry.get("syscalls", ())))
        for name, entry in raw.items()
    }


def group_names() -> tuple[str, ...]:
    """Return every known group name, sorted.

    Examples:
        >>> "@system-service" in group_names()
        True
    """
    return tuple(sorted(_groups()))


@functools.cache
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
