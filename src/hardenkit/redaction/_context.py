"""Context rules: secrets found by what surrounds them, and key-name rules.

URL userinfo, Authorization headers and bearer tokens, cookies, card numbers that pass
Luhn, XML elements named like secrets, and ``name=value`` pairs whose name is secret by
:func:`hardenkit.redaction._names.is_secret_name`. Each rule is a substitution
(:data:`CONTEXT_STEPS`) and a hyperscan trigger (:data:`CONTEXT_TRIGGERS`) that matches
wherever the substitution could change a text; the engine's one scan picks the rules
to run and the lines to run them on.

Every rule masks only the secret and keeps its context, and skips a value that is already
a mask, so running the rules again changes nothing. Case-insensitive parts are ASCII-only
(``(?ai:...)``), as the triggers are.
"""

from __future__ import annotations

import functools
import re

from hardenkit.redaction._names import (
    _BENIGN_VALUES,
    _NOT_SECRET_LAST,
    MASK,
    _name_strength,
    is_mask,
    is_secret_name,
)
from hardenkit.redaction._patterns import Sub, lazy, mask_group, tokenish

__all__ = [
    "CONTEXT_STEPS",
    "CONTEXT_TRIGGERS",
    "KEY_HINTS",
    "LEFT_KEY_PAIR",
    "LEFT_VALUE_PAIR",
    "MULTILINE",
    "context_literal_steps",
    "pair_left",
    "xml_reach",
]

_lazy = lazy
_tokenish = tokenish
_mask_group = mask_group


# --------------------------------------------------------------------------- helpers


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:  # noqa: PLR2004 -- the Luhn digit-sum step
                d -= 9
        total += d
    return total % 10 == 0


def _card_brand_ok(digits: str) -> bool:
    """Plausible issuer prefix and length (Visa, MC, Amex, Discover, JCB, Diners, UnionPay)."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return n in {13, 16, 19}
    if 51 <= two <= 55 or 2221 <= four <= 2720:  # noqa: PLR2004 -- Mastercard IIN ranges
        return n == 16  # noqa: PLR2004
    if two in {34, 37}:
        return n == 15  # noqa: PLR2004
    if digits.startswith(("6011", "65", "64", "62", "35", "30", "36", "38", "39")):
        return 14 <= n <= 19  # noqa: PLR2004
    return False


# --------------------------------------------------------------------------- context rules

# Anchored on "://" (a literal, so re finds candidates fast); the scheme stays as it is.
# After "user:", the rest of the token, never across another "://" (so each character is
# read from one candidate at most); _userinfo_repl finds the password in it.
_URL_USERINFO = _lazy(r"://[^\s:/?#@\"'<>]*:(?P<t>(?:[^\s\"'<>:]|:(?!//))*)")
# "host:8080/path/a@b": a port then a path, not a password.
_URL_PORT = _lazy(r"[0-9]{1,5}(?:[/?#]|$)")
_AUTHORITY_END = _lazy(r"[/?#]")
_URL_TOKEN_USER = _lazy(r"(?P<pre>://)(?P<s>[A-Za-z0-9_.~%\-]{16,})@")


def _url_token_repl(m: re.Match[str]) -> str:
    if not _tokenish(m.group("s")):
        return m.group(0)
    return m.group("pre") + MASK + "@"


def _userinfo_repl(m: re.Match[str]) -> str:
    """Mask the password: up to the authority's last "@", as the URL grammar reads it.

    Failing that, up to the first "@" past a raw "/" or "#" (database URLs carry them
    unencoded: mysql://u:wJal/K7@db).
    """
    rest = m.group("t")
    end = _AUTHORITY_END.search(rest)
    authority = rest[: end.start()] if end else rest
    at = authority.rfind("@")
    if at < 0:
        at = rest.find("@")
        if at < 0 or _URL_PORT.match(rest):
            return m.group(0)
    value = rest[:at]
    if not value or is_mask(value):
        return m.group(0)
    head = m.group(0)[: m.start("t") - m.start()]
    return head + MASK + rest[at:]


def _sub_userinfo(text: str) -> str:
    return _URL_USERINFO.sub(_userinfo_repl, text)


def _sub_url(text: str) -> str:
    """Mask the password in ``scheme://user:password@host`` and a token used as the user."""
    return _URL_TOKEN_USER.sub(_url_token_repl, _sub_userinfo(text))


# The first letter as a two-letter class keeps re's fast candidate search (IGNORECASE has none).
_AUTH_HEADER = _lazy(
    r"[Aa](?ai:uthorization)[\"']?[ \t]*[:=][ \t]*[\"']?(?P<scheme>[A-Za-z][A-Za-z0-9_\-]*)[ \t]+"
    r"(?P<s>[^\s\"',;]+)"
)
_BEARER = _lazy(r"[Bb](?ai:earer)[ \t]+(?P<s>[A-Za-z0-9._~+/\-]+=*)")
_AUTH_SCHEMES = frozenset(
    {"bearer", "basic", "token", "digest", "negotiate", "ntlm", "apikey", "api-key", "key"}
)


def _bearer_repl(m: re.Match[str]) -> str:
    value = m.group("s")
    if is_mask(value) or not _tokenish(value, 8):
        return m.group(0)
    return m.group(0)[: m.start("s") - m.start()] + MASK


_sub_auth_header = _mask_group(_AUTH_HEADER)


def _sub_auth(text: str) -> str:
    """Mask the credentials of ``Authorization: <scheme> <credentials>`` and bearer tokens."""
    return _BEARER.sub(_bearer_repl, _sub_auth_header(text))


_COOKIE_HEADER = _lazy(r"(?P<head>[Cc](?ai:ookie)[ \t]*[:=][ \t]*)(?P<rest>[^\r\n]*)")
# A name starts after a separator only: from inside a run it would rescan the run.
_COOKIE_PAIR = _lazy(r"(?<![^\s=;,])(?P<name>[^\s=;,]+)=(?P<s>[^;\s]*)")
_COOKIE_ATTRS = frozenset({"path", "domain", "expires", "max-age", "samesite", "priority"})


def _cookie_pair_repl(m: re.Match[str]) -> str:
    name, value = m.group("name"), m.group("s")
    if not value or is_mask(value) or name.lower() in _COOKIE_ATTRS:
        return m.group(0)
    if is_secret_name(name) or _tokenish(value):
        return f"{name}={MASK}"
    return m.group(0)


def _cookie_repl(m: re.Match[str]) -> str:
    return m.group("head") + _COOKIE_PAIR.sub(_cookie_pair_repl, m.group("rest"))


def _sub_cookie(text: str) -> str:
    """In ``Cookie:``/``Set-Cookie:`` headers mask secret-named or token-like cookie values."""
    return _COOKIE_HEADER.sub(_cookie_repl, text)


# Starts with a charset so re's charset fast path finds candidates; boundaries checked below.
_CARD = _lazy(r"[2-6](?<![0-9A-Za-z_.+/\-][2-6])[0-9]{3}(?:[ \-]?[0-9]){9,15}(?![0-9A-Za-z_\-])")
_CARD_BEFORE = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.-+/")


def _sub_card(text: str) -> str:
    """Mask 13 to 19 digit card numbers (optionally spaced or dashed) that pass Luhn."""
    if _CARD.search(text) is None:
        return text
    out: list[str] = []
    last = 0
    for m in _CARD.finditer(text):
        start = m.start()
        if start and text[start - 1] in _CARD_BEFORE:
            continue
        raw = m.group(0)
        seps = {c for c in raw if not c.isdigit()}
        if len(seps) > 1:
            continue
        digits = raw.replace(" ", "").replace("-", "")
        if not (13 <= len(digits) <= 19 and _card_brand_ok(digits) and _luhn(digits)):  # noqa: PLR2004
            continue
        out.append(text[last:start])
        out.append(MASK)
        last = m.end()
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


_XML = _lazy(r"<(?P<tag>[A-Za-z_][\w.\-:]*)>(?P<s>[^<]+)</(?P=tag)>")


def _xml_repl(m: re.Match[str]) -> str:
    value = m.group("s")
    if not is_secret_name(m.group("tag")) or is_mask(value) or value.lower() in _BENIGN_VALUES:
        return m.group(0)
    return f"<{m.group('tag')}>{MASK}</{m.group('tag')}>"


def _sub_xml(text: str) -> str:
    """Mask the text of ``<password>...</password>``-style elements."""
    return _XML.sub(_xml_repl, text)


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
_VALUE = _lazy(
    r"\"(?:[^\"\\\n]|\\.)*\\?\"?|'(?:[^'\\\n]|\\.)*\\?'?"
    r"|[^\s&]+(?:&(?![\w.\-\[\]]+=)[^\s&]*)*"
)
# Trailing characters that close something around the pair rather than the value, dropped
# from an unquoted value while unbalanced inside it: `(password=abc)`, `"x?pwd=abc"`.
_CLOSERS = {")": "(", "]": "[", "}": "{", ">": "<"}
_TRAILERS = frozenset("\"',;.)]}>")
_COUNTED = "()[]{}<>\"'"
# A Java/Kotlin object's toString ("Token{a64f992 ...}" cut at its space, "Token@1b6d35a6"):
# a type and an identity hash, not a value. Only that shape: "P@ssw0rd", "Admin(2024)",
# "Summer2024@home" or "Admin@123456" (a hash has a letter) are passwords.
_TO_STRING = _lazy(r"[A-Z][A-Za-z0-9_$]+(?:\{[0-9a-f]{5,8}|@(?=[0-9]*[a-f])[0-9a-f]{6,8})")
# Handled by their own rules, which keep the scheme or the harmless cookies.
_KEYS_ELSEWHERE = frozenset({"cookie", "set-cookie"})
_PORT = _lazy(r"[0-9]{1,5}")


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


def _host(key: str) -> bool:
    """A dotted key whose last part names no secret: a host before its port (a.b.com:443)."""
    _, dot, last = key.rpartition(".")
    return bool(dot) and not is_secret_name(last)


def _to_string(value: str) -> bool:
    """_TO_STRING.fullmatch, asked only when its first character and "{" or "@" are there."""
    return (
        "A" <= value[:1] <= "Z"
        and ("{" in value or "@" in value)
        and _TO_STRING.fullmatch(value) is not None
    )


def _port(value: str) -> bool:
    """_PORT.fullmatch ([0-9]{1,5}) without the regex."""
    return len(value) <= 5 and value.isascii() and value.isdigit()  # noqa: PLR2004


def _masked_value(key: str, value: str) -> str | None:
    """The masked form of ``value`` under ``key``, or None when it stays."""
    if key.lower() in _KEYS_ELSEWHERE:
        return None
    strength = _name_strength(key)
    if not strength or is_mask(value):
        return None
    quote = value[0] if value[0] in "\"'" and len(value) > 1 and value[-1] == value[0] else ""
    inner = value[1:-1] if quote else value
    low = inner.strip().lower()
    if low in _BENIGN_VALUES or (not quote and low in _AUTH_SCHEMES):
        return None
    if not quote and (_to_string(inner) or (_port(inner) and _host(key))):
        return None
    if strength == 1 and not _tokenish(inner, 8):  # a weak name (_weak_name)
        return None
    return f"{quote}{MASK}{quote}"


# The same pairs read backwards: in the reversed text a pair starts at its separator, a
# class re finds with its C-level charset search instead of entering the pattern at every
# character. The key is the maximal run of key characters before the separator.
_KEY_SEP_REV = _lazy(r"(?:>=|=|:)[ \t]*(?P<kq>[\"']?)(?P<key>[\w.\-]+)")
_SPACES = _lazy(r"[ \t]*")


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


def _key_matches(text: str, low: str | None) -> list[tuple[int, str, int]]:
    """(start, key, end of separator) of every secret key at a word start, in text order.

    One scan of the reversed text, from separator to separator: each character is read
    once. Keys that name no secret are dropped here, so that the list stays short (and
    tuples of str and int leave the garbage collector nothing to walk).
    """
    rev = text[::-1]
    n = len(text)
    found: list[tuple[int, str, int]] = []
    spans = _hint_spans(text, low)
    matches = (m for a, b in reversed(spans) for m in _KEY_SEP_REV.finditer(rev, n - b, n - a))
    for m in matches:
        reversed_run = m.group("key")
        # _candidate: the tests below, memoised for runs as long as pair_left reads.
        if len(reversed_run) <= _KEY_WINDOW:
            found_key = _candidate(reversed_run)
            if found_key is None:
                continue
            key, dashes = found_key
        else:
            run = reversed_run[::-1]
            dashes = len(run) - len(run.lstrip("-"))
            if dashes > 2:  # noqa: PLR2004 -- argv's "-" and "--"
                continue
            key = run[dashes:]
            if not key or not (key[0].isalpha() or key[0] == "_"):
                continue
            if key.lower() in _KEYS_ELSEWHERE or not is_secret_name(key):
                continue
        sep_end = _SPACES.match(text, n - m.start()).end()  # type: ignore[union-attr]
        found.append((n - m.end() + dashes, key, sep_end))
    found.reverse()
    return found


def _sub_key_value(text: str, low: str | None = None) -> str:
    """Mask the value of ``name=value``, ``name: value`` and ``"name": "value"`` pairs."""
    out: list[str] = []
    emitted = 0  # text before this offset is in out already
    taken = 0  # candidates before this offset sit inside a value already read
    for key_start, key, sep_end in _key_matches(text, low):
        if key_start < taken:
            continue
        if text.endswith("//", 0, key_start):  # URL userinfo: the URL rule owns it
            continue
        v = _VALUE.match(text, sep_end)
        if v is None:
            continue
        value = v.group(0)
        if value[0] not in "\"'":
            value = _trim_value(value)
            if not value:
                continue
        start = v.start()
        taken = start + len(value)
        masked = _masked_value(key, value)
        if masked is not None:
            out.append(text[emitted:start])
            out.append(masked)
            emitted = taken
    if not out:
        return text
    out.append(text[emitted:])
    return "".join(out)


# --------------------------------------------------------------------------- steps, triggers

#: The key-name hints: every secret name holds one (is_secret_name's words, folded).
KEY_HINTS = _KEY_HINTS


def _step_url(text: str) -> str:
    return _sub_url(text) if "://" in text else text


#: (name, substitution) of the context and key-name rules, in the order they apply.
CONTEXT_STEPS: tuple[tuple[str, Sub], ...] = (
    ("url", _step_url),
    ("auth", _sub_auth),
    ("cookie", _sub_cookie),
    ("card", _sub_card),
    ("xml", _sub_xml),
    ("key_value", _sub_key_value),
)

# Any byte of a non-ASCII character may be a word character for re (``\w`` is Unicode).
_KEY_CHARS = r"[\w.\-\x80-\xff]"
_TAG_CHARS = r"[\w.\-:\x80-\xff]"
# A key holding a hint: every secret name holds one ("key" counts only after another key
# character: KEY alone is no secret; API_KEY, apiKey are).
_HINTED = "(?:" + "|".join(h for h in _KEY_HINTS if h != "key") + "|" + _KEY_CHARS + "key)"
# Hints that make a name weak only (is_secret_name's AUTH, SESSION, SESSID, SID, SIG),
# and the others: a name holding only weak ones is masked only when its value mixes
# letters and digits (_tokenish), so their trigger asks for that too.
_WEAK_HINTS = ("auth", "sess", "sig", "sid")
_STRONG = (
    "(?:"
    + "|".join(h for h in _KEY_HINTS if h != "key" and h not in _WEAK_HINTS)
    + "|signature|authorization|"
    + _KEY_CHARS
    + "key)"
)
_SEP = "[\"']?[ \t]*[=:]"
# A value that mixes letters and digits, matched to the first character that makes it so
# and no further (hyperscan reports every end offset, so each value ends once or twice).
_N = r"[^\sA-Za-z0-9\x80-\xff]"  # neither letter nor digit (non-ASCII bytes: both)
_L, _D = r"[A-Za-z\x80-\xff]", r"[0-9\x80-\xff]"
_NOT_L, _NOT_D = r"[^\sA-Za-z\x80-\xff]", r"[^\s0-9\x80-\xff]"


def _mixed(space: str) -> str:
    n, not_l, not_d = (c.replace(r"\s", space) for c in (_N, _NOT_L, _NOT_D))
    return n + "*(?:" + _L + not_d + "*" + _D + "|" + _D + not_l + "*" + _L + ")"


_MIXED = r">?[ \t]*(?:[\"']" + _mixed(r"\n") + "|" + _mixed(r"\s") + ")"

# The UTF-8 of the only characters whose str.lower() holds an ASCII letter (U+212A, U+0130).
_LOWERS_TO_ASCII = r"\xe2\x84\xaa|\xc4\xb0"
_DIGITS = "0123456789"
_CARD_DIGITS = 13


def context_literal_steps(text: str) -> list[str]:
    """The context rules that could change ``text``, by literals alone.

    Cheaper than the hyperscan scan when its database is not compiled (a process's first
    texts, a machine without hyperscan), and as complete: each test is a necessary
    condition of its rule's Python patterns (a URL's "://"; the header names; 13 digits
    for a card; for a secret name, one of the hints in the lowered text (str.lower keeps
    every ASCII letter's place, and maps the two characters that lower to ASCII ones as
    the name rules read them), and a closing tag or a separator).
    """
    steps: list[str] = []
    low = text.lower()
    if "://" in text:
        steps.append("url")
    if "authorization" in low or "bearer" in low:
        steps.append("auth")
    if "cookie" in low:
        steps.append("cookie")
    if sum(map(text.count, _DIGITS)) >= _CARD_DIGITS:
        steps.append("card")
    if any(h in low for h in _KEY_HINTS):
        if "</" in text:
            steps.append("xml")
        if "=" in text or ":" in text:
            steps.append("key_value")
    return steps


#: (name, hyperscan expression, ASCII case-insensitive): each matches wherever its
#: step could change a text (a step may have several). Necessary conditions only: a
#: false alarm costs the step's own run on that line, a miss would leave a secret.
CONTEXT_TRIGGERS: tuple[tuple[str, str, bool], ...] = (
    # _URL_USERINFO's user, ":" and password (its repl needs an "@"), _URL_TOKEN_USER's token.
    ("url", r"://[^\s\"'<>]*@", False),
    ("auth", r"authorization[\"']?[ \t]*[:=][ \t]*[\"']?[a-z][a-z0-9_\-]*[ \t]+[^\s\"',;]", True),
    # _bearer_repl masks a value that mixes letters and digits (_tokenish).
    ("auth", r"bearer[ \t]+[._~+/\-]*(?:[a-z][a-z._~+/\-]*[0-9]|[0-9][0-9._~+/\-]*[a-z])", True),
    ("cookie", r"cookie[ \t]*[:=]", True),
    # _CARD: 13 digits at least, after no letter, digit or [_.+/-] (its look-behind).
    ("card", r"(?:^|[^0-9A-Za-z_.+/\-])[2-6][0-9]{3}(?:[ \-]?[0-9]){9}", False),
    ("xml", "<(?:[a-z_]" + _TAG_CHARS + "*)?" + _HINTED.replace(_KEY_CHARS, _TAG_CHARS)
     + _TAG_CHARS + "*>", True),
    # A name the rules also read lowercased (odd-cased: xAPi\u212aey) may hold a hint only
    # once lowered: KELVIN SIGN lowers to "k", LATIN CAPITAL I WITH DOT to "i" and a mark.
    ("xml", _LOWERS_TO_ASCII, False),
    ("key_value", _LOWERS_TO_ASCII, False),
    # A key holding only weak hints, and a value mixing letters and digits: it must stay
    # the last trigger but one.
    ("key_value", "(?:" + "|".join(_WEAK_HINTS) + ")" + _KEY_CHARS + "*" + _SEP + _MIXED, True),
    # _KEY_SEP_REV read forwards: a key holding a strong hint, an optional quote, blanks,
    # "=", "=>" or ":". The match ends at the separator (the engine reads the pair there,
    # see pair_left): it must stay the last trigger.
    ("key_value", _STRONG + _KEY_CHARS + "*" + _SEP, True),
)  # fmt: skip

# Pairs the key=value trigger reports (its key holds a strong hint) that _masked_value
# certainly leaves, recognised in the scan itself so that no Python reads them. A
# separator one of them matches at is one the trigger matched: the engine counts it as
# left (see _engine._plan) and reads only the others with pair_left. The key part is
# ASCII case-insensitive, the rest exact.
_KEY_HEAD = "(?i:" + _STRONG[3:] + _KEY_CHARS + "*"
_SEP_HEAD = "[\"']?[ \t]*"
_SEP_VALUE = _SEP_HEAD + "(?:=>?|:)[ \t]*"
# What ends an unquoted value for _VALUE ([^\s&]+): blanks or the end of a line, after
# trailers that _trim_value drops (a value holding no opener loses every closer).
_UNQUOTED_END = r"[,;.)\]}>]*(?:[ \t\r\f\v]|$)"


def _alternation(words: frozenset[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))


_LEFT_WORDS = _alternation((_BENIGN_VALUES - {""}) | _AUTH_SCHEMES)
_LEFT_QUOTED = _alternation(_BENIGN_VALUES - {""})
# A value none of whose characters is "=" or ":" (the engine finds the separator of a
# match as the last one before its end).
_LEFT_VALUES = (
    # A Java/Kotlin object's toString (token=Token{a64f992 ...}): _TO_STRING's brace
    # form cut at a blank (its @hex form needs a look-ahead: Python reads those pairs).
    r"[A-Z][A-Za-z0-9_$]+\{[0-9a-f]{5,8}(?:[ \t\r\f\v]|$)|"
    # A benign value or an auth scheme's name, unquoted (token_type=bearer), or a mask.
    "(?i:" + _LEFT_WORDS + r"|\*+)" + _UNQUOTED_END
    # A quoted benign value, empty, or a mask.
    + '|"(?i:' + _LEFT_QUOTED + r'|\**)"' + "|'(?i:" + _LEFT_QUOTED + r"|\**)'"
)  # fmt: skip

# Source file extensions: a key whose last dotted part is one of them, followed by a
# port-like number, is a stack frame's file and line (TokenService.java:755,
# auth/token.go:88), which _masked_value leaves under any key (_port and _host: the key's
# last part names no secret; none of these does, tests/unit/test_redaction_prefilter.py
# holds that). Lower case only, as written in frames.
_SOURCE_EXTENSIONS = (
    *("java", "kt", "kts", "scala", "groovy", "clj", "py", "pyx", "rb", "go", "rs", "js"),
    *("mjs", "cjs", "jsx", "ts", "tsx", "cs", "vb", "fs", "cpp", "cc", "cxx", "c", "h"),
    *("hpp", "swift", "php", "pl", "pm", "lua", "ex", "exs", "erl", "dart", "jsp", "vue"),
)
# The whole last part of the key, ".ext" right before the separator (the key is the run of
# key characters before it, so its last part is exactly the extension), then 1-5 digits
# that end the value as _VALUE and _trim_value read it.
# The key must hold a strong hint (_KEY_HEAD), as the trigger's does: other frames
# (Main.java:12) need no claim, and would only cost a callback each.
_FRAME_PAIR = (
    _KEY_HEAD + r"\.(?:" + "|".join(_SOURCE_EXTENSIONS) + ")"
    + _SEP_VALUE + "[0-9]{1,5}" + _UNQUOTED_END
)  # fmt: skip

#: Not a trigger: a strong key's pair whose value _masked_value leaves (the value ends the
#: match): a toString, a benign value, an auth scheme, a mask; and a stack frame's file
#: and line under any key (_FRAME_PAIR). (A port under another dotted key is left to
#: Python: whether the key's last part is a secret name decides it.)
LEFT_VALUE_PAIR = "(?:" + _KEY_HEAD + _SEP_VALUE + "(?:" + _LEFT_VALUES + ")|" + _FRAME_PAIR + ")"


def _one_case_key(upper: bool) -> str:
    """A key run in one case only, from a strong hint to a last part in ``_NOT_SECRET_LAST``.

    One case only, the whole run: a key mixing cases may be odd-cased (``PASSword``,
    ``COOKIEAge``), which the name rules also read lowercased, so whether it is left is
    theirs to say.
    """
    # Strong hints only: the separators the key=value trigger reports (a weak key's pair,
    # read when the weak trigger fires, is then read by Python, never skipped). A claim
    # where the trigger reports nothing would only cost a callback.
    hints = [h for h in _KEY_HINTS if h != "key" and h not in _WEAK_HINTS]
    hints += ["signature", "authorization"]
    last = sorted(w.upper() if upper else w.lower() for w in _NOT_SECRET_LAST)
    chars = "[A-Z0-9_.\\-]" if upper else "[a-z0-9_.\\-]"
    words = "|".join(sorted(h.upper() if upper else h.lower() for h in hints))
    key = "KEY" if upper else "key"
    # The whole key run, from its first character: a key is in one case or it is not.
    start = r"(?:^|[^\w.\-\x80-\xff])"
    return f"(?:{start}{chars}*(?:{words}|{chars}{key}){chars}*[0-9_.\\-](?:{'|'.join(last)}))"


#: Not a trigger: the separator (the match ends there) of a key holding a strong hint whose
#: last part says it is about a secret, not one (SESSION_COOKIE_AGE=, token_type:), in one
#: case only. And a key the cookie rule owns (Cookie:, Set-Cookie:), the whole key run.
LEFT_KEY_PAIR = (
    "(?:" + _one_case_key(upper=True) + "|" + _one_case_key(upper=False)
    + r"|(?:^|[^\w.\-\x80-\xff])(?i:cookie|set-cookie))" + _SEP_HEAD + "[=:]"
)  # fmt: skip

#: Steps whose matches may span lines: run on the whole text, not line by line.
MULTILINE = frozenset({"pem", "xml"})


def xml_reach(text: str, _lo: int, end: int) -> int:
    """Where an element whose opening tag ends at ``end`` can end: its text runs to a ``<``."""
    at = text.find("<", end)
    return end if at < 0 else at + 1


@functools.lru_cache(maxsize=4096)
def _candidate(reversed_run: str) -> tuple[str, int] | None:
    """(key, leading dashes) of a key run read backwards, or None when no secret key.

    The same tests as :func:`_key_matches`.
    """
    run = reversed_run[::-1]
    dashes = len(run) - len(run.lstrip("-"))
    key = run[dashes:]
    if dashes > 2 or not key or not (key[0].isalpha() or key[0] == "_"):  # noqa: PLR2004
        return None
    if key.lower() in _KEYS_ELSEWHERE or not is_secret_name(key):
        return None
    return key, dashes


def pair_left(text: str, sep: int) -> bool:
    """True when :func:`_sub_key_value` would leave the pair whose separator is at ``sep``.

    Read at the separators where the prefilter saw a key holding a hint: the same tests
    as there (the key read backwards, its value read forwards), for that pair alone.
    False whenever unsure (a key longer than the window read).
    """
    lo = sep - _KEY_WINDOW
    window = text[sep:lo:-1] if lo >= 0 else text[sep::-1]
    m = _KEY_SEP_REV.match(window)
    if m is None or (lo >= 0 and m.end() == len(window)):
        return False
    found = _candidate(m.group("key"))
    if found is None:
        return True
    key, dashes = found
    if text.endswith("//", 0, sep - m.end() + 1 + dashes):  # URL userinfo: the URL rule's
        return True
    after = sep + 2 if text.startswith("=>", sep) else sep + 1
    v = _VALUE.match(text, _SPACES.match(text, after).end())  # type: ignore[union-attr]
    if v is None:
        return True
    return _value_left(key, v.group(0))


def _value_left(key: str, raw: str) -> bool:
    """True when the value ``raw`` (as _VALUE reads it) under ``key`` stays."""
    if (key, raw) in _LEFT_PAIRS:
        return True
    value = raw
    if value[0] not in "\"'":
        value = _trim_value(value)
        if not value:
            return True
    if _masked_value(key, value) is not None:
        return False
    if len(raw) <= _LEFT_VALUE_MAX:
        if len(_LEFT_PAIRS) >= _LEFT_PAIRS_MAX:
            _LEFT_PAIRS.clear()
        _LEFT_PAIRS.add((key, raw))
    return True


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
