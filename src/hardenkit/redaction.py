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

import contextlib
import logging
import re
import threading
from typing import TYPE_CHECKING, Any, TextIO

from hardenkit.errors import SecretTooShortError

if TYPE_CHECKING:
    import types
    from collections.abc import Collection, Iterable

__all__ = ["MASK", "RedactingFilter", "install_redaction", "redact", "register_secret"]

#: What every detector puts in place of a secret (the same as _redaction_rules.MASK).
MASK = "***"


# The detectors compile ~40 regexes (20 ms): loaded on the first redact(), not by
# register_secret(), so that load_env in a fresh process pays only for registering.
# Each stub rebinds the module's names to the real functions, then calls it.
def triggers(text: str) -> frozenset[str] | set[str]:
    _load_rules()
    return triggers(text)


def apply_rules(text: str, found: Collection[str] | None = None) -> str:
    _load_rules()
    return apply_rules(text, found)


def is_mask(value: str) -> bool:
    _load_rules()
    return is_mask(value)


def is_secret_name(name: str) -> bool:
    _load_rules()
    return is_secret_name(name)


def _load_rules() -> None:
    global triggers, apply_rules, is_mask, is_secret_name
    from hardenkit import _redaction_rules as rules  # noqa: PLC0415

    triggers, apply_rules = rules.triggers, rules.apply_rules
    is_mask, is_secret_name = rules.is_mask, rules.is_secret_name


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
# Set on a record once redacted: a record passes a filter per handler, redacted once.
_DONE = "_hardenkit_redacted"
_MAX_DEPTH = 32


def _redact_value(value: object, depth: int = 0) -> object:  # noqa: PLR0911 -- one per type
    """``value`` with every string in it redacted, containers rebuilt with the same types.

    str, bytes and bytearray are redacted (bytes as UTF-8, undecodable bytes kept); dict,
    list, tuple (named ones too), set and frozenset are walked, and the value under a
    secret-named key is masked whole. Other objects come back as they are.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (bytes, bytearray)):
        return _redact_bytes(value)
    if depth >= _MAX_DEPTH or value is None or isinstance(value, (int, float, bool)):
        return value
    if isinstance(value, dict):
        return _rebuild_dict(value, depth)
    if isinstance(value, (list, tuple, set, frozenset)):
        walked: list[Any] = [_redact_value(v, depth + 1) for v in value]
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
            return type(value)(*walked)
        try:
            return type(value)(walked)
        except Exception:  # noqa: BLE001 -- a subclass with another constructor
            return tuple(walked) if isinstance(value, tuple) else walked
    return value


def _redact_bytes(value: bytes | bytearray) -> bytes | bytearray:
    text = bytes(value).decode("utf-8", "surrogateescape")
    out = redact(text)
    if out == text:
        return value
    raw = out.encode("utf-8", "surrogateescape")
    return raw if isinstance(value, bytes) else bytearray(raw)


def _rebuild_dict(value: dict[Any, Any], depth: int) -> dict[Any, Any]:
    items = {k: _masked_item(k, v, depth) for k, v in value.items()}
    if type(value) is dict:
        return items
    try:
        rebuilt = type(value)()
        rebuilt.update(items)
    except Exception:  # noqa: BLE001 -- an exotic mapping: a plain dict, still redacted
        return items
    return rebuilt


def _masked_item(key: object, value: object, depth: int) -> object:
    if isinstance(key, str) and is_secret_name(key) and _maskable(value):
        return MASK
    return _redact_value(value, depth + 1)


def _maskable(value: object) -> bool:
    """A value under a secret name that is not empty, a flag or a mask already."""
    if value is None or isinstance(value, bool):
        return False
    text = value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else value
    return not (isinstance(text, str) and (not text or is_mask(text)))


class RedactingFilter(logging.Filter):
    r"""A logging filter that redacts every record it sees and never drops one.

    It formats the message with its arguments, redacts the result and clears ``args``
    (so nothing formats the raw arguments again), renders the exception with its
    traceback into ``exc_text``, redacted, and drops ``exc_info`` (the exception object and
    its frames' locals are where secrets hide), and redacts ``stack_info`` and every value
    passed with ``extra=``: strings and bytes, and recursively the strings inside dicts,
    lists, tuples and sets, whose types stay (a JSON formatter prints the same shape); a
    value under a secret name is masked whole. A record is redacted once, however many
    handlers carry the filter.

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
        """Redact ``record`` in place (once); always keep it."""
        if getattr(record, _DONE, False):
            return True
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> None:
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
        if is_secret_name(name) and _maskable(value):
            setattr(record, name, MASK)
        else:
            setattr(record, name, _redact_value(value))
    if getattr(record, "message", None) is not None:
        record.message = record.msg
    setattr(record, _DONE, True)


_factory_lock = threading.Lock()


def _install_record_factory() -> None:
    """Redact every record where it is made: every logger and handler, present and future."""
    with _factory_lock:
        current = logging.getLogRecordFactory()
        if getattr(current, _DONE, False):
            return

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = current(*args, **kwargs)
            _redact_record(record)
            return record

        setattr(factory, _DONE, True)
        logging.setLogRecordFactory(factory)


def _install_excepthook() -> None:
    """Uncaught exceptions, in the main thread and others, printed redacted."""
    import sys  # noqa: PLC0415
    import traceback  # noqa: PLC0415

    if getattr(sys.excepthook, _DONE, False):
        return

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: types.TracebackType | None
    ) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(redact(text))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "unknown"
        text = "".join(
            traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
        )
        sys.stderr.write(redact(f"Exception in thread {name}:\n{text}"))

    setattr(excepthook, _DONE, True)
    sys.excepthook = excepthook
    threading.excepthook = thread_hook


def _install_warnings() -> None:
    """Warnings printed redacted (their message, and the source line shown with them)."""
    import sys  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    if getattr(warnings.showwarning, _DONE, False):
        return

    def showwarning(  # noqa: PLR0917 -- warnings.showwarning's signature
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        text = warnings.formatwarning(message, category, filename, lineno, line)
        target = sys.stderr if file is None else file
        with contextlib.suppress(OSError):  # as warnings does: no stream, no warning
            target.write(redact(text))

    setattr(showwarning, _DONE, True)
    warnings.showwarning = showwarning


def install_redaction(
    logger: logging.Logger | None = None,
    *,
    everywhere: bool = False,
    excepthook: bool = False,
    warnings: bool = False,
) -> RedactingFilter:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (default: the root).

    Handlers see the records of every child logger that propagates, so this covers them.
    Not covered: handlers added later (call it again), handlers of loggers with
    ``propagate=False`` or of child loggers below them. ``everywhere=True`` covers those
    in one call: every record is redacted where it is made (the log record factory), so
    every logger and handler, present and future, gets redacted records, each redacted
    once. When the logger has no handler yet, the filter also goes on
    :data:`logging.lastResort`. ``excepthook=True`` prints uncaught exceptions (main and
    other threads) redacted; ``warnings=True`` prints warnings redacted. Calling it twice
    adds nothing twice.

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
    existing = [f for h in handlers for f in h.filters if isinstance(f, RedactingFilter)]
    flt = existing[0] if existing else RedactingFilter()
    for holder in handlers:
        if not any(isinstance(f, RedactingFilter) for f in holder.filters):
            holder.addFilter(flt)
    if everywhere:
        _install_record_factory()
    if excepthook:
        _install_excepthook()
    if warnings:
        _install_warnings()
    return flt
