"""The detectors behind :func:`hardenkit.redaction.redact` and the secret-name rule set.

Three families: value patterns (shapes from detect-secrets 1.5 and gitleaks' default
rules), context rules the scanners miss (URL userinfo, Authorization headers, cookies,
card numbers that pass Luhn, XML elements) and key-name rules (``password=...``,
``"api_key": "..."``). :func:`triggers` decides in a few C-level calls which detectors
could change a text (none, for an ordinary log line), and :func:`apply_rules` runs only
those, in the fixed order of :data:`STEPS`.

Every rule masks only the secret and keeps its context, and skips a value that is already
a mask, so running the rules again changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any, cast

from hardenkit._secret_names import (
    _BENIGN_VALUES,
    MASK,
    _weak_name,
    is_mask,
    is_secret_name,
)

__all__ = ["MASK", "STEPS", "apply_rules", "is_mask", "is_secret_name", "triggers"]


# --------------------------------------------------------------------------- helpers

_Sub = Callable[[str], str]  # a text-to-text substitution


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


class _LazyPattern:
    """A regex compiled on its first use, then as fast as the compiled one.

    The detectors' ~40 patterns cost ~7 ms to compile; a process that redacts one log
    line (``hardenkit exec`` logs a warning) needs only the trigger scan and the steps it
    finds. On first use the compiled pattern's methods are stored on the instance, so
    later lookups never reach ``__getattr__``. Two threads may both compile: harmless.
    """

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        compiled = re.compile(*self._source)
        for attr in _PATTERN_ATTRS:
            setattr(self, attr, getattr(compiled, attr))
        return getattr(compiled, name)


_PATTERN_ATTRS = (
    *("sub", "subn", "search", "match", "fullmatch", "finditer", "findall", "split"),
    *("groupindex", "groups", "pattern", "flags"),
)


def _lazy(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile`` deferred to the first use (see :class:`_LazyPattern`)."""
    return cast("re.Pattern[str]", _LazyPattern(pattern, flags))


def _tokenish(value: str, min_len: int = 16) -> bool:
    """A credential-looking run: long enough, letters and digits mixed."""
    if len(value) < min_len:
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha


def _mask_group(pattern: re.Pattern[str], group: str = "s") -> _Sub:
    """A substitution masking one named group of every match (the whole match if absent)."""

    def repl(m: re.Match[str]) -> str:
        if group not in pattern.groupindex:  # read here: the pattern compiles on first use
            return m.group(0) if is_mask(m.group(0)) else MASK
        value = m.group(group)
        if value is None or not value or is_mask(value):
            return m.group(0)
        base = m.start()
        whole = m.group(0)
        return whole[: m.start(group) - base] + MASK + whole[m.end(group) - base :]

    def sub(text: str) -> str:
        return pattern.sub(repl, text)

    return sub


# --------------------------------------------------------------------------- value patterns

_ALNUM_AFTER = r"(?![A-Za-z0-9])"


def _after(prefix_len: int) -> str:
    """A look-behind placed after a literal prefix: no letter or digit comes before it.

    At the start of a pattern it would cost re its literal-prefix fast search.
    """
    return rf"(?<![A-Za-z0-9].{{{prefix_len}}})"


def _value(pattern: str) -> _Sub:
    return _mask_group(_lazy(pattern))


_aws = _value(r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)" + _after(4) + r"[A-Z0-9]{16}" + _ALNUM_AFTER)
_github = _value(r"gh[pousr]_" + _after(4) + r"[A-Za-z0-9]{36,255}" + _ALNUM_AFTER)
_github_pat = _value(r"github_pat_[A-Za-z0-9_]{22,255}")
_gitlab = _value(r"gl(?:pat|dt|rt|ptt|cbt|soat|ft|imt|oas|agent)-[A-Za-z0-9_\-]{20,}")
_grafana = _value(r"gl(?:c|sa)_[A-Za-z0-9+/_]{32,}={0,2}")
_slack = _value(r"xox[abposre]-[A-Za-z0-9\-]{10,}")
_slack_app = _value(r"xapp-\d-[A-Za-z0-9\-]{20,}")
_slack_hook = _value(r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9+/_\-]+)")
_stripe = _value(r"[sr]k_(?:live|test)_" + _after(8) + r"[A-Za-z0-9]{10,247}")
_stripe_hook = _value(r"whsec_[A-Za-z0-9+/]{24,}={0,2}")
_google_key = _value(r"AIza[A-Za-z0-9_\-]{35}")
_google_oauth = _value(r"ya29\.[A-Za-z0-9_\-]{20,}")
_google_client = _value(r"GOCSPX-[A-Za-z0-9_\-]{20,}")
# Only at a token's start: "eyJeyJeyJ..." would otherwise rescan the run from every eyJ.
_jwt = _value(
    r"eyJ(?<![A-Za-z0-9_\-]...)[A-Za-z0-9_\-]{8,}={0,2}\.[A-Za-z0-9_\-]{8,}={0,2}"
    r"(?:\.[A-Za-z0-9_\-+/]*=*)?"
)
_openai = _value(r"sk-(?<![A-Za-z0-9_\-]sk-)[A-Za-z0-9_\-]{20,}")
_npm = _value(r"npm_[A-Za-z0-9]{36}" + _ALNUM_AFTER)
_pypi = _value(r"pypi-Ag[A-Za-z0-9_\-]{50,}")
_huggingface = _value(r"hf_" + _after(3) + r"[A-Za-z0-9]{30,}")
_huggingface_org = _value(r"api_org_[A-Za-z0-9]{30,}")
_age = _value(r"AGE-SECRET-KEY-1[0-9A-Z]{58}")
_sendgrid = _value(r"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}")
_digitalocean = _value(r"do[opr]_v1_[a-f0-9]{64}")
_shopify = _value(r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}")
_databricks = _value(r"dapi" + _after(4) + r"[a-f0-9]{32}(?:-\d)?")
_twilio = _value(r"SK" + _after(2) + r"[0-9a-fA-F]{32}" + _ALNUM_AFTER)
_vault = _value(r"hv[sbr]\.[A-Za-z0-9_\-]{24,}")
_square = _value(r"sq0(?:atp|csp)-[A-Za-z0-9_\-]{22,}")
_atlassian = _value(r"ATATT3[A-Za-z0-9_\-=]{50,}")


# Applied in this order; the pipeline runs one only when its trigger (below) occurs.
_VALUE_SUBS: tuple[tuple[str, _Sub], ...] = (
    ("github", _github),
    ("github_pat", _github_pat),
    ("stripe", _stripe),
    ("stripe_hook", _stripe_hook),
    ("npm", _npm),
    ("huggingface", _huggingface),
    ("huggingface_org", _huggingface_org),
    ("digitalocean", _digitalocean),
    ("shopify", _shopify),
    ("grafana", _grafana),
    ("gitlab", _gitlab),
    ("slack", _slack),
    ("slack_app", _slack_app),
    ("google_client", _google_client),
    ("openai", _openai),
    ("pypi", _pypi),
    ("age", _age),
    ("square", _square),
    ("google_oauth", _google_oauth),
    ("jwt", _jwt),
    ("slack_hook", _slack_hook),
    ("sendgrid", _sendgrid),
    ("vault", _vault),
    ("aws", _aws),
    ("google_key", _google_key),
    ("atlassian", _atlassian),
    ("databricks", _databricks),
    ("twilio", _twilio),
)


# --------------------------------------------------------------------------- PEM blocks

_PEM = _lazy(
    r"(?P<begin>-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)"
    r"(?P<body>.*?)"
    r"(?P<end>-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)


def _pem_repl(m: re.Match[str]) -> str:
    body = m.group("body")
    if not body.strip() or is_mask(body.replace("\\n", "").strip()):
        return m.group(0)
    return m.group("begin") + MASK + m.group("end")


def _sub_pem(text: str) -> str:
    """Mask a private key's body, to the end of the text when its END line is missing."""
    return _PEM.sub(_pem_repl, text)


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
    r"[Aa](?i:uthorization)[\"']?[ \t]*[:=][ \t]*[\"']?(?P<scheme>[A-Za-z][A-Za-z0-9_\-]*)[ \t]+"
    r"(?P<s>[^\s\"',;]+)"
)
_BEARER = _lazy(r"[Bb](?i:earer)[ \t]+(?P<s>[A-Za-z0-9._~+/\-]+=*)")
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


_COOKIE_HEADER = _lazy(r"(?P<head>[Cc](?i:ookie)[ \t]*[:=][ \t]*)(?P<rest>[^\r\n]*)")
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
_VALUE = _lazy(
    r"\"(?:[^\"\\\n]|\\.)*\"?|'(?:[^'\\\n]|\\.)*'?"
    r"|[^\s&]+(?:&(?![\w.\-\[\]]+=)[^\s&]*)*"
)
# Trailing characters that close something around the pair rather than the value, dropped
# from an unquoted value while unbalanced inside it: `(password=abc)`, `"x?pwd=abc"`.
_CLOSERS = {")": "(", "]": "[", "}": "{", ">": "<"}
_TRAILERS = frozenset("\"',;.)]}>")
# A Java/Kotlin object's toString ("Token{a64f992 ...}", "Token@1a2b"): a type, not a value.
_TO_STRING = _lazy(r"[A-Z][A-Za-z0-9_$]*[{@(\[]")
# Handled by their own rules, which keep the scheme or the harmless cookies.
_KEYS_ELSEWHERE = frozenset({"cookie", "set-cookie"})
_PORT = _lazy(r"[0-9]{1,5}")


def _trim_value(value: str) -> str:
    """An unquoted value without the closers that belong to the text around it."""
    while value and value[-1] in _TRAILERS:
        last = value[-1]
        opener = _CLOSERS.get(last)
        if opener is not None:
            if value.count(opener) >= value.count(last):
                break
        elif last in "\"'" and value.count(last) % 2 == 0:
            break
        value = value[:-1]
    return value


def _masked_value(key: str, value: str) -> str | None:
    """The masked form of ``value`` under ``key``, or None when it stays."""
    if key.lower() in _KEYS_ELSEWHERE or not is_secret_name(key) or is_mask(value):
        return None
    quote = value[0] if value[0] in "\"'" and len(value) > 1 and value[-1] == value[0] else ""
    inner = value[1:-1] if quote else value
    low = inner.strip().lower()
    if low in _BENIGN_VALUES or (not quote and low in _AUTH_SCHEMES):
        return None
    if not quote and (_TO_STRING.match(inner) or ("." in key and _PORT.fullmatch(inner))):
        return None
    if _weak_name(key) and not _tokenish(inner, 8):
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
        run = m.group("key")[::-1]
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


# --------------------------------------------------------------------------- triggers

# Which detectors could change a text, answered for an ordinary log line by one regex
# search, one bytes.translate and a few `in` tests instead of a test per detector.
#
# _TRIGGER finds what most detectors need (a token prefix, "token"/"key"/"cookie"/"pwd"/
# "jwt" ending a key before its separator, "cookie:", "PRIVATE KEY", "@", "</") at one of
# its rarer characters, the pivot: the regex is a branch of single characters, so re skips
# every other character without entering the pattern, and look-arounds check the rest.
# A match is the pivot alone, so no trigger hides another; at one position the
# alternatives of different detectors exclude each other (their neighbouring characters
# differ), and the empty group that matched names the steps. Each candidate position
# costs re about 50-100 ns, so hints made of frequent letters (pass, secret, auth...)
# are tested with `in` on the squashed text instead (see triggers()).


def _ci(word: str) -> str:
    """``word`` in any case, as classes (IGNORECASE would cost re its branch fast path)."""
    return "".join(f"[{c.upper()}{c}]" if c.isalpha() else re.escape(c) for c in word)


_Alts = tuple[tuple[str, tuple[str, ...]], ...]
# "cookie:" (a header); a key ending in token/key/cookie/pwd/jwt is found by the squashed
# `in` tests instead: a look-ahead over the rest of the key at every such word rescans
# the word once per hint in it, quadratic on "keykeykey...".
_KV_K: _Alts = (("(?=" + _ci("ie") + "(?<=" + _ci("cookie") + r")[ \t]*[:=])", ("cookie",)),)

# Pivot, then its alternatives; the most frequent pivots in log text first.
_PIVOTS: tuple[tuple[str, _Alts], ...] = (
    ("y", ((r"(?=a29\.)", ("google_oauth",)),)),
    (
        "g",
        (
            (r"(?=h[pousr]_)", ("github",)),
            (r"(?=ithub_pat_)", ("github_pat",)),
            (r"(?=l(?:pat|dt|rt|ptt|cbt|soat|ft|imt|oas|agent)-)", ("gitlab",)),
            (r"(?=l(?:c|sa)_)", ("grafana",)),
        ),
    ),
    (
        "k",
        (
            *_KV_K,
            (r"(?=_(?<=[sr]k_)(?:live|test)_)", ("stripe",)),
            (r"(?=-(?<=sk-))", ("openai",)),
            (r"(?=s(?<=hooks)\.slack\.com/)", ("slack_hook",)),
        ),
    ),
    ("q", ((r"(?=0(?<=sq0)(?:atp|csp)-)", ("square",)),)),
    ("v", ((r"(?=[sbr](?<=hv[sbr])\.)", ("vault",)),)),
    (
        "_",
        (
            (r"(?<=whsec_)", ("stripe_hook",)),
            (r"(?<=npm_)", ("npm",)),
            (r"(?<=hf_)", ("huggingface",)),
            (r"(?=o(?<=api_o)rg_)", ("huggingface_org",)),
            (r"(?=v(?<=do[opr]_v)1_)", ("digitalocean",)),
            (r"(?<=shp(?:at|ca|pa|ss)_)", ("shopify",)),
        ),
    ),
    ("x", ((r"(?=ox[abposre]-)", ("slack",)), (r"(?=app-)", ("slack_app",)))),
    (
        "A",
        (
            (r"(?=(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}|3T[A-Z0-9]{17})", ("aws",)),
            (r"(?=Iza)", ("google_key",)),
            (r"(?=TATT3)", ("atlassian",)),
            (r"(?=GE-SECRET-KEY-1)", ("age",)),
            (r"(?=g(?<=pypi-Ag))", ("pypi",)),
        ),
    ),
    ("K", _KV_K),
    ("S", ((r"(?=G\.)", ("sendgrid",)), (r"(?=K[0-9a-fA-F]{32})", ("twilio",)))),
    ("X", ((r"(?=-(?<=GOCSPX-))", ("google_client",)),)),
    ("J", ((r"(?<=eyJ)", ("jwt",)),)),
    ("V", ((r"(?=ATE KEY(?<=PRIVATE KEY))", ("pem",)),)),
    ("@", ((r"", ("url",)),)),
    ("<", ((r"(?=/)", ("xml",)),)),
)


def _compile_trigger() -> tuple[re.Pattern[str], tuple[tuple[str, ...], ...]]:
    """The pivot regex, and the steps each of its (empty, numbered) groups stands for."""
    steps: list[tuple[str, ...]] = [()]
    branches = []
    for pivot, alts in _PIVOTS:
        parts = []
        for pattern, names in alts:
            parts.append(pattern + "()")
            steps.append(names)
        branches.append(re.escape(pivot) + "(?:" + "|".join(parts) + ")")
    return re.compile("|".join(branches)), tuple(steps)


_TRIGGER, _GROUP_STEPS = _compile_trigger()


def _squash_table() -> bytes:
    """Letters to lower case (x as c, g as d), digits to 0, anything else to a dot."""
    table = bytearray(b"." * 256)
    table[ord("0") : ord("9") + 1] = b"0" * 10
    for c in range(ord("a"), ord("z") + 1):
        table[c] = table[c - 32] = c
    for letter, same in (("x", "c"), ("g", "d")):
        table[ord(letter)] = table[ord(letter.upper())] = ord(same)
    return bytes(table)


# The squashed text answers the rest. With spaces and dashes deleted, the digits of a card
# (13 to 19, separated by at most one space or dash) become a run of 13 zeros, and every
# remaining key-name hint of the lower-cased text (plus "auth", "bearer" and "dapi")
# still occurs, folded (sig as sid, xsrf as csrf). Both are supersets of what the
# detectors need; a false alarm only costs the detector's own run.
_SQUASH = _squash_table()
_SQUASH_DELETE = b" -"
_CARD_RUN = "0" * 13
# Whether some key holding a key-name hint ends at a separator, asked of the reversed text:
# from each separator (found by re's charset search) the lazy run reads that key only,
# and keys never overlap (key characters exclude the separators), so this is linear.
# A key that starts with "key" is secret only through another hint in it (API_KEY, apiKey:
# KEY needs a part before it), so "yek" must be followed, backwards, by a key character.
_KEY_HINT_REV = _lazy(
    r"(?:>=|=|:)[ \t]*[\"']?[\w.\-]*?(?:"
    + "|".join(_ci(h[::-1]) + (r"(?=[\w.\-])" if h == "key" else "") for h in _KEY_HINTS)
    + ")"
)


def _key_value_hint(sq: str, text: str) -> bool:
    """A key-name hint in the squashed text, and one inside a key that ends at a separator."""
    hinted = (
        "pass" in sq
        or "sess" in sq
        or "secret" in sq
        or "sid" in sq
        or "dsn" in sq
        or "cred" in sq
        or "csrf" in sq
        or "auth" in sq
        or "token" in sq
        or "key" in sq
        or "pwd" in sq
        or "jwt" in sq
        or "cookie" in sq
    )
    return hinted and _KEY_HINT_REV.search(text[::-1]) is not None


#: The `in` tests of triggers(), spelled out there for speed; a test keeps them in step.
SQUASHED_HINTS = (
    "pass",
    "sess",
    "secret",
    "sid",
    "dsn",
    "cred",
    "csrf",
    "auth",
    "token",
    "key",
    "pwd",
    "jwt",
    "cookie",
)
_HINT_STEPS = frozenset({"auth", "cookie", "key_value"})
_NOTHING: frozenset[str] = frozenset()


def _hints(text: str) -> bool:
    """The lower-cased tests the key-name, auth and cookie detectors start from."""
    low = text.lower()
    return "bearer" in low or any(h in low for h in _KEY_HINTS)


def triggers(text: str) -> frozenset[str] | set[str]:
    """Names of the pipeline steps that could change ``text`` (none for most log lines).

    A superset: a step left out cannot change the text, so skipping it changes nothing.
    Masking never adds a trigger (no trigger spans a ``*``), so the set found for a text
    also covers every text a redaction of it produces.

    Examples:
        >>> sorted(triggers("GET /health 200 in 30 s"))
        []
        >>> sorted(triggers("ci: GITHUB_TOKEN=ghs_" + "x" * 36))
        ['github', 'key_value']
    """
    first = _TRIGGER.search(text)
    if text.isascii():
        sq = text.encode().translate(_SQUASH, _SQUASH_DELETE).decode("latin-1")
        card = _CARD_RUN in sq
        key_value = _key_value_hint(sq, text)
        auth = "auth" in sq or "bearer" in sq
        databricks = "dapi" in sq
        if first is None and not (card or key_value or auth or databricks):
            return _NOTHING
        hint = False
    else:
        raw = text.encode("utf-8", "surrogatepass").translate(_SQUASH, _SQUASH_DELETE)
        card = _CARD_RUN in raw.decode("latin-1")
        key_value = auth = hint = _hints(text)
        databricks = "dapi" in text
    found: set[str] = set()
    if first is not None:
        for m in _TRIGGER.finditer(text, first.start()):
            found.update(_GROUP_STEPS[m.lastindex or 0])
    if card:
        found.add("card")
    if key_value:
        found.add("key_value")
    if auth:
        found.add("auth")
    if hint:
        found |= _HINT_STEPS
    if databricks:
        found.add("databricks")
    return found


# --------------------------------------------------------------------------- pipeline


def _step_url(text: str) -> str:
    return _sub_url(text) if "://" in text else text


#: Every detector, in the order they apply; each is complete on its own (triggers only
#: skip work), so running all of them unconditionally gives the same text.
STEPS: tuple[tuple[str, _Sub], ...] = (
    ("pem", _sub_pem),
    *_VALUE_SUBS,
    ("url", _step_url),
    ("auth", _sub_auth),
    ("cookie", _sub_cookie),
    ("card", _sub_card),
    ("xml", _sub_xml),
    ("key_value", _sub_key_value),
)


_STEP_ORDER = {name: i for i, (name, _) in enumerate(STEPS)}
_STEP_SUB = dict(STEPS)


def apply_rules(text: str, found: Collection[str] | None = None) -> str:
    """Run, in order, the detectors named in ``found`` (default: :func:`triggers` of text).

    Examples:
        >>> apply_rules("card 4242 4242 4242 4242 declined")
        'card *** declined'
    """
    if found is None:
        found = triggers(text)
    for name in sorted(found, key=_STEP_ORDER.__getitem__):
        text = _STEP_SUB[name](text)
    return text
