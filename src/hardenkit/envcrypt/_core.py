"""Reading and decrypting dotenvx-encrypted .env files, all or nothing.

The key pair is in ``_keypair``, finding the private key for a file in ``_resolve``, the
writers in ``_write`` (their shared steps in ``_write_steps``).
"""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from hardenkit._dataclass import dataclass
from hardenkit._log import get_logger
from hardenkit.envcrypt import _ecies, _parallel, _seal
from hardenkit.envcrypt._dotenv import Document, is_valid_name
from hardenkit.envcrypt._resolve import (
    _MAX_LISTED,
    _Keys,
    _listed,
    _read,
    _resolve_keys,
)
from hardenkit.errors import DecryptionError, InvalidEnvError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, MutableMapping


_log = get_logger("hardenkit.envcrypt")

PREFIX = _ecies.PREFIX
PLAIN_SUFFIX = "_PLAIN"

_P = ParamSpec("_P")
_R = TypeVar("_R")


def opaque_errors(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Raise errors from the public call itself, without the frames below it.

    Those frames' locals hold private keys and decrypted values (a value that decrypted
    before another one failed is not even registered for redaction), and whatever renders
    a traceback with its locals (``TracebackException(capture_locals=True)``, pytest
    ``-l``, error trackers) would print them. Every exception type is handled so
    (``KeyboardInterrupt`` mid-decryption, a ``TypeError`` from a caller's mapping) and
    re-raised as itself; the frames of its cause and context below the call are cleared
    too. The message, type, fields and cause stay; a context hidden with ``from None`` is
    dropped with its frames.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        outer = sys.exc_info()[1]  # the caller's own exception: its frames stay
        try:
            return fn(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 -- KeyboardInterrupt, TypeError...: re-raised
            error = err
        del args, kwargs
        from hardenkit._frames import clear_below  # noqa: PLC0415 -- import time: errors only

        clear_below(error, outer)
        if error.__suppress_context__:
            error.__context__ = None
        raise error.with_traceback(None)

    return wrapper


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class _Decrypted:
    """A decrypted file: values, which are secrets, its pairs in order, the key used."""

    values: dict[str, str]
    secrets: frozenset[str]
    pairs: list[tuple[str, str | None]]
    private_key: str | None
    key_name: str | None


def _decrypt_doc(
    doc: Document,
    path: str,
    *,
    private_key: str | None,
    keys_file: str | None,
    require_seal: bool,
) -> _Decrypted:
    """Check the seal and decrypt every value; raise before returning anything partial."""
    pairs = doc.pairs()
    encrypted = tuple(n for n, v in pairs if v is not None and v.startswith(PREFIX))
    seals = _seal.seal_lines(doc)
    if len(seals) > 1:
        raise DecryptionError(
            f"{path} has {len(seals)} seal lines; a sealed file has exactly one", path=path
        )
    if require_seal and not seals:
        raise DecryptionError(
            f"{path} is not sealed and require_seal=True: seal it with "
            f"`hardenkit env seal -f {path}`",
            names=encrypted,
            path=path,
        )
    if not encrypted and not seals:
        return _Decrypted(
            values=doc.values(), secrets=frozenset(), pairs=pairs, private_key=None, key_name=None
        )
    keys = _resolve_keys(
        doc,
        path,
        private_key=private_key,
        keys_file=keys_file,
        needed_for=encrypted,
        purpose="decrypt" if encrypted else "verify the seal of",
    )
    chosen = _check_seal(doc, path, keys, pairs=pairs, seals=seals, encrypted=encrypted)
    decryptors = [
        d for k, d in zip(keys.private, keys.decryptors, strict=True) if not seals or k == chosen
    ]
    encrypted_pairs = [(n, v) for n, v in pairs if v is not None and v.startswith(PREFIX)]
    results = _parallel.map_values(
        lambda pair: _try_decrypt(decryptors, pair[1], name=pair[0], path=path), encrypted_pairs
    )
    plain_of = iter(results)
    values: dict[str, str] = {}
    failures: list[tuple[str, str]] = []
    for name, value in pairs:
        if value is None:
            continue
        if not value.startswith(PREFIX):
            values[name] = value
            continue
        plain, reason = next(plain_of)
        if plain is None:
            failures.append((name, reason))
        else:
            values[name] = plain
    if failures:
        detail = "; ".join(f"{n}: {r}" for n, r in failures[:_MAX_LISTED])
        raise DecryptionError(
            f"cannot decrypt {_listed(n for n, _ in failures)} in {path} "
            f"(key from {keys.source}): {detail}",
            names=tuple(n for n, _ in failures),
            path=path,
        )
    secret_names = frozenset(encrypted)
    return _Decrypted(
        values=values, secrets=secret_names, pairs=pairs, private_key=chosen, key_name=keys.name
    )


def _check_seal(
    doc: Document,
    path: str,
    keys: _Keys,
    *,
    pairs: list[tuple[str, str | None]],
    seals: list[int],
    encrypted: tuple[str, ...],
) -> str:
    """The private key to use: the first one, or the one the seal was made with."""
    if not seals:
        return keys.private[0]
    token = _seal.token_of(doc, seals[0])
    chosen = next((k for k in keys.private if _seal.matches(k, pairs, token)), None)
    if chosen is None:
        raise DecryptionError(
            f"the seal of {path} does not match its contents: a value was added, "
            "removed, changed or moved since it was sealed",
            names=encrypted,
            path=path,
        )
    return chosen


def _try_decrypt(
    decryptors: list[_ecies.Decryptor], token: str, *, name: str, path: str
) -> tuple[str | None, str]:
    reason = ""
    for decryptor in decryptors:
        try:
            return _ecies.decrypt_one(decryptor, token, name=name, path=path), ""
        except DecryptionError as exc:  # noqa: PERF203 -- each key gets its own try
            reason = exc.message.rsplit(": ", 1)[-1]
    return None, reason


# Never read into an interpolated value (dotenvx's private keys).
_KEY_VARS = "DOTENV_PRIVATE_KEY"


def _register(decrypted: _Decrypted) -> None:
    """Register the key and every decrypted value; warn, by name, of each too short to be.

    A value shorter than MIN_SECRET_LENGTH cannot be masked by value (it would mask every
    "pw" in every log line): said loudly rather than dropped silently. Only the variable's
    name is logged, never the value.
    """
    from hardenkit.redaction import MIN_SECRET_LENGTH, register_secret  # noqa: PLC0415 -- loaded on first use

    if decrypted.private_key:  # 64 hex digits: no detector masks it by shape
        register_secret(decrypted.private_key, strict=False)
    for name in sorted(decrypted.secrets):
        value = decrypted.values.get(name)
        if value and not register_secret(value, strict=False):
            _log.warning(
                "%s decrypted to a value shorter than %d characters: it is not masked by "
                "value in logs (a NAME=value pair with a secret name still is)",
                name,
                MIN_SECRET_LENGTH,
            )


def _interpolate(
    decrypted: _Decrypted, environ: Mapping[str, str], *, override: bool, doc: Document
) -> dict[str, str]:
    """python-dotenv's ``${NAME}``/``${NAME:-default}`` on plain values; never ``$(cmd)``.

    A single-quoted value stays literal (as for dotenvx and the shell), and no
    ``DOTENV_PRIVATE_KEY*`` variable is ever read into a value.
    """
    from dotenv.variables import parse_variables  # noqa: PLC0415 -- import time: python-dotenv only for interpolate=True

    environ = {k: v for k, v in environ.items() if not k.upper().startswith(_KEY_VARS)}
    quotes = [e.quote for e in doc.entries if e.name is not None]  # in the order of pairs
    resolved: dict[str, str] = {}
    for (name, value), quote in zip(decrypted.pairs, quotes, strict=True):
        if value is None:
            continue
        if name in decrypted.secrets:
            resolved[name] = decrypted.values[name]
            continue
        if quote == "'" or name.upper().startswith(_KEY_VARS):
            resolved[name] = value
            continue
        own = {k: v for k, v in resolved.items() if not k.upper().startswith(_KEY_VARS)}
        view: dict[str, str | None] = {**environ, **own} if override else {**own, **environ}
        resolved[name] = "".join(atom.resolve(view) for atom in parse_variables(value))
    return resolved


def _fspaths(
    path: str | os.PathLike[str], keys_file: str | os.PathLike[str] | None
) -> tuple[str, str | None]:
    """The file and keys-file arguments as strings (``None``: the keys file beside it)."""
    return os.fspath(path), None if keys_file is None else os.fspath(keys_file)


def _decrypt_path(
    path: str | os.PathLike[str],
    *,
    private_key: str | None,
    keys_file: str | os.PathLike[str] | None,
    strict: bool,
    require_seal: bool,
    interpolate: bool = False,
) -> tuple[Document, _Decrypted]:
    """Read, decrypt (all or nothing) and register the file's values."""
    path_s, keys_s = _fspaths(path, keys_file)
    doc = _read(path_s, strict=strict, interpolate=interpolate)
    decrypted = _decrypt_doc(
        doc, path_s, private_key=private_key, keys_file=keys_s, require_seal=require_seal
    )
    _register(decrypted)
    return doc, decrypted


def _file_values(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str],
    override: bool,
    private_key: str | None,
    keys_file: str | os.PathLike[str] | None,
    strict: bool,
    require_seal: bool,
    interpolate: bool,
) -> dict[str, str]:
    """The file's decrypted values; with ``interpolate``, ``${NAME}`` read from ``environ``.

    ``override`` says who wins for a name both hold: the file (True) or ``environ``.
    """
    doc, decrypted = _decrypt_path(
        path,
        private_key=private_key,
        keys_file=keys_file,
        strict=strict,
        require_seal=require_seal,
        interpolate=interpolate,
    )
    if interpolate:
        return _interpolate(decrypted, environ, override=override, doc=doc)
    return dict(decrypted.values)


@opaque_errors
def decrypt_env_file(
    path: str | os.PathLike[str] = ".env",
    *,
    private_key: str | None = None,
    keys_file: str | os.PathLike[str] | None = None,
    strict: bool = True,
    require_seal: bool = False,
    interpolate: bool = False,
) -> dict[str, str]:
    """Return every value of the file, decrypted; all of them or an exception.

    Plain values come back as they are; names without ``=`` are left out (strict mode
    refuses them). Every decrypted value is registered with ``register_secret``. The key
    lookup is :func:`load_env`'s.

    Examples:
        >>> import os, tempfile
        >>> from hardenkit.envcrypt import set_env_value
        >>> tmp = tempfile.TemporaryDirectory(); d = tmp.name
        >>> pair = set_env_value(os.path.join(d, ".env"), "API_TOKEN", "s3cret")
        >>> decrypt_env_file(os.path.join(d, ".env"))["API_TOKEN"]
        's3cret'
        >>> tmp.cleanup()

    Raises:
        DecryptionError: a value cannot be decrypted or authenticated, the key is missing,
            invalid or does not match ``DOTENV_PUBLIC_KEY``, or the seal does not match.
        InvalidEnvError: a syntax error (strict mode), named by line number.
        InsecurePathError: the ``.env.keys`` file is readable by group or others.
    """
    # With interpolation the file's own values come first, as python-dotenv's dotenv_values:
    # a name the file sets reads the same wherever it is used (the result holds its values).
    return _file_values(
        path,
        environ=os.environ,
        override=True,
        private_key=private_key,
        keys_file=keys_file,
        strict=strict,
        require_seal=require_seal,
        interpolate=interpolate,
    )


@opaque_errors
def load_env(
    path: str | os.PathLike[str] = ".env",
    *,
    private_key: str | None = None,
    override: bool = False,
    environ: MutableMapping[str, str] | None = None,
    keys_file: str | os.PathLike[str] | None = None,
    strict: bool = True,
    require_seal: bool = False,
    interpolate: bool = False,
) -> dict[str, str]:
    """Decrypt the whole file, then set its values in ``environ`` (``os.environ``).

    All or nothing: the file is parsed, every value decrypted and the seal (if any)
    checked into a dict first; ``environ`` is touched only when all of that succeeded.
    Existing variables win unless ``override``. The private key comes from
    ``private_key``, then ``DOTENV_PRIVATE_KEY[_SUFFIX]`` in ``os.environ``, then the
    ``.env.keys`` beside the file (or ``keys_file``), which must pass ``check_path``.
    Returns the file's values (all of them, also those ``environ`` already had).

    Examples:
        >>> import os, tempfile
        >>> from hardenkit.envcrypt import set_env_value
        >>> tmp = tempfile.TemporaryDirectory(); d = tmp.name
        >>> _ = set_env_value(os.path.join(d, ".env"), "DB_PASSWORD", "hunter2")
        >>> target = {"DB_PASSWORD": "already-set"}
        >>> load_env(os.path.join(d, ".env"), environ=target)["DB_PASSWORD"]
        'hunter2'
        >>> target["DB_PASSWORD"]
        'already-set'
        >>> tmp.cleanup()

    Raises:
        DecryptionError: as :func:`decrypt_env_file`; ``environ`` is unchanged.
        InvalidEnvError: a syntax error, or a name or value the environment cannot hold.
        InsecurePathError: the ``.env.keys`` file is readable by group or others.
    """
    target: MutableMapping[str, str] = os.environ if environ is None else environ
    # override=False: a name ``environ`` already holds keeps its value there, so ${NAME}
    # reads that value; with override the file's own values come first.
    values = _file_values(
        path,
        environ=target,
        override=override,
        private_key=private_key,
        keys_file=keys_file,
        strict=strict,
        require_seal=require_seal,
        interpolate=interpolate,
    )
    unfit = [n for n, v in values.items() if not n or "=" in n or "\0" in n or "\0" in v]
    if unfit:
        raise InvalidEnvError(
            f"{os.fspath(path)}: {len(unfit)} name(s) or value(s) cannot be put in the "
            "environment (empty name, '=' in a name, or a NUL byte)",
            names=[n for n in unfit if is_valid_name(n)],
        )
    for name, value in values.items():
        if override or name not in target:
            target[name] = value
    _log.debug("loaded %d variables from %s", len(values), os.fspath(path))
    return values
