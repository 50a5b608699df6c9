"""Mask secrets in text and in log records: :func:`redact` and :class:`RedactingFilter`.

Four layers, in order: exact values registered with :func:`register_secret` (every secret
hardenkit decrypts registers itself), value patterns (cloud keys, GitHub/GitLab/Slack/
Stripe/Google tokens, JWTs, PEM private keys, npm/PyPI/Hugging Face/age keys...), context
rules the scanners miss (URL userinfo, Authorization headers, cookies, card numbers that
pass Luhn) and key-name rules (``password=...``, ``"api_key": "..."``). Only the secret is
masked; the context stays (``postgres://app:***@db:5432/main``).

The module is ``redaction`` so that ``hardenkit.redact`` can be the function.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, Any

from hardenkit._redaction_rules import MASK, apply_rules, is_mask, is_secret_name, triggers
from hardenkit.errors import SecretTooShortError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["MASK", "RedactingFilter", "install_redaction", "redact", "register_secret"]

#: Registered values shorter than this are refused (:func:`register_secret` raises): masking
#: every "true" or "8080" in every log line would make logs useless.
MIN_SECRET_LENGTH = 6
# Passes until the text stops changing: one masking can expose another match.
_MAX_PASSES = 4
_NO_EXTRA: tuple[()] = ()

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

    __slots__ = ("_blens", "_db", "_local", "_pattern", "values")

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self._local = threading.local()
        self._pattern: re.Pattern[str] | None = None
        hs = _hyperscan()
        if hs is not None:
            data = [v.encode("utf-8", "surrogatepass") for v in values]
            self._blens = [len(d) for d in data]
            db = hs.Database(mode=hs.HS_MODE_BLOCK)
            db.compile(expressions=data, ids=list(range(len(data))), elements=len(data),
                       flags=0, literal=True)  # fmt: skip
            self._db = db
        else:  # no hyperscan wheel for this machine: re, correct but slower
            self._db = None
            self._pattern = re.compile("(?=(" + _trie(values) + "))", re.DOTALL)

    def spans(self, text: str, data: bytes | None, out: list[tuple[int, int]]) -> None:
        """Append the (start, end) of every occurrence; offsets in ``data`` if given, bytes."""
        if self._pattern is not None:
            out.extend(
                (m.start(), m.start() + len(m.group(1))) for m in self._pattern.finditer(text)
            )
            return
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:  # a scratch space serves one scan at a time: one per thread
            scratch = self._local.scratch = _hyperscan().Scratch(self._db)
        blens = self._blens

        def on_match(ident: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            out.append((to - blens[ident], to))

        self._db.scan(data, match_event_handler=on_match, scratch=scratch)


_HS: list[Any] = []


def _hyperscan() -> Any:
    """The hyperscan module (literal sets at ~1 GB/s), or None where it has no wheel."""
    if not _HS:
        try:
            import hyperscan  # noqa: PLC0415 -- only once a secret is registered

            _HS.append(hyperscan)
        except ImportError:
            _HS.append(None)
    return _HS[0]


def _trie(values: Iterable[str]) -> str:
    """One regex matching any of ``values``, longest first at each branch (the fallback)."""
    root: dict[str, dict[str, object]] = {}
    for value in values:
        node = root
        for ch in value:
            node = node.setdefault(ch, {})  # type: ignore[assignment]
        node[""] = {}

    def emit(node: dict[str, dict[str, object]]) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]  # type: ignore[arg-type]
        if "" in node:
            alts.append("")
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(root)


# Characters that no encoding below changes: such a value is its only form.
_PLAIN = re.compile(r"[A-Za-z0-9_.~\-]*")


def _variants(value: str) -> set[str]:
    """The value and the forms it is printed in: URL-, JSON- and repr-escaped."""
    if _PLAIN.fullmatch(value):
        return {value}
    import json  # noqa: PLC0415 -- only when registering
    from urllib.parse import quote, quote_plus  # noqa: PLC0415

    out = {
        value,
        quote(value, safe=""),
        quote(value),  # quote()'s default keeps "/"
        quote_plus(value, safe=""),
        quote_plus(value),
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


def _registered_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    levels = _current_levels()
    if not levels:
        return spans
    ascii_text = text.isascii()
    data = text.encode("ascii") if ascii_text else text.encode("utf-8", "surrogatepass")
    for level in levels:
        level.spans(text, data, spans)
    if spans and not ascii_text and _hyperscan() is not None:
        spans = _char_spans(data, spans)
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


def _mask_patterns(text: str, patterns: Iterable[re.Pattern[str]]) -> str:
    for pattern in patterns:
        group = "secret" if "secret" in pattern.groupindex else 0

        def repl(m: re.Match[str], group: str | int = group) -> str:
            start, end = m.span(group)
            if start < 0 or start == end:
                return m.group(0)
            base = m.start()
            whole = m.group(0)
            return whole[: start - base] + MASK + whole[end - base :]

        text = pattern.sub(repl, text)
    return text


def redact(text: str, *, extra: Iterable[str | re.Pattern[str]] = _NO_EXTRA) -> str:
    """Return ``text`` with every secret it holds replaced by ``***``, context kept.

    ``extra`` adds literal values or compiled patterns for this call (a pattern with a
    group named ``secret`` masks that group only; patterns run on Python's ``re``, so their
    running time is the caller's). Ordinary text (UUIDs, git SHAs, timestamps, versions)
    comes back unchanged, and so does text that was already redacted:
    ``redact(redact(s)) == redact(s)``. Time is linear in the length of ``text``.

    Examples:
        >>> redact("connecting to postgres://app:s3cr3t-pw@db:5432/main")
        'connecting to postgres://app:***@db:5432/main'
        >>> redact('{"user": "ann", "api_key": "abc123def456"}')
        '{"user": "ann", "api_key": "***"}'
        >>> redact("GET /login?user=ann&password=hunter22&next=/ 302")
        'GET /login?user=ann&password=***&next=/ 302'
        >>> redact("pulled sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        'pulled sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
        >>> redact("tenant acme-7 ready", extra=["acme-7"])
        'tenant *** ready'

    Raises:
        TypeError: ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"redact() takes a str, not {type(text).__name__}")
    # Computed once: masking never adds a trigger, so this covers every later pass too.
    found = triggers(text)
    if extra is not _NO_EXTRA or _levels or _pending:
        spans = _registered_spans(text)
        patterns: list[re.Pattern[str]] = []
        if extra is not _NO_EXTRA:
            literals, patterns = _split_extra(extra)
            _literal_spans(text, literals, spans)
        if spans:
            text = _mask_spans(text, spans)
        if patterns:
            text = _mask_patterns(text, patterns)
    if not found:
        return text
    for _ in range(_MAX_PASSES):
        new = apply_rules(text, found)
        if new == text:
            break
        text = new
    return text


def _split_extra(extra: Iterable[str | re.Pattern[str]]) -> tuple[list[str], list[re.Pattern[str]]]:
    literals: list[str] = []
    patterns: list[re.Pattern[str]] = []
    for item in extra:
        if isinstance(item, re.Pattern):
            patterns.append(item)
        elif isinstance(item, str):
            if item:
                literals.append(item)
        else:
            raise TypeError(f"extra= takes str or compiled patterns, not {type(item).__name__}")
    return literals, patterns


# --------------------------------------------------------------------------- logging

# Attributes every LogRecord has; anything else came from ``extra=`` and is redacted too.
_RECORD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime", "taskName"}


class RedactingFilter(logging.Filter):
    r"""A logging filter that redacts every record it sees and never drops one.

    It formats the message with its arguments, redacts the result and clears ``args``
    (so nothing formats the raw arguments again), renders the exception with its
    traceback into ``exc_text``, redacted, and drops ``exc_info`` (the exception object and
    its frames' locals are where secrets hide), and redacts ``stack_info`` and string
    attributes passed with ``extra=`` (masking those with secret names outright).

    Attach it to handlers, not loggers: a logger's filters see only records logged on that
    very logger, while a handler's filters see every record that reaches it, child
    loggers' included. :func:`install_redaction` does that.

    Examples:
        >>> import io, logging
        >>> stream = io.StringIO()
        >>> handler = logging.StreamHandler(stream)
        >>> handler.addFilter(RedactingFilter())
        >>> log = logging.getLogger("doctest.redaction")
        >>> log.addHandler(handler)
        >>> log.propagate = False
        >>> log.warning("retrying with %s", "token=ghp_" + "x1" * 18)
        >>> stream.getvalue()
        'retrying with token=***\n'
        >>> log.removeHandler(handler)
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always keep it."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 -- a bad format string must not leak the arguments
            message = f"{record.msg} (arguments withheld: the message did not format)"
        record.msg = redact(str(message))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name in _RECORD_ATTRS:
                continue
            if is_secret_name(name) and value is not None and not is_mask(str(value)):
                setattr(record, name, MASK)
            elif isinstance(value, str):
                setattr(record, name, redact(value))
        if getattr(record, "message", None) is not None:
            record.message = record.msg
        return True


def install_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (default: the root).

    Handlers see the records of every child logger, so this covers them. Handlers added
    later are not covered: call it again after adding them. When the logger has no
    handler yet, the filter also goes on :data:`logging.lastResort`, which prints what no
    handler took. Calling it twice adds nothing twice.

    Examples:
        >>> import logging
        >>> log = logging.getLogger("doctest.install")
        >>> log.addHandler(logging.NullHandler())
        >>> flt = install_redaction(log)
        >>> all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in log.handlers)
        True
        >>> install_redaction(log) is flt
        True
    """
    target = logging.getLogger() if logger is None else logger
    handlers: list[logging.Handler] = list(target.handlers)
    if not handlers and logging.lastResort is not None:
        handlers.append(logging.lastResort)
    existing = [f for h in [*handlers, target] for f in h.filters if isinstance(f, RedactingFilter)]
    flt = existing[0] if existing else RedactingFilter()
    for holder in [*handlers, target]:
        if not any(isinstance(f, RedactingFilter) for f in holder.filters):
            holder.addFilter(flt)
    return flt
