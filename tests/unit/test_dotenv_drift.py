"""envcrypt/_grammar.py copies python-dotenv's grammar: fail when the installed one drifts.

hardenkit reads bindings through python-dotenv's ``parse_stream`` and uses its own copy
of the grammar only to find where a value sits, for rewriting. Both must agree with the
python-dotenv that is installed (pyproject pins ``>=1.2.4,<2``): the same regexes, the
same values for every plaintext file of the corpus, and value spans that python-dotenv
itself reads back as the same value.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

import pytest
from dotenv import dotenv_values, parser as dp

from hardenkit.envcrypt import _dotenv as ours, _grammar

if TYPE_CHECKING:
    from pathlib import Path

#: Our copy -> python-dotenv's original.
COPIED = {
    "_NEWLINE": "_newline",
    "_MULTILINE_WS": "_multiline_whitespace",
    "_WS": "_whitespace",
    "_EXPORT": "_export",
    "_SINGLE_QUOTED_KEY": "_single_quoted_key",
    "_UNQUOTED_KEY": "_unquoted_key",
    "_EQUAL_SIGN": "_equal_sign",
    "_SINGLE_QUOTED_VALUE": "_single_quoted_value",
    "_DOUBLE_QUOTED_VALUE": "_double_quoted_value",
    "_UNQUOTED_VALUE": "_unquoted_value",
}

#: Lines where python-dotenv versions have differed, plus the shapes a rewrite meets.
EXTRA = (
    "KEY= # comment\n",
    "KEY=  # comment\nB=c\n",
    "KEY=#not-a-comment\n",
    "\ufeffKEY=bom\n",
    'a="b\\\\"\nc=d\n',
    "a='b\\\\'\nc=d\n",
    'a="multi\nline" # c\n',
    "export  a=b # c\r\nb='x y'\r",
    "  'quoted key' = v  \n",
    "a\nb=\nc= \n",
    "a=b c # d\n#e\n\n\nf=g",
    'a="unterminated\nb=c\n',
    "=novalue\nk=v\n",
    "a=b\\\nc\n",
    'a="b\\\'c\\"d\\n"\n',
)


def _corpus(shared_data: Path) -> list[str]:
    vectors = json.loads((shared_data / "dotenv-vectors.json").read_text(encoding="utf-8"))
    return [v["input"] for v in vectors] + list(EXTRA)


@pytest.mark.parametrize(("mine", "theirs"), sorted(COPIED.items()))
def test_copied_regexes_are_python_dotenvs(mine: str, theirs: str) -> None:
    copy, original = getattr(_grammar, mine), getattr(dp, theirs)
    assert (copy.pattern, copy.flags) == (original.pattern, original.flags)


def test_inline_comment_rule_is_python_dotenvs() -> None:
    # parse_unquoted_value strips r"\s+#.*" then trailing space: our span must end there too.
    for raw in ("v # c", "v#c", "v  #c # d", "v\t# c", "# c", "v \t "):
        reader = dp.Reader(io.StringIO(raw))
        assert dp.parse_unquoted_value(reader) == _grammar._INLINE_COMMENT.sub("", raw).rstrip()


def test_values_are_python_dotenvs_for_every_file_of_the_corpus(shared_data: Path) -> None:
    for text in _corpus(shared_data):
        doc = ours.Document.parse(text, path="corpus", strict=False)
        theirs = dotenv_values(stream=io.StringIO(text), interpolate=False)
        assert doc.values() == {k: v for k, v in theirs.items() if v is not None}, repr(text)


def test_value_spans_read_back_as_the_value_through_python_dotenv(shared_data: Path) -> None:
    checked = 0
    for text in _corpus(shared_data):
        doc = ours.Document.parse(text, path="corpus", strict=False)
        for entry in doc.entries:
            if entry.name is None or entry.value is None or entry.span is None:
                continue
            span = entry.span
            raw = entry.text[span[0] : span[1]]
            assert dp.parse_value(dp.Reader(io.StringIO(raw))) == entry.value, repr(entry.text)
            assert entry.quote == (raw[0] if raw[:1] in ("'", '"') else "")
            # Replacing exactly the span changes this value and nothing else.
            new = entry.text[: span[0]] + "'SENTINEL'" + entry.text[span[1] :]
            (binding,) = [b for b in dp.parse_stream(io.StringIO(new)) if b.key is not None]
            assert (binding.key, binding.value) == (entry.name, "SENTINEL"), repr(entry.text)
            checked += 1
    assert checked > 50
