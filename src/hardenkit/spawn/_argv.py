"""The argv check every run makes: a sequence of arguments (never a string), no NUL.

Apart from :mod:`hardenkit.spawn._args` (the opt-in ArgRules schema), for import time:
a plain run loads no schema dataclass.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from hardenkit.errors import PolicyError, UnsafeArgument

__all__ = ["_as_argv"]


def _as_argv(argv: object) -> tuple[str, ...]:
    """Validate an argv: a non-empty sequence (never a string) of str/bytes/paths, no NUL."""
    if isinstance(argv, (str, bytes, bytearray, os.PathLike)) or not isinstance(argv, Sequence):
        raise PolicyError(
            "argv must be a sequence of arguments, not a string: no shell is ever used"
        )
    if not argv:
        raise PolicyError("argv is empty")
    out: list[str] = []
    for index, arg in enumerate(argv):
        if not isinstance(arg, (str, bytes, os.PathLike)):
            raise PolicyError(f"argument {index} is a {type(arg).__name__}, not str or bytes")
        text = os.fsdecode(arg)
        if "\0" in text:
            raise UnsafeArgument(f"argument {index} contains a NUL byte", argv=None)
        out.append(text)
    return tuple(out)
