"""Native dependencies, loaded once and translated into our errors.

hardenkit binds libseccomp.so.2 directly with :func:`libseccomp` (one ``dlopen`` by
soname, what the dynamic loader would pick) rather than through pyseccomp, whose import
runs ``ldconfig`` (a subprocess a confined process may not be allowed to start, 10-50 ms).
Capabilities go through prctl(2)/capset(2) in :mod:`hardenkit._linux.caps`, so no Python
package is needed for them. A missing system library raises
:class:`~hardenkit.errors.MissingDependency` naming what to install.
"""

from __future__ import annotations

import ctypes

from hardenkit._linux import require_linux
from hardenkit._memo import cache
from hardenkit.errors import MissingDependency

#: The soname of libseccomp's ABI 2 (every 2.x release).
LIBSECCOMP_SONAME = "libseccomp.so.2"


@cache
def libseccomp() -> ctypes.CDLL:
    """Open libseccomp.so.2 once, or raise MissingDependency naming the package to install.

    Examples:
        >>> libseccomp().seccomp_init is not None
        True
    """
    require_linux("seccomp")
    try:
        return ctypes.CDLL(LIBSECCOMP_SONAME)
    except OSError as err:
        raise MissingDependency(
            f"{LIBSECCOMP_SONAME} was not found: install libseccomp (Debian/Ubuntu: "
            "apt-get install libseccomp2; Fedora: dnf install libseccomp)",
            package="libseccomp2",
            extra=None,
        ) from err


class _Version(ctypes.Structure):
    _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint))


@cache
def libseccomp_version() -> str:
    """Return the version of the libseccomp that hardenkit loads, e.g. ``"2.5.4"``.

    Examples:
        >>> libseccomp_version().count(".")
        2
    """
    fn = libseccomp()["seccomp_version"]  # a private function object: no shared restype
    fn.restype = ctypes.POINTER(_Version)
    ver = fn().contents
    return f"{ver.major}.{ver.minor}.{ver.micro}"
