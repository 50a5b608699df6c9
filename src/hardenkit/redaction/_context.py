"""Context rules: secrets found by what surrounds them.

URL userinfo, Authorization headers and bearer tokens, cookies, card numbers that pass
Luhn and XML elements named like secrets. The key-name rule (``name=value`` pairs) is in
:mod:`hardenkit.redaction._keys`; the rules' steps and hyperscan triggers, which the
engine's one scan uses to pick the rules to run and the lines to run them on, are in
:mod:`hardenkit.redaction._context_triggers`.

Every rule masks only the secret and keeps its context, and skips a value that is already
a mask, so running the rules again changes nothing. Case-insensitive parts are ASCII-only
(``(?ai:...)``), as the triggers are.
"""

from __future__ import annotations

from hardenkit.redaction._names import (
    _BENIGN_VALUES,
    MASK,
    is_mask,
    is_secret_name,
)
from hardenkit.redaction._patterns import _after, lazy, mask_group, tokenish

# Not typing.TYPE_CHECKING: importing typing costs a first use several ms (the audit's
# environment check, `hardenkit audit`), and type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

__all__ = ["xml_reach"]

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
# The user may hold a raw "@" (Azure's user@server, ann@example.com): the password runs
# to the authority's last "@" (_userinfo_repl).
_URL_USERINFO = _lazy(r"://[^\s:/?#\"'<>]*:(?P<t>(?:[^\s\"'<>:]|:(?!//))*)")
# "host:8080/path/a@b": a port then a path, not a password.
_URL_PORT = _lazy(r"[0-9]{1,5}(?:[/?#]|$)")
_AUTHORITY_END = _lazy(r"[/?#]")
_URL_TOKEN_USER = _lazy(r"(?P<pre>://)(?P<s>[A-Za-z0-9_.~%\-]{16,})@")
_EMAIL_USER = _lazy(r"[A-Za-z0-9._+\-]+%40[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def _url_token_repl(m: re.Match[str]) -> str:
    # A user that is an e-mail address, its "@" encoded (https://ann%40example.com@host).
    user = m.group("s")
    if not _tokenish(user) or _EMAIL_USER.fullmatch(user) is not None:
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
        # Then up to the last "@" before the next "/", "?" or "#": the masked output has no
        # raw "/" left before it, and a second pass reads its authority that far (``u:pa//@@h``
        # gave "***@@h", then "***@h"). The rule must give its own output back unchanged:
        # the planner runs each detector once.
        after = _AUTHORITY_END.search(rest, at)
        at = rest.rfind("@", at, after.start() if after else len(rest))
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
# The match ends at the credentials' first character; _auth_end finds their end.
_AUTH_HEADER = _lazy(
    r"[Aa](?ai:uthorization)[\"']?[ \t]*[:=][ \t]*(?P<q>[\"']?)"
    r"(?P<scheme>[A-Za-z][A-Za-z0-9_\-]*)[ \t]+(?P<s>[^\s\"',;])"
)
# The credentials, to the end of the header value: the quote that closes it (one not
# escaped, nor one of an auth-param's quoted string: Digest's realm="r" inside '...' or
# "...", read as such only when a separator or the value's end follows it, so that
# Basic's padding, "Authorization: Basic YWI=", "n": 1, is none), else the end of the
# line. Each character has one way to be read, and a quoted string that fails to be one
# is not read again (the next '"' ends the value, or is read as one character).
# No possessive quantifier (Python 3.11's): none would change a match. Nothing follows the
# outer star, and the inner run cannot give back a '"' (its class has none, and "\\." is
# read whole), so neither backtracks into another reading.
_AUTH_PARAM_QUOTED = r'=[ \t]*"(?:[^"\\\r\n]|\\.)*"(?=[ \t]*(?:[,;"\'\r\n]|$))'
_AUTH_TO_DQUOTE = _lazy(r"(?:" + _AUTH_PARAM_QUOTED + r'|\\.|[^"\\\r\n])*')
_AUTH_TO_SQUOTE = _lazy(r"(?:" + _AUTH_PARAM_QUOTED + r"|\\.|[^'\\\r\n])*")
_AUTH_TO_EOL = _lazy(r"[^\r\n]*")
_BEARER = _lazy(r"[Bb](?ai:earer)[ \t]+(?P<s>[A-Za-z0-9._~+/\-]+=*)")
# Schemes a key=value reading leaves as the value (Authorization: AWS4-HMAC-SHA256 ***).
_AUTH_SCHEMES = frozenset(
    {"bearer", "basic", "token", "digest", "negotiate", "ntlm", "apikey", "api-key", "key"}
    | {"aws4-hmac-sha256", "oauth"}
)


def _bearer_repl(m: re.Match[str]) -> str:
    value = m.group("s")
    if is_mask(value) or not _tokenish(value, 8):
        return m.group(0)
    return m.group(0)[: m.start("s") - m.start()] + MASK


_HEADER_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_HEADER_PREFIX_MAX = 64


def _opening_quote(text: str, at: int) -> str:
    """The quote before the header name ending at ``at`` (``"Proxy-Authorization: ..."``)."""
    stop = max(0, at - _HEADER_PREFIX_MAX)  # bounded: a name's prefix, read once a match
    while at > stop and text[at - 1] in _HEADER_NAME_CHARS:
        at -= 1
    return text[at - 1] if at and text[at - 1] in "\"'" else ""


def _auth_end(text: str, m: re.Match[str]) -> int:
    """Where the header value whose credentials start at ``m``'s group "s" ends.

    Quoted after its separator (``"Authorization": "Digest ..."``) or as a whole
    (``-H 'Authorization: Basic ...'``), at its closing quote; else at the end of the line.
    """
    closer = m.group("q") or _opening_quote(text, m.start())
    pattern = (
        _AUTH_TO_DQUOTE if closer == '"' else _AUTH_TO_SQUOTE if closer == "'" else _AUTH_TO_EOL
    )
    start = m.start("s")
    run = pattern.match(text, start)  # a star: it always matches
    end = run.end() if run is not None else start
    while end > start and text[end - 1] in " \t":  # the line's or quote's blanks stay
        end -= 1
    return end


def _sub_auth_header(text: str) -> str:
    """Mask everything after an ``Authorization:`` header's scheme, to the value's end.

    One rule for every scheme (RFC 7235): a token68 (Basic, Bearer, Negotiate) and an
    auth-param list (Digest's ``username="u", response="..."``, AWS4-HMAC-SHA256's
    ``Credential=..., Signature=...``) alike; the scheme stays.
    """
    out: list[str] = []
    last = pos = 0
    while (m := _AUTH_HEADER.search(text, pos)) is not None:
        start, end = m.start("s"), _auth_end(text, m)
        pos = max(end, m.end())
        if is_mask(text[start:end]):
            continue
        out.append(text[last:start])
        out.append(MASK)
        last = end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


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
# A number joined to the word before it is none (an id, a version, a path's digits), but a
# path's part is a word of its own (/cards/4242.../charge), and so is a number after a
# string escape (a JSON log line's "\n4242...", Go's "\u003e4242...") or a percent-encoded
# byte (%204242...).
# The token shapes' word start (_after), here after the first digit.
_CARD = _lazy(
    r"[2-6]" + _after(1, r"0-9A-Za-z_.+\-") + r"[0-9]{3}(?:[ \-]?[0-9]){9,15}(?![0-9A-Za-z_\-])"
)


def _card_end(raw: str) -> int:
    """The length of the longest card number ``raw`` starts with, or 0.

    A number may be followed by a blank and other digits that _CARD's greedy run took
    (``4111111111111111 2 items``): each end before a blank is tried, longest first. A
    candidate is at most 34 characters long.
    """
    ends = [len(raw)]
    ends.extend(i for i in range(len(raw) - 1, 0, -1) if raw[i] == " ")
    for end in ends:
        part = raw[:end]
        if " " in part and "-" in part:  # one kind of separator only
            continue
        digits = part.replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and _card_brand_ok(digits) and _luhn(digits):  # noqa: PLR2004
            return end
    return 0


def _next_group(text: str, start: int, end: int) -> int:
    """Where to search for a card again after the failed run ``text[start:end]``."""
    if text[start - 1 : start] == "%":
        return start + 2
    for i in range(start + 1, end):
        if text[i] == " " and text[i + 1 : i + 5].isdigit():
            return i + 1
    return end


def _card_reach(text: str, start: int, end: int) -> int:
    """The end of the card at ``text[start:end]``, or of a card that starts inside it.

    A number before a card may make a card with its first groups ("amount 3000 4111 1111
    1111 1111": 3000 4111 1111 1111 passes Luhn, as a Diners number): the groups after it
    would be left. A card found starting at a later group of the run, inside the span, that
    ends further, extends it: the mask covers both. Each step moves past a group.
    """
    at = _next_group(text, start, end)
    while at < end:
        m = _CARD.search(text, at)
        if m is None or m.start() >= end:
            break
        further = _card_end(m.group(0))
        if further:
            end = max(end, m.start() + further)
        at = _next_group(text, m.start(), min(m.end(), end))
    return end


def _sub_card(text: str) -> str:
    """Mask 13 to 19 digit card numbers (optionally spaced or dashed) that pass Luhn."""
    search = _CARD.search
    m = search(text)
    if m is None:
        return text
    out: list[str] = []
    last = 0
    while m is not None:
        start = m.start()
        end = _card_end(m.group(0))
        if end:
            out.append(text[last:start])
            out.append(MASK)
            last = _card_reach(text, start, start + end)
            m = search(text, last)
        else:
            # A card may start inside the run after a number that is none: "amount 3000
            # 4111 1111 1111 1111", "%204111..." (an encoded byte's digits). Searched again
            # from the run's next group of four digits or more (a card's groups are four,
            # Amex's second six), there _CARD's look-behind allows it; each retry moves
            # past a group of the run, so the text is read a bounded number of times.
            m = search(text, _next_group(text, start, m.end()))
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


# An opening tag: its name, then attributes in any quoting up to ">" (a quoted value holds no
# "<", which XML forbids there), across lines too. Each candidate reads to the next "<" at
# most, and each character has one way to be read (a quote only as a value's), so the
# backtracking of a failed candidate is bounded by that same run.
_XML_OPEN = _lazy(r"<(?P<tag>[A-Za-z_][\w.\-:]*)(?:\s(?:[^<>\"']|\"[^\"<]*\"|'[^'<]*')*)?>")
_XML_TEXT = _lazy(r"[^<]+")
_XML_CDATA_OPEN = _lazy(r"\s*<!\[CDATA\[")
# A CDATA section ends at its first "]]>"; one that meets another section's start first is
# not read as one (so each section start is read from once: linear on ``<![CDATA[`` runs).
_XML_CDATA_STOP = _lazy(r"\]\]>|<!\[CDATA\[")
_XML_CLOSE = _lazy(r"\s*</(?P<tag>[A-Za-z_][\w.\-:]*)\s*>")
_CDATA_END = "]]>"


def _xml_element(text: str, m: re.Match[str]) -> tuple[int, int, int] | None:
    """``(value start, value end, element end)`` of the element opened by ``m``, or None.

    Its content is text without markup, or one CDATA section (blanks around it allowed;
    the value is the section's inside). Only elements named like secrets are read.
    """
    tag = m.group("tag")
    after = m.end()
    if text[after - 2] == "/" or not is_secret_name(tag):  # <password/> holds nothing
        return None
    cdata = _XML_CDATA_OPEN.match(text, after)
    if cdata is not None:
        stop = _XML_CDATA_STOP.search(text, cdata.end())
        if stop is None or stop.group() != _CDATA_END:
            return None
        start, end = cdata.end(), stop.start()
        close = _XML_CLOSE.match(text, stop.end())
    else:
        body = _XML_TEXT.match(text, after)
        if body is None:
            return None
        start, end = after, body.end()
        close = _XML_CLOSE.match(text, end) if text.startswith("</", end) else None
    if close is None or close.group("tag") != tag:
        return None
    return start, end, close.end()


def _sub_xml(text: str) -> str:
    """Mask the text of ``<password>...</password>``-style elements.

    Also with attributes (``<password type="str">``), a namespace (``<ns:password>``) or
    CDATA content (``<password><![CDATA[***]]></password>``: the section's inside is
    masked, its wrapper kept). Attribute values are not read.
    """
    if "</" not in text:
        return text
    out: list[str] = []
    last = 0
    for m in _XML_OPEN.finditer(text):
        if m.start() < last:  # inside an element read already
            continue
        found = _xml_element(text, m)
        if found is None:
            continue
        start, end, stop = found
        value = text[start:end]
        if not is_mask(value) and value.lower() not in _BENIGN_VALUES:
            out.append(text[last:start])
            out.append(MASK)
            out.append(text[end:stop])
        else:
            out.append(text[last:stop])
        last = stop
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def xml_reach(text: str, lo: int, end: int) -> int:
    """Where the element whose opening tag's trigger ends at ``end`` ends (``end`` if none).

    ``lo``: where the previous XML trigger ended. The trigger ends inside the tag's name,
    which holds no ``<``, so its tag starts at the last ``<`` before ``end``; none after
    ``lo`` means the previous trigger's tag, whose element was reached already (reading
    only from ``lo`` keeps a run of triggers linear).
    """
    begin = text.rfind("<", lo, end)
    m = _XML_OPEN.match(text, begin) if begin >= 0 else None
    found = _xml_element(text, m) if m is not None else None
    return end if found is None else found[2]
