"""Capability syscalls through ctypes: capget/capset, bounding set, ambient set, securebits.

Everything here acts on the calling thread only (capabilities are per-thread), which is
what the callers want: they refuse to run when other threads exist. Masks are 64-bit
integers, bit N for capability N. Errors come back as OSError with the kernel's errno;
callers translate them.

The ctypes objects are created by :func:`prepare`, which callers run before a fork so
that a child entering a plan between fork and exec loads nothing. prctl goes through
:func:`hardenkit._linux.libc.prctl_function`, typed once: the bounding set takes one call
per capability.
"""

from __future__ import annotations

import _thread  # not threading, for import time: one lock
import errno
import os

from hardenkit._linux import libc as _libc

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hardenkit._linux.procfs import ProcStatus

# include/uapi/linux/capability.h
LINUX_CAPABILITY_VERSION_3 = 0x20080522
# include/uapi/linux/securebits.h
SECBIT_NOROOT = 1 << 0
SECBIT_NOROOT_LOCKED = 1 << 1
SECBIT_NO_SETUID_FIXUP = 1 << 2
SECBIT_NO_SETUID_FIXUP_LOCKED = 1 << 3
SECBIT_KEEP_CAPS = 1 << 4
SECBIT_KEEP_CAPS_LOCKED = 1 << 5
SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6
SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 7
#: The securebits that stop a return to root powers, each set and locked (minijail's and
#: systemd's choice: noroot, no-setuid-fixup, keep-caps off and locked).
SECURE_LOCKDOWN = (
    SECBIT_NOROOT
    | SECBIT_NOROOT_LOCKED
    | SECBIT_NO_SETUID_FIXUP
    | SECBIT_NO_SETUID_FIXUP_LOCKED
    | SECBIT_KEEP_CAPS_LOCKED
)

_MASK32 = 0xFFFFFFFF


#: The prepared libc entry points and ctypes structures, filled by :func:`prepare` (ctypes
#: is imported there, not with this module: for import time, ~4 ms of a first use).
_FUNCS: dict[str, Any] = {}
#: Held while :func:`prepare` builds ``_FUNCS``: threads racing to the first capability call
#: would each build their own structure classes, leaving capget typed for one thread's
#: header class and ``_FUNCS`` holding another's (ctypes.ArgumentError on every call after).
_PREPARE_LOCK = _thread.allocate_lock()


def _structures(ct: Any) -> tuple[Any, Any]:
    """capget/capset's header and two-element data array types."""

    class _CapHeader(ct.Structure):  # type: ignore[misc]
        _fields_ = (("version", ct.c_uint32), ("pid", ct.c_int))

    class _CapData(ct.Structure):  # type: ignore[misc]
        _fields_ = (
            ("effective", ct.c_uint32),
            ("permitted", ct.c_uint32),
            ("inheritable", ct.c_uint32),
        )

    return _CapHeader, _CapData * 2  # type: ignore[operator]


def prepare() -> None:
    """Load libc and set up the capget/capset/prctl entry points once (idempotent).

    Examples:
        >>> prepare()
        >>> capget()[1] >= 0
        True
    """
    if "prctl" in _FUNCS:  # set last: everything is ready (a forked child takes no lock)
        return
    with _PREPARE_LOCK:
        if "prctl" in _FUNCS:
            return
        ct = _libc.ctypes_module()
        lib = _libc.libc()
        header, pair = _structures(ct)
        ready: dict[str, Any] = {"ctypes": ct, "header": header, "pair": pair}
        for name in ("capget", "capset"):
            fn = lib[name]  # a private function object: no argtypes shared with other callers
            fn.restype = ct.c_int
            fn.argtypes = [ct.POINTER(header), ct.POINTER(pair._type_)]
            ready[name] = fn
        _FUNCS.update(ready)
        _FUNCS["prctl"] = _libc.prctl_function()  # set last: everything above is ready


def _raise_errno() -> None:
    err = _FUNCS["ctypes"].get_errno()  # after a call through _FUNCS: prepare() ran
    raise OSError(err, os.strerror(err))


#: prctl(2) raising OSError; prepare() has typed its function object before any fork.
prctl = _libc.prctl


def capget(pid: int = 0) -> tuple[int, int, int]:
    """Return ``(effective, permitted, inheritable)`` masks of ``pid`` (0: this thread).

    Examples:
        >>> eff, prm, inh = capget()
        >>> eff & ~prm
        0
    """
    prepare()
    header = _FUNCS["header"](LINUX_CAPABILITY_VERSION_3, pid)
    data = _FUNCS["pair"]()
    if _FUNCS["capget"](_FUNCS["ctypes"].byref(header), data) != 0:
        _raise_errno()
    eff = data[0].effective | (data[1].effective << 32)
    prm = data[0].permitted | (data[1].permitted << 32)
    inh = data[0].inheritable | (data[1].inheritable << 32)
    return eff, prm, inh


#: Ready-made capset arguments by (effective, permitted, inheritable): the kernel only
#: reads them, so one set serves every thread, and a spawn child allocates nothing.
_CAPSET_ARGS: dict[tuple[int, int, int], tuple[Any, Any]] = {}
_CAPSET_ARGS_MAX = 64


def prepare_capset(effective: int, permitted: int, inheritable: int) -> tuple[Any, Any]:
    """Build (once) the capset arguments for these masks; :func:`capset` then reuses them.

    Examples:
        >>> prepare_capset(0, 0, 0) is prepare_capset(0, 0, 0)
        True
    """
    prepare()
    key = (effective, permitted, inheritable)
    args = _CAPSET_ARGS.get(key)
    if args is not None:
        return args
    header = _FUNCS["header"](LINUX_CAPABILITY_VERSION_3, 0)
    data = _FUNCS["pair"]()
    data[0].effective = effective & _MASK32
    data[1].effective = (effective >> 32) & _MASK32
    data[0].permitted = permitted & _MASK32
    data[1].permitted = (permitted >> 32) & _MASK32
    data[0].inheritable = inheritable & _MASK32
    data[1].inheritable = (inheritable >> 32) & _MASK32
    args = (_FUNCS["ctypes"].pointer(header), data)
    if len(_CAPSET_ARGS) < _CAPSET_ARGS_MAX:
        args = _CAPSET_ARGS.setdefault(key, args)
    return args


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's effective, permitted and inheritable masks (raises OSError).

    Examples:
        >>> eff, prm, inh = capget()
        >>> capset(eff, prm, inh)  # setting the current sets is always allowed
    """
    header, data = prepare_capset(effective, permitted, inheritable)
    if _FUNCS["capset"](header, data) != 0:
        _raise_errno()


def bounding_has(cap: int) -> bool:
    """Tell whether ``cap`` is in this thread's bounding set (OSError EINVAL past the last).

    Examples:
        >>> bounding_has(0) in (True, False)
        True
    """
    return prctl(_libc.PR_CAPBSET_READ, cap) == 1


def bounding_drop(cap: int) -> None:
    """Remove ``cap`` from the bounding set (needs CAP_SETPCAP; irreversible).

    Examples:
        >>> from hardenkit._child import fork_call
        >>> fork_call(lambda: (bounding_drop(10), bounding_has(10))[1]).value
        False
    """
    prctl(_libc.PR_CAPBSET_DROP, cap)


def bounding_mask(last_cap: int) -> int:
    """Return the bounding set as a mask, asking the kernel about every cap up to ``last_cap``.

    Examples:
        >>> from hardenkit._linux.procfs import cap_last_cap, read_status
        >>> bounding_mask(cap_last_cap()) == read_status().cap_bounding
        True
    """
    prepare()
    fn = _FUNCS["prctl"]
    read = _libc.PR_CAPBSET_READ
    mask = 0
    for cap in range(last_cap + 1):
        rc = fn(read, cap, 0, 0, 0)
        if rc == 1:
            mask |= 1 << cap
        elif rc != 0:
            _raise_errno()
    return mask


def bounding_limit(keep: int, last_cap: int) -> None:
    """Reduce the bounding set to ``keep`` (capabilities 0..``last_cap``; irreversible).

    One PR_CAPBSET_DROP per capability not kept, without reading first (dropping an
    absent capability succeeds); only when the kernel refuses (EPERM: no CAP_SETPCAP) is
    the capability read, and one that is already absent is fine. For the spawn child:
    no allocation beyond small ints, one syscall per capability.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> fork_call(lambda: (bounding_limit(0b101, 40), bounding_mask(40))[1]).value
        5
    """
    prepare()
    fn = _FUNCS["prctl"]
    drop = _libc.PR_CAPBSET_DROP
    read = _libc.PR_CAPBSET_READ
    for cap in range(last_cap + 1):
        if keep >> cap & 1 or fn(drop, cap, 0, 0, 0) == 0:
            continue
        err = _FUNCS["ctypes"].get_errno()
        if err != errno.EPERM or fn(read, cap, 0, 0, 0) != 0:
            raise OSError(err, os.strerror(err))


def bounding_drop_mask(mask: int, last_cap: int) -> None:
    """Remove every capability in ``mask`` from the bounding set (needs CAP_SETPCAP).

    Examples:
        >>> from hardenkit._child import fork_call
        >>> fork_call(lambda: (bounding_drop_mask(0b11, 40), bounding_mask(1))[1]).value
        0
    """
    for cap in range(last_cap + 1):
        if mask >> cap & 1:
            bounding_drop(cap)


def ambient_set(mask: int, last_cap: int) -> None:
    """Make the ambient set exactly ``mask``, lowering extras and raising only what is new.

    Raising needs each capability permitted and inheritable and SECBIT_NO_CAP_AMBIENT_RAISE
    off; lowering is always allowed, so an unchanged set works even once raising is locked.

    Examples:
        >>> ambient_set(0, 40)  # always allowed: lowers
    """
    for cap in range(last_cap + 1):
        want = bool(mask >> cap & 1)
        if ambient_has(cap) != want:
            option = _libc.PR_CAP_AMBIENT_RAISE if want else _libc.PR_CAP_AMBIENT_LOWER
            prctl(_libc.PR_CAP_AMBIENT, option, cap)


def status_problems(
    status: ProcStatus,
    *,
    keep: int,
    inheritable: int | None = None,
    bounding: bool = True,
    ambient: bool = True,
) -> list[str]:
    """Compare one task's procfs capability masks with ``keep``; describe every mismatch.

    Effective and permitted must equal ``keep``; inheritable must equal ``inheritable``
    unless None; bounding and ambient must equal ``keep`` when asked, and ambient never
    holds more than ``keep``.

    Examples:
        >>> from hardenkit._linux.procfs import read_status
        >>> st = read_status()
        >>> status_problems(st, keep=st.cap_effective, bounding=False, ambient=False)
        []
    """
    checks = [("CapEff", status.cap_effective, keep), ("CapPrm", status.cap_permitted, keep)]
    if inheritable is not None:
        checks.append(("CapInh", status.cap_inheritable, inheritable))
    if bounding:
        checks.append(("CapBnd", status.cap_bounding, keep))
    if ambient:
        checks.append(("CapAmb", status.cap_ambient, keep))
    problems = [
        f"task {status.pid}: {label} is {got:#x}, expected {want:#x}"
        for label, got, want in checks
        if got != want
    ]
    if not ambient and status.cap_ambient & ~keep:
        problems.append(f"task {status.pid}: CapAmb {status.cap_ambient:#x} holds more than kept")
    return problems


def ambient_supported() -> bool:
    """Tell whether the kernel has ambient capabilities (Linux 4.3+).

    Examples:
        >>> ambient_supported()
        True
    """
    try:
        prctl(_libc.PR_CAP_AMBIENT, _libc.PR_CAP_AMBIENT_IS_SET, 0)
    except OSError as err:
        if err.errno in (errno.EINVAL, errno.EOPNOTSUPP):
            return False
        raise
    return True


def ambient_clear() -> None:
    """Empty this thread's ambient set.

    Examples:
        >>> ambient_clear()
    """
    prctl(_libc.PR_CAP_AMBIENT, _libc.PR_CAP_AMBIENT_CLEAR_ALL)


def ambient_raise(cap: int) -> None:
    """Add ``cap`` to the ambient set (it must be permitted and inheritable).

    Examples:
        >>> from hardenkit._child import fork_call
        >>> def child():
        ...     eff, prm, inh = capget()
        ...     capset(eff, prm, inh | 1 << 10)
        ...     ambient_raise(10)
        ...     return ambient_has(10)
        >>> fork_call(child).value
        True
    """
    prctl(_libc.PR_CAP_AMBIENT, _libc.PR_CAP_AMBIENT_RAISE, cap)


def ambient_has(cap: int) -> bool:
    """Tell whether ``cap`` is in the ambient set.

    Examples:
        >>> ambient_has(10)
        False
    """
    return prctl(_libc.PR_CAP_AMBIENT, _libc.PR_CAP_AMBIENT_IS_SET, cap) == 1


def get_securebits() -> int:
    """Return this thread's securebits.

    Examples:
        >>> get_securebits() & SECBIT_KEEP_CAPS
        0
    """
    return prctl(_libc.PR_GET_SECUREBITS)


def set_securebits(bits: int) -> None:
    """Set this thread's securebits (needs CAP_SETPCAP; locked bits cannot change).

    Examples:
        >>> from hardenkit._child import fork_call
        >>> fork_call(lambda: (set_securebits(SECBIT_NOROOT), get_securebits())[1]).value
        1
    """
    prctl(_libc.PR_SET_SECUREBITS, bits)


def set_keepcaps(flag: bool) -> None:
    """Set or clear SECBIT_KEEP_CAPS (permitted caps survive leaving uid 0).

    Examples:
        >>> from hardenkit._child import fork_call
        >>> fork_call(lambda: (set_keepcaps(True), get_securebits() & SECBIT_KEEP_CAPS)[1]).value
        16
    """
    prctl(_libc.PR_SET_KEEPCAPS, int(flag))


def set_no_new_privs() -> None:
    """Set no_new_privs on this thread (irreversible; inherited across fork and exec).

    Examples:
        >>> from hardenkit._child import fork_call
        >>> fork_call(lambda: (set_no_new_privs(), get_no_new_privs())[1]).value
        True
    """
    prctl(_libc.PR_SET_NO_NEW_PRIVS, 1)


def get_no_new_privs() -> bool:
    """Tell whether no_new_privs is set on this thread.

    Examples:
        >>> get_no_new_privs() in (True, False)
        True
    """
    return prctl(_libc.PR_GET_NO_NEW_PRIVS) == 1
