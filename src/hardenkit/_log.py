"""hardenkit's loggers, all children of ``"hardenkit"``, which carries a NullHandler.

The handler is installed here, on the first import of a module that logs, rather than in
``hardenkit/__init__.py``: importing :mod:`logging` there would cost every
``import hardenkit`` several milliseconds.
"""

from __future__ import annotations

import logging

logging.getLogger("hardenkit").addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """Return the logger ``name`` (a ``hardenkit.*`` module name).

    Examples:
        >>> get_logger("hardenkit.env").name
        'hardenkit.env'
        >>> any(isinstance(h, logging.NullHandler) for h in logging.getLogger("hardenkit").handlers)
        True
    """
    return logging.getLogger(name)
