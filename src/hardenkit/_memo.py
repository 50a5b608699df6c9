"""``functools.cache`` and ``functools.lru_cache`` without importing :mod:`functools`.

:mod:`functools` imports :mod:`collections` (with :mod:`operator`, :mod:`keyword`,
:mod:`reprlib`) for its cache-info named tuple: ~3 ms of a fresh process, paid by every
``hardenkit exec`` before it confines (benchmarks/README.md, execpath section). The
cached function here is the same C object functools builds (``_lru_cache_wrapper``,
thread-safe, with ``cache_clear`` and ``cache_info``), made with functools' own
arguments and wrapped as ``functools.update_wrapper`` does; only ``cache_info()``
returns a plain tuple subclass instead of a named tuple (same fields, same order).

For the type checker these are functools' own decorators.

Examples:
    >>> from hardenkit._memo import cache
    >>> @cache
    ... def square(n):
    ...     'Square n.'
    ...     return n * n
    >>> square(3), square(3), square.cache_info().hits, square.__doc__
    (9, 9, 1, 'Square n.')
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING, for import time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

if TYPE_CHECKING:
    from functools import cache, lru_cache
else:
    try:
        from _functools import _lru_cache_wrapper
    except ImportError:  # no C accelerator: functools' pure-Python one
        from functools import _lru_cache_wrapper

    class CacheInfo(tuple):
        """``(hits, misses, maxsize, currsize)``, as functools' ``_CacheInfo`` holds them."""

        __slots__ = ()

        def __new__(  # noqa: PYI034 -- functools calls it with the four values
            cls, hits: int, misses: int, maxsize: int | None, currsize: int
        ) -> CacheInfo:
            return tuple.__new__(cls, (hits, misses, maxsize, currsize))

        hits = property(lambda self: self[0])
        misses = property(lambda self: self[1])
        maxsize = property(lambda self: self[2])
        currsize = property(lambda self: self[3])

        def __repr__(self) -> str:
            hits, misses, maxsize, currsize = self
            return (
                f"CacheInfo(hits={hits}, misses={misses}, maxsize={maxsize}, currsize={currsize})"
            )

    #: functools.WRAPPER_ASSIGNMENTS (``__type_params__`` exists on Python 3.12+).
    _ASSIGNED = (
        "__module__",
        "__name__",
        "__qualname__",
        "__doc__",
        "__annotations__",
        "__type_params__",
    )

    def _wrap(function: Callable[..., object], maxsize: int | None) -> Any:
        wrapper = _lru_cache_wrapper(function, maxsize, False, CacheInfo)  # noqa: FBT003 -- typed
        # functools.update_wrapper's work.
        for name in _ASSIGNED:
            try:
                value = getattr(function, name)
            except AttributeError:
                continue
            setattr(wrapper, name, value)
        wrapper.__dict__.update(getattr(function, "__dict__", {}))
        wrapper.__wrapped__ = function
        return wrapper

    def cache(function: Callable[..., object]) -> Any:
        """Cache every result of ``function`` (``functools.cache``)."""
        return _wrap(function, None)

    def lru_cache(maxsize: int = 128) -> Callable[[Callable[..., object]], Any]:
        """Keep the ``maxsize`` latest results (``functools.lru_cache(maxsize)``)."""
        if not isinstance(maxsize, int) or isinstance(maxsize, bool):
            raise TypeError("lru_cache here takes maxsize only, as an int")

        def decorate(function: Callable[..., object]) -> Any:
            return _wrap(function, max(maxsize, 0))

        return decorate


def text_free_memo(
    function: Callable[[str], int], memo: dict[tuple[int, int], int], maxsize: int
) -> Callable[[str], int]:
    """``function`` memoised in ``memo`` without keeping its argument's text.

    For functions of text that may be a secret (redaction reads a value before a separator
    as a key): an entry is the text's length and ``hash()`` (keyed per process: a wrong
    answer would take a 64-bit second preimage) with an int. ``memo`` is cleared when it
    holds ``maxsize`` entries.

    Examples:
        >>> memo: dict[tuple[int, int], int] = {}
        >>> length = text_free_memo(len, memo, 2)
        >>> length("hunter2"), length("hunter2"), list(memo) == [(7, hash("hunter2"))]
        (7, 7, True)
    """

    def cached(text: str) -> int:
        key = (len(text), hash(text))
        value = memo.get(key)
        if value is None:
            value = function(text)
            if len(memo) >= maxsize:
                memo.clear()
            memo[key] = value
        return value

    cached.__wrapped__ = function  # type: ignore[attr-defined]
    cached.__doc__ = function.__doc__
    return cached


__all__ = ["cache", "lru_cache", "text_free_memo"]
