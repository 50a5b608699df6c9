"""ECIES on secp256k1 exactly as dotenvx (eciesjs) and eciespy do it.

Wire format of one value (after the ``encrypted:`` prefix, standard base64)::

    ephemeral public key, uncompressed (65) | nonce (16) | GCM tag (16) | ciphertext

The AES-256-GCM key is HKDF-SHA256(ephemeral key (65) || shared point (65), no salt, no
info). The point operations (key generation, parsing and validating points, the ECDH
multiplication giving the whole shared point) are libsecp256k1's, through ``coincurve``,
the binding eciespy itself uses: constant-time scalar multiplication, no curve
arithmetic of our own. HKDF and AES-GCM stay with ``cryptography`` (OpenSSL). Both are
imported only when a value is encrypted or decrypted.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import TYPE_CHECKING

from hardenkit.errors import DecryptionError

if TYPE_CHECKING:
    import coincurve

PREFIX = "encrypted:"
P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798
GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8
EPHEMERAL_LEN = 65
NONCE_LEN = 16
TAG_LEN = 16
MIN_LEN = EPHEMERAL_LEN + NONCE_LEN + TAG_LEN


class PublicKey:
    """A validated point on secp256k1."""

    __slots__ = ("_point",)

    def __init__(self, point: coincurve.PublicKey) -> None:
        self._point = point

    def encoded(self, *, compressed: bool) -> bytes:
        return self._point.format(compressed=compressed)

    def __repr__(self) -> str:
        return f"PublicKey({self.encoded(compressed=True).hex()})"


class PrivateKey:
    """A secp256k1 scalar (never shown in its repr)."""

    __slots__ = ("_key",)

    def __init__(self, key: coincurve.PrivateKey) -> None:
        self._key = key

    def public_key(self) -> PublicKey:
        return PublicKey(self._key.public_key)

    def shared_point(self, peer: PublicKey) -> bytes:
        """ECDH: the whole shared point ``k * peer``, uncompressed (65 bytes)."""
        return peer._point.multiply(self._key.secret).format(compressed=False)  # noqa: SLF001

    def secret_hex(self) -> str:
        return self._key.secret.hex()

    def __repr__(self) -> str:
        return "PrivateKey(<hidden>)"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a private key is not picklable")


def _hex_int(text: str) -> int | None:
    """``int(text, 16)``, or None: the caller raises its own error, with no context.

    ``raise ... from None`` hides a context from tracebacks but keeps it in
    ``__context__``, where int()'s error quotes the text (a private key).
    """
    try:
        return int(text, 16)
    except ValueError:
        return None


def _utf8(data: bytes) -> str | None:
    """``data`` decoded, or None (UnicodeDecodeError.object would hold the plaintext)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def parse_private_key(hex_key: str) -> PrivateKey:
    """Return the key object for a 64-hex-digit secp256k1 scalar; ValueError otherwise.

    The message never contains the key.
    """
    import coincurve  # noqa: PLC0415 -- import time: coincurve on first use

    text = hex_key.strip()
    if len(text) != 64:  # noqa: PLR2004 -- 32 bytes as hex
        raise ValueError("a private key is 64 hexadecimal digits")
    scalar = _hex_int(text)
    if scalar is None:  # raised outside the except: int()'s error, quoting the key, is no context
        raise ValueError("a private key is 64 hexadecimal digits")
    if not 0 < scalar < N:
        raise ValueError("private key out of range for secp256k1")
    return PrivateKey(coincurve.PrivateKey(scalar.to_bytes(32, "big")))


def _point(raw: bytes) -> PublicKey:
    import coincurve  # noqa: PLC0415 -- import time: coincurve on first use

    if not (len(raw) == 33 and raw[0] in (2, 3)) and not (len(raw) == 65 and raw[0] == 4):  # noqa: PLR2004
        raise ValueError("not an SEC1 point encoding")
    try:
        return PublicKey(coincurve.PublicKey(raw))
    except ValueError:
        raise ValueError("not a point on secp256k1") from None


def parse_public_key(hex_key: str) -> PublicKey:
    """Return the key object for a compressed or uncompressed hex public key."""
    try:
        raw = bytes.fromhex(hex_key.strip())
    except ValueError:
        raise ValueError("a public key is hexadecimal") from None
    if len(raw) not in (33, 65):
        raise ValueError("a public key is 33 (compressed) or 65 bytes")
    return _point(raw)


def public_hex(key: PublicKey) -> str:
    """Compressed hex, as dotenvx writes ``DOTENV_PUBLIC_KEY``."""
    return key.encoded(compressed=True).hex()


def _uncompressed(key: PublicKey) -> bytes:
    return key.encoded(compressed=False)


def private_hex(key: PrivateKey) -> str:
    return key.secret_hex()


def generate() -> tuple[str, str]:
    """Return ``(public_hex, private_hex)`` of a fresh key pair."""
    import coincurve  # noqa: PLC0415 -- import time: coincurve on first use

    key = PrivateKey(coincurve.PrivateKey())
    return public_hex(key.public_key()), private_hex(key)


def _aes_key(ephemeral: bytes, shared: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415 -- import time: cryptography on first use
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415 -- import time: cryptography on first use

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"").derive(
        ephemeral + shared
    )


class Encryptor:
    """Encrypts values for one recipient public key."""

    __slots__ = ("_recipient",)

    def __init__(self, public_key: str) -> None:
        self._recipient = parse_public_key(public_key)

    def encrypt(self, plaintext: str) -> str:
        """Return ``encrypted:`` + base64 of a fresh ECIES ciphertext of ``plaintext``."""
        import coincurve  # noqa: PLC0415 -- import time: coincurve on first use
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415 -- import time: cryptography on first use

        ephemeral_key = PrivateKey(coincurve.PrivateKey())
        ephemeral = _uncompressed(ephemeral_key.public_key())
        key = _aes_key(ephemeral, ephemeral_key.shared_point(self._recipient))
        nonce = os.urandom(NONCE_LEN)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), None)
        blob = ephemeral + nonce + sealed[-TAG_LEN:] + sealed[:-TAG_LEN]
        return PREFIX + base64.b64encode(blob).decode("ascii")


class Decryptor:
    """Decrypts values with one private key."""

    __slots__ = ("_key",)

    def __init__(self, private_key: PrivateKey) -> None:
        self._key = private_key

    def decrypt(self, token: str) -> str:
        """Return the plaintext of ``encrypted:...``.

        Raises:
            ValueError: malformed data (message names the defect, never the data).
            cryptography.exceptions.InvalidTag: wrong key or tampered value.
        """
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415 -- import time: cryptography on first use

        if not token.startswith(PREFIX):
            raise ValueError("missing the encrypted: prefix")
        body = token[len(PREFIX) :]
        try:
            blob = base64.b64decode(body.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            raise ValueError("not valid base64") from None
        # Only the canonical encoding: Python < 3.11 accepts some excess padding.
        if base64.b64encode(blob).decode("ascii") != body:
            raise ValueError("not valid base64")
        if len(blob) < MIN_LEN:
            raise ValueError("too short to be an ECIES ciphertext")
        ephemeral = blob[:EPHEMERAL_LEN]
        if ephemeral[0] != 4:  # noqa: PLR2004 -- uncompressed point marker
            raise ValueError("ephemeral key is not an uncompressed point")
        nonce = blob[EPHEMERAL_LEN : EPHEMERAL_LEN + NONCE_LEN]
        tag = blob[EPHEMERAL_LEN + NONCE_LEN : MIN_LEN]
        ciphertext = blob[MIN_LEN:]
        try:
            peer = _point(ephemeral)
        except ValueError:
            raise ValueError("ephemeral key is not a point on secp256k1") from None
        key = _aes_key(ephemeral, self._key.shared_point(peer))
        data = AESGCM(key).decrypt(nonce, ciphertext + tag, None)
        text = _utf8(data)
        if text is None:  # raised outside the except: the decode error holds the plaintext
            raise ValueError("plaintext is not UTF-8")
        return text


def decrypt_one(decryptor: Decryptor, token: str, *, name: str, path: str | None) -> str:
    """Decrypt one value or raise DecryptionError naming ``name`` and ``path`` only."""
    from cryptography.exceptions import InvalidTag  # noqa: PLC0415 -- import time: cryptography on first use

    where = f" in {path}" if path else ""
    try:
        return decryptor.decrypt(token)
    except InvalidTag:
        raise DecryptionError(
            f"cannot decrypt {name}{where}: wrong private key or tampered value",
            names=(name,),
            path=path,
        ) from None
    except ValueError as exc:
        raise DecryptionError(
            f"cannot decrypt {name}{where}: malformed encrypted value ({exc})",
            names=(name,),
            path=path,
        ) from None
