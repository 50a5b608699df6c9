"""Writing dotenvx-encrypted .env files: encrypt, set, seal, rotate, decrypt to text."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from hardenkit._log import get_logger
from hardenkit.envcrypt import _ecies, _keys, _parallel, _seal
from hardenkit.envcrypt._core import (
    PLAIN_SUFFIX,
    PREFIX,
    KeyPair,
    _decrypt_doc,
    _decrypt_path,
    _file_public_key,
    _fspaths,
    _normalized_public,
    _read,
    _register,
    _resolve_keys,
    generate_keypair,
    opaque_errors,
)
from hardenkit.envcrypt._dotenv import (
    Document,
    Entry,
    format_plain,
    format_python,
    is_valid_name,
)
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


# --------------------------------------------------------------------------- writing


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


@opaque_errors
def encrypt_env_file(
    path: str | os.PathLike[str] = ".env",
    *,
    public_key: str | None = None,
    keys_file: str | os.PathLike[str] | None = None,
    names: Iterable[str] | None = None,
    seal: bool | None = None,
    strict: bool = True,
) -> KeyPair | None:
    r"""Encrypt every plain value in place, keeping comments, order and quoting.

    Names ending ``_PLAIN`` and ``DOTENV_PUBLIC_KEY*`` stay plain; ``names`` limits the
    work to those variables. The public key is ``public_key``, else the file's
    ``DOTENV_PUBLIC_KEY[_SUFFIX]``, else the one of a private key found as
    :func:`load_env` finds it; else a new pair is made, its private key stored in
    ``.env.keys`` (mode 0600) and the pair returned. A sealed file is re-sealed
    (``seal=True`` seals, ``seal=False`` drops the seal), and only after its current seal
    matched and every value decrypted, so a seal never vouches for tampering. The write
    is atomic.

    Examples:
        >>> import os, tempfile
        >>> tmp = tempfile.TemporaryDirectory(); d = tmp.name; env = os.path.join(d, ".env")
        >>> with open(env, "w") as f:
        ...     _ = f.write("# database\nDB_PASSWORD=hunter2\nLOG_LEVEL_PLAIN=info\n")
        >>> pair = encrypt_env_file(env)
        >>> from pathlib import Path
        >>> text = Path(env).read_text()
        >>> "hunter2" in text, "DB_PASSWORD='encrypted:" in text, "LOG_LEVEL_PLAIN=info" in text
        (False, True, True)
        >>> oct(os.stat(os.path.join(d, ".env.keys")).st_mode & 0o777)
        '0o600'
        >>> tmp.cleanup()

    Raises:
        InvalidEnvError: a syntax error (strict mode).
        DecryptionError: ``public_key`` does not match the file's, a seal is wanted
            but the private key cannot be found, or a file to re-seal does not check out.
        InsecurePathError: an existing ``.env.keys`` is readable by others.
    """
    path_s, keys_s = _fspaths(path, keys_file)
    with _update_lock(path_s, keys_s):
        doc = _read(path_s, strict=strict)
        _vouch(doc, path_s, keys_file=keys_s, seal=seal)
        doc, public, created = _public_for_writing(
            doc, path_s, public_key=public_key, keys_file=keys_s
        )
        _encrypt_entries(doc, public, names)
        _finish(doc, path_s, keys_file=keys_s, seal=seal, private_key=_private_of(created))
        return created


@opaque_errors
def set_env_value(
    path: str | os.PathLike[str],
    name: str,
    value: str,
    *,
    encrypt: bool = True,
    public_key: str | None = None,
    keys_file: str | os.PathLike[str] | None = None,
    seal: bool | None = None,
    strict: bool = True,
) -> KeyPair | None:
    """Set one variable (encrypted by default), adding it or replacing it in place.

    Creates the file (mode 0600) when missing, and a key pair as
    :func:`encrypt_env_file` does; returns that pair when one was created. Sealing works
    as in :func:`encrypt_env_file` (the file must check out before it is re-sealed).

    Examples:
        >>> import os, tempfile
        >>> from hardenkit.envcrypt import decrypt_env_file
        >>> tmp = tempfile.TemporaryDirectory()
        >>> env = os.path.join(tmp.name, ".env.production")
        >>> pair = set_env_value(env, "STRIPE_KEY", "sk_test_123")
        >>> from pathlib import Path
        >>> "DOTENV_PUBLIC_KEY_PRODUCTION=" in Path(env).read_text()
        True
        >>> set_env_value(env, "REGION", "eu-west-1", encrypt=False)
        >>> decrypt_env_file(env)["REGION"]
        'eu-west-1'
        >>> tmp.cleanup()

    Raises:
        InvalidEnvError: an invalid name, a NUL byte in the value, or a syntax error.
        DecryptionError: as :func:`encrypt_env_file`.
    """
    path_s, keys_s = _fspaths(path, keys_file)
    if not is_valid_name(name):
        raise InvalidEnvError(
            f"{path_s}: invalid variable name (letters, digits, '_', '.', '-'; "
            "not starting with a digit)"
        )
    if name.startswith(_keys.PUBLIC_PREFIX):
        raise InvalidEnvError(
            f"{path_s}: {name} is managed by hardenkit; use rotate_env_file to change keys",
            names=(name,),
        )
    if "\0" in value:
        raise InvalidEnvError(f"{path_s}: the value of {name} contains a NUL byte", names=(name,))
    with _update_lock(path_s, keys_s):
        exists = os.path.lexists(path_s)
        doc = _read(path_s, strict=strict) if exists else Document([], path=path_s)
        _vouch(doc, path_s, keys_file=keys_s, seal=seal)
        created: KeyPair | None = None
        index = doc.index(name)
        if encrypt:
            doc, public, created = _public_for_writing(
                doc, path_s, public_key=public_key, keys_file=keys_s
            )
            index = doc.index(name)
            stored = _ecies.Encryptor(public).encrypt(value)
            raw = _quoted_token(stored)
        else:
            stored, raw = value, _plain_for(value, name, path_s)
        if index is None:
            doc.append(name, raw, stored)
        else:
            doc.replace(index, raw, stored)
        _finish(doc, path_s, keys_file=keys_s, seal=seal, private_key=_private_of(created))
        return created


@opaque_errors
def seal_env_file(
    path: str | os.PathLike[str] = ".env",
    *,
    private_key: str | None = None,
    keys_file: str | os.PathLike[str] | None = None,
    strict: bool = True,
) -> None:
    """Add (or renew) the integrity seal after checking that every value decrypts.

    Examples:
        >>> import os, tempfile
        >>> tmp = tempfile.TemporaryDirectory(); d = tmp.name; env = os.path.join(d, ".env")
        >>> _ = set_env_value(env, "TOKEN", "abc")
        >>> seal_env_file(env)
        >>> from hardenkit.envcrypt import load_env
        >>> load_env(env, environ={}, require_seal=True)["TOKEN"]
        'abc'
        >>> tmp.cleanup()

    Raises:
        DecryptionError: a value does not decrypt, or the key is missing or mismatched.
    """
    path_s, keys_s = _fspaths(path, keys_file)
    with _update_lock(path_s, keys_s):
        doc = _read(path_s, strict=strict)
        for index in reversed(_seal.seal_lines(doc)):
            del doc.entries[index]
        decrypted = _decrypt_doc(
            doc, path_s, private_key=private_key, keys_file=keys_s, require_seal=False
        )
        _register(decrypted)
        private_key = decrypted.private_key or private_key
        _finish(doc, path_s, keys_file=keys_s, seal=True, private_key=private_key)


@opaque_errors
def rotate_env_file(
    path: str | os.PathLike[str] = ".env",
    *,
    private_key: str | None = None,
    keys_file: str | os.PathLike[str] | None = None,
    write_keys: bool = True,
    strict: bool = True,
) -> KeyPair:
    """Re-encrypt every encrypted value under a new key pair and return the pair.

    Crash-safe order: ``.env.keys`` first gets ``new,old`` (both keys, a form dotenvx
    also reads), then the .env file is rewritten, then ``.env.keys`` keeps only the new
    key. With ``write_keys=False`` nothing but the .env file is written: store the
    returned private key yourself before you lose the old one. Where the new key went is
    logged (``hardenkit.envcrypt``, INFO). A key taken from the environment
    (``DOTENV_PRIVATE_KEY*``) is not rotated into ``.env.keys`` (the variable would keep
    the old key and win): that raises unless ``write_keys=False`` or ``private_key`` is given.

    Examples:
        >>> import os, tempfile
        >>> tmp = tempfile.TemporaryDirectory(); d = tmp.name; env = os.path.join(d, ".env")
        >>> old = set_env_value(env, "TOKEN", "abc")
        >>> new = rotate_env_file(env)
        >>> from hardenkit.envcrypt import decrypt_env_file
        >>> new.public_key != old.public_key, decrypt_env_file(env)["TOKEN"]
        (True, 'abc')
        >>> tmp.cleanup()

    Raises:
        DecryptionError: a value does not decrypt with the current key, or the key came
            from the environment and ``write_keys`` is true (nothing written).
    """
    path_s, keys_s = _fspaths(path, keys_file)
    with _update_lock(path_s, keys_s):
        doc, decrypted = _decrypt_path(
            path_s, private_key=private_key, keys_file=keys_s, strict=strict, require_seal=False
        )
        keys_path = keys_s or _keys.default_keys_file(path_s)
        public_name, _ = _file_public_key(doc, path_s)
        if write_keys and private_key is None:
            _refuse_environment_key(path_s, keys_s, public_name)
        new = generate_keypair()
        canonical_public, private_name = _keys.key_names(path_s)
        key_name = decrypted.key_name or private_name
        old_key = decrypted.private_key
        if write_keys:
            both = f"{new.private_key},{old_key}" if old_key else new.private_key
            _store_private_key(keys_path, path_s, key_name, both)
        encryptor = _ecies.Encryptor(new.public_key)
        for i, entry in enumerate(doc.entries):
            if entry.name is None or entry.value is None:
                continue
            if entry.name == public_name:
                doc.replace(
                    i,
                    f"{entry.quote or chr(34)}{new.public_key}{entry.quote or chr(34)}",
                    new.public_key,
                )
            elif entry.value.startswith(PREFIX):
                token = encryptor.encrypt(decrypted.values[entry.name])
                doc.replace(i, _quoted_token(token), token)
        if public_name is None:
            doc = _with_public_key(doc, path_s, canonical_public, new.public_key, keys_s)
        _finish(doc, path_s, keys_file=keys_s, seal=None, private_key=new.private_key)
        if write_keys:
            _store_private_key(keys_path, path_s, key_name, new.private_key)
            _log.info(
                "rotated %s: the new private key is in %s as %s (mode 0600)",
                path_s,
                keys_path,
                key_name,
            )
        else:
            _log.info(
                "rotated %s: the new private key was only returned (write_keys=False)", path_s
            )
        return new


@opaque_errors
def decrypted_text(
    path: str | os.PathLike[str] = ".env",
    *,
    private_key: str | None = None,
    keys_file: str | os.PathLike[str] | None = None,
    strict: bool = True,
) -> str:
    """The file's text with every encrypted value replaced by its quoted plaintext.

    The seal line is dropped (it would no longer match). Used by ``hardenkit env decrypt``.

    Examples:
        >>> import os, tempfile
        >>> tmp = tempfile.TemporaryDirectory(); d = tmp.name; env = os.path.join(d, ".env")
        >>> _ = set_env_value(env, "GREETING", "hello world")
        >>> "GREETING='hello world'" in decrypted_text(env)
        True
        >>> tmp.cleanup()
    """
    path_s = os.fspath(path)
    doc, decrypted = _decrypt_path(
        path_s, private_key=private_key, keys_file=keys_file, strict=strict, require_seal=False
    )
    for index in reversed(_seal.seal_lines(doc)):
        del doc.entries[index]
    unwritable: list[str] = []
    for i, entry in enumerate(doc.entries):
        if entry.name is not None and entry.value is not None and entry.value.startswith(PREFIX):
            plain = decrypted.values[entry.name]
            try:
                raw = format_plain(plain)
            except ValueError:
                if strict:
                    unwritable.append(entry.name)
                    continue
                raw = format_python(plain)
            doc.replace(i, raw, plain)
    if unwritable:
        raise InvalidEnvError(
            f"{path_s}: no plaintext quoting of {', '.join(unwritable)} reads the same in "
            "python-dotenv and dotenvx (a single quote or CR together with a double quote, "
            "backslash, '$' or backtick; or '${', which python-dotenv expands even in single "
            "quotes); strict=False writes python-dotenv's reading",
            names=tuple(unwritable),
        )
    return doc.render()
