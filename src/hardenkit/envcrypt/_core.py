"""Reading, decrypting and rewriting dotenvx-encrypted .env files, all or nothing."""

from __future__ import annotations

import functools
import hmac
import os
from dataclasses import FrozenInstanceError, dataclass
from typing import TYPE_CHECKING, NoReturn, ParamSpec, TypeVar

from hardenkit._log import get_logger
from hardenkit.envcrypt import _ecies, _keys, _parallel, _seal
from hardenkit.envcrypt._dotenv import Document, is_valid_name
from hardenkit.errors import DecryptionError, HardenkitError, InvalidEnvError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, MutableMapping


_log = get_logger("hardenkit.envcrypt")

PREFIX = _ecies.PREFIX
PLAIN_SUFFIX = "_PLAIN"
_MAX_LISTED = 5

_P = ParamSpec("_P")
_R = TypeVar("_R")


def opaque_errors(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Raise errors from the public call itself, without the frames below it.

    Those frames' locals hold private keys and decrypted values (a value that decrypted
    before another one failed is not even registered for redaction), and whatever renders
    a traceback with its locals (``TracebackException(capture_locals=True)``, pytest
    ``-l``, error trackers) would print them. The message, type, fields and cause stay; a
    context hidden with ``from None`` is dropped with its frames.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except (HardenkitError, OSError, ValueError) as err:
            error = err
        del args, kwargs
        if error.__suppress_context__:
            error.__context__ = None
        raise error.with_traceback(None)

    return wrapper


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
        object.__setattr__(self, "public_key", public_key)
        object.__setattr__(self, "_private_key", private_key)
        self.__post_init__()
        from hardenkit.redaction import register_secret  # noqa: PLC0415 -- loaded on first use

        register_secret(private_key, strict=False)

    @property
    def private_key(self) -> str:
        """The private scalar, 64 hex digits."""
        return self._private_key

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
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

    def __post_init__(self) -> None:
        try:
            private = _ecies.parse_private_key(self.private_key)
            public = _ecies.parse_public_key(self.public_key)
        except ValueError as exc:
            raise ValueError(f"invalid KeyPair: {exc}") from None
        if _ecies.public_hex(private.public_key()) != _ecies.public_hex(public):
            raise ValueError("invalid KeyPair: the public key does not belong to the private key")

    def __repr__(self) -> str:
        return f"KeyPair(public_key={self.public_key!r}, private_key=<hidden>)"


def generate_keypair() -> KeyPair:
    """Return a fresh secp256k1 key pair (what ``dotenvx keypair`` makes).

    Examples:
        >>> a, b = generate_keypair(), generate_keypair()
        >>> a.private_key != b.private_key
        True
    """
    public, private = _ecies.generate()
    return KeyPair(public_key=public, private_key=private)


# --------------------------------------------------------------------------- reading


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


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class _Decrypted:
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
    from hardenkit.redaction import register_secret  # noqa: PLC0415 -- loaded on first use

    if decrypted.private_key:  # 64 hex digits: no detector masks it by shape
        register_secret(decrypted.private_key, strict=False)
    for name in decrypted.secrets:
        value = decrypted.values.get(name)
        if value:
            register_secret(value, strict=False)


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
