"""Encrypt a .env file, seal it, load it all-or-nothing, and see a tampered file refused.

Run: .venv/bin/python examples/encrypted_env.py  (works in a temporary directory)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hardenkit.envcrypt import encrypt_env_file, load_env, seal_env_file, set_env_value
from hardenkit.errors import DecryptionError


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = Path(tmp) / ".env"
        env.write_text("# service settings\nDB_PASSWORD=hunter2\nLOG_LEVEL_PLAIN=info\n")

        pair = encrypt_env_file(env)  # new key pair, private key in .env.keys (0600)
        if pair is None:
            return 1
        set_env_value(env, "API_TOKEN", "tok_example_123")
        seal_env_file(env)
        print(f"encrypted {env.name} for public key {pair.public_key[:12]}...")

        target: dict[str, str] = {}
        values = load_env(env, environ=target, require_seal=True)
        print(f"loaded {len(values)} variables: {', '.join(sorted(values))}")

        # Swap two ciphertexts: each still decrypts, but the seal sees it.
        text = env.read_text()
        a = text.split("DB_PASSWORD=")[1].split()[0]
        b = text.split("API_TOKEN=")[1].split()[0].strip('"')
        env.write_text(text.replace(a, "@@").replace(b, a).replace("@@", b))
        target = {}
        try:
            load_env(env, environ=target)
        except DecryptionError as exc:
            print(f"tampered file refused, {len(target)} variables set: {type(exc).__name__}")
        else:
            print("tampered file was loaded: this should not happen")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
