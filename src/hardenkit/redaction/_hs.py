"""Hyperscan, imported once on first need: None where it has no wheel or cannot load.

The registry's literal matchers, the prefilter's database and the combined database all
ask :func:`_hyperscan`; ``_HS`` is the one cache of the import (tests replace it to take
the path of a machine without hyperscan).
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing costs a first use several ms (the audit's
# environment check, `hardenkit audit`), and type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_HS: list[Any] = []


def _hyperscan() -> Any:
    """The hyperscan module (literal sets at ~1 GB/s), or None where it has no wheel."""
    if not _HS:
        try:
            import hyperscan  # noqa: PLC0415 -- only once a secret is registered

            _HS.append(hyperscan)
        except (ImportError, OSError):  # OSError: confined (Landlock) before the import
            _HS.append(None)
    return _HS[0]
