"""What dotenvx reads from a .env file, and reconciling it with python-dotenv's reading.

dotenvx (JavaScript) and python-dotenv read some lines differently; ``_one_reading`` makes
a ciphertext either of them sees a ciphertext for both, and in strict mode refuses every
other difference, naming the line and the construct (never the value).
"""

from __future__ import annotations

import re

from hardenkit._dataclass import dataclass
from hardenkit.envcrypt._grammar import _MULTILINE_WS, Entry, _locate
from hardenkit.errors import InvalidEnvError

__all__ = ["ENCRYPTED_PREFIX", "dotenvx_bindings"]

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
    """One NAME=value as dotenvx reads it (its quote kind and line)."""

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
