"""The .env grammar (python-dotenv's), strict mode, and rewriting, against the truth table."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import pytest
from dotenv import dotenv_values
from hypothesis import given, settings, strategies as st

from hardenkit.envcrypt._dotenv import Document, dotenvx_bindings, format_plain, is_valid_name
from hardenkit.errors import InvalidEnvError

if TYPE_CHECKING:
    from pathlib import Path


def _vectors(shared_data: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((shared_data / "dotenv-vectors.json").read_text())
    assert len(data) > 50
    return data


def _last_wins(doc: Document) -> dict[str, str | None]:
    return dict(doc.pairs())


def test_truth_table_lenient(shared_data: Path) -> None:
    for vector in _vectors(shared_data):
        doc = Document.parse(vector["input"], path="t.env", strict=False)
        assert _last_wins(doc) == vector["expected"], vector["name"]
        errors = [e.line for e in doc.entries if e.error]
        assert errors == vector.get("warn_lines", []), vector["name"]
        assert doc.text() == vector["input"], vector["name"]  # the texts add up to the file


def _dotenvx_model(text: str) -> dict[str, str]:
    return {b.name: b.value for b in dotenvx_bindings(text)}


def _strict_refuses(vector: dict[str, Any]) -> bool:
    names = [n for n, _ in Document.parse(vector["input"], path="t", strict=False).pairs()]
    duplicated = len(names) != len(set(names))
    expected = {k: v for k, v in vector["expected"].items() if v is not None}
    dollar = any("$" in v for v in expected.values())
    return bool(
        vector.get("warn_lines")
        or duplicated
        or any(not is_valid_name(n) for n in names)
        or _dotenvx_model(vector["input"]) != expected
        or (dollar and "='" not in vector["input"])
    )


def test_truth_table_strict(shared_data: Path) -> None:
    refused = 0
    for vector in _vectors(shared_data):
        if _strict_refuses(vector):
            with pytest.raises(InvalidEnvError, match=r"t\.env: line \d+") as info:
                Document.parse(vector["input"], path="t.env", strict=True)
            for value in vector["expected"].values():
                if value and len(value) > 3:
                    assert value not in str(info.value), vector["name"]
            if vector.get("warn_lines"):
                assert f"line {vector['warn_lines'][0]}:" in str(info.value)
            refused += 1
        else:
            doc = Document.parse(vector["input"], path="t.env", strict=True)
            expected = {k: v for k, v in vector["expected"].items() if v is not None}
            assert doc.values() == expected, vector["name"]
    assert refused >= 10


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("A=1\nB=2\nA=3\n", 3, "duplicate variable A (first set on line 1)"),
        ("A=1\n\n\n  B='open\n", 4, "cannot parse"),
        ("A=1\nB=abc#secret\n", 2, "'#' right after an unquoted value"),
        ("A=1\nB=`secret`\n", 2, "backtick quotes"),
        ('A=1\nB="se\\\\cret"\n', 2, "a backslash escape in double quotes"),
        ("A=1\nB=$(secret)\n", 2, "'$' in a value that is not single-quoted"),
        ("A=1\n'a b'=secret-ish\n", 2, "invalid variable name"),
        ("A=1\nB: yaml\n", 2, "cannot parse"),
    ],
)
def test_strict_errors_name_the_line_not_the_value(text: str, line: int, fragment: str) -> None:
    with pytest.raises(InvalidEnvError) as info:
        Document.parse(text, path="/app/.env", strict=True)
    message = str(info.value)
    assert f"/app/.env: line {line}:" in message
    assert fragment in message
    for leaked in ("open", "yaml", "secret", "abcdef"):
        assert leaked not in message


def test_bom_and_crlf_survive_a_rewrite() -> None:
    doc = Document.parse("\ufeffA=1\r\n# c\r\nB='x'\r\n", path="t", strict=True)
    index = doc.index("B")
    assert index is not None
    doc.replace(index, "'y'", "y")
    assert doc.render() == "\ufeffA=1\r\n# c\r\nB='y'\r\n"


def test_append_adds_missing_newline() -> None:
    doc = Document.parse("A=1", path="t", strict=True)
    doc.append("B", "2", "2")
    assert doc.render() == "A=1\nB=2\n"


def test_render_refuses_a_rewrite_that_changes_meaning() -> None:
    doc = Document.parse("A=1\nB=2\n", path="t", strict=True)
    doc.replace(0, "x\nB=3", "x")  # would inject a new binding
    with pytest.raises(InvalidEnvError, match="read back"):
        doc.render()


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_characters="\0")))
def test_format_plain_reads_back_the_same_in_python_dotenv_and_dotenvx(value: str) -> None:
    try:
        raw = format_plain(value)
    except ValueError:
        # Only when no quoting works for both: "${" (python-dotenv's default reading
        # expands it in any quotes), or single quotes are out (a ', a CR, a trailing or
        # doubled backslash) and so are double quotes (", backslash, $, `, tab).
        if "${" in value:
            return
        assert "'" in value or "\r" in value or value.endswith("\\") or "\\\\" in value
        assert any(c in value for c in '"\\$`\t')
        return
    text = f"K={raw}\nNEXT=1\n"
    parsed = dotenv_values(stream=io.StringIO(text), interpolate=False)
    assert parsed == {"K": value, "NEXT": "1"}
    assert dotenv_values(stream=io.StringIO(text)) == parsed  # its default reading, too
    assert _dotenvx_model(text) == {"K": value, "NEXT": "1"}
    assert "$" not in value or raw.startswith("'") or _BARE_OK(raw)
    assert Document.parse(text, path="t", strict=True).values() == {"K": value, "NEXT": "1"}


def _BARE_OK(raw: str) -> bool:  # noqa: N802
    return "$" not in raw


def test_bare_names_are_accepted_and_absent() -> None:
    doc = Document.parse("A=1\nno_value_var\nexport B\n", path="t", strict=True)
    assert doc.values() == {"A": "1"}


def test_ciphertext_in_backticks_or_before_a_comment_is_the_ciphertext() -> None:
    token = "encrypted:QUJD"  # noqa: S105 -- not a secret
    for raw in (f"`{token}`", f"{token}#def", f"'{token}'", f'"{token}"', f"{token} # c"):
        for strict in (True, False):
            doc = Document.parse(f"A={raw}\n", path="t", strict=strict)
            assert doc.values() == {"A": token}, raw


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=80))
def test_parser_never_raises_anything_but_invalid_env_error(text: str) -> None:
    outcome = _parse_or_error(text)
    if isinstance(outcome, InvalidEnvError):
        assert "line" in str(outcome)
    else:
        assert outcome.text() == text


def _parse_or_error(text: str) -> Document | InvalidEnvError:
    try:
        return Document.parse(text, path="t", strict=True)
    except InvalidEnvError as exc:
        return exc


@pytest.mark.parametrize(
    ("text", "dotenvx_reads"),
    [
        ("A=x\x1f\n", "x\x1f"),  # Python's whitespace, not JavaScript's: rstrip took it
        ("A=x\x85#c\n", "x\x85"),
        ("A= \x1c\n", "\x1c"),
        ("A=x\ufeff\n", "x"),  # JavaScript's whitespace, not Python's: trim takes it
        ("A=\ufeffx\n", "x"),
        ('A=y \u2029""\n', "y \u2029"),  # U+2029 ends a line for dotenvx's quote removal
    ],
)
def test_strict_refuses_whitespace_the_two_languages_disagree_on(
    text: str, dotenvx_reads: str
) -> None:
    assert _dotenvx_model(text) == {"A": dotenvx_reads}  # what dotenvx 1.75/2.38 read
    with pytest.raises(InvalidEnvError, match="read A differently"):
        Document.parse(text, path="t", strict=True)


@pytest.mark.parametrize("line", ["A=x\x1c\n", "A=\x85 x # c\n", "A='x'\x1f\r\n"])
def test_a_rewritten_value_reads_as_written_in_dotenvx_whatever_surrounds_it(line: str) -> None:
    doc = Document.parse("B=1\n" + line, path="t", strict=False)
    index = doc.index("A")
    assert index is not None
    doc.replace(index, "'encrypted:QUJD'", "encrypted:QUJD")
    text = doc.render()
    assert _dotenvx_model(text) == {"B": "1", "A": "encrypted:QUJD"}
    assert Document.parse(text, path="t", strict=True).values() == {
        "B": "1",
        "A": "encrypted:QUJD",
    }
