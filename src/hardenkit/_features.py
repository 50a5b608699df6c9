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

from hardenkit._dataclass import dataclass

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
        cap_last_cap: the highest capability number the kernel knows (-1 off Linux).
        user_namespaces: unprivileged user namespaces are enabled.
        exec_helper: the compiled spawn helper (``hardenkit-exec``) is built and trusted,
            so confined ``spawn.run()`` children start without a fork of this process.
        spawn_path: how confined ``spawn.run()`` children are confined: ``"helper"`` (the
            compiled helper, no Python between fork and exec) or ``"python"`` (the slower
            path: the child confines itself in Python between fork and exec).
        spawn_path_why: why the Python path is taken (empty when the helper is used);
            a plan that drops capabilities the helper cannot keep may still take it.

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
    cap_last_cap: int
    user_namespaces: bool
    exec_helper: bool = False
    spawn_path: str = "python"
    spawn_path_why: str = ""


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
    from hardenkit._linux.deps import libseccomp_version  # noqa: PLC0415 -- for import time: ctypes, only for this probe

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


def _exec_helper() -> tuple[bool, str]:
    from hardenkit.spawn._locate import locate  # noqa: PLC0415 -- for import time: the spawn package, only for this probe

    path, why = locate()
    return path is not None, why


@functools.cache
def features() -> Features:
    """Probe this machine once and return what it offers.

    Examples:
        >>> f = features()
        >>> f.linux
        True
        >>> f.landlock_abi >= 0
        True
        >>> f.spawn_path in ("helper", "python") and (f.spawn_path == "python") == bool(
        ...     f.spawn_path_why)
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
            cap_last_cap=-1,
            user_namespaces=False,
            spawn_path_why=f"the exec helper needs Linux; this is {sys.platform}",
        )
    from hardenkit._linux.procfs import cap_last_cap  # noqa: PLC0415 -- for import time: only for this probe

    actions = _seccomp_actions()
    version = _libseccomp_version()
    helper, why = _exec_helper()
    return Features(
        linux=True,
        root=os.geteuid() == 0,
        seccomp=bool(actions) and version is not None,
        seccomp_actions=actions,
        libseccomp_version=version,
        landlock_abi=_probe_landlock(),
        cap_last_cap=cap_last_cap(),
        user_namespaces=_user_namespaces(),
        exec_helper=helper,
        spawn_path="helper" if helper else "python",
        spawn_path_why=why,
    )
