"""systemd's syscall groups (a thin re-export: the code is ``seccomp.groups``).

Kept so that ``hardenkit.sandbox.groups`` imports keep working; see
:mod:`hardenkit.sandbox.seccomp.groups`.

Examples:
    >>> "@system-service" in group_names()
    True
"""

from __future__ import annotations

from hardenkit.sandbox.seccomp.groups import expand, group_names

__all__ = ["expand", "group_names"]
