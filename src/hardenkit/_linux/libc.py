"""ctypes access to libc: prctl(2), syscall(2) and the constants they need.

Errors come back as OSError with the errno the kernel gave; callers translate them into
hardenkit errors with ``raise ... from err``.
"""

from __future__ import annotations

import _thread  # not threading, for import time: one lock
import os

from hardenkit._linux import require_linux

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ctypes
    from typing import Any

# prctl(2) options (include/uapi/linux/prctl.h).
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_GET_KEEPCAPS = 7
PR_SET_KEEPCAPS = 8
PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_GET_SECUREBITS = 27
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_IS_SET = 1
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_LOWER = 3
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_PDEATHSIG = 1

#: What :func:`libc` and :func:`prctl_function` built, each once: built under
#: ``_READY_LOCK`` (threads racing to the first call get the same object), read without it
#: (a forked child finds them ready and never waits on a lock another thread held).
_READY: dict[str, Any] = {}
_READY_LOCK = _thread.RLock()

# Syscall numbers that glibc may not wrap, per architecture.
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "seccomp": 317,
        "landlock_create_ruleset": 444,
        "landlock_add_rule": 445,
        "landlock_restrict_self": 446,
        "pidfd_open": 434,
        "clone3": 435,
        "close_range": 436,
        "capget": 125,
        "capset": 126,
    },
    "aarch64": {
        "seccomp": 277,
        "landlock_create_ruleset": 444,
        "landlock_add_rule": 445,
        "landlock_restrict_self": 446,
        "pidfd_open": 434,
        "clone3": 435,
        "close_range": 436,
        "capget": 90,
        "capset": 91,
    },
}


def ctypes_module() -> Any:
    """The :mod:`ctypes` module, imported on the first call into libc.

    For import time: ctypes costs a first use ~4 ms, and importing hardenkit's modules
    (``confine`` among them) calls nothing. Every call below loads it first; a caller that
    calls in a forked child runs :func:`libc` (or ``caps.prepare``) before the fork, so
    the child finds it cached and imports nothing.

    Examples:
        >>> ctypes_module().sizeof(ctypes_module().c_long) in (4, 8)
        True
    """
    ct = _READY.get("ctypes")
    if ct is None:
        import ctypes  # noqa: PLC0415 -- for import time (see above)

        ct = _READY["ctypes"] = ctypes
    return ct


def libc() -> ctypes.CDLL:
    """Return libc loaded with errno tracking (one object for every thread).

    Examples:
        >>> libc().getpid() == os.getpid()
        True
    """
    lib: ctypes.CDLL | None = _READY.get("libc")
    if lib is None:
        require_linux("libc calls")
        with _READY_LOCK:
            lib = _READY.get("libc")
            if lib is None:
                lib = _READY["libc"] = ctypes_module().CDLL(None, use_errno=True)
    return lib


def syscall_number(name: str) -> int:
    """Return the number of ``name`` on this machine's architecture.

    Examples:
        >>> syscall_number("landlock_create_ruleset")
        444
    """
    machine = os.uname().machine  # what platform.machine() returns, without importing it
    table = _SYSCALLS.get(machine)
    if table is None or name not in table:
        from hardenkit.errors import UnsupportedPlatform  # noqa: PLC0415 -- error path only

        raise UnsupportedPlatform(f"syscall {name} is not known on {machine}")
    return table[name]


def _check(result: int) -> int:
    if result == -1:
        err = ctypes_module().get_errno()
        raise OSError(err, os.strerror(err))
    return result


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """Call the prctl syscall and return its result; raise OSError on -1.

    Examples:
        >>> prctl(PR_GET_NO_NEW_PRIVS) in (0, 1)
        True
    """
    return _check(prctl_function()(option, arg2, arg3, arg4, arg5))


def prctl_function() -> Any:
    """Our own prctl function object, typed once (libc().prctl is shared with other callers).

    It returns -1 and leaves errno set, for loops that cannot afford an exception per call
    (the bounding set takes one call per capability).

    Examples:
        >>> prctl_function()(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) in (0, 1)
        True
    """
    fn = _READY.get("prctl")
    if fn is None:
        with _READY_LOCK:
            fn = _READY.get("prctl")
            if fn is None:
                ct = ctypes_module()
                fn = _READY["prctl"] = ct.CFUNCTYPE(
                    ct.c_int,
                    ct.c_int,
                    ct.c_ulong,
                    ct.c_ulong,
                    ct.c_ulong,
                    ct.c_ulong,
                    use_errno=True,
                )(("prctl", libc()))
    return fn


def syscall(name: str, *args: int | ctypes.c_void_p | ctypes.Array[ctypes.c_char]) -> int:
    """Call a raw syscall by name (this thread only); raise OSError on -1.

    Raw syscalls change the calling thread only: never use them for setuid-family calls
    (glibc broadcasts those to every thread).

    Examples:
        >>> syscall("landlock_create_ruleset", 0, 0, 1) >= 0  # Landlock ABI version
        True
    """
    ct = ctypes_module()
    fn = libc().syscall
    fn.restype = ct.c_long
    # Variadic: widen plain ints to long so the upper register bits are defined.
    cargs = [ct.c_long(a) if isinstance(a, int) else a for a in args]
    return _check(fn(ct.c_long(syscall_number(name)), *cargs))
