"""Which private key decrypts a file: from the call, the environment or the keys file.

With a ``DOTENV_PUBLIC_KEY*`` in the file, only the matching private key is used, and a key
that does not match is refused by name (never shown).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hardenkit._dataclass import dataclass
from hardenkit.envcrypt import _ecies, _keys
from hardenkit.envcrypt._dotenv import Document
from hardenkit.errors import DecryptionError

if TYPE_CHECKING:
    from collections.abc import Iterable

#: How many names an error lists before "and N more".
_MAX_LISTED = 5


def _read(path: str, *, strict: bool, interpolate: bool = False) -> Document:
    with open(path, "rb") as handle:
        text = _keys.decode_secret_text(handle.read(), path)
    return Document.parse(text, path=path, strict=strict, interpolate=interpolate)


def _file_public_key(doc: Document, path: str) -> tuple[str | None, str | None]:
    """The ``DOTENV_PUBLIC_KEY*`` (name, value) the file declares, preferring its own name."""
    canonical, _ = _keys.key_names(path)
    found: tuple[str | None, str | None] = (None, None)
    for name, value in doc.pairs():
        if name == canonical and value:
            return name, value
        if name.startswith(_keys.PUBLIC_PREFIX) and value:
            found = (name, value)
    return found


def _normalized_public(value: str, *, name: str, path: str) -> str:
    try:
        return _ecies.public_hex(_ecies.parse_public_key(value))
    except ValueError:
        raise DecryptionError(
            f"{name} in {path} is not a valid secp256k1 public key", names=(name,), path=path
        ) from None


def _listed(names: Iterable[str]) -> str:
    names = list(dict.fromkeys(names))
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def _parse_or_none(key: str) -> _ecies.PrivateKey | None:
    try:
        return _ecies.parse_private_key(key)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class _Keys:
    """The private keys usable for one file (hex), best first, and where they came from."""

    private: tuple[str, ...]
    name: str
    source: str
    decryptors: tuple[_ecies.Decryptor, ...]


def _resolve_keys(
    doc: Document,
    path: str,
    *,
    private_key: str | None,
    keys_file: str | None,
    needed_for: tuple[str, ...],
    purpose: str,
) -> _Keys:
    """Find the private key(s) for ``path``; with a public key in the file, the matching one.

    Raises:
        DecryptionError: no key, an invalid key, or a key that does not match the file.
        InsecurePathError: the keys file is readable by others (or otherwise unsafe).
    """
    public_name, public_value = _file_public_key(doc, path)
    _, private_name = _keys.key_names(path)
    found = _keys.find_private_key(
        path, private_key=private_key, keys_file=keys_file, public_name=public_name
    )
    what = f"{purpose} {_listed(needed_for)} in {path}" if needed_for else f"{purpose} {path}"
    if found is None:
        raise DecryptionError(
            f"cannot {what}: private key not found (looked for {private_name} in the "
            f"environment and in {keys_file or _keys.default_keys_file(path)})",
            names=needed_for,
            path=path,
        )
    parsed = [(key, obj) for key in found.keys if (obj := _parse_or_none(key)) is not None]
    if not parsed:
        raise DecryptionError(
            f"cannot {what}: the private key from {found.source} is not a valid secp256k1 key",
            names=needed_for,
            path=path,
        )
    if public_value and public_name:
        expected = _normalized_public(public_value, name=public_name, path=path)
        matching = [k for k, obj in parsed if _ecies.public_hex(obj.public_key()) == expected]
        if not matching:
            raise DecryptionError(
                f"cannot {what}: the private key from {found.source} does not match "
                f"{public_name} in the file",
                names=needed_for,
                path=path,
            )
        parsed = [(k, obj) for k, obj in parsed if k == matching[0]][:1]
    return _Keys(
        private=tuple(k for k, _ in parsed),
        name=found.name,
        source=found.source,
        decryptors=tuple(_ecies.Decryptor(obj) for _, obj in parsed),
    )
