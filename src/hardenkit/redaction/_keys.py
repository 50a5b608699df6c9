"""The key-name rule: mask the value of ``name=value`` pairs whose name is a secret's.

``password=...``, ``"api_key": "..."``, ``--db-password=...``: a name is secret by
:func:`hardenkit.redaction._names.is_secret_name`. Also :func:`pair_left`, which the
engine asks at the separators the prefilter found, to skip a line whose pairs this rule
would leave. Every mask skips a value that is already a mask, so running the rule again
changes nothing.
"""

from __future__ import annotations

from hardenkit._memo import text_free_memo
from hardenkit.redaction._context import _AUTH_SCHEMES
from hardenkit.redaction._names import (
    _BENIGN_VALUES,
    MASK,
    _name_strength,
    is_mask,
    is_secret_name,
)
from hardenkit.redaction._patterns import lazy, tokenish

# Not typing.TYPE_CHECKING: importing typing costs a first use several ms (the audit's
# environment check, `hardenkit audit`), and type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable

__all__ = ["KEY_HINTS", "pair_left"]

_lazy = lazy
_tokenish = tokenish


# --------------------------------------------------------------------------- key names

_KEY_HINTS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "cred",
    "sess",
    "cookie",
    "dsn",
    "sig",
    "sid",
    "jwt",
    "csrf",
    "xsrf",
)
# A key is a word (after "-" or "--" too: argv's --db-password=...) followed by a
# separator (=, :, =>), optional quote and blanks around it; _key_matches finds them all.
# The value after a secret key's separator, matched only there. A quoted value runs to its
# closing quote (or the end of the line: an unterminated quote never fails and rescans);
# an unquoted one to the end of its token, as a shell splits words, except that "&name="
# starts the next URL query parameter. Every branch is a single greedy run: no backtracking.
# A backslash that ends the line inside an unterminated quote is part of the value (left
# out, the next pass would read it as a value of its own: k:"\ -> k:***\ -> k:***).
# Python's b'...', u"...", r'...' are quoted values.
_CONTINUES = r"""(?![\s,;:}\])>/&\\]|$)"""  # after an escaped quote: not where JSON goes on
_QUOTED_VALUE = (
    r"[bBuUrR]{0,2}\"(?:[^\"\\\n]|\\.)*\\?\"?|[bBuUrR]{0,2}'(?:[^'\\\n]|\\.)*\\?'?"
    # JSON inside a JSON string (Docker's json-file logs: {"log":"{\"api_key\":\"...\"}"}):
    # a value in escaped quotes runs to the escaped quote after which JSON goes on; an
    # escaped quote anywhere else, a raw one, and the inner string's \\\" are inside it.
    r"|\\\"(?:[^\\\n]|\\\\\\[\"\\]|\\[^\"\n]|\\\"" + _CONTINUES + r")*(?:\\\"|\\)?"
    r"|\\'(?:[^\\\n]|\\\\\\['\\]|\\[^'\n]|\\'" + _CONTINUES + r")*(?:\\'|\\)?"
)
# The rest of a word: "&name=" starts the next URL query parameter.
_WORD_REST = r"(?:&(?![\w.\-\[\]]+=)[^\s&]*)*"


# A value in brackets: what the scan of it stops at (brackets, quotes, escapes, the line's
# end), and the inside of a string in it, read in runs (one step per escape, not per
# character: re keeps no state per character of a long value).
_BRACKET_STOPS = _lazy(r"[\[\](){}<>\"'\\\n]")
_STRING_BODY = {
    '"': _lazy(r'[^"\\\n]*(?:\\.[^"\\\n]*)*'),
    "'": _lazy(r"[^'\\\n]*(?:\\.[^'\\\n]*)*"),
    # JSON in a JSON string: \"...\" holds its own quotes as \\\" (see _QUOTED_VALUE).
    '\\"': _lazy(r'[^\\\n]*(?:(?:\\\\\\"|\\[^"\n])[^\\\n]*)*'),
    "\\'": _lazy(r"[^\\\n]*(?:(?:\\\\\\'|\\[^'\n])[^\\\n]*)*"),
}
_CLOSER_OF = {"{": "}", "[": "]", "(": ")", "<": ">"}
_STOPS_READ = 4096
_OPENERS = frozenset(_CLOSER_OF)


def _bracket_end(text: str, at: int) -> int:
    """Where the value in brackets at ``at`` ends: after the bracket that closes it.

    Brackets of its kind nest, to any depth (a JSON array or object, a Python repr:
    ``["old", "Xk9..."]``, ``{'a': 'S'}``); a string inside, in quotes or in escaped quotes
    (JSON in a JSON string), is read to its closing quote (its brackets are its own), and
    an escape is one unit. A bracket or a quote never closed runs to the end of the line,
    and so does a value holding more than _STOPS_READ of them (``password=[[[[...``: each
    costs a step of Python, so their count is bounded; masking more is the safe side).
    One pass, in runs between the characters that matter: linear time, constant memory.
    """
    opener = text[at]
    closer = _CLOSER_OF[opener]
    depth = 0
    stops = _BRACKET_STOPS.search
    i = at
    for _ in range(_STOPS_READ):
        m = stops(text, i)
        if m is None or m.group() == "\n":
            break
        j = m.start()
        ch = text[j]
        if ch in (opener, closer):
            depth += 1 if ch == opener else -1
            i = j + 1
            if not depth:
                return i
        elif ch in "\"'" or (ch == "\\" and text[j + 1 : j + 2] in ('"', "'")):
            i = _string_end(text, j)
            if i < 0:  # never closed: the rest of the line
                i = j
                break
        elif ch == "\\":  # an escape is one unit; a backslash ending the line ends it
            i = j + 1 if text[j + 1 : j + 2] == "\n" else j + 2
        else:  # a bracket of another kind
            i = j + 1
    line = text.find("\n", i)
    return len(text) if line < 0 else line


def _string_end(text: str, at: int) -> int:
    """After the closing quote of the string at ``at`` (in quotes or escaped quotes).

    -1 when it is not closed on its line.
    """
    quote = text[at] if text[at] != "\\" else text[at : at + 2]
    body = _STRING_BODY[quote].match(text, at + len(quote))
    end = body.end()  # type: ignore[union-attr]  # a star: it always matches
    return end + len(quote) if text.startswith(quote, end) else -1


_VALUE = _lazy(_QUOTED_VALUE + r"|[^\s&]+" + _WORD_REST)
# After a value in brackets (_bracket_end): the rest of its word ({abc}def).
_WORD_TAIL = _lazy(r"[^\s&]*" + _WORD_REST)
# Under a weak name an unquoted value ends at a quote or backslash too: in JSON text
# (Docker's {"log":"... session=42\n","token":...}) the word runs on past the string's
# end, and a value left there would hide the pairs after it. Read so, not cut after a
# read to the blank: each value read is read once.
_WEAK_REST = r'(?:&(?![\w.\-\[\]]+=)[^\s&"\\]*)*'
_WEAK_VALUE = _lazy(_QUOTED_VALUE + r'|[^\s&"\\]+' + _WEAK_REST)
_WEAK_TAIL = _lazy(r'[^\s&"\\]*' + _WEAK_REST)
# Where a quoted value opens (as _VALUE reads one): prefix, then the quote, escaped or not.
_QUOTE_OPEN = _lazy(r"[bBuUrR]{0,2}(\\?[\"'])")
# The characters a quoted value can start with (_QUOTE_OPEN's first), and none other.
_QUOTE_FIRST = frozenset("bBuUrR\\\"'")
# A JSON pair ("key": value): an unquoted value is a number or a literal, which ends at
# the next "," "}" or "]" (nginx's status JSON holds no blank: read as a shell word, its
# "session_reuses":5674 ran to the end of the line). Other pairs keep the shell's reading.
_JSON_SEP = _lazy(r"\\*\"[ \t]*:")
# Only where JSON goes on: "," before the next key and its ":", or "}" "]" before another
# closer, a comma or the end of the line ("password":123,456 is no JSON: read whole). A
# mask counts as a scalar, so that the rule reads its own output as it wrote it.
_JSON_NEXT = r"(?=,[ \t]*\\*\"[^\"\\\n]*\\*\"[ \t]*:|[}\]][ \t]*(?:[,}\]\r\n]|$))"
_JSON_SCALAR = _lazy(
    r"(?:-?[0-9]+(?:\.[0-9]+)?(?:[eE][+\-]?[0-9]+)?|true|false|null|\*+)" + _JSON_NEXT
)
# Trailing characters that close something around the pair rather than the value, dropped
# from an unquoted value while unbalanced inside it: `(password=abc)`, `"x?pwd=abc"`.
_CLOSERS = {")": "(", "]": "[", "}": "{", ">": "<"}
_TRAILERS = frozenset("\"',;.)]}>")
_COUNTED = "()[]{}<>\"'"
_CLOSING = "\"',;.)]}>:"
# A Java/Kotlin object's toString ("Token{a64f992 ...}" cut at its space, "Token@1b6d35a6"):
# a type and an identity hash, not a value. Only that shape: "P@ssw0rd", "Admin(2024)",
# "Summer2024@home" or "Admin@123456" (a hash has a letter) are passwords.
# The type may carry its package, under a root packages use (android.os.BinderProxy@2bd79ce,
# Android's ActivityManager): other dotted words before it are a password's (j.smith.Jan@...).
_TO_STRING = _lazy(
    r"(?:(?:android|androidx|com|dalvik|io|java|javax|jdk|kotlin|kotlinx|net|okhttp3|org|scala|sun)"
    r"(?:\.[a-z][a-z0-9_]*)+\.)?[A-Z][A-Za-z0-9_$]+(?:\{[0-9a-f]{5,8}|@(?=[0-9]*[a-f])[0-9a-f]{6,8})"
)
# Handled by their own rules, which keep the scheme or the harmless cookies.
_KEYS_ELSEWHERE = frozenset({"cookie", "set-cookie"})
_PORT = _lazy(r"[0-9]{1,5}")
# A mail delivery status code (RFC 3463: class 2, 4 or 5, subject, detail), sendmail's dsn=.
_DELIVERY_STATUS = _lazy(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")
# A query placeholder, not a value: %(pk_1)s (SQLAlchemy's echo), %s, $1, ?.
_PLACEHOLDER = _lazy(r"%\([\w.]+\)s|%s|\$[0-9]{1,3}|\?")
# Under a weak name, values that are not credentials although letters and digits mix: a
# Windows security identifier (S-1-5-21-...), and under a name ending in ID a hexadecimal
# number of at most 64 bits as code prints one (ZooKeeper's "sessionid: 0x14ede63a5a70002").
_WINDOWS_SID = _lazy(r"S-1-[0-9]+(?:-[0-9]+)+")
_HEX_NUMBER = _lazy(r"0x[0-9a-f]{1,16}|0X[0-9A-F]{1,16}")


def _trim_value(value: str) -> str:
    """An unquoted value without the closers that belong to the text around it.

    Trailers are dropped from the end while unbalanced in what is left: one backwards pass
    over counts taken once (dropping a trailer changes only its own count), so a run of
    closers costs its length, not its square.
    """
    end = len(value)
    if not end or value[-1] not in _TRAILERS:
        return value
    counts = {c: value.count(c) for c in _COUNTED if c in value}
    while end and value[end - 1] in _TRAILERS:
        last = value[end - 1]
        opener = _CLOSERS.get(last)
        if opener is not None:
            if counts.get(opener, 0) >= counts[last]:
                break
            counts[last] -= 1
        elif last in "\"'":
            if counts[last] % 2 == 0:
                break
            counts[last] -= 1
        end -= 1
    return value[:end]


def _json_scalar(text: str, key_start: int, key: str, at: int) -> re.Match[str] | None:
    """The JSON number or literal at ``at``, the value of a JSON pair ("key": 42,), or None.

    Matched in place of _VALUE (which would read to the end of the blank-free line for
    each pair of it, and as its prefix gives the same value): one pair costs its value.
    """
    quoted = key_start > 0 and text[key_start - 1] == '"'
    if not quoted or _JSON_SEP.match(text, key_start + len(key)) is None:
        return None
    return _JSON_SCALAR.match(text, at)


def _pair_value(text: str, key_start: int, key: str, at: int, strength: int) -> str | None:
    """The value at ``at`` of the pair whose key starts at ``key_start``, as _VALUE reads it.

    (_WEAK_VALUE under a weak name, ``strength`` 1; a value in brackets to its closing
    bracket, _bracket_end, then to the end of its word.) None when the rule reads no
    value there: URL userinfo (the URL rule's), a Go type. :func:`_sub_key_value` and
    :func:`pair_read` both read a pair through this.
    """
    if text.endswith("//", 0, key_start) or _go_type(text, key_start, key):
        return None
    scalar = _json_scalar(text, key_start, key, at)
    if scalar is not None:
        return scalar.group(0)
    if text[at : at + 1] in _OPENERS:
        end = _bracket_end(text, at)
        tail = (_WEAK_TAIL if strength == 1 else _WORD_TAIL).match(text, end)
        return text[at : tail.end()]  # type: ignore[union-attr]  # a star: it always matches
    m = (_WEAK_VALUE if strength == 1 else _VALUE).match(text, at)
    return None if m is None else m.group(0)


def _go_type(text: str, key_start: int, key: str) -> bool:
    """A Go pointer type, not a key (Kubernetes: failed to list *v1.Secret: secrets is ...)."""
    return "." in key and text.endswith("*", 0, key_start)


def _host(key: str) -> bool:
    """A dotted key whose last part names no secret: a host before its port (a.b.com:443)."""
    _, dot, last = key.rpartition(".")
    return bool(dot) and not is_secret_name(last)


def _to_string(value: str) -> bool:
    """_TO_STRING.fullmatch, asked only when its first character and "{" or "@" are there."""
    first = value[:1]
    return (
        ("A" <= first <= "Z" or "a" <= first <= "z")
        and ("{" in value or "@" in value)
        and _TO_STRING.fullmatch(value) is not None
    )


def _port(value: str) -> bool:
    """_PORT.fullmatch ([0-9]{1,5}) without the regex."""
    return len(value) <= 5 and value.isascii() and value.isdigit()  # noqa: PLR2004


def _masked_value(key: str, value: str, strength: int) -> str | None:
    """The masked form of ``value`` under ``key``, or None when it stays.

    ``strength``: the key's :func:`_name_strength` (the key is a candidate of
    :func:`_key_matches`: a secret name the cookie rule does not own).
    """
    if not strength:
        return None
    if value[:1] in _QUOTE_FIRST:
        quote, inner, close = _quoted(value)
    else:
        quote = close = ""
        inner = value
    low = inner.strip().lower()
    # A benign word before closers and a colon is still that word: pam_unix(passwd:chauthtok):
    core = low.rstrip(_CLOSING) or low
    if core in _BENIGN_VALUES or (not quote and low in _AUTH_SCHEMES) or is_mask(inner):
        return None
    if not quote and (
        _to_string(inner)
        or (_port(inner) and _host(key))
        or (inner[:1] in "%$?" and _PLACEHOLDER.fullmatch(inner) is not None)
    ):
        return None
    if strength == 1 and (not _weak_credential(inner) or _hex_id(key, inner)):  # weak name
        return None
    # A data source name names its driver or host: "dsn=4.0.0" is sendmail's delivery status.
    status = key[-3:].lower() == "dsn" and _DELIVERY_STATUS.fullmatch(inner) is not None
    return None if status else f"{quote}{MASK}{close}"


def _quoted(value: str) -> tuple[str, str, str]:
    """(opening quote, inside, closing quote) of a value; quotes may be escaped or prefixed.

    A value whose plain quote is not closed is read as an unquoted one (as before escaped
    and prefixed quotes were read); an escaped or prefixed one runs to the end of its line,
    its inside read without the prefix and quote (as the weak trigger reads it).
    """
    m = _QUOTE_OPEN.match(value)
    if m is not None:
        quote = m.group(1)
        start = m.end()
        if len(value) >= start + len(quote) and value.endswith(quote):
            return value[:start], value[start : len(value) - len(quote)], quote
        if len(quote) == 2 or start > 1:  # noqa: PLR2004 -- escaped or prefixed, unterminated
            return value[:start], value[start:].rstrip("\\"), ""
    return "", value, ""


def _trimmed(value: str) -> str:
    """``value`` as the rule masks it: an unquoted one without its trailers (_trim_value).

    Kept whole where the trailers follow a separator (``abc,token="``): cut there, the
    pair after it would start where the mask ends and the rule's output would not be
    its own fixed point (``password=***"***"``, then ``password=***``).
    """
    if value[:1] in _QUOTE_FIRST and _QUOTE_OPEN.match(value) is not None:
        return value
    head = 0
    if value[:1] in _OPENERS:  # its brackets are read whole: only the rest is trimmed
        head = _bracket_end(value, 0)
        if head == len(value):
            return value
    trimmed = _trim_value(value[head:]) if head else _trim_value(value)
    if head:
        trimmed = value[:head] + trimmed
        if len(trimmed) == len(value):
            return value
    if trimmed is not value and trimmed[-1:] in ("=", ":"):
        return value
    return trimmed


def _weak_credential(value: str) -> bool:
    """A weak name's value that looks like a credential (see _WINDOWS_SID, _HEX_NUMBER).

    A value holding a secret name's pair is masked whatever else it holds: left, it would
    hide that pair (``sid=ab,password=...``), which the rule skips inside a value read.
    """
    if ("=" in value or ":" in value) and _holds_pair(value):
        return True
    if not _tokenish(value, 8):
        return False
    return not value.startswith("S-1-") or _WINDOWS_SID.fullmatch(value) is None


def _holds_pair(value: str) -> bool:
    """``value`` holds a secret key and its separator, as the rule reads them."""
    return bool(_key_matches(value, None))


def _hex_id(key: str, value: str) -> bool:
    """A hex number of at most 64 bits under a name ending in ID (sessionid: 0x14ede63a5a70002)."""
    return (
        value[:2] in ("0x", "0X")
        and key[-2:].lower() == "id"
        and _HEX_NUMBER.fullmatch(value) is not None
    )


# The same pairs read backwards: in the reversed text a pair starts at its separator, a
# class re finds with its C-level charset search instead of entering the pattern at every
# character. The key is the maximal run of key characters before the separator, or, before
# "=" or "=>", before "]" and empty brackets: a form parameter's name in brackets (Rails'
# and PHP's user[password]=, password[]=, user[password][]=; PHP's print_r, [password] =>)
# is read as that name. Not before ":" (log4j's "[TokenRefresher]: refreshed", syslog's
# "passwd[1012]: ..."), nor before a number in brackets. "=>" and "=" read alike: _key_at
# reads a "=>" pair from its "=" (tests/unit/test_redaction_forms.py holds the two paths).
_KEY_SEP_REV = _lazy(
    r"(?:(?P<eq>>=|=)|:)[ \t]*(?P<kq>(?:[\"']\\*)?)(?(eq)(?:\]\[)*\]?)(?P<key>[\w.\-]+)"
)
_SPACES = _lazy(r"[ \t]*")
_BLANKS = frozenset(" \t")


# Above this size a text of several lines is read only on the lines holding a hint.
_LINES_FROM = 2048


def _hint_spans(text: str, low: str | None) -> list[tuple[int, int]]:
    """The whole text, or for a block of lines the lines holding a key-name hint.

    Every secret name holds one of _KEY_HINTS and a pair never spans lines. Each search
    for a hint resumes after the line it found, so a line is read a bounded number of times.
    """
    n = len(text)
    if n < _LINES_FROM or "\n" not in text:
        return [(0, n)]
    low = text.lower() if low is None else low
    if len(low) != n:  # lower() changed offsets (a few non-ASCII letters)
        return [(0, n)]
    lines: set[tuple[int, int]] = set()
    for hint in _KEY_HINTS:
        at = low.find(hint)
        while at >= 0:
            end = text.find("\n", at)
            end = n if end < 0 else end
            lines.add((text.rfind("\n", 0, at) + 1, end))
            at = low.find(hint, end)
    return sorted(lines)


def _key_matches(text: str, low: str | None) -> list[tuple[int, str, int, int]]:
    """(start, key, end of separator, strength) of every secret key at a word start, in order.

    One scan of the reversed text, from separator to separator: each character is read
    once. Keys that name no secret are dropped here, so that the list stays short (and
    tuples of str and int leave the garbage collector nothing to walk).
    """
    rev = text[::-1]
    n = len(text)
    found: list[tuple[int, str, int, int]] = []
    spans = _hint_spans(text, low)
    matches = (m for a, b in reversed(spans) for m in _KEY_SEP_REV.finditer(rev, n - b, n - a))
    for m in matches:
        start = n - m.end()  # the run's start
        found_key, skip = _read_run(m.group("key"), text[start - 1 : start] if start else "")
        if found_key is None:
            continue
        key, dashes, strength = found_key
        sep_end = _SPACES.match(text, n - m.start()).end()  # type: ignore[union-attr]
        found.append((start + skip + dashes, key, sep_end, strength))
    found.reverse()
    return found


def _read_run(reversed_run: str, before: str) -> tuple[tuple[str, int, int] | None, int]:
    """(secret key, characters at the run's start that are no key's) of a run read backwards.

    ``before``: the character before the run ("" at the text's start). After a mask its
    leading dots are the joint (_after_mask); after a backslash and an escape's letter it
    is read both ways (_ESCAPE_LETTERS). _key_matches and _key_at read every run so.
    """
    if before == "*" and reversed_run[-1] == ".":
        reversed_run, dots = _after_mask(reversed_run)
        return (_run_key(reversed_run) if reversed_run else None), dots
    found = _run_key(reversed_run)
    if before == "\\" and len(reversed_run) > 1 and reversed_run[-1] in _ESCAPE_LETTERS:
        unescaped = _run_key(reversed_run[:-1])
        if unescaped is not None and (found is None or unescaped[2] > found[2]):
            return unescaped, 1
    return found, 0


def _run_key(reversed_run: str) -> tuple[str, int, int] | None:
    """(key, leading dashes, strength) of a key run read backwards, or None when no secret key."""
    if len(reversed_run) > _KEY_WINDOW:
        return _uncached_candidate(reversed_run)
    # Memoised for runs as long as pair_left reads.
    code = _candidate_code(reversed_run)
    if code < 0:
        return None
    return reversed_run[::-1][code & 3 :], code & 3, code >> 2


# The letters of the one-letter escapes of JSON, Python and C strings (\n, \t, \r, \b, \f).
# A JSON log line holds a multi-line message as one string, its newlines escaped:
# "msg":"config\napiKey: x". The run napiKey names no secret; without the escape's letter
# it does, and that is how the message reads. A key run after a backslash (any number of
# them: JSON in JSON doubles them) that starts with one of these letters is read both
# ways, and the stronger name wins (a tie keeps the run as written: \ntoken, and \nPWD,
# which stays a strong name and is masked, as before): see _read_run.
_ESCAPE_LETTERS = frozenset("bfnrt")


def _after_mask(reversed_run: str) -> tuple[str, int]:
    """A key run read backwards that follows a mask, without its leading dots, and their count.

    A detector's mask may end where a key begins (``token=ghp_....password: x`` gives
    ``token=***.password: x``): the run's dot is the joint, not the key's.
    """
    run = reversed_run.rstrip(".")
    return run, len(reversed_run) - len(run)


def _sub_key_value(text: str, low: str | None = None) -> str:
    """Mask the value of ``name=value``, ``name: value`` and ``"name": "value"`` pairs."""
    spans: list[tuple[int, int, str]] = []
    # A candidate whose value would start inside a value already read is none: values
    # read are disjoint, each read once. Its key and separator may lie inside one: in
    # session=token": "..." (a weak name's value ends at the quote) and in
    # token=abc,password: ... (a value ends at a blank) the pair after is read too.
    taken = 0
    for key_start, key, sep_end, strength in _key_matches(text, low):
        if sep_end < taken:
            continue
        raw = _pair_value(text, key_start, key, sep_end, strength)
        if raw is None:
            continue
        value = _trimmed(raw)
        if not value:
            continue
        start = sep_end
        taken = start + len(value)
        masked = _masked_value(key, value, strength)
        if masked is not None:
            spans.append((start, taken, masked))
    return spliced(text, spans)


def spliced(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """``text`` with each (start, end, new) span, in text order and disjoint, replaced."""
    out: list[str] = []
    last = 0
    for start, end, new in spans:
        out.append(text[last:start])
        out.append(new)
        last = end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


#: The key-name hints: every secret name holds one (is_secret_name's words, folded).
KEY_HINTS = _KEY_HINTS


#: Key runs read (backwards), 4,096 at most, then forgotten: the leading dashes of a secret
#: key, or -1. A run may be a value (the text before a separator inside it,
#: ``API_KEY=c2VjcmV0LXZhbHVl==``), so the memo keeps no text (``text_free_memo``).
_FOUND: dict[tuple[int, int], int] = {}


def _code(reversed_run: str) -> int:
    """-1 when no secret key; else the leading dashes, plus 4 times the name's strength."""
    found = _uncached_candidate(reversed_run)
    return -1 if found is None else found[1] | found[2] << 2


def _uncached_candidate(reversed_run: str) -> tuple[str, int, int] | None:
    """(key, leading dashes, strength) of a key run read backwards: _run_key's tests."""
    run = reversed_run[::-1]
    dashes = len(run) - len(run.lstrip("-"))
    key = run[dashes:]
    if dashes > 2 or not key or not (key[0].isalpha() or key[0] == "_"):  # noqa: PLR2004
        return None
    if key.lower() in _KEYS_ELSEWHERE:
        return None
    strength = _name_strength(key)  # is_secret_name's own test, read once (a long run costs)
    return (key, dashes, strength) if strength else None


_candidate_code = text_free_memo(_code, _FOUND, 4096)


def pair_left(text: str, sep: int) -> bool:
    """True when :func:`_sub_key_value` would leave the pair whose separator is at ``sep``.

    Read at the separators where the prefilter saw a key holding a hint: the same tests
    as there (the key read backwards, its value read forwards), for that pair alone.
    False whenever unsure (a key longer than the window read).
    """
    found = pair_read(text, sep)
    return found is not None and found[2] is None


#: pair_read's answer where the rule reads no value (no secret key, or no value after it).
_NO_PAIR = (-1, -1, None)


def pair_read(text: str, sep: int, taken: int = 0) -> tuple[int, int, str | None] | None:
    """The pair whose separator is at ``sep``, as :func:`_sub_key_value` reads it.

    (value start, value end, the value's masked form or None when it stays);
    :data:`_NO_PAIR` where the rule reads no value there, or where the value would start
    before ``taken`` (the end of the last value read: the rule skips that candidate);
    None when unsure (a key longer than the window read). The planner masks a line's
    pairs from these (_planner._masks) instead of running the rule over the line again.
    """
    after = sep + 2 if text.startswith("=>", sep) else sep + 1
    at = _SPACES.match(text, after).end() if text[after : after + 1] in _BLANKS else after  # type: ignore[union-attr]
    if at < taken:
        return _NO_PAIR
    key_start, key, strength = _key_at(text, sep)
    if key_start < 0:
        return None if key_start == _UNSURE else _NO_PAIR
    raw = _pair_value(text, key_start, key, at, strength)
    if raw is None:
        return _NO_PAIR
    value = _trimmed(raw)
    if not value:
        return _NO_PAIR
    start = at
    end = start + len(value)
    if (key, raw) in _LEFT_PAIRS:
        return start, end, None
    masked = _masked_value(key, value, strength)
    if masked is None and len(raw) <= _LEFT_VALUE_MAX:
        if len(_LEFT_PAIRS) >= _LEFT_PAIRS_MAX:
            _LEFT_PAIRS.clear()
        _LEFT_PAIRS.add((key, raw))
    return start, end, masked


_UNSURE = -2


def _key_at(text: str, sep: int) -> tuple[int, str, int]:
    """(key start, key, strength) of the secret key before ``sep``, as _key_matches reads it.

    Key start -1 where no secret key stands there, _UNSURE where the key reaches the
    window read.
    """
    lo = sep - _KEY_WINDOW
    window = text[sep:lo:-1] if lo >= 0 else text[sep::-1]
    m = _KEY_SEP_REV.match(window)
    if m is None or (lo >= 0 and m.end() == len(window)):
        return _UNSURE, "", 0
    found, skip = _read_run(m.group("key"), window[m.end() : m.end() + 1])
    if found is None:
        return -1, "", 0
    key, dashes, strength = found
    return sep - m.end() + 1 + skip + dashes, key, strength


# The longest key pair_left reads (a longer one: unsure, the step runs).
_KEY_WINDOW = 256
# (key, value as _VALUE read it) of pairs found left: logs repeat them (a stack frame's
# TokenService.java:755, a status code), and the answer is a function of the two. Only
# pairs the key=value rule leaves, and only values of at most _LEFT_VALUE_MAX characters:
# shorter than a registered secret (MIN_SECRET_LENGTH, 6) and than anything another
# detector masks (a card: 13 digits; a token pattern: 13 characters and more), so that no
# value any detector masks is ever held here. Keys are at most _KEY_WINDOW characters:
# the cache holds at most _LEFT_PAIRS_MAX * (256 + 5) characters.
_LEFT_PAIRS: set[tuple[str, str]] = set()
_LEFT_PAIRS_MAX = 4096
_LEFT_VALUE_MAX = 5
