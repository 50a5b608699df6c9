"""What the confined process holds: capabilities shed, kept and left after the drop.

And the refusals they imply (no_new_privs, foreign metadata). Parent-side reads for
:mod:`hardenkit.sandbox._prepare`, split from it by job.
"""

from __future__ import annotations

from hardenkit._linux import caps as _caps, procfs as _procfs
from hardenkit.errors import RootEquivalentError, SandboxError
from hardenkit.sandbox._load import load_for_confinement
from hardenkit.sandbox.guards import (
    _METADATA_CAPS,
    CAP_MKNOD,
    CAP_SYS_ADMIN,
    ISOLATION_SHED,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit.capabilities import CapLike
    from hardenkit.privileges import DropPlan
    from hardenkit.sandbox.landlock import FilesystemPolicy
    from hardenkit.sandbox.network import NetworkPolicy


_CAP_SYS_ADMIN = CAP_SYS_ADMIN
_CAP_SETPCAP = 8


def _refuse_without_nnp(
    drop: DropPlan | None,
    *,
    no_new_privs: bool,
    will_filter: bool,
    filesystem: FilesystemPolicy | None,
    isolate: bool,
) -> None:
    """Refuse seccomp/Landlock that the kernel would not accept without no_new_privs."""
    landlocked = filesystem is not None or isolate
    if drop is not None and not no_new_privs and (will_filter or landlocked):
        raise SandboxError(
            "seccomp and Landlock need no_new_privs once privileges are dropped: "
            "pass no_new_privs=True"
        )
    if landlocked and not no_new_privs and not _caps.capget()[0] >> _CAP_SYS_ADMIN & 1:
        raise SandboxError(
            "Landlock needs no_new_privs or CAP_SYS_ADMIN: pass no_new_privs=True"
            + ("" if filesystem is not None else " (or isolate=False to go without Landlock)")
        )


def _shed_mask(
    drop: DropPlan | None,
    filesystem: FilesystemPolicy | None,
    kept_here: int,
    *,
    no_new_privs: bool,
    isolates: bool = True,
    network: NetworkPolicy | None = None,
) -> int:
    """The capabilities a process keeping our ids loses, unless ``keep=`` names them.

    CAP_MKNOD unless the FilesystemPolicy names ``devices``; inside a Landlock domain
    (``isolates``) also CAP_SYS_ADMIN and CAP_PERFMON, with which the process could still
    read /proc/<pid>/environ and maps of processes outside it; under a NetworkPolicy
    the capabilities that change the host's networking without a socket the policy
    sees (:func:`network_shed`).
    """
    if drop is not None:
        return 0
    shed = 0 if filesystem is not None and filesystem.devices else 1 << CAP_MKNOD
    if isolates:
        shed |= ISOLATION_SHED
    if network is not None:
        shed |= network_shed(network)
    shed &= ~kept_here & ((1 << (_procfs.cap_last_cap() + 1)) - 1)
    if shed and not no_new_privs:
        if shed >> CAP_SYS_ADMIN & 1:
            raise SandboxError(
                "without no_new_privs Landlock and seccomp need CAP_SYS_ADMIN, which an "
                "isolated process keeping the caller's ids loses (it would read processes "
                "outside the sandbox): pass no_new_privs=True (or keep=['CAP_SYS_ADMIN'] "
                "with allow_root_equivalent=True)"
            )
        if not _caps.capget()[0] >> _CAP_SETPCAP & 1:
            load_for_confinement("hardenkit._linux.capnames")
            from hardenkit._linux.capnames import CAP_NAMES  # noqa: PLC0415 -- for import time: only to refuse

            stuck = [
                CAP_NAMES[cap] if cap < len(CAP_NAMES) else f"capability {cap}"
                for cap in range(shed.bit_length())
                if shed >> cap & 1 and _caps.bounding_has(cap)
            ]
            if stuck:
                raise SandboxError(
                    f"{', '.join(stuck)} cannot leave the bounding set without "
                    "CAP_SETPCAP, and without no_new_privs exec could grant them: pass "
                    f"no_new_privs=True (or keep={stuck!r})"
                )
    return shed


#: What ``keep=`` may name without ``user=``: what the confinement would shed otherwise.
_SHEDDABLE = (1 << CAP_MKNOD) | ISOLATION_SHED

CAP_NET_BIND_SERVICE = 10
CAP_NET_BROADCAST = 11
CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
CAP_BPF = 39
#: What a NetworkPolicy sheds from a process that keeps the caller's ids: with them it
#: changes the host's networking through no socket the policy refuses (a TAP device on
#: /dev/net/tun with TUNSETIFF and TUNSETPERSIST, BPF programs, raw packets).
NETWORK_SHED = (1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW) | (1 << CAP_NET_BROADCAST) | (1 << CAP_BPF)


def network_shed(network: NetworkPolicy) -> int:
    """The capabilities ``network`` sheds (without ``user=``, unless ``keep=`` names them).

    :data:`NETWORK_SHED`, and CAP_NET_BIND_SERVICE too when the policy lets no TCP
    port be bound (no AF_INET/AF_INET6, or ``bind=()``): a policy that binds keeps it,
    so that a root service may still bind a port below 1024 it allows.

    Examples:
        >>> from hardenkit.sandbox.network import NetworkPolicy
        >>> network_shed(NetworkPolicy.none()) >> CAP_NET_BIND_SERVICE & 1
        1
        >>> network_shed(NetworkPolicy.parse(["bind=80"])) >> CAP_NET_BIND_SERVICE & 1
        0
    """
    inet = any(f in ("AF_INET", "AF_INET6") for f in network.families)
    binds = inet and network.bind != ()
    return NETWORK_SHED | (0 if binds else 1 << CAP_NET_BIND_SERVICE)


def _kept_without_drop(
    keep: tuple[CapLike, ...],
    *,
    allow_root_equivalent: bool = False,
    network: NetworkPolicy | None = None,
) -> int:
    """Without ``user=``, ``keep=`` may only name what the confinement would shed.

    Keeping CAP_SYS_ADMIN or CAP_PERFMON re-opens reads of /proc/<pid>/environ and maps
    of processes outside the sandbox; CAP_SYS_ADMIN, root in all but name, also needs
    ``allow_root_equivalent=True``. Under a NetworkPolicy the network capabilities it
    sheds (:func:`network_shed`) may be kept too.
    """
    if not keep:
        return 0
    load_for_confinement("hardenkit.capabilities")
    from hardenkit.capabilities import caps_to_mask, parse_caps  # noqa: PLC0415 -- for import time: capabilities, only with keep= and no drop

    mask = int(caps_to_mask(parse_caps(keep)))  # CapabilityError for an unknown name
    if network is not None:  # CAP_NET_BIND_SERVICE too, even where it is not shed
        sheddable = _SHEDDABLE | NETWORK_SHED | 1 << CAP_NET_BIND_SERVICE
    else:
        sheddable = _SHEDDABLE
    if mask & ~sheddable:
        raise SandboxError(
            "group=, groups= and keep= need user= (the user to become); without user= "
            "keep= may only name CAP_MKNOD, CAP_SYS_ADMIN or CAP_PERFMON (and with a "
            "network policy CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BROADCAST, CAP_BPF or "
            "CAP_NET_BIND_SERVICE), which are shed otherwise"
        )
    if mask >> CAP_SYS_ADMIN & 1 and not allow_root_equivalent:
        raise RootEquivalentError(
            "keeping SYS_ADMIN amounts to root (mount, namespaces, bpf, keyctl...) and "
            "lets the confined process read /proc/<pid>/environ and maps outside its "
            "sandbox: pass allow_root_equivalent=True to keep it knowingly",
            capabilities=frozenset({"SYS_ADMIN"}),
        )
    return mask


def _held_caps(drop: DropPlan | None) -> int:
    """The capabilities the confined process will hold (the kept ones, or this thread's)."""
    if drop is not None:
        return int(drop.keep_mask)
    try:
        status = _procfs.read_status()
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot read this process's capabilities: {err}") from err
    return status.cap_permitted | status.cap_effective


def _held_after(drop: DropPlan | None, *, shed: int = 0) -> tuple[int, ...]:
    """The capabilities the confined process holds: ``keep`` after a drop, else ours.

    Under no_new_privs an exec grants nothing beyond the permitted set, so that set is
    what the process can ever use (empty for an unprivileged caller); ``shed`` is the mask
    the confinement takes away from a process that keeps our ids.
    """
    if drop is not None:
        mask = drop.keep_mask
    else:
        try:
            mask = _procfs.read_status().cap_permitted
        except (OSError, ValueError) as err:
            raise SandboxError(f"cannot read this process's capabilities: {err}") from err
    mask &= ~shed
    return tuple(bit for bit in range(mask.bit_length()) if mask >> bit & 1)


def _changes_foreign_metadata(drop: DropPlan | None) -> str | None:
    """Say why the confined process could change metadata of files it does not own."""
    if drop is not None:
        uid, caps = drop.uid, drop.keep_mask
    else:
        try:
            status = _procfs.read_status()
        except (OSError, ValueError) as err:
            raise SandboxError(f"cannot read this process's ids and capabilities: {err}") from err
        uid = 0 if 0 in status.uids else status.uids[1]
        caps = status.cap_permitted | status.cap_effective
    if uid == 0:
        return "uid 0"
    held = [name for bit, name in _METADATA_CAPS if caps >> bit & 1]
    return ", ".join(held) if held else None
