"""Redaction of log records: :class:`RedactingFilter`, :func:`install_redaction`.

Also the opt-in hooks that print uncaught exceptions and warnings redacted.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from hardenkit.redaction._engine import redact
from hardenkit.redaction._names import MASK, is_mask, is_secret_name

if TYPE_CHECKING:
    import types

__all__ = ["RedactingFilter", "install_redaction"]


# Attributes every LogRecord has; anything else came from ``extra=`` and is redacted too.
# A record's own attributes on this Python (taskName from 3.12: on 3.11 it is an extra like
# any other), and the two a formatter sets (makeRecord refuses extras of those names).
_RECORD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime"}
# Set on a record once redacted: a record passes a filter per handler, redacted once.
_DONE = "_hardenkit_redacted"
# Not extras: the record's own attributes and our flag.
_NOT_EXTRA = _RECORD_ATTRS | {_DONE}
_MAX_DEPTH = 32
_PAIR = 2  # a (name, value) tuple
_WITHHELD = "(withheld: the text could not be redacted)\n"


def _safe_redact(text: str) -> str:
    """:func:`redact`, or a fixed notice should it raise: a hook never prints the text."""
    try:
        return redact(text)
    except Exception:  # noqa: BLE001 -- fail closed, whatever broke
        return _WITHHELD


def _redact_value(value: object, depth: int = 0) -> object:  # noqa: PLR0911 -- one per type
    """``value`` with every string in it redacted, containers rebuilt with the same types.

    str, bytes and bytearray are redacted (bytes as UTF-8, undecodable bytes kept); dict,
    list, tuple (named ones too), set and frozenset are walked, dict keys and set members
    included (a formatter prints them too); the value under a secret-named key, namedtuple
    field or first item of a ``(name, value)`` pair is masked whole. Other objects come
    back as they are.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (bytes, bytearray)):
        return _redact_bytes(value)
    if value is None or isinstance(value, (int, float, bool)):
        return value
    if depth >= _MAX_DEPTH:  # deeper than read: withheld, never passed on unread
        return MASK
    if isinstance(value, dict):
        return _rebuild_dict(value, depth)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple: by field name
        make: Any = type(value)
        return make(*(_masked_item(k, v, depth) for k, v in zip(value._fields, value, strict=True)))
    if type(value) is tuple and len(value) == _PAIR and isinstance(value[0], (str, bytes)):
        # A (name, value) pair, as dict.items() and header lists give: read like a dict item.
        return (_redact_value(value[0], depth + 1), _masked_item(value[0], value[1], depth))
    if isinstance(value, (set, frozenset)):
        members = _unique([_redact_value(v, depth + 1) for v in value], list(value))
        return _rebuilt(value, members)
    if isinstance(value, (list, tuple)):
        return _rebuilt(value, [_redact_value(v, depth + 1) for v in value])
    return value


def _rebuilt(
    value: list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any], walked: list[Any]
) -> object:
    """``walked`` in ``value``'s type; a subclass with another constructor gets its base's."""
    try:
        return type(value)(walked)
    except Exception:  # noqa: BLE001 -- a subclass with another constructor
        for base in (tuple, set, frozenset):
            if isinstance(value, base):
                return base(walked)
        return walked


def _unique(new: list[Any], old: list[Any]) -> list[Any]:
    """``new`` (dict keys or set members after redaction) made distinct again.

    Two keys that differed may read the same once masked (``ghp_a...`` and ``ghp_b...``
    both become ``***``); keeping one would silently drop the other's value. Unchanged
    ones keep their name; a changed one that collides gets ``#2``, ``#3``... appended
    (``***#2``), so every value stays and no key is made from unredacted text.
    """
    taken: set[Any] = set()
    changed: list[bool] = []
    for before, after in zip(old, new, strict=True):
        same = after is before or (type(after) is type(before) and after == before)
        changed.append(not same)
        if same:
            taken.add(after)
    out: list[Any] = []
    for after, was_changed in zip(new, changed, strict=True):
        final = after
        if was_changed:
            n = 2
            while _hashable_in(final, taken):
                final = _numbered(after, n)
                n += 1
            taken.add(final)
        out.append(final)
    return out


def _hashable_in(item: object, taken: set[Any]) -> bool:
    """``item in taken``; a key that redaction made unhashable counts as taken (renamed)."""
    try:
        return item in taken
    except TypeError:
        return True


def _numbered(item: object, n: int) -> object:
    """``item`` with ``#n`` appended, as str or bytes; other types become that str."""
    if isinstance(item, str):
        return f"{item}#{n}"
    if isinstance(item, bytes):
        return item + b"#%d" % n
    return f"{item!r}#{n}"


def _redact_bytes(value: bytes | bytearray) -> bytes | bytearray:
    text = bytes(value).decode("utf-8", "surrogateescape")
    out = redact(text)
    if out == text:
        return value
    raw = out.encode("utf-8", "surrogateescape")
    return raw if isinstance(value, bytes) else bytearray(raw)


def _rebuild_dict(value: dict[Any, Any], depth: int) -> dict[Any, Any]:
    pairs = list(value.items())
    olds = [k for k, _ in pairs]
    keys = _unique([_redact_value(k, depth + 1) for k in olds], olds)
    items = {new: _masked_item(old, v, depth) for (old, v), new in zip(pairs, keys, strict=True)}
    if type(value) is dict:
        return items
    try:
        rebuilt = type(value)()
        rebuilt.update(items)
    except Exception:  # noqa: BLE001 -- an exotic mapping: a plain dict, still redacted
        return items
    return rebuilt


def _masked_item(key: object, value: object, depth: int) -> object:
    if isinstance(key, (bytes, bytearray)):
        key = bytes(key).decode("utf-8", "replace")
    if isinstance(key, str) and is_secret_name(key) and _maskable(value):
        return MASK
    return _redact_value(value, depth + 1)


def _maskable(value: object) -> bool:
    """A value under a secret name that is not empty, a flag or a mask already."""
    if value is None or isinstance(value, bool):
        return False
    text = value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else value
    return not (isinstance(text, str) and (not text or is_mask(text)))


_PLAIN_ARGS = frozenset({str, int, float, bool, bytes, type(None)})


def _masked_args(args: object) -> object:
    """A record's ``args`` with the values under secret names masked, before formatting.

    ``"%(password)s"`` with ``{"password": ...}``, or ``"%s"`` with ``[("password",
    ...)]``, would put the value into the message, where :func:`redact` no longer sees the
    name it was under. Only values under a secret name change (to ``***``); every other
    argument keeps its object and type (``%d`` still gets its int); the message is redacted
    after formatting as before. A mapping's own keys are the names; a tuple of arguments
    is walked one argument at a time (it is not itself a ``(name, value)`` pair).
    """
    if isinstance(args, Mapping):
        return _masked_mapping(args, 0)
    if type(args) is tuple:
        for arg in args:  # most messages' arguments are plain values: nothing to walk
            if type(arg) not in _PLAIN_ARGS:
                break
        else:
            return args
        walked = tuple(_masked_arg(a, 0) for a in args)
        return args if all(a is b for a, b in zip(walked, args, strict=True)) else walked
    return _masked_arg(args, 0)


def _masked_arg(value: object, depth: int) -> object:  # noqa: PLR0911 -- one per type
    """``value`` with the values under secret names inside it masked; unchanged: itself."""
    if isinstance(value, (str, bytes, bytearray, int, float)) or value is None:
        return value
    if depth >= _MAX_DEPTH:  # deeper than read: withheld, never passed on unread
        return MASK
    if isinstance(value, Mapping):
        return _masked_mapping(value, depth)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple: by field name
        items = [_masked_pair(k, v, depth) for k, v in zip(value._fields, value, strict=True)]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        make: Any = type(value)
        return make(*items)
    if type(value) is tuple and len(value) == _PAIR and isinstance(value[0], (str, bytes)):
        second = _masked_pair(value[0], value[1], depth)
        return value if second is value[1] else (value[0], second)
    if isinstance(value, (list, tuple, set, frozenset)):
        walked = [_masked_arg(v, depth + 1) for v in value]
        if all(a is b for a, b in zip(walked, value, strict=True)):
            return value
        return _rebuilt(value, walked)
    return value


def _masked_mapping(value: Mapping[Any, Any], depth: int) -> Mapping[Any, Any]:
    """``value`` itself, or a copy (its type when it can) with secret-named values masked."""
    items = {k: _masked_pair(k, v, depth) for k, v in value.items()}
    if all(items[k] is v for k, v in value.items()):
        return value
    if type(value) is dict:
        return items
    try:
        rebuilt = type(value)()
        rebuilt.update(items)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 -- a read-only or exotic mapping: a plain dict
        return items
    return rebuilt


def _masked_pair(key: object, value: object, depth: int) -> object:
    """``value``, masked whole when ``key`` is a secret name, else walked."""
    if isinstance(key, (bytes, bytearray)):
        key = bytes(key).decode("utf-8", "replace")
    if isinstance(key, str) and is_secret_name(key) and _maskable(value):
        return MASK
    return _masked_arg(value, depth + 1)


class RedactingFilter(logging.Filter):
    r"""A logging filter that redacts every record it sees and never drops one.

    It formats the message with its arguments, redacts the result and clears ``args``
    (so nothing formats the raw arguments again), renders the exception with its
    traceback into ``exc_text``, redacted, and drops ``exc_info`` (the exception object and
    its frames' locals are where secrets hide), and redacts ``stack_info`` and every value
    passed with ``extra=`` and its names: strings and bytes, and recursively the strings
    inside dicts (keys too), lists, tuples and sets, whose types stay (a JSON formatter
    prints the same shape); a value under a secret name (a key, a field, a ``(name,
    value)`` pair's name) is masked whole, to the string ``***`` whatever its type (None,
    booleans and empty strings aside). Values under a secret name in the arguments (a
    mapping's key, a ``(name, value)`` pair's name) are masked before the message is
    formatted. A record is redacted once, however many handlers carry the filter; what is
    set on it after (an ``extra=`` added once the record was made, a new ``msg``) is
    redacted by the next filter that sees it.

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
        """Redact ``record`` in place (once, and what changed since); always keep it."""
        _redact_changes(record)
        return True


class _Seen:
    """A redacted record's fields, by identity, and its attribute count: a later change.

    Holds the values, never the record (it is kept in a weak mapping keyed by the record).
    Cheap on purpose (every record pays it): an attribute added since shows as a larger
    count, and then every extra is redacted again (redaction is idempotent); a value put
    under an existing extra's name in place of the redacted one is not noticed.
    """

    __slots__ = ("fields", "size")

    def __init__(self, record: logging.LogRecord) -> None:
        self.fields = _fields(record)
        self.size = len(vars(record))

    def same_fields(self, record: logging.LogRecord) -> bool:
        """Whether msg, args, exc_info, exc_text and stack_info are the redacted objects."""
        return all(a is b for a, b in zip(_fields(record), self.fields, strict=True))

    def new_extras(self, record: logging.LogRecord) -> list[str]:
        """The extras to redact again: all of them once attributes were added, else none."""
        names = vars(record)
        if len(names) == self.size:
            return []
        return [k for k in names if k not in _NOT_EXTRA]


def _fields(record: logging.LogRecord) -> tuple[object, ...]:
    """msg, args, exc_info, exc_text and stack_info (written out: every record pays it)."""
    get = getattr
    return (
        get(record, "msg", None),
        get(record, "args", None),
        get(record, "exc_info", None),
        get(record, "exc_text", None),
        get(record, "stack_info", None),
    )


_seen: weakref.WeakKeyDictionary[logging.LogRecord, _Seen] = weakref.WeakKeyDictionary()
_seen_lock = threading.Lock()


def _mark_done(record: logging.LogRecord) -> None:
    """Flag ``record`` redacted and remember what it holds now."""
    setattr(record, _DONE, True)
    seen = _Seen(record)
    with _seen_lock, contextlib.suppress(TypeError):  # a record without weak references
        _seen[record] = seen


def _redact_changes(record: logging.LogRecord) -> None:
    """Redact ``record``, or, once redacted, only what was set on it since (fail closed).

    A record made by ``makeRecord`` gets its ``extra=`` after the record factory returned;
    ``logging.makeLogRecord`` sets its fields then too. The message is not formatted again
    unless ``msg`` or ``args`` changed (then they are new, never redacted).
    """
    with _seen_lock:
        seen = _seen.get(record) if getattr(record, _DONE, False) else None
    if seen is None or not seen.same_fields(record):
        _redact_record(record)
        return
    names = seen.new_extras(record)
    if not names:
        return
    try:
        for name in names:
            _redact_extra(record, name)
    except Exception:  # noqa: BLE001 -- the record is still logged, its content withheld
        _withhold(record)
        return
    _mark_done(record)


def _redact_record(record: logging.LogRecord) -> None:
    """Redact ``record`` in place; should redaction fail, withhold its text (fail closed)."""
    try:
        _redact_fields(record)
    except Exception:  # noqa: BLE001 -- the record is still logged, its content withheld
        _withhold(record)


def _withhold(record: logging.LogRecord) -> None:
    """Replace everything ``record`` could carry a secret in by a fixed notice or ``***``."""
    record.msg = _WITHHELD.strip()
    record.args = None
    record.exc_info = None
    record.exc_text = None
    record.stack_info = None
    for name in list(vars(record)):
        if name not in _NOT_EXTRA:
            setattr(record, name, MASK)
    if getattr(record, "message", None) is not None:
        record.message = record.msg
    _mark_done(record)


def _redact_fields(record: logging.LogRecord) -> None:
    try:
        record.args = _masked_args(record.args)  # type: ignore[assignment]
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
    for name in [k for k in vars(record) if k not in _NOT_EXTRA]:
        _redact_extra(record, name)
    if getattr(record, "message", None) is not None:
        record.message = record.msg
    _mark_done(record)


def _redact_extra(record: logging.LogRecord, name: str) -> None:
    """The extra ``name`` of ``record``, its value and name redacted in place."""
    value = getattr(record, name)
    if is_secret_name(name) and _maskable(value):
        redacted: object = MASK
    else:
        redacted = _redact_value(value)
    setattr(record, _redact_name(record, name), redacted)


def _redact_name(record: logging.LogRecord, name: str) -> str:
    """``extra=``'s key ``name``, redacted: a JSON formatter prints the names of extras too.

    A name that changes is moved to its redacted form, numbered (``***#2``) should that be
    taken, so no value is dropped.
    """
    new = redact(name)
    if new == name:
        return name
    delattr(record, name)
    final, n = new, 2
    while final in vars(record):
        final, n = f"{new}#{n}", n + 1
    return final


_factory_lock = threading.Lock()


def _install_record_factory() -> None:
    """Redact every record where it is made: every logger and handler, present and future.

    Three places, each wrapped once: the log record factory (the message, exception and
    stack), :meth:`logging.Logger.makeRecord` at class level (the ``extra=`` it sets after
    the factory returned; subclasses that call it, the root logger and ``LoggerAdapter``
    included) and :func:`logging.makeLogRecord` (the fields it sets after the factory).
    """
    with _factory_lock:
        current = logging.getLogRecordFactory()
        if not getattr(current, _DONE, False):

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = current(*args, **kwargs)
                _redact_record(record)
                return record

            setattr(factory, _DONE, True)
            logging.setLogRecordFactory(factory)
        make_record = logging.Logger.makeRecord
        if not getattr(make_record, _DONE, False):

            @functools.wraps(make_record)
            def makeRecord(  # noqa: N802 -- the name it replaces
                self: logging.Logger, *args: Any, **kwargs: Any
            ) -> logging.LogRecord:
                record = make_record(self, *args, **kwargs)
                _redact_changes(record)
                return record

            setattr(makeRecord, _DONE, True)
            logging.Logger.makeRecord = makeRecord  # type: ignore[method-assign]
        make_log_record = logging.makeLogRecord
        if not getattr(make_log_record, _DONE, False):

            @functools.wraps(make_log_record)
            def makeLogRecord(attrs: Mapping[str, object], /) -> logging.LogRecord:  # noqa: N802
                record = make_log_record(attrs)
                _redact_changes(record)
                return record

            setattr(makeLogRecord, _DONE, True)
            logging.makeLogRecord = makeLogRecord  # type: ignore[assignment]


def _install_excepthook() -> None:
    """Uncaught exceptions, in the main thread and others, printed redacted.

    Not ``SystemExit``: the interpreter prints its message itself (``handle_system_exit``),
    before and without calling :data:`sys.excepthook`; no hook short of replacing
    ``sys.stderr`` sees it (see :func:`install_redaction` for the workaround).
    """
    import sys  # noqa: PLC0415
    import traceback  # noqa: PLC0415

    if getattr(sys.excepthook, _DONE, False):
        return

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: types.TracebackType | None
    ) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(_safe_redact(text))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "unknown"
        text = "".join(
            traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
        )
        sys.stderr.write(_safe_redact(f"Exception in thread {name}:\n{text}"))

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
            target.write(_safe_redact(text))

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
    in one call: every record is redacted where it is made (the log record factory, and
    ``Logger.makeRecord`` and ``logging.makeLogRecord`` for the ``extra=`` and fields they
    set after it), so every logger and handler, present and future, gets redacted records,
    each redacted once. Not covered there: a ``Logger`` subclass whose ``makeRecord`` does
    not call the original. When the logger has no handler yet, the filter also goes on
    :data:`logging.lastResort`. ``excepthook=True`` prints uncaught exceptions (main and
    other threads) redacted, but not the message of an uncaught ``SystemExit``
    (``sys.exit("...")``): Python prints that itself, never through :data:`sys.excepthook`,
    so pass it through :func:`redact` where you exit, or catch ``SystemExit`` around
    ``main()`` and re-raise ``SystemExit(redact(str(exc.code)))``. ``warnings=True`` prints
    warnings redacted. Calling it twice adds nothing twice.

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
