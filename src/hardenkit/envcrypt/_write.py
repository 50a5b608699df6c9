"""Writing dotenvx-encrypted .env files: encrypt, set, seal, rotate, decrypt to text.

The steps these writers share (keys, encryption, lock, the sealing write) are in
``_write_steps``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from hardenkit._log import get_logger
from hardenkit.envcrypt import _ecies, _keys, _seal
from hardenkit.envcrypt._core import (
    PREFIX,
    _decrypt_doc,
    _decrypt_path,
    _fspaths,
    _register,
    opaque_errors,
)
from hardenkit.envcrypt._dotenv import (
    Document,
    format_plain,
    format_python,
    is_valid_name,
)
from hardenkit.envcrypt._keypair import KeyPair, generate_keypair
from hardenkit.envcrypt._resolve import _file_public_key, _read
from hardenkit.envcrypt._write_steps import (
    _encrypt_entries,
    _finish,
    _plain_for,
    _private_of,
    _public_for_writing,
    _quoted_token,
    _refuse_environment_key,
    _store_private_key,
    _update_lock,
    _vouch,
    _with_public_key,
)
from hardenkit.errors import InvalidEnvError

if TYPE_CHECKING:
    from collections.abc import Iterable

_log = get_logger("hardenkit.envcrypt")


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
