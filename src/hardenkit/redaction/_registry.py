"""Registered secrets: :func:`register_secret` and the literal matchers that find them.

Registration is O(1) (a value's printed forms go to a pending list); the next redact()
folds them into ``_levels``, a log-structured set of literal matchers (hyperscan, or a
trie regex where it has no wheel). ``_known``, ``_pending`` and ``_levels`` live here
and only here: other modules read them as ``_registry._levels`` at call time, never a
copy. Also the span helpers every masking path shares.
"""

from __future__ import annotations

import re
import threading

from hardenkit.errors import SecretTooShortError
from hardenkit.redaction._hs import _hyperscan
from hardenkit.redaction._names import MASK

# Not typing.TYPE_CHECKING: importing typing costs a first use several ms (the audit's
# environment check, `hardenkit audit`), and type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

#: Registered values shorter than this are refused (:func:`register_secret` raises): masking
#: every "true" or "8080" in every log line would make logs useless.
MIN_SECRET_LENGTH = 6
# Registered values longer than this (characters) are found by str.find, not compiled:
# hyperscan refuses a literal over ~16,000 bytes and a long trie nests deep.
_LONG_LITERAL = 256

_lock = threading.Lock()
# Registration only appends to _pending (O(1)); the next redact() folds it into _levels, a
# log-structured set of literal matchers: a new level is merged with the last while the
# last is at most twice its size, so n registrations cost O(n log n) building in all however
# they interleave with redact(), and a scan runs O(log n) matchers.
_known: set[str] = set()
_pending: list[str] = []
_levels: tuple[_Level, ...] = ()


class _Level:
    """One immutable matcher for a set of literals: every (overlapping) occurrence."""

    __slots__ = ("_blens", "_db", "_local", "_long", "_pattern", "_short", "values")

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self._local = threading.local()
        self._pattern: re.Pattern[str] | None = None
        self._db: Any = None
        self._short: tuple[str, ...] = ()  # the values in _db
        # Values a literal matcher cannot take (long ones, ones holding NUL, which hyperscan
        # cuts at): found by str.find, linear in the text for each.
        self._long = tuple(v for v in values if len(v) > _LONG_LITERAL or "\0" in v)
        short = tuple(v for v in values if len(v) <= _LONG_LITERAL and "\0" not in v)
        if not short:
            return
        hs = _hyperscan()
        if hs is not None:
            data = [v.encode("utf-8", "surrogatepass") for v in short]
            try:
                db = hs.Database(mode=hs.HS_MODE_BLOCK)
                db.compile(expressions=data, ids=list(range(len(data))), elements=len(data),
                           flags=0, literal=True)  # fmt: skip
            except Exception:  # noqa: BLE001 -- a set hyperscan refuses: found by str.find
                self._long = values
                return
            self._blens = [len(d) for d in data]
            self._db = db
            self._short = short
        else:  # no hyperscan wheel for this machine: re, correct but slower
            try:
                self._pattern = re.compile("(?=(" + _trie(short) + "))", re.DOTALL)
            except Exception:  # noqa: BLE001 -- a set re refuses: found by str.find
                self._long = values

    def spans(
        self,
        text: str,
        data: bytes | None,
        out: list[tuple[int, int]],
        chars: list[tuple[int, int]] | None = None,
    ) -> None:
        """Append the (start, end) of every occurrence.

        Hyperscan's, byte offsets in ``data``, go to ``out``; the others, str offsets, to
        ``chars`` (default: ``out``).
        """
        if chars is None:
            chars = out
        if self._long:
            _literal_spans(text, self._long, chars)
        if self._pattern is not None:
            chars.extend(
                (m.start(), m.start() + len(m.group(1))) for m in self._pattern.finditer(text)
            )
            return
        if self._db is None:
            return
        try:
            scratch = self._local.scratch
        except AttributeError:  # a scratch space serves one scan at a time: one per thread
            scratch = self._local.scratch = _hyperscan().Scratch(self._db)
        self._db.scan(data, _on_literal, 0, (out, self._blens), scratch)


def _on_literal(
    ident: int, _from: int, to: int, _flags: int, ctx: tuple[list[tuple[int, int]], list[int]]
) -> None:
    ctx[0].append((to - ctx[1][ident], to))


def _trie(values: Iterable[str]) -> str:
    """One regex matching any of ``values``, longest first at each branch (the fallback)."""
    root: dict[str, dict[str, object]] = {}
    for value in values:
        node = root
        for ch in value:
            node = node.setdefault(ch, {})  # type: ignore[assignment]
        node[""] = {}

    # Post-order, without recursion (a value's length would be the recursion's depth).
    done: dict[int, str] = {}
    stack: list[tuple[dict[str, Any], bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for ch, child in node.items() if ch)
            continue
        alts = [re.escape(ch) + done.pop(id(child)) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            alts.append("")
        done[id(node)] = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
    return done[id(root)]


# Characters that no encoding below changes: such a value is its only form.
_PLAIN = re.compile(r"[A-Za-z0-9_.~\-]*")


def _variants(value: str) -> set[str]:
    """The value and the forms it is printed in: URL-, JSON- and repr-escaped."""
    if _PLAIN.fullmatch(value):
        return {value}
    import json  # noqa: PLC0415 -- only when registering
    from urllib.parse import quote, quote_plus  # noqa: PLC0415

    # A lone surrogate has no UTF-8: its percent-encoded forms use the bytes redact() scans
    # with ("surrogatepass"), where strict UTF-8 would raise out of Secret() and load_env.
    out = {
        value,
        quote(value, safe="", errors="surrogatepass"),
        quote(value, errors="surrogatepass"),  # quote()'s default keeps "/"
        quote_plus(value, safe="", errors="surrogatepass"),
        quote_plus(value, errors="surrogatepass"),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
    }
    # Percent-encoding with lower-case hex digits (%2f), as some clients write it.
    out |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), v) for v in list(out) if "%" in v}
    return {v for v in out if v}


def register_secret(value: str, *, strict: bool = True) -> bool:
    """Mask ``value`` (and its URL-, JSON- and repr-escaped forms) wherever :func:`redact` sees it.

    Registration is process-wide, cannot be undone, and costs O(1): the matcher is brought
    up to date by the next :func:`redact`. Any value of at least :data:`MIN_SECRET_LENGTH`
    characters is taken, one holding ``***`` included; where registered values overlap in
    a text, the union of their occurrences is masked. A shorter value is refused: it raises
    (``strict=False``: returns False instead, for callers such as ``load_env`` that register
    every value they decrypt). Returns True when the value is registered.

    Examples:
        >>> from hardenkit.redaction import redact
        >>> register_secret("correct-horse-battery-staple")
        True
        >>> redact("login with correct-horse-battery-staple failed")
        'login with *** failed'
        >>> register_secret("abc")
        Traceback (most recent call last):
        ...
        hardenkit.errors.SecretTooShortError: a registered secret needs at least 6 characters, got 3

    Raises:
        TypeError: ``value`` is not a str.
        SecretTooShortError: ``value`` is shorter than MIN_SECRET_LENGTH (a ValueError).
    """
    if not isinstance(value, str):
        raise TypeError(f"register_secret() takes a str, not {type(value).__name__}")
    if len(value) < MIN_SECRET_LENGTH:
        if not strict:
            return False
        raise SecretTooShortError(
            f"a registered secret needs at least {MIN_SECRET_LENGTH} characters, got {len(value)}"
        )
    new = _variants(value)
    with _lock:
        fresh = new - _known
        _known.update(fresh)
        _pending.extend(fresh)
    return True


def _current_levels() -> tuple[_Level, ...]:
    """The matchers, with every pending registration folded in."""
    global _levels  # noqa: PLW0603 -- one process-wide registry, swapped atomically
    if not _pending:
        return _levels
    with _lock:
        if _pending:
            levels = list(_levels)
            batch = tuple(_pending)
            while levels and len(levels[-1].values) <= 2 * len(batch):
                batch = levels.pop().values + batch
            levels.append(_Level(batch))
            _levels = tuple(levels)
            _pending.clear()
        return _levels


def _registered_spans(text: str, data: bytes) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    chars: list[tuple[int, int]] = []
    levels = _current_levels()
    if not levels:
        return spans
    for level in levels:
        level.spans(text, data, spans, chars)
    if spans and len(data) != len(text):
        spans = _char_spans(data, spans)
    spans.extend(chars)
    return spans


def _char_spans(data: bytes, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Byte offsets to str offsets, decoding each stretch between offsets once."""
    offsets = sorted({o for span in spans for o in span})
    to_char: dict[int, int] = {}
    pos = chars = 0
    for off in offsets:
        chars += len(data[pos:off].decode("utf-8", "surrogatepass"))
        to_char[off] = chars
        pos = off
    return [(to_char[a], to_char[b]) for a, b in spans]


def _literal_spans(text: str, literals: Iterable[str], out: list[tuple[int, int]]) -> None:
    for literal in literals:
        at = text.find(literal)
        while at >= 0:
            out.append((at, at + len(literal)))
            at = text.find(literal, at + 1)


def _mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace the union of ``spans`` with one mask per connected stretch."""
    spans.sort()
    out: list[str] = []
    last = 0
    cur_start, cur_end = spans[0]
    for start, end in spans[1:]:
        if start <= cur_end:
            cur_end = max(cur_end, end)
            continue
        out.append(text[last:cur_start])
        out.append(MASK)
        last = cur_end
        cur_start, cur_end = start, end
    out.append(text[last:cur_start])
    out.append(MASK)
    out.append(text[cur_end:])
    return "".join(out)
