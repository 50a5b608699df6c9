"""Interoperability with the real dotenvx CLI (npm @dotenvx/dotenvx), both ways.

dotenvx runs with an empty environment and its cwd in a temp dir; each call costs about
half a second of node start-up, so the calls are few and each checks many values.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hardenkit.envcrypt import (
    decrypt_env_file,
    encrypt_env_file,
    load_env,
    seal_env_file,
    set_env_value,
)
from hardenkit.errors import DecryptionError, InsecurePathError

pytestmark = pytest.mark.interop

DOTENVX = Path(__file__).resolve().parent / "node_modules" / ".bin" / "dotenvx"

# Values both ways: unicode, '=', '#', quotes and newlines.
TRICKY = {
    "UNICODE": "héllo wörld ✓ 😀 ключ",
    "EQUALS": "a=b==c=",
    "HASH": "x # not a comment #",
    "QUOTES": "it's \"double\" and 'single' and `tick`",
    "NEWLINES": "line1\nline2\n\nline4",
    "MIXED": "k=v # '\"\n✓",
    "EMPTY": "",
}


def _dotenvx(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    clean = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(cwd), **(env or {})}
    node_dir = shutil.which("node")
    if node_dir:
        clean["PATH"] = f"{Path(node_dir).parent}:{clean['PATH']}"
    done = subprocess.run(
        [str(DOTENVX), *args, "--no-armor"],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _private_key(keys_file: Path, name: str = "DOTENV_PRIVATE_KEY") -> str:
    for line in keys_file.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].strip().strip('"')
    raise AssertionError(name)


def test_files_we_write_are_read_by_dotenvx(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# ours\nFIRST=plain value # comment\nLEVEL_PLAIN=info\n")
    pair = encrypt_env_file(env)
    assert pair is not None
    for name, value in TRICKY.items():
        set_env_value(env, name, value)
    seal_env_file(env)  # the seal is a comment: dotenvx must not mind it
    key = {"DOTENV_PRIVATE_KEY": pair.private_key}
    got = json.loads(_dotenvx(tmp_path, "get", "-f", ".env", "--format", "json", env=key))
    ours = decrypt_env_file(env)
    assert got == ours
    assert got["FIRST"] == "plain value"
    for name, value in TRICKY.items():
        assert got[name] == value

    out = _dotenvx(tmp_path, "decrypt", "-f", ".env", "--stdout", env=key)
    assert "encrypted:" not in out
    assert "UNICODE='héllo wörld ✓ 😀 ключ'" in out


def test_files_dotenvx_writes_are_read_by_us(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    # Plain values quoted so that dotenvx and python-dotenv read them the same way.
    env.write_text(
        "# theirs\n"
        "UNICODE='héllo wörld ✓ 😀 ключ'\n"
        "EQUALS=a=b==c=\n"
        "HASH='x # not a comment #'\n"
        'QUOTES=\'it"s double "quoted"\'\n'
        "NEWLINES='line1\nline2\n\nline4'\n"
        "EMPTY=\n"
    )
    _dotenvx(tmp_path, "encrypt", "-f", ".env")
    keys = tmp_path / ".env.keys"
    assert keys.stat().st_mode & 0o077, "dotenvx writes .env.keys readable by others"
    with pytest.raises(InsecurePathError):
        load_env(env, environ={})
    keys.chmod(0o600)
    target: dict[str, str] = {}
    values = load_env(env, environ=target)
    assert target == values
    assert values["UNICODE"] == "héllo wörld ✓ 😀 ключ"
    assert values["EQUALS"] == "a=b==c="
    assert values["HASH"] == "x # not a comment #"
    assert values["QUOTES"] == 'it"s double "quoted"'
    assert values["NEWLINES"] == "line1\nline2\n\nline4"
    assert values["EMPTY"] == ""
    assert "encrypted:" in env.read_text()

    # `dotenvx set` with every awkward character, then a value we add to its file.
    _dotenvx(tmp_path, "set", "MIXED", TRICKY["MIXED"], "-f", ".env")
    keys.chmod(0o600)
    set_env_value(env, "OURS", TRICKY["QUOTES"])
    values = load_env(env, environ={})
    assert values["MIXED"] == TRICKY["MIXED"]
    assert values["OURS"] == TRICKY["QUOTES"]

    # A wrong key: dotenvx would log and load the rest; we load nothing.
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(env, other / ".env")
    (other / ".env.keys").write_text("DOTENV_PRIVATE_KEY=" + "1" * 64 + "\n")
    (other / ".env.keys").chmod(0o600)
    target = {}
    with pytest.raises(DecryptionError):
        load_env(other / ".env", environ=target)
    assert target == {}


def test_environment_suffix_both_ways(tmp_path: Path) -> None:
    env = tmp_path / ".env.production"
    env.write_text("REGION=eu\n")
    _dotenvx(tmp_path, "set", "DB_URL", "postgres://u:p@db/x?a=1#f", "-f", ".env.production")
    private = _private_key(tmp_path / ".env.keys", "DOTENV_PRIVATE_KEY_PRODUCTION")
    assert "DOTENV_PUBLIC_KEY_PRODUCTION=" in env.read_text()
    values = decrypt_env_file(env, private_key=private)
    assert values["DB_URL"] == "postgres://u:p@db/x?a=1#f"
    set_env_value(env, "API", "ünïcode", public_key=None, keys_file=None)
    key = {"DOTENV_PRIVATE_KEY_PRODUCTION": private}
    (tmp_path / ".env.keys").unlink()
    got = json.loads(
        _dotenvx(tmp_path, "get", "-f", ".env.production", "--format", "json", env=key)
    )
    assert got["API"] == "ünïcode"
    assert got["DB_URL"] == "postgres://u:p@db/x?a=1#f"
