"""hardenkit._memo's cache and lru_cache behave as functools' (without importing it)."""

from __future__ import annotations

import functools
import pickle
import subprocess
import sys
import threading
from typing import Any

import pytest

from hardenkit import _memo


@_memo.cache
def module_level(x: int) -> int:
    """Doubled."""
    return 2 * x


def _adder(calls: list[tuple[int, int]]) -> Any:
    def add(x: int, y: int = 0) -> int:
        """Add two numbers."""
        calls.append((x, y))
        return x + y

    add.marker = "kept"  # type: ignore[attr-defined]
    return add


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (_memo.cache, functools.cache),
        (_memo.lru_cache(maxsize=2), functools.lru_cache(maxsize=2)),
        (_memo.lru_cache(maxsize=0), functools.lru_cache(maxsize=0)),
    ],
)
def test_same_answers_calls_and_counters_as_functools(ours: Any, theirs: Any) -> None:
    mine: list[tuple[int, int]] = []
    ref: list[tuple[int, int]] = []
    fa, fb = _adder(mine), _adder(ref)
    a, b = ours(fa), theirs(fb)
    calls = [(1, 0), (1, 0), (2, 5), (3, 0), (1, 0), (2, 5), (4, 4), (1, 0)]
    for x, y in calls:
        assert a(x, y=y) == b(x, y=y)
    assert mine == ref  # the same evictions: the same misses, in the same order
    assert tuple(a.cache_info()) == tuple(b.cache_info())
    info = a.cache_info()
    assert (info.hits, info.misses, info.maxsize, info.currsize) == tuple(b.cache_info())
    assert repr(info).startswith("CacheInfo(hits=")
    a.cache_clear()
    b.cache_clear()
    assert tuple(a.cache_info()) == tuple(b.cache_info())
    for name in ("__name__", "__qualname__", "__doc__", "__module__", "marker"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.__wrapped__ is fa
    assert b.__wrapped__ is fb
    assert type(a) is type(b)  # the same C wrapper object


def test_pickles_by_name_and_caches_across_threads() -> None:
    assert pickle.loads(pickle.dumps(module_level)) is module_level  # noqa: S301 -- our own bytes
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(module_level(21))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 8


def test_lru_cache_takes_an_int_maxsize_only() -> None:
    with pytest.raises(TypeError):
        _memo.lru_cache(True)  # noqa: FBT003 -- the misuse under test
    with pytest.raises(TypeError):
        _memo.lru_cache(lambda: 1)


def test_imports_neither_functools_nor_collections() -> None:
    code = (
        "import sys\n"
        "from hardenkit._memo import cache, lru_cache\n"
        "f = lru_cache(maxsize=4)(cache(abs))\n"
        "assert f(-3) == 3 and f.cache_info().hits == 0\n"
        "print(' '.join(sorted({'functools', 'collections', 'operator'} & set(sys.modules))))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""
