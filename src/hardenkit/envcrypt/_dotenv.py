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

__all__ = [
    "Document",
    "Entry",
    "dotenvx_bindings",
    "format_plain",
    "format_python",
    "is_valid_name",
]

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


#: JavaScript's ``\s`` and ``String.prototype.trim`` set. Python's differs both ways: it
#: also has \x1c-\x1f and \x85, and lacks \ufeff; reading dotenvx with Python's ``\s``
#: let strict mode accept ``A=x\x1f`` (python-dotenv: 'x', dotenvx: 'x\x1f').
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_TRIM = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000\ufeff")
)
#: JavaScript's multiline ``^``/``$`` and ``.`` also stop at U+2028 and U+2029.
_JS_BOL = r"(?:^|(?<=[\u2028\u2029]))"
_JS_EOL = r"(?:$|(?=[\u2028\u2029]))"
_JS_DOT = r"[^\n\r\u2028\u2029]"

#: dotenvx's line grammar (``Parse.LINE`` of dotenvx 1.x, from dotenv), run over the whole
#: file after CRLF/CR became LF, with JavaScript's ``\s``, ``^``, ``$`` and ``.``. JS ``\w``
#: is ASCII.
_DOTENVX_LINE = re.compile(
    (
        r"JSBOL\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)"
        r"(\s*'(?:\\'|[^'])*'|\s*\"(?:\\\"|[^\"])*\"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?"
        r"\s*(?:#JSDOT*)?JSEOL"
    )
    .replace(r"\s", f"[{_JS_SPACE}]")
    .replace("JSBOL", _JS_BOL)
    .replace("JSEOL", _JS_EOL)
    .replace("JSDOT", _JS_DOT),
    re.MULTILINE | re.ASCII,
)
_DOTENVX_UNQUOTE = re.compile(_JS_BOL + r"(['\"`])([\s\S]*)\1" + _JS_EOL, re.MULTILINE)
#: What dotenvx expands or runs in a value that is not single-quoted.
_DOLLAR = re.compile(r"\$[A-Za-z_{(]|\\\$")
#: What python-dotenv (interpolate=True), dotenvx and hardenkit's interpolation all expand
#: alike: ``${NAME}`` and ``${NAME:-default}`` with a plain default, for a NAME the file
#: does not set (each peer orders file and environment, and forward references, its own
#: way). Private-key names are left out: hardenkit never reads them, dotenvx would.
_EXPANDED_ALIKE = re.compile(
    r"\$\{(?!DOTENV_PRIVATE_KEY)([A-Za-z_][A-Za-z0-9_]*)(?::-[^${}\\]*)?\}", re.IGNORECASE
)
ENCRYPTED_PREFIX = "encrypted:"


@dataclass(frozen=True, slots=True, kw_only=True)
class _DotenvxBinding:
    name: str
    value: str
    quote: str
    line: int


def dotenvx_bindings(text: str) -> list[_DotenvxBinding]:
    r"""What dotenvx reads from ``text``, before decryption and expansion.

    Examples:
        >>> text = "A=abc#def" + chr(10) + "B=`x y`" + chr(10) + "C='a\\nb'" + chr(10)
        >>> [(b.name, b.value) for b in dotenvx_bindings(text)]
        [('A', 'abc'), ('B', 'x y'), ('C', 'a\\nb')]
    """
    src = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    found = []
    for match in _DOTENVX_LINE.finditer(src):
        raw = (match.group(2) or "").strip(_JS_TRIM)
        quote = raw[:1] if raw[:1] in ("'", '"', "`") else ""
        value = _DOTENVX_UNQUOTE.sub(lambda m: m.group(2), raw, count=0)
        if quote == '"':
            value = value.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")
        line = src.count("\n", 0, match.start(1)) + 1
        found.append(_DotenvxBinding(name=match.group(1), value=value, quote=quote, line=line))
    return found


def _construct(entry_text: str, name: str) -> tuple[str, str, str]:
    """Name the construct two readings differ on: (construct, python-dotenv's, dotenvx's)."""
    _, span, quote = _locate(entry_text)
    raw = entry_text[span[0] : span[1]] if span else ""
    after = entry_text[span[1] :].split("\n", 1)[0] if span else ""
    if quote == "" and raw.startswith("`"):
        return (
            "backtick quotes",
            "keeps the backticks as part of the value",
            "removes them",
        )
    if quote == "" and ("#" in raw or after.startswith("#")):
        return (
            "'#' right after an unquoted value",
            "keeps '#' and what follows as part of the value",
            "ends the value there (the rest is a comment)",
        )
    if quote == '"' and "\\" in raw:
        return (
            "a backslash escape in double quotes",
            'decodes \\\\, \\", \\a, \\b, \\f, \\v, \\n, \\r, \\t',
            "decodes only \\n, \\r and \\t",
        )
    if quote == "'" and "\\" in raw:
        return (
            "a backslash escape in single quotes",
            "decodes \\\\ and \\'",
            "keeps every backslash",
        )
    if span is None:
        return (
            f"the line of {name}",
            "reads it differently (or not as a variable)",
            "reads it as a variable",
        )
    return ("quoting or line structure", "reads one value", "reads another")


def _one_reading(
    text: str, entries: list[Entry], *, path: str, strict: bool, interpolate: bool = False
) -> None:
    """Reconcile python-dotenv's reading with dotenvx's, in place.

    A value dotenvx reads as ciphertext (backtick-quoted, or followed by ``#...`` without a
    space) becomes that ciphertext in both modes, so it is decrypted, never returned as
    it stands. In strict mode every other difference is refused, naming the line and the
    construct (never the value). With ``interpolate`` the ``${NAME}`` forms all three expand
    alike are accepted outside single quotes; any other ``$`` is refused.

    Raises:
        InvalidEnvError: strict mode and the two read a variable differently.
    """
    dotenvx = {b.name: b for b in dotenvx_bindings(text)}
    ours: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.name is not None and entry.value is not None:
            ours[entry.name] = i
    for name, seen in dotenvx.items():
        index = ours.get(name)
        if seen.value.startswith(ENCRYPTED_PREFIX) and index is not None:
            entry = entries[index]
            if entry.value != seen.value:
                entries[index] = Entry(
                    text=entry.text, name=name, value=seen.value, line=entry.line
                )
    if not strict:
        return
    for name in sorted(set(dotenvx) | set(ours), key=lambda n: ours.get(n, len(entries))):
        index = ours.get(name)
        binding = dotenvx.get(name)
        mine = None if index is None else entries[index].value
        theirs = None if binding is None else binding.value
        line = entries[index].line if index is not None else (binding.line if binding else 0)
        if mine != theirs:
            text_of = entries[index].text if index is not None else ""
            construct, py_reads, dx_reads = _construct(text_of, name)
            raise InvalidEnvError(
                f"{path}: line {line}: python-dotenv and dotenvx read {name} differently "
                f"({construct}: python-dotenv {py_reads}; dotenvx {dx_reads}); quote the "
                "value in single quotes, or pass strict=False to follow python-dotenv",
                names=(name,),
            )
        why = None if binding is None else _dollar_problem(binding, set(dotenvx), interpolate)
        if why is not None:
            raise InvalidEnvError(
                f"{path}: line {line}: python-dotenv and dotenvx read {name} differently ({why}",
                names=(name,),
            )


def _dollar_problem(binding: _DotenvxBinding, names: set[str], interpolate: bool) -> str | None:
    """Why the peers read ``$`` in this plaintext binding differently (no value), or None."""
    value = binding.value
    if value.startswith(ENCRYPTED_PREFIX):
        return None
    if binding.quote == "'":
        if "${" not in value:
            return None
        return (
            "'${' in a single-quoted value: python-dotenv's default reading "
            "(interpolate=True in dotenv_values/load_dotenv) expands ${...} even in "
            "single quotes, dotenvx does not); encrypt the value, or pass strict=False "
            "to follow python-dotenv"
        )
    if interpolate:
        value = _EXPANDED_ALIKE.sub(lambda m: m[0] if m[1] in names else "", value)
    if not _DOLLAR.search(value):
        return None
    return (
        "'$' in a value that is not single-quoted: without interpolate=True "
        "hardenkit keeps it; dotenvx expands $NAME and ${...} and runs $(command); "
        "with interpolate=True only ${NAME} and ${NAME:-default} of a NAME the file "
        "does not set are read alike, never of a DOTENV_PRIVATE_KEY* name); quote "
        "the value in single quotes, or pass strict=False to follow python-dotenv"
    )


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


def _dotenvx_value(text: str, name: str) -> str | None:
    found = [b.value for b in dotenvx_bindings(text) if b.name == name]
    return found[-1] if found else None


def _canonical_if_misread(old: str, text: str, name: str, raw: str) -> str:
    r"""``text``, or ``NAME=raw`` on a line of its own when dotenvx would misread ``text``.

    What surrounds a value in place (Python-only whitespace such as \x1c or \x85 next
    to it, kept by ``strict=False``) can make dotenvx read a written ciphertext as plain
    text, quotes included; the line is then rewritten whole (its comment is dropped).
    """
    if _dotenvx_value(text, name) == _dotenvx_value(f"{name}={raw}\n", name):
        return text
    match = _MULTILINE_WS.match(old)
    lead = "".join(c for c in old[: match.end() if match else 0] if c in "\r\n")
    ending = next((e for e in ("\r\n", "\n", "\r") if old.endswith(e)), "")
    return f"{lead}{name}={raw}{ending}"


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
