"""Key names and private-key lookup, in dotenvx's order, with a permission check.

Names: ``.env`` uses ``DOTENV_PUBLIC_KEY``/``DOTENV_PRIVATE_KEY``; ``.env.<a>[.<b>...]``
uses the suffix ``A`` or ``A_B`` (``.env.production.local`` -> ``PRODUCTION_LOCAL``),
``.env1`` -> ``DEVELOPMENT1``, a ``.txt`` ending is ignored (dotenvx's
``keyNamesForEnvFile``). Lookup: the explicit argument, then ``os.environ``, then the
``.env.keys`` file beside the .env file, which must pass ``check_path`` (mode at most 0600,
right owner, safe parents, no symlink); if none has the name the file's own
``DOTENV_PUBLIC_KEY*`` name is inverted and looked up the same way. A value may list
several keys separated by commas, as dotenvx allows during a rotation.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from hardenkit._dataclass import dataclass
from hardenkit.envcrypt._dotenv import Document
from hardenkit.errors import InvalidEnvError

if TYPE_CHECKING:
    from collections.abc import Mapping

PUBLIC_PREFIX = "DOTENV_PUBLIC_KEY"
PRIVATE_PREFIX = "DOTENV_PRIVATE_KEY"
KEYS_FILENAME = ".env.keys"


def _canonical(path: str) -> str:
    name = os.path.basename(path).lower()
    if name.startswith(".env") and name.endswith(".txt"):
        name = name[:-4]
    return name


def environment(path: str) -> str:
    """The environment a file name stands for, as dotenvx computes it.

    Examples:
        >>> environment(".env.production"), environment(".env.production.local")
        ('production', 'production_local')
        >>> environment(".env1")
        'development1'
    """
    name = _canonical(path)
    parts = name.split(".")[2:]
    if not parts:
        return name.replace(".env", "development", 1)
    return "_".join(parts[:2])


def key_names(path: str) -> tuple[str, str]:
    """``(public_key_name, private_key_name)`` for an env file path.

    Examples:
        >>> key_names("/srv/app/.env")
        ('DOTENV_PUBLIC_KEY', 'DOTENV_PRIVATE_KEY')
        >>> key_names("config/.env.production")
        ('DOTENV_PUBLIC_KEY_PRODUCTION', 'DOTENV_PRIVATE_KEY_PRODUCTION')
    """
    if _canonical(path) == ".env":
        return PUBLIC_PREFIX, PRIVATE_PREFIX
    suffix = environment(path).upper()
    return f"{PUBLIC_PREFIX}_{suffix}", f"{PRIVATE_PREFIX}_{suffix}"


def default_keys_file(path: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(path)), KEYS_FILENAME)


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundKey:
    """Private key candidates and where they came from (the source is safe to print)."""

    keys: tuple[str, ...]
    name: str
    source: str

    def __repr__(self) -> str:
        return f"FoundKey(name={self.name!r}, source={self.source!r}, keys=<{len(self.keys)}>)"


def _split(value: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in value.split(",") if k.strip())


def read_keys_text(keys_file: str) -> str | None:
    """Text of a keys file that passes the permission checks; None when it is absent.

    Raises:
        InsecurePathError: readable by group or others, wrong owner, unsafe parent, symlink.
    """
    from hardenkit.fileperms import check_path, open_secure  # noqa: PLC0415 -- import time: fileperms only once a keys file is read

    if not os.path.lexists(keys_file):
        return None
    check_path(keys_file, max_mode=0o600)
    with open_secure(keys_file, "rb", max_mode=0o600) as handle:
        return decode_secret_text(handle.read(), keys_file)


def decode_secret_text(raw: bytes, path: str) -> str:
    """UTF-8 text of a file that holds secrets, or InvalidEnvError naming only the line.

    A ``UnicodeDecodeError`` quotes a byte and carries the whole input in ``.object``: it
    is neither chained nor kept in a frame of the traceback.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
    del raw
    raise InvalidEnvError(f"{path}: line {line}: not UTF-8 text")


def read_keys_file(keys_file: str) -> dict[str, str] | None:
    """Values of a keys file that passes the permission checks; None when it is absent."""
    text = read_keys_text(keys_file)
    if text is None:
        return None
    return Document.parse(text, path=keys_file, strict=False).values()


def find_private_key(
    path: str,
    *,
    private_key: str | None = None,
    keys_file: str | None = None,
    public_name: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> FoundKey | None:
    """Find the private key for ``path`` (see the module docstring for the order).

    ``public_name`` is the ``DOTENV_PUBLIC_KEY*`` name the file declares, if any.
    """
    _, private_name = key_names(path)
    if private_key:
        return FoundKey(keys=_split(private_key), name=private_name, source="argument")
    env = os.environ if environ is None else environ
    keys_path = keys_file or default_keys_file(path)
    names = [private_name]
    if public_name and public_name.startswith(PUBLIC_PREFIX):
        inverted = PRIVATE_PREFIX + public_name[len(PUBLIC_PREFIX) :]
        if inverted != private_name:
            names.append(inverted)
    file_values: dict[str, str] | None = None
    file_read = False
    for name in names:
        value = env.get(name, "")
        if value:
            return FoundKey(keys=_split(value), name=name, source=f"environment ({name})")
        if not file_read:
            file_values = read_keys_file(keys_path)
            file_read = True
        if file_values and file_values.get(name):
            return FoundKey(
                keys=_split(file_values[name]), name=name, source=f"{keys_path} ({name})"
            )
    return None
