"""Two-core decryption: ECDH dominates and ``cryptography`` releases the GIL during it.

Threads are the enemy of process hardening (capabilities, ids and no_new_privs are
per-thread), so the pool lives only inside one call: it is joined before returning and,
on Linux, we wait until the kernel has reaped the threads (counted by the same
``_linux.procfs.thread_count`` that ``refuse_threads`` uses), so a
``drop_privileges()`` right after ``load_env()`` never sees a straggler. Where threads
cannot start (a seccomp filter, a thread limit) the work runs serially.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, TypeVar

from hardenkit._log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_log = get_logger("hardenkit.envcrypt")

T = TypeVar("T")
R = TypeVar("R")

#: Below this many values a pool costs more than it saves (measured: ~0.4 ms per value).
MIN_PARALLEL = 24
_REAP_TIMEOUT = 0.5


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _task_count() -> int | None:
    from hardenkit._linux import procfs  # noqa: PLC0415 -- import time: only a pool counts

    try:
        return procfs.thread_count()
    except OSError:  # pragma: no cover - not Linux, or no /proc
        return None


def _wait_reaped(before: int | None) -> None:
    if before is None:  # pragma: no cover - not Linux
        return
    deadline = time.monotonic() + _REAP_TIMEOUT
    while True:
        now = _task_count()
        if now is None or now <= before or time.monotonic() > deadline:
            return
        time.sleep(0.0005)


def map_values(fn: Callable[[T], R], items: Sequence[T], *, workers: int = 2) -> list[R]:
    """``[fn(x) for x in items]``, on up to ``workers`` threads when that pays off.

    ``fn`` must not raise (errors travel as values), so a failure never leaves work
    half-done on another thread.

    Examples:
        >>> map_values(lambda x: x * 2, list(range(50)))[-1]
        98
    """
    count = min(workers, _cpus())
    if count < 2 or len(items) < MIN_PARALLEL:  # noqa: PLR2004 -- two threads at least
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 -- import time: a pool only for many values

    before = _task_count()
    try:
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="hardenkit-envcrypt") as pool:
            results = list(pool.map(fn, items, chunksize=1))
    except RuntimeError:  # cannot start a thread here: do it serially
        _log.debug("threads unavailable; decrypting serially")
        _wait_reaped(before)
        return [fn(item) for item in items]
    _wait_reaped(before)
    return results
