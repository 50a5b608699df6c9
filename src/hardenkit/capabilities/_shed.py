"""Shedding capabilities: :func:`drop_capabilities`, verified, and the thread check it needs."""

from __future__ import annotations

from hardenkit._linux import IS_LINUX, caps as _caps, procfs, require_linux
from hardenkit._log import get_logger
from hardenkit.capabilities._enum import (
    ALL_MASK,
    LAST_CAP,
    Capability,
    CapLike,
    caps_to_mask,
    mask_to_caps,
    parse_caps,
)
from hardenkit.capabilities._sets import CapabilitySets, _names, _sets_from_status
from hardenkit.errors import CapabilityError, PrivilegeError, UnsupportedPlatform

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

_log = get_logger("hardenkit.capabilities")

# ctypes and libc are made ready now, not on the first call: drop_capabilities may run in
# a preexec_fn (a forked child), where importing ctypes waits forever on a module lock
# another parent thread held at the fork. The import cost is paid by this module only.
if IS_LINUX:
    _caps.prepare()


refuse_threads = procfs.refuse_threads


def drop_capabilities(
    keep: CapLike | Iterable[CapLike] = (),
    *,
    bounding: bool = True,
    ambient: bool = True,
    lock: bool = False,
) -> CapabilitySets:
    """Shed every capability but ``keep``, then verify from procfs.

    Afterwards effective == permitted == keep; with ``bounding`` the bounding set is keep
    (so exec cannot hand back more, not even to root); with ``ambient`` the ambient set is
    keep (an exec'd child keeps them); with ``lock`` SECBIT_NOROOT, NO_SETUID_FIXUP and
    NO_CAP_AMBIENT_RAISE are set and, with KEEP_CAPS off, locked. Refused with other
    threads alive. Returns the verified sets.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> def child():
        ...     sets = drop_capabilities({"NET_BIND_SERVICE"})
        ...     return repr(sets)
        >>> print(fork_call(child).value)
        CapabilitySets(effective={CAP_NET_BIND_SERVICE}, permitted={CAP_NET_BIND_SERVICE}, \
inheritable={CAP_NET_BIND_SERVICE}, bounding={CAP_NET_BIND_SERVICE}, \
ambient={CAP_NET_BIND_SERVICE})

    Raises:
        CapabilityError: a capability to keep is not held, or CAP_SETPCAP is needed.
        PrivilegeError: other threads are alive, or the result does not verify.
        UnsupportedPlatform: not Linux, or no ambient capabilities in this kernel.
    """
    require_linux("dropping capabilities")
    keep_caps = parse_caps(keep)
    keep_mask = caps_to_mask(keep_caps)
    _caps.prepare()
    refuse_threads("drop_capabilities")
    setpcap = 1 << Capability.CAP_SETPCAP.value
    try:
        eff, prm, inh = _caps.capget()
        bnd = _caps.bounding_mask(LAST_CAP)
        bits = _caps.get_securebits()
    except OSError as err:
        raise PrivilegeError(f"cannot read this thread's capabilities: {err}") from err
    _check_keepable(keep_mask, prm, bnd if bounding or ambient else ALL_MASK)
    if ambient and not _caps.ambient_supported():
        if keep_mask:
            raise UnsupportedPlatform("this kernel has no ambient capabilities (needs Linux 4.3)")
        ambient = False  # nothing to raise, and no ambient set to clear
    lock_bits = (
        _caps.SECURE_LOCKDOWN
        | _caps.SECBIT_NO_CAP_AMBIENT_RAISE
        | _caps.SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED
    )
    to_drop = (bnd & ~keep_mask) if bounding else 0
    want_bits = (bits | lock_bits) & ~_caps.SECBIT_KEEP_CAPS if lock else bits
    need_setpcap = bool(to_drop) or want_bits != bits
    if need_setpcap and not prm & setpcap:
        raise CapabilityError(
            "CAP_SETPCAP is needed to shrink the bounding set or set securebits",
            missing=frozenset({Capability.CAP_SETPCAP}),
        )
    new_inh = keep_mask if ambient else inh & keep_mask
    try:
        _caps.capset(eff | (setpcap if need_setpcap else 0), prm, new_inh)
        _caps.bounding_drop_mask(to_drop, LAST_CAP)
        if ambient:
            _caps.ambient_set(keep_mask, LAST_CAP)
        if want_bits != bits:
            _caps.set_securebits(want_bits)
        _caps.capset(keep_mask, keep_mask, new_inh)
    except OSError as err:
        raise PrivilegeError(f"dropping capabilities failed: {err}") from err
    result = _verify_caps(keep_mask, new_inh, bounding=bounding, ambient=ambient)
    if lock:
        bits_now = _caps.get_securebits()
        if bits_now & lock_bits != lock_bits or bits_now & _caps.SECBIT_KEEP_CAPS:
            raise PrivilegeError(f"securebits are {bits_now:#x}, expected {lock_bits:#x} set")
    _log.info("capabilities dropped; kept %s", _names(keep_caps))
    return result


def _check_keepable(keep: int, permitted: int, bounding: int) -> None:
    """Raise CapabilityError naming every capability to keep that is not held."""
    for held, where in ((permitted, "permitted"), (bounding, "bounding")):
        if keep & ~held:
            missing = mask_to_caps(keep & ~held)
            raise CapabilityError(
                f"cannot keep {', '.join(c.name for c in sorted(missing))}: not in the {where} set",
                missing=missing,
            )


def _verify_caps(keep: int, inh: int, *, bounding: bool, ambient: bool) -> CapabilitySets:
    """Check the sets from procfs and the kernel's own answers; raise on any mismatch."""
    status = procfs.read_status()
    problems = _caps.status_problems(
        status, keep=keep, inheritable=inh, bounding=bounding, ambient=ambient
    )
    if bounding and _caps.bounding_mask(LAST_CAP) != keep:
        problems.append(f"PR_CAPBSET_READ shows {_caps.bounding_mask(LAST_CAP):#x}")
    if problems:
        raise PrivilegeError("capability drop did not verify: " + "; ".join(problems))
    return _sets_from_status(status)
