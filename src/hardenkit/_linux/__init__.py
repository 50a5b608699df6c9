"""Linux machinery: the only place that uses ctypes, prctl(2) and libseccomp.

Public modules call into here for raw syscalls, procfs parsing and optional
dependencies, so platform checks and error translation happen at one choke point.
"""

from __future__ import annotations

import sys

from hardenkit.errors import UnsupportedPlatform

IS_LINUX = sys.platform.startswith("linux")


def require_linux(what: str) -> None:
    """Raise UnsupportedPlatform unless running on Linux.

    Examples:
        >>> require_linux("seccomp")  # on Linux: nothing happens
    """
    if not IS_LINUX:
        raise UnsupportedPlatform(f"{what} needs Linux; this is {sys.platform}")
