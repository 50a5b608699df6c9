"""Strict .env parsing on python-dotenv's grammar, and value rewriting that keeps the rest.

python-dotenv's ``parse_stream`` yields one binding per key line, comment, blank run or
unparseable line, each with its original text; concatenated they are the file (minus a
BOM). A rewrite replaces the value span inside one binding's text and leaves every other
byte alone, so comments, order, quoting and line endings survive. Every rewrite is
re-parsed and compared before it is written (see ``Document.render``).

The copied grammar and the quoting rules are in ``_grammar``, dotenvx's reading in
``_dotenvx``; their names used across envcrypt are re-exported here.
"""

from __future__ import annotations

import io

from hardenkit.envcrypt._dotenvx import _canonical_if_misread, _one_reading, dotenvx_bindings
from hardenkit.envcrypt._grammar import (
    _NEWLINE,
    Entry,
    _leading_newlines,
    format_plain,
    format_python,
    is_valid_name,
)
from hardenkit.errors import InvalidEnvError

__all__ = [
    "Document",
    "Entry",
    "dotenvx_bindings",
    "format_plain",
    "format_python",
    "is_valid_name",
]


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
    def parse(
        cls, text: str, *, path: str, strict: bool = True, interpolate: bool = False
    ) -> Document:
        """Parse ``text``; strict mode refuses bad lines, duplicates and odd names.

        ``interpolate`` says the values will be interpolated: strict mode then accepts the
        ``${NAME}`` forms every peer expands alike.

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
        _one_reading(text, entries, path=path, strict=strict, interpolate=interpolate)
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
        if entry.name is not None:
            text = _canonical_if_misread(entry.text, text, entry.name, raw)
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
