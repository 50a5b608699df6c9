"""The context and key-name rules' steps and hyperscan triggers.

Each rule is a substitution (:data:`CONTEXT_STEPS`) and a hyperscan trigger
(:data:`CONTEXT_TRIGGERS`) that matches wherever the substitution could change a text;
the engine's one scan picks the rules to run and the lines to run them on. Also the
literal prefilter's tests (:func:`context_literal_steps`) and the patterns of pairs the
key-name rule certainly leaves (:data:`LEFT_VALUE_PAIR`, :data:`LEFT_KEY_PAIR`).
"""

from __future__ import annotations

import re

from hardenkit.redaction._context import (
    _AUTH_SCHEMES,
    _sub_auth,
    _sub_card,
    _sub_cookie,
    _sub_url,
    _sub_xml,
)
from hardenkit.redaction._keys import _KEY_HINTS, _sub_key_value
from hardenkit.redaction._names import (
    _BENIGN_VALUES,
    _NOT_SECRET_LAST,
    _NOT_SECRET_NAMES,
    _WEAK_SKIPPED,
    _WEAK_TRAILERS,
)

# Not typing.TYPE_CHECKING: importing typing costs a first use several ms (the audit's
# environment check, `hardenkit audit`), and type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit.redaction._patterns import Sub

__all__ = [
    "CONTEXT_STEPS",
    "CONTEXT_TRIGGERS",
    "LEFT_AT",
    "LEFT_FRAME_KEY_ENDS",
    "LEFT_KEY_PAIR",
    "LEFT_VALUE_PAIR",
    "MULTILINE",
    "context_literal_steps",
]


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
_STRONG_HINTS = tuple(h for h in _KEY_HINTS if h not in _WEAK_HINTS)
# The strong words a key may hold anywhere ("key" counts only after another key character).
_STRONG_WORDS = (*(h for h in _STRONG_HINTS if h != "key"), "signature", "authorization")
_STRONG = "(?:" + "|".join(_STRONG_WORDS) + "|" + _KEY_CHARS + "key)"
# An optional closing quote, escaped or not (JSON inside a JSON string: \"api_key\":, and
# deeper: \\\"api_key\\\":).
# After "]" and empty brackets too: user[password]=, password[]=, user[password][]=.
_SEP = "\\]?(?:\\[\\])*(?:\\\\*[\"'])?[ \t]*[=:]"
# A value that mixes letters and digits, matched to the first character that makes it so
# and no further (hyperscan reports every end offset, so each value ends once or twice).
_N = r"[^\sA-Za-z0-9\x80-\xff]"  # neither letter nor digit (non-ASCII bytes: both)
_L, _D = r"[A-Za-z\x80-\xff]", r"[0-9\x80-\xff]"
_NOT_L, _NOT_D = r"[^\sA-Za-z\x80-\xff]", r"[^\s0-9\x80-\xff]"


def _mixed(space: str) -> str:
    n, not_l, not_d = (c.replace(r"\s", space) for c in (_N, _NOT_L, _NOT_D))
    return n + "*(?:" + _L + not_d + "*" + _D + "|" + _D + not_l + "*" + _L + ")"


# A weak name's value that may be masked: one that mixes letters and digits, or holds "="
# or ":" (to the first one: one end each), which a weak name masks when a secret name's key
# stands before it (_keys._weak_credential; this is a superset); unquoted, it ends at a
# quote or backslash (_keys._WEAK_VALUE). Or any quoted value (escaped, \"...\", or with
# Python's prefix, b'...', u"..."): the match ends at its quote. Reading a quoted value to
# the character that makes it one of the others cost the scan ~2 ms per 8 MB, and such
# values are rare after a weak name (none in the real logs of benchmarks/README.md).
# Or a value in brackets, which may hold blanks (_keys._bracketed): at its bracket.
_MIXED = r">?[ \t]*(?:[bBuUrR]{0,2}\\*[\"']|[\[{(<]|" + _mixed(r"\s") + r"|[^\s\"\\:=]*[=:])"


def _trailer_words() -> list[str]:
    """The weak trailers the weak trigger must look for, fewest: the others are found anyway.

    A trailer holding a strong hint (SESSION_TOKEN, auth_secret) makes the strong trigger
    match at the name's separator, whatever its value ("key" too: a trailer follows the
    weak hint, so a key character stands before it, as _STRONG asks); one holding another
    trailer (codes, hmac, string) is found by that one, as the trailer branch reads key
    characters on both sides of it. Fewer words, a smaller automaton: the trigger with
    all 56 cost the scan ~2 ms more per 8 MB.
    """
    words = sorted(w.lower() for w in _WEAK_TRAILERS)
    strong = (*_STRONG_WORDS, "key")
    return [
        w
        for w in words
        if not any(h in w for h in strong) and not any(o != w and o in w for o in words)
    ]


# A weak hint and the rest of a name it makes secret (is_secret_name): nothing but digits
# and skipped qualifiers (REDIS_AUTH_PROD, sig_v4), or a trailer part anywhere after it
# (SESSION_ID, sessionKeyOld, AUTH_CODE, SESSION_ENCRYPT_KEY), apart or not (camelCase).
# Non-ASCII characters part names as separators do. Two expressions, one per form: as
# one alternation they cost the scan ~4 ms more per 8 MB.
_WEAK_HINT = r"(?:auth|sess(?:ion|id)?|sig|sid)"
_WEAK_SEPS = r"[_.\-\x80-\xff]*"
_WEAK_QUALIFIED = (
    "(?:" + _WEAK_SEPS + "(?:" + "|".join(sorted(w.lower() for w in _WEAK_SKIPPED))
    + "|[0-9]+))*" + _WEAK_SEPS
)  # fmt: skip
_WEAK_TRAILED = _KEY_CHARS + "*(?:" + "|".join(_trailer_words()) + ")" + _KEY_CHARS + "*"

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
    # _CARD: 13 digits at least, after no letter, digit or [_.+-], or after a string
    # escape or a percent-encoded byte (its look-behind).
    ("card", (r"(?:^|[^0-9A-Za-z_.+\-]|\\[bfnrt]|%[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}"
              r"|\\u[0-9A-Fa-f]{4})[2-6][0-9]{3}(?:[ \-]?[0-9]){9}"), False),
    # An opening tag's name holding a hint, matched to the hint's end: attributes or a
    # newline may follow the name (xml_reach finds the tag's "<" and reads the element).
    ("xml", "<(?:[a-z_]" + _TAG_CHARS + "*)?" + _HINTED.replace(_KEY_CHARS, _TAG_CHARS), True),
    # A name the rules also read lowercased (odd-cased: xAPi\u212aey) may hold a hint only
    # once lowered: KELVIN SIGN lowers to "k", LATIN CAPITAL I WITH DOT to "i" and a mark.
    ("xml", _LOWERS_TO_ASCII, False),
    ("key_value", _LOWERS_TO_ASCII, False),
    # A key holding only weak hints, and a value mixing letters and digits (or quoted):
    # these two must stay the last triggers but one.
    ("key_value", _WEAK_HINT + _WEAK_QUALIFIED + _SEP + _MIXED, True),
    ("key_value", _WEAK_HINT + _WEAK_TRAILED + _SEP + _MIXED, True),
    # _KEY_SEP_REV read forwards: a key holding a strong hint, an optional quote, blanks,
    # "=", "=>" or ":". The match ends at the separator (the engine reads the pair there,
    # see pair_left): it must stay the last trigger.
    ("key_value", _STRONG + _KEY_CHARS + "*" + _SEP, True),
)  # fmt: skip

# Pairs the key=value trigger reports (its key holds a strong hint) that _masked_value
# certainly leaves, recognised in the scan itself so that no Python reads them. A
# separator one of them matches at is one the trigger matched: the engine counts it as
# left (see _planner._plan) and reads only the others with pair_left. The key part is
# ASCII case-insensitive, the rest exact.
_KEY_HEAD = "(?i:" + _STRONG[3:] + _KEY_CHARS + "*"
_SEP_HEAD = "(?:\\\\*[\"'])?[ \t]*"  # as _SEP: a closing quote, escaped or not
_SEP_TAIL = "(?:=>?|:)[ \t]*"  # the separator and the blanks after it
_SEP_VALUE = _SEP_HEAD + _SEP_TAIL
# What ends an unquoted value for _VALUE ([^\s&]+): blanks or the end of a line, after
# trailers that _trim_value drops (a value holding no opener loses every closer).
_UNQUOTED_END = r"[,;.)\]}>]*(?:[ \t\r\f\v]|$)"


def _alternation(words: frozenset[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))


_LEFT_WORDS = _alternation((_BENIGN_VALUES - {""}) | _AUTH_SCHEMES)
_LEFT_QUOTED = _alternation(_BENIGN_VALUES - {""})
# Values that hold no "=" and no ":" but after a benign word (the separator of a match is
# the first "=" or ":" after its key part: tests/unit/test_redaction_prefilter.py).
_LEFT_VALUES = (
    # A Java/Kotlin object's toString (token=Token{a64f992 ...}): _TO_STRING's brace
    # form cut at a blank (its @hex form needs a look-ahead: Python reads those pairs).
    r"[A-Z][A-Za-z0-9_$]+\{[0-9a-f]{5,8}(?:[ \t\r\f\v]|$)|"
    # A benign value or an auth scheme's name, unquoted (token_type=bearer), or a mask.
    "(?i:" + _LEFT_WORDS + r"|\*+)" + _UNQUOTED_END + "|"
    # A benign value before closers and colons, which it is still (pam_unix(chpasswd:
    # chauthtok):, _keys._masked_value's core): not an auth scheme's name, read whole.
    "(?i:" + _LEFT_QUOTED + r")[\"',;.)\]}>:]*(?:[ \t\r\f\v]|$)"
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

#: LEFT_VALUE_PAIR from its separator on, for Python's ``re`` on the scan's bytes (with
#: re.MULTILINE, as hyperscan's "$"), matched at a separator the key=value trigger found:
#: the trigger's key part is LEFT_VALUE_PAIR's own (_STRONG, key characters, quote,
#: blanks), so there LEFT_VALUE_PAIR matches exactly when this does without a group, or,
#: for a stack frame, its group "frame" does and the key ends with one of
#: LEFT_FRAME_KEY_ENDS (its hint comes before: no extension holds one). A separator costs
#: one match instead of the pattern's ~8 ms a scan of the 8 MB corpus and a callback per
#: pair (see _planner._unclaimed). Its group "digits": a value of digits only, left under
#: a weak name (a count, active_tokens=243: _keys._weak_credential asks for letters too)
#: or under none, which the planner tells by reading the key; no database expression.
#: The separator is read once for the three (no value part starts with a blank or ">").
LEFT_AT = (
    _SEP_TAIL + "(?:" + _LEFT_VALUES + "|(?P<frame>[0-9]{1,5}" + _UNQUOTED_END + ")"
    + "|(?P<digits>[0-9]+" + _UNQUOTED_END + "))"
)  # fmt: skip
LEFT_FRAME_KEY_ENDS = tuple("." + ext for ext in _SOURCE_EXTENSIONS)


def _one_case_key(upper: bool) -> str:
    """A key run in one case only, from a strong hint to a last part in ``_NOT_SECRET_LAST``.

    One case only, the whole run: a key mixing cases may be odd-cased (``PASSword``,
    ``COOKIEAge``), which the name rules also read lowercased, so whether it is left is
    theirs to say.
    """
    # Strong hints only: the separators the key=value trigger reports (a weak key's pair,
    # read when the weak trigger fires, is then read by Python, never skipped). A claim
    # where the trigger reports nothing would only cost a callback.
    last = sorted(w.upper() if upper else w.lower() for w in _NOT_SECRET_LAST)
    chars = "[A-Z0-9_.\\-]" if upper else "[a-z0-9_.\\-]"
    words = "|".join(sorted(h.upper() if upper else h.lower() for h in _STRONG_WORDS))
    key = "KEY" if upper else "key"
    # The whole key run, from its first character: a key is in one case or it is not.
    start = r"(?:^|[^\w.\-\x80-\xff])"
    return f"(?:{start}{chars}*(?:{words}|{chars}{key}){chars}*[0-9_.\\-](?:{'|'.join(last)}))"


def _hinted_last(upper: bool) -> str:
    """A key run in one case ending in a word of ``_NOT_SECRET_LAST`` that holds a hint.

    Alone or after other parts (last_passed, bypass: nginx's status JSON; PROXY_BYPASS):
    no secret name, whatever the parts before it (the last part says so), and none alone
    either (tests/unit/test_redaction_prefilter.py holds both).
    """
    words = sorted(w.upper() if upper else w.lower() for w in HINTED_LAST)
    chars = "[A-Z0-9_.\\-]" if upper else "[a-z0-9_.\\-]"
    start = r"(?:^|[^\w.\-\x80-\xff])"
    return f"(?:{start}(?:{chars}*[0-9_.\\-])?(?:{'|'.join(words)}))"


#: Qualifiers of a key's id (AWS_ACCESS_KEY_ID, api_key_id, KMS_KEY_ID): an id names a
#: key, it is none (is_secret_name: KEY after a qualifier, but not KEY_ID). No hint in any.
KEY_ID_QUALIFIERS = (
    *("ACCESS", "ACCOUNT", "AGE", "API", "APP", "AWS", "AZURE", "CLIENT", "DOTENV", "ENC"),
    *("ENCRYPTION", "GCP", "GPG", "HMAC", "KMS", "LICENSE", "MASTER", "PGP", "PRIV"),
    *("PRIVATE", "PUBLIC", "ROOT", "SERVICE", "SHARED", "SIGNING", "SSH", "STORAGE", "USER"),
)


def _key_id(upper: bool) -> str:
    """A key run in one case made of one to three KEY_ID_QUALIFIERS, then KEY and ID."""
    words = "|".join(w.upper() if upper else w.lower() for w in KEY_ID_QUALIFIERS)
    key_id = "KEY[_.\\-]ID" if upper else "key[_.\\-]id"
    start = r"(?:^|[^\w.\-\x80-\xff])"
    return f"(?:{start}(?:(?:{words})[_.\\-]){{1,3}}{key_id})"


#: The words of _NOT_SECRET_LAST that hold a strong hint (_hinted_last).
HINTED_LAST = tuple(
    sorted(w for w in _NOT_SECRET_LAST if any(h.upper() in w for h in _STRONG_HINTS))
)

#: Not a trigger: the separator (the match ends there) of a key holding a strong hint whose
#: last part says it is about a secret, not one (SESSION_COOKIE_AGE=, token_type:,
#: last_passed:), or that names a key's id (AWS_ACCESS_KEY_ID=), in one case only; the
#: shell's PWD and OLDPWD, in any case. And a key the cookie rule owns (Cookie:,
#: Set-Cookie:), the whole key run.
LEFT_KEY_PAIR = (
    "(?:" + _one_case_key(upper=True) + "|" + _one_case_key(upper=False)
    + "|" + _hinted_last(upper=True) + "|" + _hinted_last(upper=False)
    + "|" + _key_id(upper=True) + "|" + _key_id(upper=False)
    + r"|(?:^|[^\w.\-\x80-\xff])(?i:cookie|set-cookie|"
    + "|".join(sorted(n.lower() for n in _NOT_SECRET_NAMES)) + "))" + _SEP_HEAD + "[=:]"
)  # fmt: skip

#: Steps whose matches may span lines: run on the whole text, not line by line.
MULTILINE = frozenset({"pem", "xml"})
