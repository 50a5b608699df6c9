"""ECIES on secp256k1 exactly as dotenvx (eciesjs) does it, on top of ``cryptography``.

Wire format of one value (after the ``encrypted:`` prefix, standard base64)::

    ephemeral public key, uncompressed (65) | nonce (16) | GCM tag (16) | ciphertext

The AES-256-GCM key is HKDF-SHA256(ephemeral key (65) || shared point (65), no salt, no
info). ``cryptography``'s ECDH hands back only the x coordinate of the shared point, so:

* decrypting lets OpenSSL decompress ``02 || x`` (the even root) and lets the GCM tag pick
  between ``y`` and ``p - y`` (two tries at most; a wrong guess costs one HKDF);
* encrypting also computes ``x(e * (P + G)) = x(S + E)`` with the same ephemeral scalar
  ``e``, then keeps the sign of ``y`` for which ``(x, y) + E`` has that x: one pure-Python
  point addition, no pure-Python scalar multiplication.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import TYPE_CHECKING

from hardenkit.errors import DecryptionError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

PREFIX = "encrypted:"
P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798
GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8
EPHEMERAL_LEN = 65
NONCE_LEN = 16
TAG_LEN = 16
MIN_LEN = EPHEMERAL_LEN + NONCE_LEN + TAG_LEN


def _add(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    """Affine point addition on secp256k1 (public data only: not constant time)."""
    if a is None:
        return b
    if b is None:
        return a
    (x1, y1), (x2, y2) = a, b
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        lam = 3 * x1 * x1 * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def _mul(k: int, point: tuple[int, int] | None) -> tuple[int, int] | None:
    """Double-and-add; only for the degenerate keys where the fast path cannot work."""
    result: tuple[int, int] | None = None
    addend = point
    while k:
        if k & 1:
            result = _add(result, addend)
        addend = _add(addend, addend)
        k >>= 1
    return result


def _encode(point: tuple[int, int]) -> bytes:
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def _decode(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:65], "big")


def _curve() -> ec.EllipticCurve:
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    return ec.SECP256K1()


def parse_private_key(hex_key: str) -> ec.EllipticCurvePrivateKey:
    """Return the key object for a 64-hex-digit secp256k1 scalar; ValueError otherwise.

    The message never contains the key.
    """
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    text = hex_key.strip()
    if len(text) != 64:  # noqa: PLR2004 -- 32 bytes as hex
        raise ValueError("a private key is 64 hexadecimal digits")
    try:
        scalar = int(text, 16)
    except ValueError:
        raise ValueError("a private key is 64 hexadecimal digits") from None
    if not 0 < scalar < N:
        raise ValueError("private key out of range for secp256k1")
    return ec.derive_private_key(scalar, _curve())


def parse_public_key(hex_key: str) -> ec.EllipticCurvePublicKey:
    """Return the key object for a compressed or uncompressed hex public key."""
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    try:
        raw = bytes.fromhex(hex_key.strip())
    except ValueError:
        raise ValueError("a public key is hexadecimal") from None
    if len(raw) not in (33, 65):
        raise ValueError("a public key is 33 (compressed) or 65 bytes")
    return ec.EllipticCurvePublicKey.from_encoded_point(_curve(), raw)


def public_hex(key: ec.EllipticCurvePublicKey) -> str:
    """Compressed hex, as dotenvx writes ``DOTENV_PUBLIC_KEY``."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    ).hex()


def _uncompressed(key: ec.EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _even_point(x: bytes) -> bytes:
    """Uncompressed encoding of the point with this x and an even y (OpenSSL's sqrt)."""
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    return _uncompressed(ec.EllipticCurvePublicKey.from_encoded_point(_curve(), b"\x02" + x))


def private_hex(key: ec.EllipticCurvePrivateKey) -> str:
    return format(key.private_numbers().private_value, "064x")


def generate() -> tuple[str, str]:
    """Return ``(public_hex, private_hex)`` of a fresh key pair."""
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    key = ec.generate_private_key(_curve())
    return public_hex(key.public_key()), private_hex(key)


def _aes_key(ephemeral: bytes, shared: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"").derive(
        ephemeral + shared
    )


class Encryptor:
    """Encrypts values for one recipient public key (the P + G point is computed once)."""

    __slots__ = ("_p", "_p_plus_g", "_recipient")

    def __init__(self, public_key: str) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

        self._recipient = parse_public_key(public_key)
        self._p = _decode(_uncompressed(self._recipient))
        p_plus_g = _add(self._p, (GX, GY))
        # P = +-G (private key 1 or n-1) breaks the sign test; fall back to pure Python.
        self._p_plus_g = (
            None
            if p_plus_g is None or p_plus_g[0] == GX
            else ec.EllipticCurvePublicKey.from_encoded_point(_curve(), _encode(p_plus_g))
        )

    def encrypt(self, plaintext: str) -> str:
        """Return ``encrypted:`` + base64 of a fresh ECIES ciphertext of ``plaintext``."""
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

        ephemeral_key = ec.generate_private_key(_curve())
        ephemeral = _uncompressed(ephemeral_key.public_key())
        if self._p_plus_g is None:
            shared = _mul(ephemeral_key.private_numbers().private_value, self._p)
            if shared is None:  # pragma: no cover - impossible for a valid key
                raise ValueError("degenerate shared point")
        else:
            x = int.from_bytes(ephemeral_key.exchange(ec.ECDH(), self._recipient), "big")
            x_sum = int.from_bytes(ephemeral_key.exchange(ec.ECDH(), self._p_plus_g), "big")
            y = _decode(_even_point(x.to_bytes(32, "big")))[1]
            e_point = _decode(ephemeral)
            candidate = _add((x, y), e_point)
            shared = (x, y) if candidate is not None and candidate[0] == x_sum else (x, P - y)
        key = _aes_key(ephemeral, _encode(shared))
        nonce = os.urandom(NONCE_LEN)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), None)
        blob = ephemeral + nonce + sealed[-TAG_LEN:] + sealed[:-TAG_LEN]
        return PREFIX + base64.b64encode(blob).decode("ascii")


class Decryptor:
    """Decrypts values with one private key."""

    __slots__ = ("_key",)

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self._key = private_key

    def decrypt(self, token: str) -> str:
        """Return the plaintext of ``encrypted:...``.

        Raises:
            ValueError: malformed data (message names the defect, never the data).
            cryptography.exceptions.InvalidTag: wrong key or tampered value.
        """
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

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
            peer = ec.EllipticCurvePublicKey.from_encoded_point(_curve(), ephemeral)
        except ValueError:
            raise ValueError("ephemeral key is not a point on secp256k1") from None
        shared = _even_point(self._key.exchange(ec.ECDH(), peer))
        odd = shared[:33] + (P - int.from_bytes(shared[33:], "big")).to_bytes(32, "big")
        sealed = ciphertext + tag
        for candidate in (shared, odd):
            try:
                data = AESGCM(_aes_key(ephemeral, candidate)).decrypt(nonce, sealed, None)
            except InvalidTag:
                continue
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError("plaintext is not UTF-8") from None
        raise InvalidTag


def decrypt_one(decryptor: Decryptor, token: str, *, name: str, path: str | None) -> str:
    """Decrypt one value or raise DecryptionError naming ``name`` and ``path`` only."""
    from cryptography.exceptions import InvalidTag  # noqa: PLC0415

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
