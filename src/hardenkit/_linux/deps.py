"""Optional and native dependencies, imported once and translated into our errors.

pyseccomp runs ``ldconfig`` at import (twice, ~25-50 ms) and raises RuntimeError (not
ImportError) when libseccomp.so.2 is missing, so hardenkit's own seccomp code opens
libseccomp.so.2 directly with :func:`libseccomp` (one ``dlopen`` by soname, what the
dynamic loader would pick) and never pays that; :func:`pyseccomp` stays for callers who
want the module. python-prctl is the ``caps`` extra and may be absent.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import importlib.util
from typing import TYPE_CHECKING

from hardenkit._linux import require_linux
from hardenkit.errors import MissingDependency, UnsupportedPlatform

if TYPE_CHECKING:
    from types import ModuleType


@functools.cache
def pyseccomp() -> ModuleType:
    """Return the pyseccomp module, or raise MissingDependency / UnsupportedPlatform.

    Examples:
        >>> pyseccomp().Arch.NATIVE is not None
        True
    """
    require_linux("seccomp")
    try:
        return importlib.import_module("pyseccomp")
    except ImportError as err:
        raise MissingDependency(
            "pyseccomp is not installed: pip install hardenkit (it is a required dependency "
            "on Linux)",
            package="pyseccomp",
            extra=None,
        ) from err
    except (RuntimeError, OSError) as err:
        # pyseccomp raises RuntimeError when ldconfig cannot find libseccomp.so.2.
        raise UnsupportedPlatform(
            "libseccomp.so.2 was not found: install it (Debian: apt-get install libseccomp2)"
        ) from err


#: The soname of libseccomp's ABI 2 (every 2.x release).
LIBSECCOMP_SONAME = "libseccomp.so.2"


@functools.cache
def libseccomp() -> ctypes.CDLL:
    """Open libseccomp.so.2 once, or raise UnsupportedPlatform naming the package to install.

    Examples:
        >>> libseccomp().seccomp_init is not None
        True
    """
    require_linux("seccomp")
    try:
        return ctypes.CDLL(LIBSECCOMP_SONAME)
    except OSError as err:
        raise UnsupportedPlatform(
            f"{LIBSECCOMP_SONAME} was not found: install it (Debian: apt-get install libseccomp2)"
        ) from err


@functools.cache
def prctl() -> ModuleType:
    """Return python-prctl's module, or raise MissingDependency naming the ``caps`` extra.

    Examples:
        >>> hasattr(prctl(), "cap_permitted")
        True
    """
    require_linux("capability changes")
    try:
        return importlib.import_module("prctl")
    except ImportError as err:
        raise MissingDependency(
            "python-prctl is needed to change capabilities: pip install 'hardenkit[caps]' "
            "(it builds from source: apt-get install gcc libcap-dev first)",
            package="python-prctl",
            extra="caps",
        ) from err


def have_prctl() -> bool:
    """Tell whether python-prctl can be imported, without importing it.

    Examples:
        >>> isinstance(have_prctl(), bool)
        True
    """
    return importlib.util.find_spec("prctl") is not None


class _Version(ctypes.Structure):
    _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint))


@functools.cache
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
