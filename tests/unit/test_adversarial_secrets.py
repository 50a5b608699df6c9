"""Adversarial review: no secret leaves through hardenkit (errors, reprs, logs, CLI output).

Every check renders what a user or a tool could see of an error: ``str``, ``repr``, the
args, the whole chain (suppressed contexts too), the traceback, and the traceback *with
its frames' locals* (what ``TracebackException(capture_locals=True)``, pytest ``-l`` and
error trackers show), and asserts that no plaintext, private key or environment value
is in it.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import logging
import os
import pickle
import re
import subprocess
import sys
import traceback
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hardenkit.cli import main
from hardenkit.env import Secret, require_env, sanitize_env, scrub_env, validate_env
from hardenkit.envcrypt import (
    KeyPair,
    _ecies,
    decrypt_env_file,
    decrypted_text,
    encrypt_env_file,
    generate_keypair,
    load_env,
    rotate_env_file,
    seal_env_file,
    set_env_value,
)
from hardenkit.envcrypt._dotenv import Document
from hardenkit.errors import DecryptionError, InvalidEnvError, MissingEnvError
from hardenkit.fileperms import open_secure, write_secure

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

# Sentinels: long, distinctive, never a valid variable name ('+' and '/' are refused).
PLAIN_A = "pa+Zx81-first-plaintext/aaaa"
PLAIN_B = "pb+Zx81-other-plaintext/bbbb"  # same length as PLAIN_A on purpose
ENV_VALUE = "pe+Zx81-environment-value/eeee"
SECRETS = (PLAIN_A, PLAIN_B, ENV_VALUE)


# --------------------------------------------------------------------------- helpers


def rendered(exc: BaseException, *, frame_locals: bool = True) -> str:
    """Everything an exception shows anywhere, locals of its frames included."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args)]
        parts += [repr(v) for v in vars(current).values()] if hasattr(current, "__dict__") else []
        parts += [
            repr(getattr(current, a)) for a in ("object", "names", "path") if hasattr(current, a)
        ]
        parts += traceback.format_exception(current)
        # What capture_locals would show, for every frame but the test's own.
        for frame, _ in traceback.walk_tb(current.__traceback__ if frame_locals else None):
            if frame.f_code.co_filename != __file__:
                parts += [f"{k} = {v!r}" for k, v in frame.f_locals.items()]
        stack += [current.__cause__, current.__context__]  # type: ignore[list-item]
    return "\n".join(parts)


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"secret {secret[:6]}... leaked"


def keys_of(pair: KeyPair) -> tuple[str, str]:
    return pair.private_key, pair.private_key.upper()


def write_env(
    directory: Path, values: dict[str, str], *, name: str = ".env", pair: KeyPair | None = None
) -> tuple[Path, KeyPair, dict[str, str]]:
    """An encrypted env file (and a 0600 .env.keys); returns (path, pair, name -> token)."""
    pair = pair or generate_keypair()
    enc = _ecies.Encryptor(pair.public_key)
    tokens = {k: enc.encrypt(v) for k, v in values.items()}
    public_name, private_name = (
        ("DOTENV_PUBLIC_KEY", "DOTENV_PRIVATE_KEY")
        if name == ".env"
        else (
            f"DOTENV_PUBLIC_KEY_{name[5:].upper()}",
            f"DOTENV_PRIVATE_KEY_{name[5:].upper()}",
        )
    )
    body = f'{public_name}="{pair.public_key}"\n' + "".join(
        f'{k}="{t}"\n' for k, t in tokens.items()
    )
    path = directory / name
    path.write_text(body)
    write_secure(directory / ".env.keys", f"{private_name}={pair.private_key}\n".encode())
    return path, pair, tokens


def replace_token(path: Path, name: str, token: str) -> None:
    text = path.read_text()
    new, count = re.subn(rf'^{name}="[^"\n]*"', f'{name}="{token}"', text, flags=re.MULTILINE)
    assert count == 1
    path.write_text(new)


def blob(token: str) -> bytes:
    return base64.b64decode(token.removeprefix(_ecies.PREFIX))


def token(data: bytes) -> str:
    return _ecies.PREFIX + base64.b64encode(data).decode()


E, N, T = _ecies.EPHEMERAL_LEN, _ecies.NONCE_LEN, _ecies.TAG_LEN


def _compressed(point: bytes) -> bytes:
    y = int.from_bytes(point[33:65], "big")
    return bytes([2 + (y & 1)]) + point[1:33]


def _point(x: int, y: int) -> bytes:
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


# Each takes (token of A, token of B) and returns a damaged token for B.
TAMPERS: dict[str, Callable[[str, str], str]] = {
    "drop-last-char": lambda _a, b: b[:-1],
    "drop-one-block": lambda _a, b: token(blob(b)[:-3]),
    "header-only": lambda _a, b: token(blob(b)[: E + N + T]),
    "shorter-than-header": lambda _a, b: token(blob(b)[: E + N + T - 1]),
    "empty": lambda _a, _b: _ecies.PREFIX,
    "extra-padding": lambda _a, b: b + "=",
    "padding-in-the-middle": lambda _a, b: b[:30] + "=" + b[31:],
    "urlsafe-char": lambda _a, b: b[:30] + "-" + b[31:],
    "whitespace": lambda _a, b: b[:30] + " " + b[30:],
    "newline-escape": lambda _a, b: b[:30] + "\\n" + b[30:],
    "non-ascii": lambda _a, b: b[:30] + "\u00e9" + b[31:],
    "prefix-twice": lambda _a, b: _ecies.PREFIX + b,
    "off-curve-y": lambda _a, b: token(
        _point(int.from_bytes(blob(b)[1:33], "big"), int.from_bytes(blob(b)[33:65], "big") ^ 1)
        + blob(b)[E:]
    ),
    "x-above-p": lambda _a, b: token(_point(_ecies.P + 1, 2) + blob(b)[E:]),
    "point-at-infinity": lambda _a, b: token(b"\x00" * E + blob(b)[E:]),
    "zero-point": lambda _a, b: token(b"\x04" + b"\x00" * 64 + blob(b)[E:]),
    "hybrid-encoding": lambda _a, b: token(b"\x06" + blob(b)[1:]),
    "compressed-ephemeral": lambda _a, b: token(_compressed(blob(b)[:E]) + blob(b)[E:]),
    "compressed-padded": lambda _a, b: token(_compressed(blob(b)[:E]) + b"\0" * 32 + blob(b)[E:]),
    "generator-as-ephemeral": lambda _a, b: token(_point(_ecies.GX, _ecies.GY) + blob(b)[E:]),
    "ephemeral-from-a": lambda a, b: token(blob(a)[:E] + blob(b)[E:]),
    "nonce-from-a": lambda a, b: token(blob(b)[:E] + blob(a)[E : E + N] + blob(b)[E + N :]),
    "tag-from-a": lambda a, b: token(
        blob(b)[: E + N] + blob(a)[E + N : E + N + T] + blob(b)[E + N + T :]
    ),
    "nonce-and-tag-swapped": lambda _a, b: token(
        blob(b)[:E] + blob(b)[E + N : E + N + T] + blob(b)[E : E + N] + blob(b)[E + N + T :]
    ),
    "ciphertext-from-a": lambda a, b: token(blob(b)[: E + N + T] + blob(a)[E + N + T :]),
    "last-bit-flipped": lambda _a, b: token(blob(b)[:-1] + bytes([blob(b)[-1] ^ 1])),
    "appended-byte": lambda _a, b: token(blob(b) + b"\0"),
}


# --------------------------------------------------------------------------- Secret


def test_secret_never_shows_in_any_formatting() -> None:
    s = Secret(ENV_VALUE)

    @dataclasses.dataclass
    class Holder:
        token: Secret[str]

    shown = [
        str(s), repr(s), f"{s}", f"{s!r}", f"{s!a}", f"{s:>40}", "%s" % s, "%r" % (s,),  # noqa: UP031
        "%a" % (s,), format(s, ""), "{} {!r} {!a} {:^9}".format(s, s, s, s),  # noqa: UP031, UP032
        str([s]), repr({"k": s}), repr(Holder(s)), json.dumps({"k": s}, default=str),
        repr(copy.copy(s)), repr(copy.deepcopy({"k": [s]})),
    ]  # fmt: skip
    assert_clean("\n".join(shown), ENV_VALUE)
    assert "***" in shown[0]
    assert s.reveal() == ENV_VALUE


@pytest.mark.parametrize(
    "attempt",
    [
        pickle.dumps,
        lambda s: pickle.dumps([s], protocol=0),
        json.dumps,
        lambda s: s + "x",
        lambda s: s.encode(),
        bytes,
        int,
        len,
        lambda s: s[0],
        lambda s: setattr(s, "_value", "x"),
    ],
)
def test_secret_misuse_raises_without_the_value(attempt: Callable[[Secret[str]], Any]) -> None:
    s = Secret(ENV_VALUE)
    with pytest.raises((TypeError, AttributeError)) as info:
        attempt(s)
    assert_clean(rendered(info.value), ENV_VALUE)
    assert s.reveal() == ENV_VALUE


def test_secret_of_bytes_and_int_stay_masked() -> None:
    for value in (ENV_VALUE.encode(), 4242424242):
        s = Secret(value)
        assert_clean(f"{s} {s!r} {s:}", str(value), repr(value))


# --------------------------------------------------------------------------- env


class _Rejected(Exception):
    pass


def _raises_with_value(value: str) -> bool:
    raise _Rejected(f"bad value {value}")


_RULES: dict[str, Any] = {
    "dict-lookup": {"web": 1}.__getitem__,
    "custom-exception": _raises_with_value,
    "int": int,
    "regex": r"\d+",
    "lookup-error": lambda v: [][len(v)],
    "unicode": lambda v: v.encode("ascii"),
}


@pytest.mark.parametrize("rule", list(_RULES.values()), ids=list(_RULES))
def test_validate_env_never_shows_the_value(rule: Any) -> None:
    env = {"MODE": ENV_VALUE + "\u00e9", "OTHER": PLAIN_A}
    with pytest.raises(InvalidEnvError) as info:
        validate_env({"MODE": rule}, env)
    assert info.value.names == ("MODE",)
    assert_clean(rendered(info.value), ENV_VALUE, PLAIN_A)


def test_validate_env_from_os_environ_keeps_no_values_in_the_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HK_ADV_MODE", ENV_VALUE)
    monkeypatch.setenv("HK_ADV_OTHER", PLAIN_A)
    with pytest.raises(InvalidEnvError) as info:
        validate_env({"HK_ADV_MODE": r"\d+"})
    assert_clean(rendered(info.value), ENV_VALUE, PLAIN_A)
    with pytest.raises(MissingEnvError) as missing:
        require_env("HK_ADV_MODE", "HK_ADV_MISSING")
    assert missing.value.names == ("HK_ADV_MISSING",)
    assert_clean(rendered(missing.value), ENV_VALUE, PLAIN_A)


def test_sanitize_refusal_names_only() -> None:
    with pytest.raises(InvalidEnvError) as info:
        sanitize_env(env={}, set={"LD_PRELOAD": ENV_VALUE, "BASH_ENV": PLAIN_A})
    assert set(info.value.names) == {"LD_PRELOAD", "BASH_ENV"}
    assert_clean(str(info.value) + repr(info.value), ENV_VALUE, PLAIN_A)
    assert scrub_env({"API_TOKEN": ENV_VALUE, "X": "postgres://u:Zx81-pw-42@h/d", "Y": "1"}) == {
        "Y": "1"
    }


# --------------------------------------------------------------------------- KeyPair


def test_keypair_hides_the_private_key_everywhere() -> None:
    pair = generate_keypair()
    shown = [repr(pair), str(pair), f"{pair}", f"{pair!r}", "%s" % (pair,), format(pair, "")]  # noqa: UP031
    shown.append(repr([pair, {"k": pair}]))
    assert_clean("\n".join(shown), *keys_of(pair))
    assert pair.public_key in shown[0]
    other = generate_keypair()
    bad_inputs = [
        {"public_key": other.public_key, "private_key": pair.private_key},
        {"public_key": pair.public_key, "private_key": pair.private_key[:-1] + "g"},
        {"public_key": pair.public_key, "private_key": pair.private_key + "00"},
        {"public_key": "zz" + pair.private_key, "private_key": pair.private_key},
    ]
    for kwargs in bad_inputs:
        with pytest.raises(ValueError, match="invalid KeyPair") as info:
            KeyPair(**kwargs)
        assert_clean(str(info.value) + repr(info.value.args), *keys_of(pair))
        assert_clean("".join(traceback.format_exception(info.value)), *keys_of(pair))


# --------------------------------------------------------------------------- decryption


@pytest.mark.parametrize("variant", list(TAMPERS), ids=list(TAMPERS))
def test_tampered_value_raises_all_or_nothing_without_leaks(tmp_path: Path, variant: str) -> None:
    path, pair, tokens = write_env(tmp_path, {"A_TOKEN": PLAIN_A, "B_TOKEN": PLAIN_B})
    replace_token(path, "B_TOKEN", TAMPERS[variant](tokens["A_TOKEN"], tokens["B_TOKEN"]))
    target = {"KEEP": "1"}
    with pytest.raises(DecryptionError) as info:
        load_env(path, environ=target)
    assert target == {"KEEP": "1"}
    assert info.value.names == ("B_TOKEN",)
    assert info.value.path == str(path)
    assert "B_TOKEN" in str(info.value)
    assert_clean(rendered(info.value), PLAIN_A, PLAIN_B, *keys_of(pair))


def test_tampered_value_leaves_os_environ_untouched(tmp_path: Path) -> None:
    path, _, tokens = write_env(tmp_path, {"HK_ADV_A": PLAIN_A, "HK_ADV_B": PLAIN_B})
    replace_token(path, "HK_ADV_B", TAMPERS["tag-from-a"](tokens["HK_ADV_A"], tokens["HK_ADV_B"]))
    before = dict(os.environ)
    with pytest.raises(DecryptionError):
        load_env(path, override=True)
    assert dict(os.environ) == before


def test_every_public_call_keeps_keys_and_plaintext_out_of_tracebacks(tmp_path: Path) -> None:
    path, pair, tokens = write_env(tmp_path, {"A_TOKEN": PLAIN_A, "B_TOKEN": PLAIN_B})
    replace_token(
        path, "B_TOKEN", TAMPERS["ciphertext-from-a"](tokens["A_TOKEN"], tokens["B_TOKEN"])
    )
    calls: list[Callable[[], object]] = [
        lambda: load_env(path, environ={}),
        lambda: load_env(path, environ={}, private_key=pair.private_key),
        lambda: decrypt_env_file(path),
        lambda: decrypted_text(path),
        lambda: seal_env_file(path),
        lambda: rotate_env_file(path),
        lambda: set_env_value(path, "C_TOKEN", ENV_VALUE, seal=True),
    ]
    for call in calls:
        before = path.read_bytes()
        with pytest.raises(DecryptionError) as info:
            call()
        assert path.read_bytes() == before
        assert_clean(rendered(info.value), PLAIN_A, PLAIN_B, ENV_VALUE, *keys_of(pair))


def test_wrong_key_for_the_file_is_not_shown(tmp_path: Path) -> None:
    path, pair, _ = write_env(tmp_path, {"A_TOKEN": PLAIN_A})
    wrong = generate_keypair()
    for key in (wrong.private_key, "not-a-key-" + ENV_VALUE, wrong.private_key + "," + ENV_VALUE):
        with pytest.raises(DecryptionError) as info:
            load_env(path, environ={}, private_key=key)
        assert_clean(rendered(info.value), PLAIN_A, ENV_VALUE, *keys_of(pair), *keys_of(wrong))


def test_non_utf8_files_do_not_carry_their_content_in_the_error(tmp_path: Path) -> None:
    path, pair, _ = write_env(tmp_path, {"A_TOKEN": PLAIN_A})
    keys = tmp_path / ".env.keys"
    write_secure(keys, keys.read_bytes() + b"# \xff\n")
    with pytest.raises(InvalidEnvError, match=r"\.env\.keys: line 2: not UTF-8") as info:
        load_env(path, environ={})
    assert_clean(rendered(info.value), PLAIN_A, *keys_of(pair))
    keys.unlink()
    path.write_bytes(b"PLAIN_PW=" + ENV_VALUE.encode() + b"\nX=\xff\n")
    with pytest.raises(InvalidEnvError, match=r"line 2: not UTF-8") as info:
        decrypt_env_file(path)
    assert_clean(rendered(info.value), ENV_VALUE)


def test_decrypted_nul_is_refused_before_environ_changes(tmp_path: Path) -> None:
    path, pair, _ = write_env(tmp_path, {"A_TOKEN": PLAIN_A, "B_TOKEN": PLAIN_B + "\0x"})
    target: dict[str, str] = {}
    with pytest.raises(InvalidEnvError) as info:
        load_env(path, environ=target)
    assert target == {}
    assert info.value.names == ("B_TOKEN",)
    assert_clean(rendered(info.value), PLAIN_A, PLAIN_B, *keys_of(pair))


def test_swapped_values_unsealed_is_dotenvx_behaviour_sealed_is_caught(tmp_path: Path) -> None:
    path, pair, tokens = write_env(tmp_path, {"A_TOKEN": PLAIN_A, "B_TOKEN": PLAIN_B})
    replace_token(path, "A_TOKEN", tokens["B_TOKEN"])
    replace_token(path, "B_TOKEN", tokens["A_TOKEN"])
    # Documented limit of the format: the name is not bound into the ciphertext.
    assert load_env(path, environ={})["A_TOKEN"] == PLAIN_B
    seal_env_file(path)
    assert load_env(path, environ={}, require_seal=True)["A_TOKEN"] == PLAIN_B
    sealed = path.read_text()
    for damaged in (
        sealed.replace("A_TOKEN=", "C_TOKEN="),  # moved to another name
        sealed.replace("A_TOKEN=", "#A_TOKEN="),  # removed
        sealed.replace('B_TOKEN="', 'A_TOKEN="', 1).replace('A_TOKEN="', 'B_TOKEN="', 1),
    ):
        assert damaged != sealed
        path.write_text(damaged)
        target: dict[str, str] = {}
        with pytest.raises(DecryptionError) as info:
            load_env(path, environ=target, require_seal=True)
        assert target == {}
        assert_clean(rendered(info.value), PLAIN_A, PLAIN_B, *keys_of(pair))


# --------------------------------------------------------------------------- key names


def test_suffix_keys_are_never_confused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prod = generate_keypair()
    other = generate_keypair()
    path, _, _ = write_env(tmp_path, {"A_TOKEN": PLAIN_A}, name=".env.production", pair=prod)
    (tmp_path / ".env.keys").unlink()
    # The right key under the wrong names is never used...
    monkeypatch.setenv("DOTENV_PRIVATE_KEY_PROD", prod.private_key)
    monkeypatch.setenv("DOTENV_PRIVATE_KEY", prod.private_key)
    with pytest.raises(DecryptionError, match="DOTENV_PRIVATE_KEY_PRODUCTION") as info:
        load_env(path, environ={})
    assert_clean(rendered(info.value), PLAIN_A, *keys_of(prod))
    # ... and a wrong key under the right name is refused by the public key check.
    monkeypatch.setenv("DOTENV_PRIVATE_KEY_PRODUCTION", other.private_key)
    with pytest.raises(DecryptionError, match="does not match") as info:
        load_env(path, environ={})
    assert_clean(rendered(info.value), PLAIN_A, *keys_of(prod), *keys_of(other))
    monkeypatch.setenv("DOTENV_PRIVATE_KEY_PRODUCTION", prod.private_key)
    assert load_env(path, environ={}) == {
        "DOTENV_PUBLIC_KEY_PRODUCTION": prod.public_key,
        "A_TOKEN": PLAIN_A,
    }


def test_dotenv_prod_uses_its_own_key_file_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = generate_keypair()
    path, _, _ = write_env(tmp_path, {"A_TOKEN": PLAIN_A}, name=".env.prod", pair=prod)
    monkeypatch.setenv("DOTENV_PRIVATE_KEY_PRODUCTION", generate_keypair().private_key)
    assert load_env(path, environ={})["A_TOKEN"] == PLAIN_A  # .env.keys: DOTENV_PRIVATE_KEY_PROD


# --------------------------------------------------------------------------- parsing


_FRAGMENTS = st.sampled_from(
    ["A", "B_C", "export ", "=", " ", "'", '"', "\\", "#", "\n", "\r\n", "${X}", "$(id)", "\t",
     "'x'=", "==", "1X=", PLAIN_A, PLAIN_A, ENV_VALUE],
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=14))
def test_strict_parse_errors_never_quote_the_line(parts: list[str]) -> None:
    text = "".join(parts)
    try:
        Document.parse(text, path="fuzz.env", strict=True)
    except InvalidEnvError as exc:
        assert re.match(r"fuzz\.env: line \d+: ", str(exc))  # noqa: PT017 -- not every input fails
        # An internal parser holds the text in its locals; the public calls drop those frames.
        assert_clean(rendered(exc, frame_locals=False), PLAIN_A, ENV_VALUE)


_SECRET_LINES = [
    ENV_VALUE,  # a pasted secret on its own line
    f"{ENV_VALUE}=x",  # a secret where the name goes
    f"API_KEY='{ENV_VALUE}",  # unterminated quote
    f'API_KEY="{ENV_VALUE}',
    f"'API KEY'={ENV_VALUE}",
    f"export  {ENV_VALUE}",
    f"API_KEY={ENV_VALUE}\nAPI_KEY={ENV_VALUE}",  # duplicate
    f"1API={ENV_VALUE}",
]


@pytest.mark.parametrize("line", _SECRET_LINES)
def test_refused_lines_are_named_by_number_only(tmp_path: Path, line: str) -> None:
    path = tmp_path / ".env"
    path.write_text(f"# header\nOK=1\n{line}\n")
    for call in (lambda: load_env(path, environ={}), lambda: encrypt_env_file(path)):
        with pytest.raises(InvalidEnvError, match=r"\.env: line [34]") as info:
            call()
        assert_clean(rendered(info.value), ENV_VALUE)
    assert not (tmp_path / ".env.keys").exists()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_is_caught(position: int, flip: int) -> None:
    pair = _FUZZ_PAIR
    data = bytearray(blob(_FUZZ_TOKEN))
    data[position % len(data)] ^= flip
    decryptor = _ecies.Decryptor(_ecies.parse_private_key(pair.private_key))
    with pytest.raises(DecryptionError) as info:
        _ecies.decrypt_one(decryptor, token(bytes(data)), name="FUZZ", path=None)
    assert_clean(str(info.value), PLAIN_A, *keys_of(pair))


_FUZZ_PAIR = generate_keypair()
_FUZZ_TOKEN = _ecies.Encryptor(_FUZZ_PAIR.public_key).encrypt(PLAIN_A)


# --------------------------------------------------------------------------- logging


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.__dict__!r}")
        if record.exc_info:
            self.lines.append("".join(traceback.format_exception(*record.exc_info)))


@pytest.fixture
def raw_debug_log() -> Iterator[_ListHandler]:
    """Every record of hardenkit's loggers at DEBUG, caught before any RedactingFilter."""
    handler = _ListHandler()
    names = ("hardenkit.env", "hardenkit.envcrypt", "hardenkit.fileperms", "hardenkit")
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg, lg.level, list(lg.filters)) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        for flt in list(lg.filters):
            lg.removeFilter(flt)
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg, level, filters in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)
            for flt in filters:
                lg.addFilter(flt)


def test_debug_logs_of_a_whole_workflow_hold_no_secret(
    tmp_path: Path, raw_debug_log: _ListHandler
) -> None:
    path = tmp_path / ".env.staging"
    path.write_text(f"# app\nDB_PASSWORD={PLAIN_A}\nLEVEL_PLAIN=debug\n")
    created = encrypt_env_file(path)
    assert created is not None
    set_env_value(path, "B_TOKEN", PLAIN_B, seal=True)
    assert load_env(path, environ={}, require_seal=True)["B_TOKEN"] == PLAIN_B
    decrypt_env_file(path, interpolate=True)
    decrypted_text(path)
    new = rotate_env_file(path)
    write_secure(tmp_path / "secret.bin", ENV_VALUE.encode(), mode=0o600)
    with open_secure(tmp_path / "secret.bin") as fh:
        assert fh.read() == ENV_VALUE.encode()
    env = {"LANG": "C", "LD_PRELOAD": ENV_VALUE, "API_TOKEN": ENV_VALUE}
    sanitize_env(["*"], env=env)
    with pytest.raises(InvalidEnvError):
        validate_env({"API_TOKEN": int}, env)
    path.write_text(path.read_text().replace("B_TOKEN=", "C_TOKEN="))
    with pytest.raises(DecryptionError):
        load_env(path, environ={})
    assert raw_debug_log.lines, "nothing was logged: the capture is broken"
    assert_clean("\n".join(raw_debug_log.lines), *SECRETS, *keys_of(created), *keys_of(new))


# --------------------------------------------------------------------------- CLI


def _cli(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line, so that a traceback would show too."""
    return subprocess.run(
        [sys.executable, "-m", "hardenkit", "-vv", *argv],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        check=False,
    )


def test_cli_failures_print_names_never_values(tmp_path: Path) -> None:
    path, pair, tokens = write_env(tmp_path, {"A_TOKEN": PLAIN_A, "B_TOKEN": PLAIN_B})
    replace_token(path, "B_TOKEN", TAMPERS["tag-from-a"](tokens["A_TOKEN"], tokens["B_TOKEN"]))
    runs = [
        _cli("env", "get", "-f", str(path), "A_TOKEN"),
        _cli("env", "decrypt", "--stdout", "-f", str(path)),
        _cli("env", "run", "-f", str(path), "--", "/bin/true"),
        _cli("env", "set", "-f", str(path), "C_TOKEN", "--seal", stdin=ENV_VALUE),
    ]
    keys = tmp_path / ".env.keys"
    write_secure(keys, keys.read_bytes() + b"\xff\n")
    runs.append(_cli("env", "get", "-f", str(path), "A_TOKEN"))
    for proc in runs:
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "B_TOKEN" in proc.stderr or ".env.keys" in proc.stderr
        assert_clean(proc.stdout + proc.stderr, *SECRETS, *keys_of(pair))


def test_cli_success_prints_only_what_was_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, pair, _ = write_env(tmp_path, {"A_TOKEN": PLAIN_A, "B_TOKEN": PLAIN_B})
    assert main(["env", "get", "-f", str(path), "A_TOKEN"]) == 0
    assert capsys.readouterr().out == PLAIN_A + "\n"
    commands = [
        ["env", "set", "-f", str(path), "C_TOKEN", ENV_VALUE],
        ["env", "seal", "-f", str(path)],
        ["env", "run", "-f", str(path), "--", "/bin/true"],
        ["env", "rotate", "-f", str(path)],
        ["env", "encrypt", "-f", str(path)],
        ["env", "decrypt", "-f", str(path)],
    ]
    for argv in commands:
        assert main(argv) == 0, argv
        out = capsys.readouterr()
        assert_clean(out.out + out.err, *SECRETS, *keys_of(pair))
    assert PLAIN_A in path.read_text()  # decrypted in place...
    assert path.stat().st_mode & 0o777 == 0o600  # ... and private


def test_a_write_never_re_seals_tampered_content(tmp_path: Path) -> None:
    path, pair, tokens = write_env(tmp_path, {"ROLE": PLAIN_A, "ADMIN_ROLE": PLAIN_B})
    seal_env_file(path)
    replace_token(path, "ROLE", tokens["ADMIN_ROLE"])
    replace_token(path, "ADMIN_ROLE", tokens["ROLE"])
    tampered = path.read_bytes()
    writes: list[Callable[[], object]] = [
        lambda: set_env_value(path, "UNRELATED", "x"),
        lambda: set_env_value(path, "UNRELATED", "x", encrypt=False),
        lambda: set_env_value(path, "UNRELATED", "x", seal=True),
        lambda: encrypt_env_file(path),
    ]
    for write in writes:
        with pytest.raises(DecryptionError, match="seal") as info:
            write()
        assert path.read_bytes() == tampered
        assert_clean(rendered(info.value), PLAIN_A, PLAIN_B, *keys_of(pair))
    # Dropping the seal is always possible, and says nothing about the content.
    set_env_value(path, "UNRELATED", "x", seal=False)
    assert load_env(path, environ={})["ROLE"] == PLAIN_B
    with pytest.raises(DecryptionError, match="not sealed"):
        load_env(path, environ={}, require_seal=True)
