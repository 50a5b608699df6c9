"""``UNSET``: the default of an option keyword, so an entry point knows it was not passed.

``confine(confinement=c, isolate=True)`` must be refused even though ``True`` is
``isolate``'s default: comparing values with the defaults cannot see that, a sentinel
can (:func:`hardenkit.sandbox.options.resolve`). Stdlib-free and tiny: spawn imports it
at start-up.
"""

from __future__ import annotations

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["UNSET"]


class _Unset:
    """The one "not passed" marker (falsy; its repr says what it stands for)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<default>"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"


#: Typed Any so that ``isolate: bool = UNSET`` type-checks: every entry point replaces it
#: (through ``resolve``) before the value is used.
UNSET: Any = _Unset()
