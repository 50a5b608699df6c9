"""python-dotenv's grammar, copied: where a value sits in a binding, and how to quote one.

:class:`Entry` is one binding as python-dotenv's ``parse_stream`` yields it; ``_locate`` finds
its value span with python-dotenv's own regexes (tests/unit/test_dotenv_drift.py fails when
the installed python-dotenv's differ). ``format_plain`` quotes a value so that python-dotenv
and dotenvx both read it exactly. :mod:`hardenkit.envcrypt._dotenvx` is the other peer's
reading; :mod:`hardenkit.envcrypt._dotenv` the rewritable document built on both.
"""

from __future__ import annotations

import re

from hardenkit._dataclass import dataclass

__all__ = ["Entry", "format_plain", "format_python", "is_valid_name"]

# The grammar of dotenv/parser.py (python-dotenv 1.x), used only to find where a value
# sits inside a binding that parse_stream already accepted.
_NEWLINE = re.compile(r"(\r\n|\n|\r)")
_MULTILINE_WS = re.compile(r"\s*", re.MULTILINE)
_WS = re.compile(r"[^\S\r\n]*")
_EXPORT = re.compile(r"(?:export[^\S\r\n]+)?")
_SINGLE_QUOTED_KEY = re.compile(r"'([^']+)'")
_UNQUOTED_KEY = re.compile(r"([^=\#\s]+)")
_EQUAL_SIGN = re.compile(r"(=[^\S\r\n]*)")
_SINGLE_QUOTED_VALUE = re.compile(r"'((?:\\.|[^'\\])*)'", re.DOTALL)
_DOUBLE_QUOTED_VALUE = re.compile(r'"((?:\\.|[^"\\])*)"', re.DOTALL)
_UNQUOTED_VALUE = re.compile(r"([^\r\n]*)")
_INLINE_COMMENT = re.compile(r"\s+#.*")

#: Names strict mode accepts: what dotenvx (``[\w.-]+``) and a POSIX environment both take.
_VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
#: Plain values that need no quotes in either python-dotenv or dotenvx.
_BARE = re.compile(r"[A-Za-z0-9_./:@%+,-][A-Za-z0-9_./:@%+,=-]*")


def is_valid_name(name: str) -> bool:
    """Return whether ``name`` is a variable name strict mode accepts.

    Examples:
        >>> is_valid_name("DATABASE_URL"), is_valid_name("a b"), is_valid_name("1X")
        (True, False, False)
    """
    return _VALID_NAME.fullmatch(name) is not None


def format_plain(value: str) -> str:
    r"""Quote ``value`` so that python-dotenv and dotenvx (1.x and 2.x) both read it exactly.

    Bare when safe; else single quotes (read literally by both, never expanded by
    dotenvx) when there is no quote, CR, trailing backslash, ``\\`` or ``\'``; else
    double quotes when there is no ``"``, backslash, ``$`` or tab to escape (``\n`` and ``\r``
    are the escapes both decode). A value with ``${`` has no such quoting: python-dotenv's
    default reading (``interpolate=True``) expands ``${...}`` in any quotes, dotenvx never
    in single quotes.

    Examples:
        >>> format_plain("abc"), format_plain("a b#c"), format_plain("a\\nb")
        ('abc', "'a b#c'", "'a\\nb'")
        >>> format_plain("it's\nfine")
        '"it\'s\\nfine"'
        >>> format_plain("it's \\ \"x\"")
        Traceback (most recent call last):
        ...
        ValueError: no quoting that python-dotenv and dotenvx both read as this value ...
        >>> format_plain("${HOME}/x")
        Traceback (most recent call last):
        ...
        ValueError: no quoting that python-dotenv and dotenvx both read as this value ...

    Raises:
        ValueError: no such quoting exists (the message names the characters, not the value).
    """
    if "${" in value:
        raise ValueError(
            "no quoting that python-dotenv and dotenvx both read as this value ('${': "
            "python-dotenv's default reading expands ${...} even in single quotes, dotenvx "
            "does not); encrypt it"
        )
    if _BARE.fullmatch(value):
        return value
    if "'" not in value and "\r" not in value and "\\\\" not in value and not value.endswith("\\"):
        return f"'{value}'"
    if not any(c in value for c in ('"', "\\", "$", "`", "\t")):
        return '"' + value.replace("\n", "\\n").replace("\r", "\\r") + '"'
    raise ValueError(
        "no quoting that python-dotenv and dotenvx both read as this value (single quotes "
        "are ruled out by a quote, CR or backslash, double quotes by a quote, backslash, '$', "
        "backtick or tab); encrypt it"
    )


def format_python(value: str) -> str:
    r"""Quote ``value`` for python-dotenv alone (double quotes, its escapes).

    Examples:
        >>> format_python('it\'s "x"')
        '"it\'s \\"x\\""'
    """
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One binding: a key line, a comment, blank space, or an unparseable line."""

    text: str
    name: str | None
    value: str | None = None
    line: int
    error: bool = False

    @property
    def span(self) -> tuple[int, int] | None:
        """Where the value's source text (quotes included) sits in ``text``; None without ``=``."""
        return _locate(self.text)[1]

    @property
    def quote(self) -> str:
        """The quote character around the value in the file ('' when unquoted)."""
        return _locate(self.text)[2]

    def __repr__(self) -> str:  # never show a value
        return f"Entry(name={self.name!r}, line={self.line}, error={self.error})"


def _leading_newlines(text: str) -> int:
    stripped = len(text) - len(text.lstrip())
    return len(_NEWLINE.findall(text, 0, stripped)) if stripped else 0


def _locate(text: str) -> tuple[int, tuple[int, int] | None, str]:  # noqa: PLR0911
    """Return (leading newlines, value span, quote char) of a binding python-dotenv accepted."""
    match = _MULTILINE_WS.match(text)
    pos = match.end() if match else 0
    newlines = len(_NEWLINE.findall(text, 0, pos))
    match = _EXPORT.match(text, pos)
    pos = match.end() if match else pos
    key_re = _SINGLE_QUOTED_KEY if text.startswith("'", pos) else _UNQUOTED_KEY
    match = key_re.match(text, pos)
    if match is None or text.startswith("#", pos):
        return newlines, None, ""
    pos = match.end()
    match = _WS.match(text, pos)
    pos = match.end() if match else pos
    if not text.startswith("=", pos):
        return newlines, None, ""
    match = _EQUAL_SIGN.match(text, pos)
    if match is None:  # pragma: no cover - '=' always matches
        return newlines, None, ""
    pos = match.end()
    char = text[pos : pos + 1]
    if len(match.group(1)) > 1 and char == "#":
        return newlines, (pos, pos), ""
    if char in ("'", '"'):
        value_re = _SINGLE_QUOTED_VALUE if char == "'" else _DOUBLE_QUOTED_VALUE
        match = value_re.match(text, pos)
        if match is None:  # pragma: no cover - parse_stream accepted this binding
            raise ValueError("quoted value not found")
        return newlines, (pos, match.end()), char
    if char in ("", "\n", "\r"):
        return newlines, (pos, pos), ""
    match = _UNQUOTED_VALUE.match(text, pos)
    part = match.group(1) if match else ""
    kept = _INLINE_COMMENT.sub("", part).rstrip()
    return newlines, (pos, pos + len(kept)), ""
