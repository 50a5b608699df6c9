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
from typing import TYPE_CHECKING

from hardenkit._redaction_rules import MASK, apply_rules, is_mask, is_secret_name, triggers

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

__all__ = ["MASK", "RedactingFilter", "install_redaction", "redact", "register_secret"]

#: Registered values shorter than this are ignored: masking every "true" or "8080" in
#: every log line would make logs useless, and such values are not secrets.
MIN_SECRET_LENGTH = 6
# Passes until the text stops changing: one masking can expose another match.
_MAX_PASSES = 4

# Registered values at or above this count are first looked for with one trie-shaped
# regex (a single C-level scan); below it, one `in` test per value is cheaper (measured
# in benchmarks/bench_redact.py).
_FINDER_MIN = 12
_NO_EXTRA: tuple[()] = ()

_lock = threading.Lock()
# Longest first, so a secret that contains another is masked whole; swapped atomically
# together with the finder built from it (None below _FINDER_MIN values).
_registry: tuple[tuple[str, ...], re.Pattern[str] | None] = ((), None)


def _trie(values: Iterable[str]) -> str:
    """One regex matching any of ``values``, shared prefixes factored (re has no Aho-Corasick)."""
    root: dict[str, dict[str, object]] = {}
    for value in values:
        node = root
        for ch in value:
            node = node.setdefault(ch, {})  # type: ignore[assignment]
        node[""] = {}

    def emit(node: dict[str, dict[str, object]]) -> str:
        alts = [re.escape(ch) + emit(child) if ch else "" for ch, child in sorted(node.items())]  # type: ignore[arg-type]
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(root)


def _variants(value: str) -> set[str]:
    """The value and the encodings it commonly appears in (URL- and JSON-escaped)."""
    import json  # noqa: PLC0415 -- only when registering
    from urllib.parse import quote, quote_plus  # noqa: PLC0415

    out = {value, quote(value, safe=""), quote_plus(value, safe=""), json.dumps(value)[1:-1]}
    return {v for v in out if len(v) >= MIN_SECRET_LENGTH and MASK not in v}


def register_secret(value: str) -> None:
    """Mask ``value`` (and its URL- and JSON-escaped forms) wherever :func:`redact` sees it.

    Values shorter than :data:`MIN_SECRET_LENGTH` characters, or containing the mask, are
    ignored. Registration is process-wide and cannot be undone.

    Examples:
        >>> register_secret("correct-horse-battery-staple")
        >>> redact("login with correct-horse-battery-staple failed")
        'login with *** failed'

    Raises:
        TypeError: ``value`` is not a str.
    """
    global _registry  # noqa: PLW0603 -- one process-wide registry, swapped atomically
    if not isinstance(value, str):
        raise TypeError(f"register_secret() takes a str, not {type(value).__name__}")
    new = _variants(value)
    if not new:
        return
    with _lock:
        values, _ = _registry
        merged = set(values) | new
        if len(merged) != len(values):
            ordered = tuple(sorted(merged, key=lambda v: (-len(v), v)))
            finder = re.compile(_trie(ordered)) if len(ordered) >= _FINDER_MIN else None
            _registry = (ordered, finder)


def _mask_literals(text: str, values: Iterable[str]) -> str:
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


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
    group named ``secret`` masks that group only). Ordinary text (UUIDs, git SHAs,
    timestamps, versions) comes back unchanged, and so does text that was already
    redacted: ``redact(redact(s)) == redact(s)``.

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
    if extra is _NO_EXTRA and not _registry[0]:  # the common case, kept to a few calls
        if not found:
            return text
        for _ in range(_MAX_PASSES):
            new = apply_rules(text, found)
            if new == text:
                break
            text = new
        return text
    return _redact_slow(text, found, extra)


def _redact_slow(text: str, found: Collection[str], extra: Iterable[str | re.Pattern[str]]) -> str:
    """redact() with registered values or ``extra``: every pass masks those, then the rules."""
    values, finder = _registry
    literals, patterns = _split_extra(extra)
    for _ in range(_MAX_PASSES):
        before = text
        if values and (finder.search(text) if finder else _any_in(values, text)):
            text = _mask_literals(text, values)
        if literals:
            text = _mask_literals(text, literals)
        if patterns:
            text = _mask_patterns(text, patterns)
        text = apply_rules(text, found)
        if text == before:
            break
    return text


def _any_in(values: tuple[str, ...], text: str) -> bool:
    return any(value in text for value in values)


def _split_extra(extra: Iterable[str | re.Pattern[str]]) -> tuple[list[str], list[re.Pattern[str]]]:
    literals: list[str] = []
    patterns: list[re.Pattern[str]] = []
    for item in extra:
        if isinstance(item, re.Pattern):
            patterns.append(item)
        elif isinstance(item, str):
            if item and MASK not in item:
                literals.append(item)
        else:
            raise TypeError(f"extra= takes str or compiled patterns, not {type(item).__name__}")
    literals.sort(key=len, reverse=True)
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
