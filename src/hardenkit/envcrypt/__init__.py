"""dotenvx-compatible encrypted .env files, loaded all or nothing.

Each value is ``encrypted:`` + base64(ephemeral secp256k1 key (65) | nonce (16) | GCM tag
(16) | ciphertext), encrypted to the ``DOTENV_PUBLIC_KEY`` written in the file; the
private key lives in ``DOTENV_PRIVATE_KEY[_SUFFIX]`` (environment) or ``.env.keys``
(mode 0600, checked). Files written here are read by ``dotenvx`` and the other way round.
Beyond dotenvx: strict parsing with line numbers, all-or-nothing loading, a key-file
permission check, no ``$(command)`` ever, and an optional integrity seal
(:func:`seal_env_file`, ``load_env(require_seal=True)``). See docs/envcrypt.md.

Examples:
    >>> import os, tempfile
    >>> from hardenkit.envcrypt import load_env, set_env_value
    >>> tmp = tempfile.TemporaryDirectory(); d = tmp.name
    >>> _ = set_env_value(os.path.join(d, ".env"), "API_KEY", "k-123")
    >>> load_env(os.path.join(d, ".env"), environ={})["API_KEY"]
    'k-123'
    >>> tmp.cleanup()
"""

from __future__ import annotations

from hardenkit.envcrypt._core import decrypt_env_file, load_env
from hardenkit.envcrypt._keypair import KeyPair, generate_keypair
from hardenkit.envcrypt._write import (
    decrypted_text,
    encrypt_env_file,
    rotate_env_file,
    seal_env_file,
    set_env_value,
)

__all__ = [
    "KeyPair",
    "decrypt_env_file",
    "decrypted_text",
    "encrypt_env_file",
    "generate_keypair",
    "load_env",
    "rotate_env_file",
    "seal_env_file",
    "set_env_value",
]
