"""hardenkit.envcrypt: format, all-or-nothing loading, key lookup, seal, rotation."""

from __future__ import annotations

import base64
import io
import logging
import os
import threading
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings, strategies as st

from hardenkit.envcrypt import (
    KeyPair,
    _ecies,
    _keys,
    _parallel,
    decrypt_env_file,
    decrypted_text,
    encrypt_env_file,
    generate_keypair,
    load_env,
    rotate_env_file,
    seal_env_file,
    set_env_value,
)
from hardenkit.envcrypt._dotenv import dotenvx_bindings
from hardenkit.errors import DecryptionError, InsecurePathError, InvalidEnvError
from hardenkit.fileperms import write_secure
from hardenkit.redaction import redact

# Made by `dotenvx set KAT ... -f .env2` (dotenvx 1.75.1): a known answer that needs no node.
KAT_PRIVATE = "1ecf7d1ece536e728cb5f72b4930944b7f1cc2275983ed78b0151c6ff195f70b"
KAT_PUBLIC = "02e68d1648b5012cce10fd55d561458004d2f4389593d547128fa3ebccd5abbb5b"
KAT_CIPHERTEXT = (
    "encrypted:BBE4HaU8ku4Ov0x0Lzt6HpUj0kslW0bNccyrLu4lDPzc2LZiKAhI4G2YpiY/8riBxQWUjf9iBLcHpPNoYVf"
    "vb+1tJSrzyo2O8SO5rb+B95Igb8T8lEnqBObKrxK2OA8jKQ3CQpsPuj02jahANLj9HLNFfpusJ1KhR50="
)
KAT_PLAIN = "héllo = # 'q' \"dq\"\nline2"

TRICKY = {
    "UNICODE": "héllo wörld ✓ 😀",
    "EQUALS": "a=b==c",
    "HASH": "x # not a comment",
    "QUOTES": 'it\'s "quoted" `tick`',
    "NEWLINES": "line1\nline2\n",
    "BACKSLASH": "C:\\path\\n",
    "EMPTY": "",
}


def _env(tmp_path: Path, name: str = ".env") -> str:
    return str(tmp_path / name)


def _make(tmp_path: Path, values: dict[str, str], name: str = ".env") -> tuple[str, KeyPair]:
    path = _env(tmp_path, name)
    Path(path).write_text("# app settings\nPLAIN_ONE=1\n")
    pair = None
    for key, value in values.items():
        created = set_env_value(path, key, value)
        pair = pair or created
    assert pair is not None
    return path, pair


def _flip(token: str, index: int) -> str:
    blob = bytearray(base64.b64decode(token[len("encrypted:") :]))
    blob[index] ^= 0x01
    return "encrypted:" + base64.b64encode(bytes(blob)).decode()


def _replace_value(path: str, name: str, new: str) -> None:
    lines = Path(path).read_text().splitlines(keepends=True)
    out = [f"{name}={new}\n" if line.startswith(f"{name}=") else line for line in lines]
    Path(path).write_text("".join(out))


def _stored(path: str, name: str) -> str:
    for line in Path(path).read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1].strip("\"'")
    raise AssertionError(name)


# ----------------------------------------------------------------------------- crypto


def test_known_answer_from_dotenvx() -> None:
    decryptor = _ecies.Decryptor(_ecies.parse_private_key(KAT_PRIVATE))
    assert decryptor.decrypt(KAT_CIPHERTEXT) == KAT_PLAIN
    assert _ecies.public_hex(_ecies.parse_private_key(KAT_PRIVATE).public_key()) == KAT_PUBLIC


def test_roundtrip_and_layout() -> None:
    pair = generate_keypair()
    token = _ecies.Encryptor(pair.public_key).encrypt("x" * 10)
    blob = base64.b64decode(token[len("encrypted:") :])
    assert blob[0] == 4
    assert len(blob) == 65 + 16 + 16 + 10
    decryptor = _ecies.Decryptor(_ecies.parse_private_key(pair.private_key))
    for value in [*TRICKY.values(), "x" * 5000]:
        assert decryptor.decrypt(_ecies.Encryptor(pair.public_key).encrypt(value)) == value


def test_degenerate_recipient_key_still_encrypts() -> None:
    # Private key 1: P = G, where the fast sign test cannot work (pure-Python fallback).
    one = "0" * 63 + "1"
    public = _ecies.public_hex(_ecies.parse_private_key(one).public_key())
    token = _ecies.Encryptor(public).encrypt("v")
    assert _ecies.Decryptor(_ecies.parse_private_key(one)).decrypt(token) == "v"


def test_keypair_validates_and_hides_private_key() -> None:
    a, b = generate_keypair(), generate_keypair()
    assert a.private_key not in repr(a)
    assert a.private_key not in str(a)
    with pytest.raises(ValueError, match="does not belong"):
        KeyPair(public_key=a.public_key, private_key=b.private_key)
    with pytest.raises(ValueError, match="64 hexadecimal"):
        KeyPair(public_key=a.public_key, private_key="abc")


@pytest.mark.parametrize("region", [0, 30, 70, 85, 100])  # ephemeral, nonce, tag, ciphertext
def test_flipped_byte_raises_and_environ_untouched(tmp_path: Path, region: int) -> None:
    path, _ = _make(tmp_path, {"A": "alpha-secret", "B": "bravo-secret"})
    _replace_value(path, "B", _flip(_stored(path, "B"), region))
    target = {"KEEP": "1"}
    with pytest.raises(DecryptionError) as info:
        load_env(path, environ=target)
    assert target == {"KEEP": "1"}
    assert info.value.names == ("B",)
    assert info.value.path == path
    assert "B" in str(info.value)
    assert path in str(info.value)
    assert "bravo-secret" not in str(info.value)


def test_wrong_key_raises_without_leaking(tmp_path: Path) -> None:
    path, pair = _make(tmp_path, {"A": "alpha-secret"})
    other = generate_keypair()
    Path(path).write_text(Path(path).read_text().replace(pair.public_key, other.public_key))
    target: dict[str, str] = {}
    with pytest.raises(DecryptionError) as info:
        load_env(path, environ=target, private_key=other.private_key)
    assert target == {}
    message = str(info.value)
    assert "A" in info.value.names
    for secret in (other.private_key, pair.private_key, "alpha-secret"):
        assert secret not in message
        assert secret not in repr(info.value)


def test_private_key_not_matching_public_key(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, {"A": "alpha-secret"})
    other = generate_keypair()
    with pytest.raises(DecryptionError, match="does not match DOTENV_PUBLIC_KEY") as info:
        decrypt_env_file(path, private_key=other.private_key)
    assert info.value.names == ("A",)
    assert other.private_key not in str(info.value)


def test_truncated_value(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, {"A": "alpha-secret", "B": "b"})
    token = _stored(path, "A")
    _replace_value(path, "A", token[: len(token) // 2])
    target: dict[str, str] = {}
    with pytest.raises(DecryptionError, match="malformed") as info:
        load_env(path, environ=target)
    assert target == {}
    assert info.value.names == ("A",)


def test_every_failing_name_is_reported(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, {"A": "1", "B": "2", "C": "3"})
    _replace_value(path, "A", "encrypted:AAAA")
    _replace_value(path, "C", _flip(_stored(path, "C"), 90))
    with pytest.raises(DecryptionError) as info:
        load_env(path, environ={})
    assert info.value.names == ("A", "C")


def test_missing_key(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, {"A": "alpha"})
    (tmp_path / ".env.keys").unlink()
    with pytest.raises(DecryptionError, match="private key not found") as info:
        load_env(path, environ={})
    assert info.value.names == ("A",)


def test_world_readable_keys_file_refused(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, {"A": "alpha"})
    keys = tmp_path / ".env.keys"
    assert keys.stat().st_mode & 0o777 == 0o600
    keys.chmod(0o644)
    target: dict[str, str] = {}
    with pytest.raises(InsecurePathError):
        load_env(path, environ=target)
    assert target == {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
        st.binary(min_size=32, max_size=120).map(lambda b: base64.b64encode(b"\x04" + b).decode()),
    )
)
def test_arbitrary_ciphertext_only_raises_decryption_error(body: str) -> None:
    decryptor = _HYPO_DECRYPTOR
    with pytest.raises(DecryptionError) as info:
        _ecies.decrypt_one(decryptor, "encrypted:" + body, name="X", path="/p/.env")
    assert info.value.names == ("X",)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=_ecies.N - 1), st.binary(max_size=64))
def test_valid_points_with_garbage_only_raise_decryption_error(scalar: int, tail: bytes) -> None:
    point = _ecies.parse_private_key(format(scalar, "064x")).public_key()
    blob = _ecies._uncompressed(point) + bytes(32) + tail
    with pytest.raises(DecryptionError):
        _ecies.decrypt_one(
            _HYPO_DECRYPTOR,
            "encrypted:" + base64.b64encode(blob).decode(),
            name="X",
            path=None,
        )


_HYPO_DECRYPTOR = _ecies.Decryptor(_ecies.parse_private_key(KAT_PRIVATE))


# ----------------------------------------------------------------------------- loading


def test_load_all_or_nothing_and_override(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, TRICKY)
    target = {"UNICODE": "from-env"}
    values = load_env(path, environ=target)
    for key, value in TRICKY.items():
        assert values[key] == value
    assert target["UNICODE"] == "from-env"
    assert target["EQUALS"] == TRICKY["EQUALS"]
    load_env(path, environ=target, override=True)
    assert target["UNICODE"] == TRICKY["UNICODE"]


def test_load_env_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _make(tmp_path, {"HK_TEST_VALUE_A": "value-a"})
    monkeypatch.delenv("HK_TEST_VALUE_A", raising=False)
    monkeypatch.delenv("PLAIN_ONE", raising=False)
    monkeypatch.delenv("DOTENV_PUBLIC_KEY", raising=False)
    load_env(path)
    assert os.environ["HK_TEST_VALUE_A"] == "value-a"


def test_decrypted_values_are_registered_for_redaction(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, {"A": "registered-secret-7d1f9"})
    load_env(path, environ={})
    assert "registered-secret-7d1f9" not in redact("the value is registered-secret-7d1f9 ok")


def test_key_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, pair = _make(tmp_path, {"A": "alpha"})
    wrong = generate_keypair().private_key
    # environment beats .env.keys: a wrong key there is used (and refused)
    monkeypatch.setenv("DOTENV_PRIVATE_KEY", wrong)
    with pytest.raises(DecryptionError, match="environment"):
        decrypt_env_file(path)
    # the argument beats the environment
    assert decrypt_env_file(path, private_key=pair.private_key)["A"] == "alpha"
    monkeypatch.delenv("DOTENV_PRIVATE_KEY")
    assert decrypt_env_file(path)["A"] == "alpha"


def test_suffix_rule_and_comma_separated_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, pair = _make(tmp_path, {"A": "prod-value"}, name=".env.production")
    keys_text = (tmp_path / ".env.keys").read_text()
    assert "DOTENV_PRIVATE_KEY_PRODUCTION=" in keys_text
    assert "DOTENV_PUBLIC_KEY_PRODUCTION=" in Path(path).read_text()
    (tmp_path / ".env.keys").unlink()
    monkeypatch.setenv("DOTENV_PRIVATE_KEY", pair.private_key)  # wrong name: not used
    with pytest.raises(DecryptionError, match="DOTENV_PRIVATE_KEY_PRODUCTION"):
        decrypt_env_file(path)
    other = generate_keypair().private_key
    monkeypatch.setenv("DOTENV_PRIVATE_KEY_PRODUCTION", f"{other},{pair.private_key}")
    assert decrypt_env_file(path)["A"] == "prod-value"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (".env", "DOTENV_PRIVATE_KEY"),
        (".env.production", "DOTENV_PRIVATE_KEY_PRODUCTION"),
        (".env.production.local", "DOTENV_PRIVATE_KEY_PRODUCTION_LOCAL"),
        (".env.a.b.c", "DOTENV_PRIVATE_KEY_A_B"),
        (".env1", "DOTENV_PRIVATE_KEY_DEVELOPMENT1"),
        (".env.staging.txt", "DOTENV_PRIVATE_KEY_STAGING"),
        (".ENV.Ci", "DOTENV_PRIVATE_KEY_CI"),
    ],
)
def test_key_names_follow_dotenvx(filename: str, expected: str) -> None:
    assert _keys.key_names(f"/x/{filename}")[1] == expected
    assert _keys.key_names(f"/x/{filename}")[0] == expected.replace("PRIVATE", "PUBLIC")


def test_interpolation_off_by_default_and_never_commands(tmp_path: Path) -> None:
    path = _env(tmp_path)
    marker = tmp_path / "ran"
    Path(path).write_text(f"BASE=/srv\nDIR=${{BASE}}/app\nCMD=$(touch {marker})\n")
    with pytest.raises(InvalidEnvError, match=r"line 2: .*'\$' in a value that is not single"):
        load_env(path, environ={})  # dotenvx would expand DIR and run CMD
    assert load_env(path, environ={}, strict=False)["DIR"] == "${BASE}/app"
    values = load_env(path, environ={}, interpolate=True, strict=False)
    assert values["DIR"] == "/srv/app"
    assert values["CMD"] == f"$(touch {marker})"
    assert not marker.exists()


def test_interpolation_uses_decrypted_values_but_leaves_secrets_literal(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, {"DBKEY": "pw${X}"})
    # Double quotes: a single-quoted value stays literal (dotenvx, the shell).
    with Path(path).open("a") as f:
        f.write('URL="postgres://u:${DBKEY}@db/app"\n')
    # strict=False: ${DBKEY} names a variable the file sets, which dotenvx would resolve
    # against the environment first (strict mode refuses that; see test_env_hygiene).
    values = decrypt_env_file(path, interpolate=True, strict=False)
    assert values["DBKEY"] == "pw${X}"
    assert values["URL"] == "postgres://u:pw${X}@db/app"


def test_no_threads_left_after_parallel_load(tmp_path: Path) -> None:
    path = _env(tmp_path)
    Path(path).write_text("".join(f"K{i}=value-{i}\n" for i in range(_parallel.MIN_PARALLEL * 2)))
    encrypt_env_file(path)
    before = threading.active_count(), len(os.listdir("/proc/self/task"))
    values = load_env(path, environ={})
    assert values["K3"] == "value-3"
    assert (threading.active_count(), len(os.listdir("/proc/self/task"))) == before


# ----------------------------------------------------------------------------- writing


def test_encrypt_keeps_comments_order_quoting(tmp_path: Path) -> None:
    path = _env(tmp_path)
    original = (
        "#!/usr/bin/env dotenvx\n"
        "# database\n"
        "DB_USER=app  # inline comment\n"
        "DB_PASS='p@ss # word'\n"
        'MULTI="a\nb"\n'
        "\n"
        "export TOKEN=abc\n"
        "LOG_LEVEL_PLAIN=debug\n"
        "EMPTY= # nothing\n"
    )
    Path(path).write_text(original)
    created = encrypt_env_file(path)
    assert created is not None
    text = Path(path).read_text()
    assert text.startswith("#!/usr/bin/env dotenvx\n#/---")
    # Ciphertexts are single-quoted: dotenvx then neither expands nor runs the plaintext.
    assert "# database\nDB_USER='encrypted:" in text
    assert "  # inline comment\n" in text
    assert "DB_PASS='encrypted:" in text
    assert "MULTI='encrypted:" in text
    assert "\n\nexport TOKEN='encrypted:" in text
    assert "LOG_LEVEL_PLAIN=debug\n" in text
    assert "EMPTY= 'encrypted:" in text
    assert text.endswith(" # nothing\n")
    assert "p@ss" not in text
    assert decrypt_env_file(path) == {
        "DOTENV_PUBLIC_KEY": created.public_key,
        "DB_USER": "app",
        "DB_PASS": "p@ss # word",
        "MULTI": "a\nb",
        "TOKEN": "abc",
        "LOG_LEVEL_PLAIN": "debug",
        "EMPTY": "",
    }
    # A second run finds nothing to do and keeps the file byte for byte.
    assert encrypt_env_file(path) is None
    assert Path(path).read_text() == text


def test_encrypt_with_given_public_key_writes_no_keys_file(tmp_path: Path) -> None:
    path = _env(tmp_path)
    Path(path).write_text("A=1\n")
    pair = generate_keypair()
    assert encrypt_env_file(path, public_key=pair.public_key) is None
    assert not (tmp_path / ".env.keys").exists()
    assert decrypt_env_file(path, private_key=pair.private_key)["A"] == "1"
    with pytest.raises(DecryptionError, match="does not match"):
        encrypt_env_file(path, public_key=generate_keypair().public_key)


def test_set_replaces_in_place_and_plain_values_read_back(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, {"A": "1", "B": "2"})
    before = Path(path).read_text().splitlines()
    set_env_value(path, "A", "changed")
    after = Path(path).read_text().splitlines()
    assert len(before) == len(after)
    assert [i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y] == [
        before.index(next(line for line in before if line.startswith("A=")))
    ]
    with pytest.raises(InvalidEnvError, match="of P_QUOTES reads") as info:
        set_env_value(path, "P_QUOTES", TRICKY["QUOTES"], encrypt=False)
    assert TRICKY["QUOTES"] not in str(info.value)
    refused = {"QUOTES"}  # no plaintext quoting both peers read the same
    for key, value in TRICKY.items():
        if key not in refused:
            set_env_value(path, f"P_{key}", value, encrypt=False)
    plain = dotenv_values(path, interpolate=False)
    theirs = {b.name: b.value for b in dotenvx_bindings(Path(path).read_text())}
    for key, value in TRICKY.items():
        if key not in refused:
            assert plain[f"P_{key}"] == theirs[f"P_{key}"] == value
    assert decrypt_env_file(path)["A"] == "changed"
    assert oct(Path(path).stat().st_mode & 0o777) == "0o644"


def test_set_new_file_is_private_and_refuses_bad_input(tmp_path: Path) -> None:
    path = _env(tmp_path, ".env.new")
    set_env_value(path, "A", "x", encrypt=False)
    assert Path(path).stat().st_mode & 0o777 == 0o600
    with pytest.raises(InvalidEnvError):
        set_env_value(path, "BAD NAME", "x")
    with pytest.raises(InvalidEnvError):
        set_env_value(path, "A", "nul\0byte")
    with pytest.raises(InvalidEnvError):
        set_env_value(path, "DOTENV_PUBLIC_KEY", "x")


def test_decrypted_text_round_trips(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, TRICKY)
    seal_env_file(path)
    with pytest.raises(InvalidEnvError, match="of QUOTES reads") as info:
        decrypted_text(path)  # no plaintext form of these two reads the same in dotenvx
    assert TRICKY["QUOTES"] not in str(info.value)
    plain = tmp_path / "plain.env"
    plain.write_text(decrypted_text(path, strict=False))  # python-dotenv's reading
    assert "encrypted:" not in plain.read_text()
    assert "hardenkit:seal" not in plain.read_text()
    values = dotenv_values(plain, interpolate=False)
    for key, value in TRICKY.items():
        assert values[key] == value


def test_decrypted_text_reads_the_same_in_both_peers(tmp_path: Path) -> None:
    readable = {
        "ESC_SQ": "a\\nb",  # was re-quoted "a\\\\nb", which dotenvx reads as a, newline, b
        "DOLLAR": "$HOME \\$x $(echo hi)",  # ${...}: no plaintext quoting (see below)
        "HASH": "abc#def",
        "NL": "it's\nmultiline",
        "TICK": "`x`",
    }
    path, _ = _make(tmp_path, readable)
    text = decrypted_text(path)
    theirs = {b.name: b.value for b in dotenvx_bindings(text)}
    ours = dotenv_values(stream=io.StringIO(text), interpolate=False)
    default = dotenv_values(stream=io.StringIO(text))  # python-dotenv's default reading
    for key, value in readable.items():
        assert ours[key] == default[key] == theirs[key] == value, key


# ----------------------------------------------------------------------------- seal


def test_seal_detects_swap_removal_injection(tmp_path: Path) -> None:
    path, pair = _make(tmp_path, {"A": "alpha", "B": "bravo"})
    seal_env_file(path)
    assert load_env(path, environ={}, require_seal=True)["B"] == "bravo"
    sealed = Path(path).read_text()
    a, b = _stored(path, "A"), _stored(path, "B")

    Path(path).write_text(sealed.replace(a, "@@").replace(b, a).replace("@@", b))  # swap
    decryptor = _ecies.Decryptor(_ecies.parse_private_key(pair.private_key))
    assert decryptor.decrypt(_stored(path, "A")) == "bravo"  # each value still decrypts ...
    with pytest.raises(DecryptionError, match="seal"):
        load_env(path, environ={})  # ... but the seal sees the swap

    Path(path).write_text(
        "".join(line for line in sealed.splitlines(keepends=True) if "A=" not in line)
    )
    with pytest.raises(DecryptionError, match="seal"):
        load_env(path, environ={})

    injected = _ecies.Encryptor(pair.public_key).encrypt("evil")
    Path(path).write_text(sealed + f"LD_PRELOAD={injected}\n")
    target: dict[str, str] = {}
    with pytest.raises(DecryptionError, match="seal"):
        load_env(path, environ=target)
    assert target == {}

    Path(path).write_text(sealed + sealed.splitlines(keepends=True)[-1])
    with pytest.raises(DecryptionError, match="2 seal lines"):
        load_env(path, environ={})


def test_require_seal_refuses_unsealed_and_writes_reseal(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, {"A": "alpha"})
    with pytest.raises(DecryptionError, match="not sealed"):
        load_env(path, environ={}, require_seal=True)
    seal_env_file(path)
    set_env_value(path, "B", "bravo")  # a sealed file stays sealed
    assert load_env(path, environ={}, require_seal=True)["B"] == "bravo"
    encrypt_env_file(path, seal=False)
    assert "hardenkit:seal" not in Path(path).read_text()


# ----------------------------------------------------------------------------- rotation


def test_rotate_re_encrypts_under_new_key(tmp_path: Path) -> None:
    path, old = _make(tmp_path, {"A": "alpha", "B": "bravo"})
    seal_env_file(path)
    old_tokens = _stored(path, "A"), _stored(path, "B")
    new = rotate_env_file(path)
    assert new.public_key in Path(path).read_text()
    assert old.public_key not in Path(path).read_text()
    assert old_tokens[0] not in Path(path).read_text()
    keys = (tmp_path / ".env.keys").read_text()
    assert new.private_key in keys
    assert old.private_key not in keys
    assert (tmp_path / ".env.keys").stat().st_mode & 0o777 == 0o600
    values = load_env(path, environ={}, require_seal=True)
    assert (values["A"], values["B"]) == ("alpha", "bravo")
    with pytest.raises(DecryptionError):
        decrypt_env_file(path, private_key=old.private_key)


def test_rotate_refuses_when_a_value_is_broken(tmp_path: Path) -> None:
    path, _ = _make(tmp_path, {"A": "alpha"})
    _replace_value(path, "A", "encrypted:broken")
    before = Path(path).read_text(), (tmp_path / ".env.keys").read_text()
    with pytest.raises(DecryptionError):
        rotate_env_file(path)
    assert (Path(path).read_text(), (tmp_path / ".env.keys").read_text()) == before


def test_rotation_refuses_a_key_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path, pair = _make(tmp_path, {"A": "alpha"})
    keys = tmp_path / ".env.keys"
    keys.unlink()
    monkeypatch.setenv("DOTENV_PRIVATE_KEY", pair.private_key)
    before = Path(path).read_text()
    with pytest.raises(DecryptionError, match=r"environment \(DOTENV_PRIVATE_KEY\)") as info:
        rotate_env_file(path)
    assert pair.private_key not in str(info.value)
    assert Path(path).read_text() == before
    assert not keys.exists()
    new = rotate_env_file(path, write_keys=False)  # the caller stores the new key
    assert not keys.exists()
    monkeypatch.setenv("DOTENV_PRIVATE_KEY", new.private_key)
    assert decrypt_env_file(path)["A"] == "alpha"
    monkeypatch.delenv("DOTENV_PRIVATE_KEY")
    write_secure(keys, f"DOTENV_PRIVATE_KEY={new.private_key}\n")
    with caplog.at_level(logging.INFO, logger="hardenkit.envcrypt"):
        rotate_env_file(path)
    assert f"the new private key is in {keys} as DOTENV_PRIVATE_KEY" in caplog.text


def test_decrypt_env_file_interpolation_is_self_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dotenv import dotenv_values  # noqa: PLC0415

    path = tmp_path / "interp.env"
    path.write_text("b=d\na=${b}\n")
    monkeypatch.setenv("b", "c")
    values = decrypt_env_file(path, interpolate=True, strict=False)
    assert values == {"b": "d", "a": "d"}  # was {'b': 'd', 'a': 'c'}
    assert values == dict(dotenv_values(path))
    environ = {"b": "c"}
    assert load_env(path, environ=environ, interpolate=True, strict=False)["a"] == "c"
    assert environ == {"b": "c", "a": "c"}  # the environment's b wins, and a follows it


def test_a_key_pair_is_not_picklable() -> None:
    import copy  # noqa: PLC0415
    import pickle  # noqa: PLC0415

    pair = generate_keypair()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(pair, protocol=protocol)  # it used to carry the private key
    for copier in (copy.copy, copy.deepcopy):  # copying goes through the same refusal
        with pytest.raises(TypeError, match="cannot be pickled or copied"):
            copier(pair)
