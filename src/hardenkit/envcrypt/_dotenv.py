"""Strict .env parsing on python-dotenv's grammar, and value rewriting that keeps the rest.

python-dotenv's ``parse_stream`` yields one binding per key line, comment, blank run or
unparseable line, each with its original text; concatenated they are the file (minus a
BOM). A rewrite replaces the value span inside one binding's text and leaves every other
byte alone, so comments, order, quoting and line endings survive. Every rewrite is
re-parsed and compared before it is written (see ``Document.render``).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from hardenkit.errors import InvalidEnvError

__all__ = ["Document", "Entry", "format_plain", "is_valid_name"]

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
    r"""Quote ``value`` so python-dotenv reads it back exactly (and dotenvx too when it can).

    Bare when safe, single quotes when there is no quote, backslash or CR, otherwise
    double quotes with python-dotenv's escapes (dotenvx does not undo ``\\`` or ``\"``).

    Examples:
        >>> format_plain("abc"), format_plain("a b#c"), format_plain('it\'s "x"')
        ('abc', "'a b#c'", '"it\'s \\"x\\""')
    """
    if _BARE.fullmatch(value):
        return value
    if "'" not in value and "\\" not in value and "\r" not in value:
        return f"'{value}'"
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


class Document:
    """A parsed .env file that can be rewritten value by value."""

    __slots__ = ("bom", "entries", "path")

    def __init__(self, entries: list[Entry], *, path: str, bom: bool = False) -> None:
        self.entries = entries
        self.path = path
        self.bom = bom

    def __repr__(self) -> str:
        return f"Document(path={self.path!r}, entries={len(self.entries)})"

    @classmethod
    def parse(cls, text: str, *, path: str, strict: bool = True) -> Document:
        """Parse ``text``; strict mode refuses bad lines, duplicates and odd names.

        Raises:
            InvalidEnvError: naming the file and line, never the line's text or value.
        """
        from dotenv.parser import parse_stream  # noqa: PLC0415 -- heavy import on first use

        bom = text.startswith("\ufeff")
        entries: list[Entry] = []
        seen: dict[str, int] = {}
        for binding in parse_stream(io.StringIO(text)):
            original = binding.original.string
            if binding.error:
                line = binding.original.line + _leading_newlines(original)
                entry = Entry(text=original, name=None, line=line, error=True)
                if strict:
                    raise InvalidEnvError(f"{path}: line {entry.line}: cannot parse this line")
                entries.append(entry)
                continue
            lead = _leading_newlines(original)
            line = binding.original.line + lead
            name = binding.key
            if name is not None and strict:
                if not is_valid_name(name):
                    raise InvalidEnvError(
                        f"{path}: line {line}: invalid variable name "
                        "(letters, digits, '_', '.', '-'; not starting with a digit)"
                    )
                if binding.value is None:
                    # Not named: a pasted secret on its own line parses as a bare name.
                    raise InvalidEnvError(f"{path}: line {line}: a line without '=' (no value)")
                if name in seen:
                    raise InvalidEnvError(
                        f"{path}: line {line}: duplicate variable {name} "
                        f"(first set on line {seen[name]})",
                        names=(name,),
                    )
            if name is not None:
                seen.setdefault(name, line)
            entries.append(
                Entry(
                    text=original,
                    name=name,
                    value=binding.value,
                    line=line,
                )
            )
        return cls(entries, path=path, bom=bom)

    def pairs(self) -> list[tuple[str, str | None]]:
        """Every (name, value) in file order, duplicates included."""
        return [(e.name, e.value) for e in self.entries if e.name is not None]

    def values(self) -> dict[str, str]:
        """Name -> value, the last duplicate winning, names without a value left out."""
        return {name: value for name, value in self.pairs() if value is not None}

    def text(self) -> str:
        body = "".join(e.text for e in self.entries)
        return ("\ufeff" + body) if self.bom else body

    def index(self, name: str) -> int | None:
        """Index of the last entry for ``name``."""
        for i in range(len(self.entries) - 1, -1, -1):
            if self.entries[i].name == name:
                return i
        return None

    def replace(self, i: int, raw: str, value: str) -> None:
        """Put source text ``raw`` (quotes included) where entry ``i``'s value is."""
        entry = self.entries[i]
        span = entry.span
        if span is None:
            # A name without '=': rewrite the line as NAME=raw, keeping what followed it.
            stripped = entry.text.rstrip("\r\n")
            ending = entry.text[len(stripped) :] or "\n"
            self.entries[i] = Entry(
                text=f"{entry.name}={raw}{ending}",
                name=entry.name,
                value=value,
                line=entry.line,
            )
            return
        start, end = span
        text = entry.text[:start] + raw + entry.text[end:]
        # An empty value right before `# comment` would swallow it: keep a space.
        if start == end and entry.text[end : end + 1] == "#":
            text = entry.text[:start] + raw + " " + entry.text[end:]
        self.entries[i] = Entry(text=text, name=entry.name, value=value, line=entry.line)

    def append(self, name: str, raw: str, value: str) -> None:
        """Add ``NAME=raw`` at the end (after a newline if the file lacks a final one)."""
        if self.entries and not self.entries[-1].text.endswith(("\n", "\r")):
            last = self.entries[-1]
            self.entries[-1] = Entry(
                text=last.text + "\n",
                name=last.name,
                value=last.value,
                line=last.line,
                error=last.error,
            )
        line = sum(len(_NEWLINE.findall(e.text)) for e in self.entries) + 1
        self.entries.append(
            Entry(
                text=f"{name}={raw}\n",
                name=name,
                value=value,
                line=line,
            )
        )

    def render(self) -> str:
        """The file text, after checking that python-dotenv reads back what we meant.

        Raises:
            InvalidEnvError: a rewrite would change a value (nothing is written).
        """
        text = self.text()
        again = Document.parse(text, path=self.path, strict=False)
        if again.pairs() != self.pairs():
            raise InvalidEnvError(
                f"{self.path}: refusing to write a file whose values would not read back unchanged"
            )
        return text
