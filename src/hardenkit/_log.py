"""hardenkit's loggers, all children of ``"hardenkit"``, which carries a NullHandler.

:mod:`logging` is not imported here: importing it (with ``traceback``, ``string``,
``threading``...) is 7-20 ms of a first ``import hardenkit.spawn``, ``sandbox`` or
``fileperms``, and until a program has imported it nothing can have configured a handler,
so a record would only reach the NullHandler. :func:`get_logger` returns a stand-in that
drops records while :mod:`logging` is not loaded and becomes the real logger (and installs
the NullHandler) once it is. It never imports :mod:`logging` to emit a record: a confined
process (Landlock, a dropped user) may no longer be able to read the standard library.
A command line that shows records without loading :mod:`logging` sets a sink
(:func:`set_sink`; ``hardenkit exec`` does).
"""

from __future__ import annotations

import sys

# Not typing.TYPE_CHECKING, for import time (importing typing costs several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from logging import Logger
    from typing import Any

#: Level method -> logging's level number (logging is not imported for them).
_LEVELS = {
    "debug": 10,
    "info": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
}
_LEVEL_METHODS = frozenset(_LEVELS)

#: Where records go instead of :mod:`logging` (see :func:`set_sink`); None: logging's way.
_sink: Callable[[str, int, object, tuple[object, ...]], None] | None = None


def set_sink(sink: Callable[[str, int, object, tuple[object, ...]], None] | None) -> None:
    """Send every hardenkit record to ``sink(logger_name, level, msg, args)``, or stop.

    For a command line that must show warnings without importing :mod:`logging` (``hardenkit
    exec``: logging with traceback, string and threading is several ms of every start).
    While a sink is set it receives every record, logging loaded or not; it must redact.

    Examples:
        >>> seen = []
        >>> set_sink(lambda name, level, msg, args: seen.append((name, level, msg % args)))
        >>> get_logger("hardenkit.doctest").warning("%d left", 3)
        >>> set_sink(None)
        >>> seen
        [('hardenkit.doctest', 30, '3 left')]
    """
    global _sink  # noqa: PLW0603 -- one switch for the whole process
    _sink = sink


def current_sink() -> Callable[[str, int, object, tuple[object, ...]], None] | None:
    """The sink :func:`set_sink` set, or None (to put it back after a command ran).

    Examples:
        >>> current_sink() is None
        True
    """
    return _sink


def _real(name: str) -> Logger:
    import logging  # noqa: PLC0415 -- for import time: only once a program loaded logging

    root = logging.getLogger("hardenkit")
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())
    return logging.getLogger(name)


class _LazyLogger:
    """A logger that imports nothing until :mod:`logging` is loaded by someone."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Logger | None = None

    def _get(self) -> Logger:
        if self._logger is None:
            self._logger = _real(self._name)
        return self._logger

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Log at ``level`` (dropped while logging is not loaded: no handler can exist)."""
        if _sink is not None:
            _sink(self._name, level, msg, args)
        elif self._logger is not None or "logging" in sys.modules:
            kwargs.setdefault("stacklevel", 2)
            self._get().log(level, msg, *args, **kwargs)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 -- Logger's name
        """False while logging is not loaded (nothing could receive the record)."""
        if _sink is not None:
            return True  # the sink decides
        if self._logger is None and "logging" not in sys.modules:
            return False
        return self._get().isEnabledFor(level)

    def __getattr__(self, attr: str) -> Any:
        if attr in _LEVEL_METHODS:

            def emit(msg: object, *args: object, **kwargs: Any) -> None:
                if _sink is not None:
                    _sink(self._name, _LEVELS[attr], msg, args)
                elif self._logger is not None or "logging" in sys.modules:
                    kwargs.setdefault("stacklevel", 2)
                    getattr(self._get(), attr)(msg, *args, **kwargs)

            return emit
        return getattr(self._get(), attr)

    def __repr__(self) -> str:
        return f"<hardenkit logger {self._name}>"


def get_logger(name: str) -> Logger:
    """Return the logger ``name`` (a ``hardenkit.*`` module name).

    Examples:
        >>> get_logger("hardenkit.env").name
        'hardenkit.env'
        >>> import logging
        >>> any(isinstance(h, logging.NullHandler) for h in logging.getLogger("hardenkit").handlers)
        True
    """
    return _LazyLogger(name)  # type: ignore[return-value]  # quacks as a Logger
