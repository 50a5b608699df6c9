"""Linux capabilities: the kernel's own list, read from procfs, required, dropped and verified.

:class:`Capability` is built at import from ``/proc/sys/kernel/cap_last_cap``, so a kernel
newer than our name table still gets every capability (unnamed ones are ``CAP_<n>``) and
an older kernel gets none it does not know. Reading never needs anything beyond procfs;
changing goes through capget/capset and prctl(2) in :mod:`hardenkit._linux.caps` (no
python-prctl needed: it lacks ambient capabilities and stops at the capabilities it was
built with). The names and the enum are in ``_enum.py``, the sets and file capabilities
in ``_sets.py``, the drop in ``_shed.py``; all are imported from here.

Examples:
    >>> from hardenkit.capabilities import Capability, caps_to_mask, mask_to_caps
    >>> Capability.parse("cap_net_bind_service") is Capability.CAP_NET_BIND_SERVICE
    True
    >>> caps_to_mask({"NET_BIND_SERVICE", "CHOWN"})
    1025
    >>> sorted(c.name for c in mask_to_caps(0x401))
    ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE']
"""

from __future__ import annotations

from hardenkit.capabilities._enum import (
    ALL_MASK as ALL_MASK,
    KNOWN_NAMES as KNOWN_NAMES,
    LAST_CAP as LAST_CAP,
    ROOT_EQUIVALENT as ROOT_EQUIVALENT,
    ROOT_EQUIVALENT_WHY as ROOT_EQUIVALENT_WHY,
    Capability as Capability,
    CapLike as CapLike,
    build_capability_enum as build_capability_enum,
    cap_items as cap_items,
    caps_to_mask as caps_to_mask,
    mask_to_caps as mask_to_caps,
    parse_caps as parse_caps,
)
from hardenkit.capabilities._sets import (
    CapabilitySets as CapabilitySets,
    decode_vfs_cap as decode_vfs_cap,
    file_capabilities as file_capabilities,
    get_capabilities as get_capabilities,
    has_capability as has_capability,
    require_capabilities as require_capabilities,
    setcap_command as setcap_command,
)
from hardenkit.capabilities._shed import (
    drop_capabilities as drop_capabilities,
    refuse_threads as refuse_threads,
)

__all__ = [
    "ROOT_EQUIVALENT",
    "Capability",
    "CapabilitySets",
    "drop_capabilities",
    "file_capabilities",
    "get_capabilities",
    "has_capability",
    "require_capabilities",
    "setcap_command",
]
