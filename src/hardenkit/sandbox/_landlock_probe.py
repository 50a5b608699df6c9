"""Landlock probes: ask the kernel whether a read, a mkdir or a device node is refused.

:class:`~hardenkit.sandbox.landlock.LandlockPlan` runs them in-process; the spawn exec
helper makes the same attempts in the child and :func:`check_probe` judges its answers.
"""

from __future__ import annotations

import errno
import os
import stat

from hardenkit.errors import SandboxError

__all__ = ["check_probe", "probe_mkdir_refused", "probe_mknod_refused", "probe_read_refused"]


def probe_read_refused(path: str) -> None:
    """Raise SandboxError unless listing ``path`` is refused with EACCES."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except PermissionError:
        return
    except OSError as err:
        raise SandboxError(f"Landlock probe on {path} failed: {err.strerror}") from err
    os.close(fd)
    raise SandboxError(f"Landlock is not in force: {path} can still be read")


def check_probe(kind: str, path: str, err: int) -> None:
    """Judge a probe made elsewhere (the spawn exec helper): ``err`` is its errno, 0 if done.

    Examples:
        >>> import errno
        >>> check_probe("open", "/", errno.EACCES)
        >>> check_probe("open", "/", 0)
        Traceback (most recent call last):
        ...
        hardenkit.errors.SandboxError: Landlock is not in force: / can still be read

    Raises:
        SandboxError: the probe got access it should not have, or failed otherwise.
    """
    if kind == "mknod":
        if err == errno.EACCES:
            return
        what = (
            "made" if not err else f"refused with {errno.errorcode.get(err, err)}, not by Landlock"
        )
        raise SandboxError(
            f"Landlock is not in force: a device node in {os.path.dirname(path)} was {what}"
        )
    if err in (errno.EACCES, errno.EPERM):
        return
    if err:
        raise SandboxError(f"Landlock probe on {path} failed: {os.strerror(err)}")
    if kind == "open":
        raise SandboxError(f"Landlock is not in force: {path} can still be read")
    raise SandboxError(
        f"Landlock is not in force: a directory could be created in {os.path.dirname(path)}"
    )


def probe_mknod_refused(parent: str) -> None:
    """Raise SandboxError unless Landlock refuses a device node in ``parent`` (EACCES).

    Landlock checks before the capability check, so EACCES is its answer; EPERM (no
    CAP_MKNOD) means Landlock did not refuse it. The node (/dev/null's numbers) is
    removed again if it was made.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> from hardenkit.sandbox.landlock import LandlockPlan
        >>> def child():
        ...     LandlockPlan.isolation().enforce()
        ...     probe_mknod_refused("/tmp")
        >>> fork_call(child).ok
        True
        >>> probe_mknod_refused("/tmp")  # as root, outside any domain
        Traceback (most recent call last):
        ...
        hardenkit.errors.SandboxError: Landlock is not in force: a device node in /tmp was made
    """
    probe = os.path.join(parent, f".hardenkit-landlock-probe-{os.urandom(8).hex()}")
    try:
        os.mknod(probe, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except OSError as err:
        check_probe("mknod", probe, err.errno or -1)
        return
    try:  # noqa: SIM105 -- not contextlib.suppress, for import time (it loads functools)
        os.unlink(probe)
    except OSError:
        pass
    check_probe("mknod", probe, 0)


def probe_mkdir_refused(parent: str) -> None:
    """Raise SandboxError unless creating a directory in ``parent`` is refused."""
    # A random name: in a shared directory a guessable one could be planted (EEXIST).
    probe = os.path.join(parent, f".hardenkit-landlock-probe-{os.urandom(8).hex()}")
    try:
        os.mkdir(probe, 0o700)
    except PermissionError:
        return
    except OSError as err:
        raise SandboxError(f"Landlock probe in {parent} failed: {err.strerror}") from err
    try:  # noqa: SIM105 -- not contextlib.suppress, for import time (it loads functools)
        os.rmdir(probe)
    except OSError:
        pass
    raise SandboxError(f"Landlock is not in force: a directory could be created in {parent}")
