"""Integrity seal: an HMAC over every name and stored value, kept in a comment.

dotenvx encrypts each value to a *public* key, so anyone who can write the file can add
a validly encrypted value, delete one, or swap two ciphertexts between names, and the
loader cannot tell. The seal closes that: HMAC-SHA256 keyed with
HKDF-SHA256(private key, info="hardenkit envcrypt seal v1") over the length-prefixed
sequence of (name, stored value) of every binding in file order. It lives in one comment
line, ``# hardenkit:seal v1 <base64url>``, which dotenvx and python-dotenv ignore.
It does not stop a rollback to an older sealed file, nor anyone who holds the private key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hardenkit.envcrypt._dotenv import Document

SEAL_MARK = "# hardenkit:seal v1 "
_INFO = b"hardenkit envcrypt seal v1"


def _seal_key(private_key: str) -> bytes:
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415 -- import time: cryptography on first use
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415 -- import time: cryptography on first use

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        bytes.fromhex(private_key)
    )


def compute(private_key: str, pairs: Sequence[tuple[str, str | None]]) -> str:
    """Return the seal token for these (name, stored value) pairs."""
    mac = hmac.new(_seal_key(private_key), b"hardenkit-seal-v1\0", hashlib.sha256)
    for name, value in pairs:
        encoded = name.encode("utf-8")
        mac.update(len(encoded).to_bytes(4, "big") + encoded)
        if value is None:
            mac.update(b"\0")
        else:
            data = value.encode("utf-8")
            mac.update(b"\1" + len(data).to_bytes(4, "big") + data)
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii").rstrip("=")


def seal_lines(doc: Document) -> list[int]:
    """Indexes of the entries that are seal comments."""
    return [
        i
        for i, entry in enumerate(doc.entries)
        if entry.name is None and not entry.error and entry.text.strip().startswith(SEAL_MARK)
    ]


def token_of(doc: Document, index: int) -> str:
    return doc.entries[index].text.strip()[len(SEAL_MARK) :].strip()


def matches(private_key: str, pairs: Sequence[tuple[str, str | None]], token: str) -> bool:
    return hmac.compare_digest(
        compute(private_key, pairs).encode(), token.encode("ascii", "replace")
    )
