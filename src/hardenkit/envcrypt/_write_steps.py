"""The steps every envcrypt writer shares, so that no writer can skip one.

The key to encrypt to (creating a key pair, its private key stored 0600 in ``.env.keys``,
when there is none), encrypting values in place, the writers' lock, and the one ending
(``_finish``: re-seal, then an atomic write that keeps the file's mode). The public
writers are in ``_write``.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from hardenkit._log import get_logger
from hardenkit.envcrypt import _ecies, _keys, _parallel, _seal
from hardenkit.envcrypt._core import (
    PLAIN_SUFFIX,
    PREFIX,
    _decrypt_doc,
    _register,
)
from hardenkit.envcrypt._dotenv import (
    Document,
    Entry,
    format_plain,
)
from hardenkit.envcrypt._keypair import KeyPair, generate_keypair
from hardenkit.envcrypt._resolve import _file_public_key, _normalized_public, _resolve_keys
from hardenkit.errors import DecryptionError, InvalidEnvError

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Iterable

_log = get_logger("hardenkit.envcrypt")

_KEYS_HEADER = (
    "#/------------------!DOTENV_PRIVATE_KEYS!-------------------/\n"
    "#/ private decryption keys. DO NOT commit to source control /\n"
    "#/     [how it works](https://dotenvx.com/encryption)       /\n"
    "#/----------------------------------------------------------/\n"
)
_PUBLIC_HEADER = (
    "#/-------------------[DOTENV_PUBLIC_KEY]--------------------/\n"
    "#/            public-key encryption for .env files          /\n"
    "#/       [how it works](https://dotenvx.com/encryption)     /\n"
    "#/----------------------------------------------------------/\n"
)


def _file_mode(path: str, default: int = 0o600) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o777
    except FileNotFoundError:
        return default


def _write(path: str, text: str, *, mode: int) -> None:
    from hardenkit.fileperms import write_secure  # noqa: PLC0415 -- import time: fileperms only for writers

    write_secure(path, text.encode("utf-8"), mode=mode)


def _refuse_environment_key(path: str, keys_file: str | None, public_name: str | None) -> None:
    """Refuse to rotate a key that comes from the environment into ``.env.keys``.

    The environment would keep the old key and win over the file the next time (it is
    looked up first), so the rotated file would stop decrypting there.

    Raises:
        DecryptionError: the current key came from the environment.
    """
    found = _keys.find_private_key(path, keys_file=keys_file, public_name=public_name)
    if found is not None and found.source.startswith("environment"):
        raise DecryptionError(
            f"not rotating {path}: its private key comes from the {found.source}, which "
            f"would keep the old key and win over {_keys.KEYS_FILENAME}; rotate with "
            "write_keys=False and put the returned private key where that variable is set "
            "(or unset it to use the keys file)",
            names=(found.name,),
            path=path,
        )


def _quoted_token(token: str) -> str:
    """A ciphertext in single quotes: dotenvx then neither expands nor runs its plaintext."""
    return f"'{token}'"


def _plain_for(value: str, name: str, path: str) -> str:
    try:
        return format_plain(value)
    except ValueError:
        raise InvalidEnvError(
            f"{path}: no plaintext quoting of {name} reads the same in python-dotenv and "
            "dotenvx (a single quote or CR together with a double quote, backslash, '$' or "
            "backtick; or '${', which python-dotenv expands even in single quotes); store "
            "it encrypted",
            names=(name,),
        ) from None


def _update_lock(path: str, keys_file: str | None) -> contextlib.AbstractContextManager[None]:
    """The writers' lock for the .env file and its keys file, held across read-modify-write.

    Without it two processes creating key pairs in one directory both rewrite
    ``.env.keys`` from the same old text and one private key is lost.
    """
    from hardenkit.fileperms import locked_for_update  # noqa: PLC0415 -- import time: fileperms only for writers

    return locked_for_update(path, keys_file or _keys.default_keys_file(path))


def _with_public_key(
    doc: Document, path: str, name: str, public_key: str, keys_file: str | None
) -> Document:
    """Prepend dotenvx's public-key header (after a shebang line), as ``dotenvx encrypt``."""
    text = doc.text().removeprefix("\ufeff")
    first = ""
    if text.startswith("#!"):
        head, sep, rest = text.partition("\n")
        first, text = head + sep, rest
    comment = ""
    if keys_file is not None:
        relative = os.path.relpath(
            os.path.abspath(keys_file), os.path.dirname(os.path.abspath(path))
        )
        if relative != _keys.KEYS_FILENAME:
            comment = f" # -fk {relative}"
    header = f'{_PUBLIC_HEADER}{name}="{public_key}"{comment}\n\n# {os.path.basename(path)}\n'
    return Document.parse(
        ("\ufeff" if doc.bom else "") + first + header + text, path=path, strict=False
    )


def _store_private_key(keys_path: str, env_path: str, name: str, value: str) -> None:
    """Set ``name`` in the keys file (created 0600, dotenvx's layout), atomically."""
    text = _keys.read_keys_text(keys_path)  # refuses an unsafe existing file
    doc = Document.parse(_KEYS_HEADER if text is None else text, path=keys_path, strict=False)
    index = doc.index(name)
    if index is None:
        if doc.entries and not doc.entries[-1].text.endswith("\n"):
            doc.entries.append(Entry(text="\n", name=None, line=0))
        doc.entries.append(Entry(text=f"\n# {os.path.basename(env_path)}\n", name=None, line=0))
        doc.append(name, value, value)
    else:
        doc.replace(index, value, value)
    _write(keys_path, doc.render(), mode=0o600)


def _public_for_writing(
    doc: Document,
    path: str,
    *,
    public_key: str | None,
    keys_file: str | None,
) -> tuple[Document, str, KeyPair | None]:
    """The public key to encrypt to; creates a key pair (and ``.env.keys``) when none exists."""
    public_name, file_public = _file_public_key(doc, path)
    canonical_public, private_name = _keys.key_names(path)
    created: KeyPair | None = None
    if public_key is not None:
        wanted = _normalized_public(public_key, name="public_key", path=path)
        if file_public and public_name:
            if _normalized_public(file_public, name=public_name, path=path) != wanted:
                raise DecryptionError(
                    f"the public_key argument does not match {public_name} in {path}",
                    names=(public_name,),
                    path=path,
                )
            return doc, wanted, None
        return _with_public_key(doc, path, canonical_public, wanted, keys_file), wanted, None
    if file_public and public_name:
        return doc, _normalized_public(file_public, name=public_name, path=path), None
    found = _keys.find_private_key(path, keys_file=keys_file)
    if found is not None:
        try:
            public = _ecies.public_hex(_ecies.parse_private_key(found.keys[0]).public_key())
        except ValueError:
            raise DecryptionError(
                f"the private key from {found.source} is not a valid secp256k1 key", path=path
            ) from None
    else:
        created = generate_keypair()
        public = created.public_key
        _store_private_key(
            keys_file or _keys.default_keys_file(path), path, private_name, created.private_key
        )
        _log.info("created a key pair for %s; private key stored with mode 0600", path)
    return _with_public_key(doc, path, canonical_public, public, keys_file), public, created


def _finish(
    doc: Document, path: str, *, keys_file: str | None, seal: bool | None, private_key: str | None
) -> None:
    """Re-seal (when the file was sealed or ``seal``), write atomically keeping the mode.

    The one ending of every writer, so a new one cannot forget the seal or the mode.
    """
    seals = _seal.seal_lines(doc)
    want = bool(seals) if seal is None else seal
    for index in reversed(seals):
        del doc.entries[index]
    if want:
        keys = _resolve_keys(
            doc,
            path,
            private_key=private_key,
            keys_file=keys_file,
            needed_for=(),
            purpose="seal",
        )
        token = _seal.compute(keys.private[0], doc.pairs())
        if doc.entries and not doc.entries[-1].text.endswith(("\n", "\r")):
            doc.entries.append(Entry(text="\n", name=None, line=0))
        doc.entries.append(Entry(text=f"{_seal.SEAL_MARK}{token}\n", name=None, line=0))
    _write(path, doc.render(), mode=_file_mode(path))


def _private_of(created: KeyPair | None) -> str | None:
    """The private key of a pair the writer just created (to seal with it), else None."""
    return None if created is None else created.private_key


def _vouch(doc: Document, path: str, *, keys_file: str | None, seal: bool | None) -> None:
    """Before a write that (re-)seals: the file as read must check out, as seal_env_file does.

    A seal that is renewed without this would launder tampering: values swapped in a
    sealed file would carry a fresh, valid seal after the next unrelated ``set``.

    Raises:
        DecryptionError: the existing seal does not match, or a value does not decrypt.
    """
    if seal is False or (seal is None and not _seal.seal_lines(doc)):
        return
    _register(_decrypt_doc(doc, path, private_key=None, keys_file=keys_file, require_seal=False))


def _encrypt_entries(
    doc: Document, public_key: str, names: Iterable[str] | None = None
) -> list[str]:
    encryptor = _ecies.Encryptor(public_key)
    wanted = None if names is None else set(names)
    targets: list[tuple[int, Entry]] = []
    for i, entry in enumerate(doc.entries):
        name, value = entry.name, entry.value
        if name is None or value is None or value.startswith(PREFIX):
            continue
        if name.startswith(_keys.PUBLIC_PREFIX) or name.endswith(PLAIN_SUFFIX):
            continue
        if wanted is not None and name not in wanted:
            continue
        targets.append((i, entry))
    tokens = _parallel.map_values(lambda t: encryptor.encrypt(t[1].value or ""), targets)
    for (i, _entry), token in zip(targets, tokens, strict=True):
        doc.replace(i, _quoted_token(token), token)
    return [entry.name or "" for _, entry in targets]
