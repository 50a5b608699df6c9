"""Mark every descriptor from 3 up close-on-exec, first thing in a Python-forked child.

CPython's ``close_fds`` runs *after* ``preexec_fn``, inside the confinement: a seccomp
rule against close_range (errno or kill), Landlock hiding /proc and a low RLIMIT_NOFILE
each break it, and a descriptor of the parent then reaches the command (or the child
dies before exec). The fork path therefore marks them here, before any confinement
step, and tells CPython not to close anything afterwards.
"""

from __future__ import annotations

import errno
import os

from hardenkit._linux import libc as _libc
from hardenkit.errors import SandboxError

__all__ = ["cloexec_from", "prepare"]

CLOSE_RANGE_CLOEXEC = 1 << 2  # include/uapi/linux/close_range.h (Linux 5.11)
_LAST_FD = 0xFFFFFFFF  # ~0U
_FD_DIR = "/proc/self/fd"


def prepare() -> None:
    """Load what :func:`cloexec_from` needs, in the parent (a fork child must not load)."""
    _libc.libc()
    _libc.syscall_number("close_range")


def cloexec_from(low: int = 3) -> None:
    """Mark every open descriptor >= ``low`` close-on-exec, and check it (fork-child safe).

    close_range(low, ~0U, CLOSE_RANGE_CLOEXEC) first (Linux >= 5.11); then every
    descriptor /proc/self/fd lists is read back (and marked, when close_range was not
    available). Without /proc the kernel's success of close_range is the answer.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> def child():
        ...     fd = os.dup(0)
        ...     os.set_inheritable(fd, True)
        ...     cloexec_from(3)
        ...     return os.get_inheritable(fd)
        >>> fork_call(child).value
        False

    Raises:
        SandboxError: close_range failed and /proc/self/fd cannot be read, or a
            descriptor could not be marked.
    """
    try:
        _libc.syscall("close_range", low, _LAST_FD, CLOSE_RANGE_CLOEXEC)
        marked = True
    except OSError:  # ENOSYS before 5.11, EINVAL, or a filter of the caller's
        marked = False
    try:
        names = os.listdir(_FD_DIR)
    except OSError as err:
        if marked:
            return
        raise SandboxError(
            f"cannot mark inherited descriptors close-on-exec: close_range failed and "
            f"{_FD_DIR} cannot be read ({err.strerror})"
        ) from err
    for name in names:
        fd = int(name)
        if fd < low:
            continue
        try:
            if os.get_inheritable(fd):
                os.set_inheritable(fd, False)  # noqa: FBT003 -- closed by exec
                if os.get_inheritable(fd):
                    raise SandboxError(f"descriptor {fd} stays open across exec")
        except OSError as err:
            if err.errno == errno.EBADF:  # the listing's own descriptor, closed since
                continue
            raise SandboxError(
                f"cannot mark descriptor {fd} close-on-exec: {err.strerror}"
            ) from err
