"""What this machine offers, probed once: ``hardenkit.features()``.

Tests decide their skips from this probe, and applications can log it at start-up.
Every field is read from the kernel or the import system; nothing is assumed.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sys
from dataclasses import dataclass

__all__ = ["Features", "features"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Features:
    """The hardening features available to this process.

    Attributes:
        linux: running on Linux.
        root: effective uid is 0.
        seccomp: seccomp filter mode is available and libseccomp loads.
        seccomp_actions: filter return actions the kernel supports (``kill_process``...).
        libseccomp_version: the loaded libseccomp's version, or None.
        landlock_abi: the Landlock ABI version (0 when Landlock is absent or disabled).
        prctl: python-prctl (the ``caps`` extra) can be imported.
        cap_last_cap: the highest capability number the kernel knows (-1 off Linux).
        user_namespaces: unprivileged user namespaces are enabled.
        exec_helper: the compiled spawn helper (``hardenkit-exec``) is built and trusted,
            so confined ``spawn.run()`` children start without a fork of this process.

    Examples:
        >>> f = features()
        >>> f.linux and f.cap_last_cap >= 40
        True
    """

    linux: bool
    root: bool
    seccomp: bool
    seccomp_actions: frozenset[str]
    libseccomp_version: str | None
    landlock_abi: int
    prctl: bool
    cap_last_cap: int
    user_namespaces: bool
    exec_helper: bool = False


def _probe_landlock() -> int:
    from hardenkit._linux.libc import syscall  # noqa: PLC0415 -- ctypes only when asked

    landlock_create_ruleset_version = 1
    try:
        return syscall("landlock_create_ruleset", 0, 0, landlock_create_ruleset_version)
    except OSError as err:
        if err.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        raise
    except NotImplementedError:
        return 0


def _seccomp_actions() -> frozenset[str]:
    try:
        with open("/proc/sys/kernel/seccomp/actions_avail", encoding="ascii") as fh:
            return frozenset(fh.read().split())
    except OSError:
        return frozenset()


def _libseccomp_version() -> str | None:
    from hardenkit._linux.deps import libseccomp_version  # noqa: PLC0415

    try:
        return libseccomp_version()
    except (ImportError, NotImplementedError, OSError):
        return None


def _user_namespaces() -> bool:
    for path, off in (
        ("/proc/sys/kernel/unprivileged_userns_clone", "0"),
        ("/proc/sys/user/max_user_namespaces", "0"),
    ):
        with contextlib.suppress(OSError), open(path, encoding="ascii") as fh:
            if fh.read().strip() == off:
                return False
    return True


def _exec_helper() -> bool:
    from hardenkit.spawn._locate import locate  # noqa: PLC0415

    return locate()[0] is not None


@functools.cache
def features() -> Features:
    """Probe this machine once and return what it offers.

    Examples:
        >>> f = features()
        >>> f.linux
        True
        >>> f.landlock_abi >= 0
        True
        >>> features() is f  # probed once
        True
    """
    linux = sys.platform.startswith("linux")
    if not linux:
        return Features(
            linux=False,
            root=os.geteuid() == 0,
            seccomp=False,
            seccomp_actions=frozenset(),
            libseccomp_version=None,
            landlock_abi=0,
            prctl=False,
            cap_last_cap=-1,
            user_namespaces=False,
        )
    from hardenkit._linux.deps import have_prctl  # noqa: PLC0415
    from hardenkit._linux.procfs import cap_last_cap  # noqa: PLC0415

    actions = _seccomp_actions()
    version = _libseccomp_version()
    return Features(
        linux=True,
        root=os.geteuid() == 0,
        seccomp=bool(actions) and version is not None,
        seccomp_actions=actions,
        libseccomp_version=version,
        landlock_abi=_probe_landlock(),
        prctl=have_prctl(),
        cap_last_cap=cap_last_cap(),
        user_namespaces=_user_namespaces(),
        exec_helper=_exec_helper(),
    )
