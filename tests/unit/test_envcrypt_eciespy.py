"""ECIES against an independent implementation: eciespy (the format dotenvx's comes from).

Both directions, 200 random values, with shared points of both y parities: an encryptor
that always took the even root passed every round-trip test of its own, but eciespy
refused half its values.
"""

from __future__ import annotations

import base64
import random

import coincurve
import ecies

from hardenkit.envcrypt import _ecies, generate_keypair

VALUES = 200


def _values(seed: int) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 -- reproducible test data, not keys
    alphabet = "abcXYZ019 =#'\"`$\\\n\t\u00e9\u20ac\U0001f511"
    return [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80))) for _ in range(VALUES)
    ]


def _shared_y_parity(token: str, private_hex: str) -> int:
    """The parity of y of the shared point, computed with coincurve directly (the oracle)."""
    blob = base64.b64decode(token.removeprefix(_ecies.PREFIX))
    shared = coincurve.PublicKey(blob[:65]).multiply(bytes.fromhex(private_hex))
    return shared.format(compressed=False)[-1] & 1


def test_eciespy_decrypts_what_hardenkit_encrypts() -> None:
    pair = generate_keypair()
    encryptor = _ecies.Encryptor(pair.public_key)
    parities = set()
    for value in _values(1):
        token = encryptor.encrypt(value)
        parities.add(_shared_y_parity(token, pair.private_key))
        blob = base64.b64decode(token.removeprefix(_ecies.PREFIX))
        assert ecies.decrypt(pair.private_key, blob).decode("utf-8") == value
    assert parities == {0, 1}


def test_hardenkit_decrypts_what_eciespy_encrypts() -> None:
    pair = generate_keypair()
    decryptor = _ecies.Decryptor(_ecies.parse_private_key(pair.private_key))
    parities = set()
    for value in _values(2):
        blob = ecies.encrypt(pair.public_key, value.encode("utf-8"))
        token = _ecies.PREFIX + base64.b64encode(blob).decode("ascii")
        parities.add(_shared_y_parity(token, pair.private_key))
        assert decryptor.decrypt(token) == value
    assert parities == {0, 1}


def test_key_pairs_agree_with_coincurve() -> None:
    for _ in range(20):
        pair = generate_keypair()
        expected = coincurve.PrivateKey(bytes.fromhex(pair.private_key)).public_key
        assert pair.public_key == expected.format(compressed=True).hex()
