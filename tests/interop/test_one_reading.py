"""One reading: hardenkit, python-dotenv 1.2.4 and the real dotenvx 1.x and 2.x parsers.

``parse.js`` runs dotenvx's own ``parse()`` (both majors, installed side by side as
``dotenvx1`` and ``dotenvx2``) on many texts in one node process per major.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from hardenkit.envcrypt import (
    decrypt_env_file,
    decrypted_text,
    encrypt_env_file,
    rotate_env_file,
    set_env_value,
)
from hardenkit.envcrypt._dotenv import Document
from hardenkit.errors import InvalidEnvError

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
MAJORS = ("dotenvx1", "dotenvx2")

#: Constructs the two peers read differently, and some they read alike.
EXTRA = {
    "hash_glued": "A=abc#def\n",
    "hash_spaced": "A=abc #def\n",
    "backtick": "A=`x y`\n",
    "backtick_multi": "A=`line1\nline2`\n",
    "sq_backslash_n": "A='a\\nb'\n",
    "sq_double_backslash": "A='a\\\\b'\n",
    "dq_backslash": 'A="a\\\\b"\n',
    "dq_newline_escape": 'A="a\\nb"\n',
    "dollar_braced": "A=${HOME}\n",
    "dollar_bare": "A=$HOME\n",
    "dollar_command": "A=$(echo hi)\n",
    "dollar_single": "A='$(echo hi) $HOME'\n",
    "dollar_braced_single": "A='${HOME}/x'\n",
    "dollar_braced_double": 'A="${HOME}/x"\n',
    "escaped_dollar": 'A="\\$x"\n',
    "bare_name": "no_value_var\nB=1\n",
    "export_bare": "export A\nB=1\n",
    "yaml_colon": "A: b\n",
    "crlf": "A=1\r\nB='x'\r\n",
}


def _node() -> str:
    node = shutil.which("node")
    assert node, "node is needed with the dotenvx packages"
    return node


def dotenvx_parse(major: str, jobs: dict[str, dict[str, str]]) -> dict[str, Any]:
    done = subprocess.run(
        [_node(), str(HERE / "parse.js"), major],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=HERE,
        env={"PATH": "/usr/bin:/bin", "HOME": str(HERE)},
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _python_dotenv(text: str, *, interpolate: bool = False) -> dict[str, str]:
    """python-dotenv's reading; ``interpolate=True`` is its default (dotenv_values/load_dotenv)."""
    values = dotenv_values(stream=io.StringIO(text), interpolate=interpolate)
    return {k: v for k, v in values.items() if v is not None}


def _readings(texts: dict[str, str], key: str | None = None) -> dict[str, dict[str, Any]]:
    jobs = {label: {"src": text, "privateKey": key or ""} for label, text in texts.items()}
    return {major: dotenvx_parse(major, jobs) for major in MAJORS}


def test_strict_accepts_exactly_what_both_peers_read_alike(shared_data: Path) -> None:
    vectors = json.loads((shared_data / "dotenv-vectors.json").read_text())
    texts = {v["name"]: v["input"] for v in vectors} | EXTRA
    readings = _readings(texts)
    accepted = refused = 0
    for label, text in texts.items():
        ours = _python_dotenv(text)
        agree = all(readings[major][label] == ours for major in MAJORS)
        agree = agree and _python_dotenv(text, interpolate=True) == ours  # its default, too
        try:
            doc = Document.parse(text, path="t.env", strict=True)
        except InvalidEnvError as exc:
            message = str(exc)
        else:
            message = ""
        if message:
            refused += 1
            assert "line" in message, label
            if agree:  # refused for a reason of its own: unparseable, duplicate, bad name
                reasons = ("parse", "duplicate", "invalid variable")
                assert any(word in message for word in reasons), (label, message)
            continue
        accepted += 1
        assert agree, (label, ours, readings["dotenvx1"][label], readings["dotenvx2"][label])
        assert doc.values() == ours, label
        assert _python_dotenv(text, interpolate=True) == ours, label  # its default reading
    assert accepted > 40
    assert refused > 20


def _all_read(path: Path, key: str, expected: dict[str, str]) -> None:
    text = path.read_text()
    readings = _readings({"f": text}, key)
    for major in MAJORS:
        got = {k: v for k, v in readings[major]["f"].items() if not k.startswith("DOTENV_")}
        assert got == expected, major
    ours = {k: v for k, v in decrypt_env_file(path).items() if not k.startswith("DOTENV_")}
    assert ours == expected


AWKWARD = {
    "PLAIN": "i17-plain-value",
    "DOLLAR": "$HOME ${X:-d} \\$x",
    "COMMAND": "$(echo ran)",
    "HASH": "abc#def",
    "ESC": "a\\nb",
    "QUOTES": 'it\'s "q" `t`',
    "NL": "line1\nline2",
    "EMPTY": "",
}


def test_every_writer_is_read_alike_by_python_dotenv_and_both_dotenvx_majors(
    tmp_path: Path,
) -> None:
    env = tmp_path / ".env"
    pair = set_env_value(env, "FIRST", "1")
    assert pair is not None
    for name, value in AWKWARD.items():  # set (encrypted)
        set_env_value(env, name, value)
    expected = {"FIRST": "1", **AWKWARD}
    _all_read(env, pair.private_key, expected)

    plain = tmp_path / "plain" / ".env"  # encrypt a plaintext file both peers read alike
    plain.parent.mkdir()
    plain.write_text("A=1\nB='$(echo no) #x'\nC=\"it's\\nfine\"\nD= spaced  # c\n")
    made = encrypt_env_file(plain)
    assert made is not None
    _all_read(
        plain, made.private_key, {"A": "1", "B": "$(echo no) #x", "C": "it's\nfine", "D": "spaced"}
    )

    new = rotate_env_file(env)  # rotate
    _all_read(env, new.private_key, expected)

    back = tmp_path / "back.env"  # decrypt back to plaintext (what both can read)
    # QUOTES: no quoting both read alike; DOLLAR: "${X:-d}" python-dotenv's default reading
    # expands even in single quotes, dotenvx does not.
    unwritable = ("QUOTES", "DOLLAR")
    gone = dict.fromkeys(unwritable, "gone")
    readable = {k: v for k, v in expected.items() if k not in unwritable}
    with pytest.raises(InvalidEnvError, match=r"QUOTES, DOLLAR|DOLLAR, QUOTES"):
        decrypted_text(env)
    for name in unwritable:
        set_env_value(env, name, "gone")
    back.write_text(decrypted_text(env))
    readings = _readings({"b": back.read_text()})
    for major in MAJORS:
        got = {k: v for k, v in readings[major]["b"].items() if not k.startswith("DOTENV_")}
        assert got == readable | gone, major
    for interpolate in (False, True):
        got = _python_dotenv(back.read_text(), interpolate=interpolate)
        assert {k: v for k, v in got.items() if not k.startswith("DOTENV_")} == readable | gone


def test_ciphertext_dotenvx_quotes_in_backticks_is_decrypted(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    pair = set_env_value(env, "A", "i17-backtick-probe")
    assert pair is not None
    text = env.read_text()
    token = text.split("A='", 1)[1].split("'", 1)[0]
    for wrapped in (f"`{token}`", f"{token}#def", f'"{token}"'):
        env.write_text(text.replace(f"'{token}'", wrapped))
        assert decrypt_env_file(env)["A"] == "i17-backtick-probe", wrapped
        assert decrypt_env_file(env, strict=False)["A"] == "i17-backtick-probe", wrapped
        readings = _readings({"x": env.read_text()}, pair.private_key)
        for major in MAJORS:
            assert readings[major]["x"]["A"] == "i17-backtick-probe", (major, wrapped)


#: Fragments for generated texts: whitespace JavaScript and Python disagree on (\x1c-\x1f,
#: \x85 are Python's only; \ufeff, U+2028/U+2029 JavaScript's or its line ends), quotes,
#: escapes, comments.
_FRAGMENTS = (
    *("A", "B", "export ", " ", "\t", "=", "= ", " =", "'", '"', "`", "#", " #", "\\"),
    *("\\n", "\\'", "\\\\", "\n", "\r\n", "\r", "x", "y z", ":", ": ", "A=", "\nB=", "''"),
    *("\u2028", "\u2029", "\u00a0", "\ufeff", "\x1c", "\x1f", "\x85", "\x0b", "\x0c"),
    *("\u3000", "\u200b", "\x00", "\u00e9", "-", "."),
)


def _generated(count: int, seed: int) -> dict[str, str]:
    import random  # noqa: PLC0415

    rng = random.Random(seed)  # noqa: S311 -- reproducible test texts
    texts: dict[str, str] = {}
    while len(texts) < count:
        text = "".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.7:
            text = rng.choice(("A=", "B=", "export A=", "A =", " A=")) + text
        if rng.random() < 0.5:
            text += "\n" + rng.choice(("B=1", "C='q'", "#c", "")) + "\n"
        texts[f"g{len(texts)}"] = text
    return texts


def test_strict_accepts_only_generated_texts_all_three_read_alike() -> None:
    texts = _generated(3000, seed=17)
    accepted = {}
    for label, text in texts.items():
        try:
            accepted[label] = Document.parse(text, path="t.env", strict=True).values()
        except InvalidEnvError:  # noqa: PERF203 -- refusals are expected here
            continue
    assert len(accepted) > 500
    readings = _readings({label: texts[label] for label in accepted})
    for label, ours in accepted.items():
        theirs = _python_dotenv(texts[label])
        assert _python_dotenv(texts[label], interpolate=True) == theirs, texts[label]
        for major in MAJORS:
            assert readings[major][label] == theirs == ours, (texts[label], major)


def test_lenient_encrypt_writes_ciphertexts_dotenvx_decrypts(tmp_path: Path) -> None:
    env = tmp_path / ".env"  # \x1c/\x85 are whitespace to python-dotenv, not to dotenvx
    env.write_bytes("A=i17-lenient-a\x1c\nB=\x85 i17-lenient-b # c\n".encode())
    pair = encrypt_env_file(env, strict=False)
    assert pair is not None
    expected = {"A": "i17-lenient-a", "B": "i17-lenient-b"}
    _all_read(env, pair.private_key, expected)
