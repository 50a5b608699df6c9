"""Landlock network rules (ABI 4: TCP bind/connect by port) and scopes (ABI 6).

A separate ruleset from the filesystem one: Landlock domains stack, and a ruleset that
handles only network access or scopes leaves file access alone. Described up front so
:meth:`NetRuleset.enforce` runs in a forked child without imports.
"""

from __future__ import annotations

import ctypes

from hardenkit._linux.landlock import PreparedRuleset, _RulesetAttr

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

LANDLOCK_RULE_NET_PORT = 2
ACCESS_NET_BIND_TCP = 1
ACCESS_NET_CONNECT_TCP = 2
SCOPE_ABSTRACT_UNIX_SOCKET = 1
SCOPE_SIGNAL = 2


class _NetPortAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)) in the uapi header
    _fields_ = (("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64))


class NetRuleset(PreparedRuleset):
    """Handled network rights, per-port grants and scopes, enforced with :meth:`enforce`.

    Examples:
        >>> NetRuleset(handled_net=3, scoped=0, attr_size=16, ports=[(443, 2)]).rules
        1
    """

    __slots__ = ()
    _RULE_TYPE = LANDLOCK_RULE_NET_PORT

    def __init__(
        self, *, handled_net: int, scoped: int, attr_size: int, ports: Sequence[tuple[int, int]]
    ) -> None:
        self._setup(
            _RulesetAttr(0, handled_net, scoped),
            attr_size,
            [_NetPortAttr(access, port) for port, access in ports],
        )
