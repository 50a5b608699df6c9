"""A dotenvx key pair (:class:`KeyPair`) and :func:`generate_keypair`."""

from __future__ import annotations

import hmac
import sys
from typing import TYPE_CHECKING

from hardenkit.envcrypt import _ecies

if TYPE_CHECKING:
    from typing import NoReturn

__all__ = ["KeyPair", "generate_keypair"]


class KeyPair:
    """A secp256k1 key pair as dotenvx writes it: compressed public key and scalar, in hex.

    Immutable, keyword-only. Like :class:`hardenkit.Secret` it never shows the private key
    (repr), cannot be pickled or copied, is no dataclass (``dataclasses.asdict`` refuses
    it), compares the private key in constant time, and registers the private key with
    :func:`hardenkit.register_secret`, so a copy that reaches a redacting log is masked.

    Examples:
        >>> from hardenkit.envcrypt import generate_keypair
        >>> pair = generate_keypair()
        >>> len(pair.public_key), len(pair.private_key), pair.public_key[:2] in ("02", "03")
        (66, 64, True)
        >>> pair.private_key in repr(pair)
        False
    """

    __slots__ = ("_private_key", "public_key")
    public_key: str
    _private_key: str

    def __init__(self, *, public_key: str, private_key: str) -> None:
        outer = sys.exc_info()[1]  # the caller's own exception: its frames stay
        try:
            _check_pair(public_key, private_key)
            object.__setattr__(self, "public_key", public_key)
            object.__setattr__(self, "_private_key", private_key)
            from hardenkit.redaction import register_secret  # noqa: PLC0415 -- on first use

            register_secret(private_key, strict=False)
        except BaseException as err:  # noqa: BLE001 -- any failure: re-raised below
            error = err
        else:
            return
        # A traceback keeps its frames' locals (pytest -l, Sentry, capture_locals print
        # them): none below this one, and no key in this one, when the error leaves.
        del public_key, private_key
        from hardenkit._frames import clear_below  # noqa: PLC0415 -- import time: errors only

        clear_below(error, outer)
        del outer
        raise error.with_traceback(None)

    @property
    def private_key(self) -> str:
        """The private scalar, 64 hex digits."""
        return self._private_key

    def __setattr__(self, name: str, value: object) -> NoReturn:
        from dataclasses import FrozenInstanceError  # noqa: PLC0415 -- only on misuse

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        from dataclasses import FrozenInstanceError  # noqa: PLC0415 -- only on misuse

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyPair):
            return NotImplemented
        return self.public_key == other.public_key and hmac.compare_digest(
            self._private_key, other._private_key
        )

    def __hash__(self) -> int:
        return hash(self.public_key)

    def __reduce__(self) -> NoReturn:
        # A pickle would carry the private key to wherever pickles go (caches, queues).
        raise TypeError("KeyPair values cannot be pickled or copied")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        """Refuse every pickle protocol, as :meth:`__reduce__` does."""
        raise TypeError("KeyPair values cannot be pickled or copied")

    def __getstate__(self) -> NoReturn:
        """Refuse: object's default hands the private key to any serializer that asks."""
        raise TypeError("KeyPair values cannot be pickled or copied")

    def __repr__(self) -> str:
        # getattr: a traceback rendered with locals shows a failed __init__'s empty self.
        public = getattr(self, "public_key", "<unset>")
        return f"KeyPair(public_key={public!r}, private_key=<hidden>)"


def _check_pair(public_key: str, private_key: str) -> None:
    try:
        private = _ecies.parse_private_key(private_key)
        public = _ecies.parse_public_key(public_key)
    except ValueError as exc:
        raise ValueError(f"invalid KeyPair: {exc}") from None
    if _ecies.public_hex(private.public_key()) != _ecies.public_hex(public):
        raise ValueError("invalid KeyPair: the public key does not belong to the private key")


def generate_keypair() -> KeyPair:
    """Return a fresh secp256k1 key pair (what ``dotenvx keypair`` makes).

    Examples:
        >>> a, b = generate_keypair(), generate_keypair()
        >>> a.private_key != b.private_key
        True
    """
    public, private = _ecies.generate()
    return KeyPair(public_key=public, private_key=private)
