"""The ``security.capability`` extended attribute: struct vfs_cap_data and vfs_ns_cap_data.

Little-endian, as the kernel stores it (include/uapi/linux/capability.h): a magic word
(revision in the top byte, the effective flag in bit 0), then a permitted/inheritable
pair of 32-bit words per half of the 64-bit mask (one pair for revision 1), then for
revision 3 the uid that is root for these capabilities (user namespaces).
"""

from __future__ import annotations

import struct

from hardenkit._dataclass import dataclass

XATTR_NAME = "security.capability"
VFS_CAP_REVISION_MASK = 0xFF000000
VFS_CAP_FLAGS_EFFECTIVE = 0x000001
VFS_CAP_REVISION_1 = 0x01000000
VFS_CAP_REVISION_2 = 0x02000000
VFS_CAP_REVISION_3 = 0x03000000
SIZES = {VFS_CAP_REVISION_1: 12, VFS_CAP_REVISION_2: 20, VFS_CAP_REVISION_3: 24}
_MASK32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class VfsCap:
    """One decoded attribute: masks as integers, ``rootid`` only for revision 3."""

    revision: int
    permitted: int
    inheritable: int
    effective: bool
    rootid: int | None = None


def decode(data: bytes) -> VfsCap:
    """Decode the attribute's bytes; raise ValueError when they are not well formed.

    Examples:
        >>> decode(struct.pack("<5I", VFS_CAP_REVISION_2 | 1, 1 << 10, 0, 0, 0))
        VfsCap(revision=2, permitted=1024, inheritable=0, effective=True, rootid=None)
    """
    if len(data) < 4:  # noqa: PLR2004 -- the magic word
        raise ValueError(f"security.capability is {len(data)} bytes, too short")
    (magic,) = struct.unpack_from("<I", data)
    revision = magic & VFS_CAP_REVISION_MASK
    flags = magic & ~VFS_CAP_REVISION_MASK
    size = SIZES.get(revision)
    if size is None:
        raise ValueError(f"security.capability has unknown revision {revision >> 24:#x}")
    if len(data) != size:
        raise ValueError(
            f"security.capability revision {revision >> 24} is {len(data)} bytes, expected {size}"
        )
    if flags & ~VFS_CAP_FLAGS_EFFECTIVE:
        raise ValueError(f"security.capability has unknown flags {flags:#x}")
    words = struct.unpack_from(f"<{(size - 4) // 4}I", data, 4)
    wide = revision != VFS_CAP_REVISION_1
    return VfsCap(
        revision=revision >> 24,
        permitted=words[0] | (words[2] << 32 if wide else 0),
        inheritable=words[1] | (words[3] << 32 if wide else 0),
        effective=bool(flags & VFS_CAP_FLAGS_EFFECTIVE),
        rootid=words[4] if revision == VFS_CAP_REVISION_3 else None,
    )


def encode(cap: VfsCap) -> bytes:
    """Encode an attribute (the inverse of :func:`decode`; tests write v3 attributes with it).

    Examples:
        >>> raw = encode(VfsCap(revision=3, permitted=1024, inheritable=0, effective=True,
        ...                     rootid=1000))
        >>> decode(raw).rootid
        1000
    """
    revision = cap.revision << 24
    if revision not in SIZES:
        raise ValueError(f"unknown revision {cap.revision}")
    magic = revision | (VFS_CAP_FLAGS_EFFECTIVE if cap.effective else 0)
    if revision == VFS_CAP_REVISION_1:
        if (cap.permitted | cap.inheritable) >> 32:
            raise ValueError("revision 1 holds capabilities 0..31 only")
        return struct.pack("<3I", magic, cap.permitted, cap.inheritable)
    words = [
        cap.permitted & _MASK32,
        cap.inheritable & _MASK32,
        cap.permitted >> 32,
        cap.inheritable >> 32,
    ]
    if revision == VFS_CAP_REVISION_3:
        words.append(cap.rootid or 0)
    return struct.pack(f"<{1 + len(words)}I", magic, *words)
