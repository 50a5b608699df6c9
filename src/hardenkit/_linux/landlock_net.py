"""Landlock network rules (ABI 4: TCP bind/connect by port) and scopes (ABI 6).

A separate ruleset from the filesystem one: Landlock domains stack, and a ruleset that
handles only network access or scopes leaves file access alone. Described up front so
:meth:`NetRuleset.enforce` runs in a forked child without imports.
"""

from __future__ import annotations

import ctypes
import os

from hardenkit._linux.landlock import _fail, _raw, _RulesetAttr
from hardenkit._linux.libc import syscall_number

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


class NetRuleset:
    """Handled network rights, per-port grants and scopes, enforced with :meth:`enforce`.

    Examples:
        >>> NetRuleset(handled_net=3, scoped=0, attr_size=16, ports=[(443, 2)]).rules
        1
    """

    __slots__ = ("_attr", "_attr_size", "_fn", "_nrs", "_rules")

    def __init__(
        self, *, handled_net: int, scoped: int, attr_size: int, ports: Sequence[tuple[int, int]]
    ) -> None:
        self._attr = _RulesetAttr(0, handled_net, scoped)
        self._attr_size = attr_size
        self._rules = [_NetPortAttr(access, port) for port, access in ports]
        self._fn = _raw()
        self._nrs = (
            ctypes.c_long(syscall_number("landlock_create_ruleset")),
            ctypes.c_long(syscall_number("landlock_add_rule")),
            ctypes.c_long(syscall_number("landlock_restrict_self")),
        )

    @property
    def rules(self) -> int:
        """Number of port rules."""
        return len(self._rules)

    def enforce(self) -> None:
        """Create the ruleset, add the port rules and restrict the calling thread (OSError)."""
        fn = self._fn
        fd = fn(self._nrs[0], ctypes.byref(self._attr), ctypes.c_long(self._attr_size), 0)
        if fd < 0:
            raise _fail()
        try:
            for rule in self._rules:
                rc = fn(
                    self._nrs[1],
                    ctypes.c_long(fd),
                    ctypes.c_long(LANDLOCK_RULE_NET_PORT),
                    ctypes.byref(rule),
                    ctypes.c_long(0),
                )
                if rc != 0:
                    raise _fail()
            if fn(self._nrs[2], ctypes.c_long(fd), ctypes.c_long(0)) != 0:
                raise _fail()
        finally:
            os.close(fd)
