"""``${...}`` in plaintext: python-dotenv's default reading expands it in any quotes.

python-dotenv (``dotenv_values``/``load_dotenv``, ``interpolate=True`` by default) keeps no
quote information and expands ``${NAME}`` even in single quotes; dotenvx never expands in
single quotes. No quoting carries such a value alike, so strict mode refuses it and the
writers refuse to write it in plaintext (encrypted, it has no ``$``).
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING

import pytest
from dotenv import dotenv_values

from hardenkit.cli import main
from hardenkit.envcrypt import decrypt_env_file, decrypted_text, set_env_value
from hardenkit.envcrypt._dotenv import Document, dotenvx_bindings, format_plain
from hardenkit.errors import InvalidEnvError

if TYPE_CHECKING:
    from pathlib import Path

PROBE = "i17b-probe"


def test_python_dotenv_expands_braces_in_single_quotes_and_dotenvx_does_not() -> None:
    """The premise, checked on the installed python-dotenv and hardenkit's dotenvx model."""
    text = "A='${HOME}/x'\n"
    assert dotenv_values(stream=io.StringIO(text))["A"] == f"{os.environ['HOME']}/x"
    assert [b.value for b in dotenvx_bindings(text)] == ["${HOME}/x"]


@pytest.mark.parametrize("interpolate", [False, True])
@pytest.mark.parametrize(
    "line", [f"A='${{HOME}}/{PROBE}'", f"A='x ${{UNSET_{PROBE[:4]}:-d}}'", "A='${'"]
)
def test_strict_refuses_braces_in_single_quotes(line: str, interpolate: bool) -> None:
    with pytest.raises(InvalidEnvError, match=r"line 1: .*'\$\{' in a single-quoted value") as e:
        Document.parse(line + "\n", path="t.env", strict=True, interpolate=interpolate)
    assert PROBE not in str(e.value)
    assert "encrypt" in str(e.value)
    assert "strict=False" in str(e.value)
    lenient = Document.parse(line + "\n", path="t.env", strict=False).values()
    assert lenient == {"A": line[3:-1]}


def test_strict_keeps_accepting_what_every_peer_reads_alike() -> None:
    accepted = "A='$HOME $(x)'\nB=${UNSET_I17B}\nC=\"${UNSET_I17B:-d}\"\n"
    doc = Document.parse(accepted, path="t.env", strict=True, interpolate=True)
    assert doc.values()["A"] == "$HOME $(x)"
    with pytest.raises(InvalidEnvError, match="not single-quoted"):
        Document.parse("B=${UNSET_I17B}\n", path="t.env", strict=True)  # no interpolation


@pytest.mark.parametrize("value", ["${HOME}/x", "a ${B} c", "x${", "it's ${X}"])
def test_format_plain_refuses_braces(value: str) -> None:
    with pytest.raises(ValueError, match=r"'\$\{'") as e:
        format_plain(value)
    assert value not in str(e.value)


def test_writers_refuse_a_plain_value_with_braces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tmp_path / ".env"
    with pytest.raises(InvalidEnvError, match="URL"):
        set_env_value(env, "URL", "${HOME}/" + PROBE, encrypt=False)
    assert not env.exists() or PROBE not in env.read_text()
    set_env_value(env, "URL", "${HOME}/" + PROBE)  # encrypted: fine
    assert decrypt_env_file(env)["URL"] == "${HOME}/" + PROBE
    with pytest.raises(InvalidEnvError, match="URL") as e:
        decrypted_text(env)
    assert PROBE not in str(e.value)
    before = env.read_text()
    assert main(["env", "decrypt", "-f", str(env)]) != 0
    out = capsys.readouterr()
    assert PROBE not in out.out + out.err
    assert env.read_text() == before  # left encrypted
