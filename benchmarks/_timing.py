"""Interleaved timing shared by the benchmark scripts (run as scripts from this folder).

Each round runs every function once, in turn, so a slow patch of the machine slows all of
them alike; the median of the rounds is reported, in milliseconds.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any


def interleaved_ms(*fns: Any, rounds: int, warmup: int = 1) -> list[float]:
    """Median wall time of each ``fn()`` in ms, over ``rounds`` interleaved rounds."""
    for _ in range(warmup):  # page cache, lazy imports, branch predictors
        for fn in fns:
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, out in zip(fns, samples, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [statistics.median(out) * 1000 for out in samples]


def hardenkit_command() -> list[str]:
    """What a user types: the ``hardenkit`` console script installed beside this interpreter.

    ``python -m hardenkit`` would add runpy's ~7 ms, which the script does not pay; it is
    the fallback when no script is installed.
    """
    script = os.path.join(os.path.dirname(sys.executable), "hardenkit")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "hardenkit"]
