from __future__ import annotations

import json
import os
import resource
import signal
import threading
import time
from typing import Any

import pytest

from hardenkit import _child as child_mod
from hardenkit._child import MAX_RESULT_VALUES, ChildOutcome, _decode, _values_bound, fork_call

pytestmark = pytest.mark.linux


def _getpid() -> int:
    return os.getpid()


def test_value_comes_back_as_data() -> None:
    out = fork_call(lambda x: {"x": [x, None, "s"]}, (1,))
    assert out.ok
    assert out.value == {"x": [1, None, "s"]}


def test_runs_in_another_process() -> None:
    assert fork_call(_getpid).value != os.getpid()


def test_exception_is_reported_by_type_and_message() -> None:
    out = fork_call(int, ("nope",))
    assert not out.ok
    assert out.exc_type == "ValueError"
    assert "nope" in (out.exc_message or "")


def test_unserialisable_value_is_an_error_not_a_pickle() -> None:
    out = fork_call(object)
    assert out.exc_type == "TypeError"


def test_signal_is_reported() -> None:
    out = fork_call(os.kill, (0, 0))  # harmless, then a real kill
    assert out.ok
    out = fork_call(lambda: os.kill(os.getpid(), signal.SIGKILL))
    assert out.signal == signal.SIGKILL
    assert out.describe() == "killed by signal SIGKILL"


def test_exit_without_report() -> None:
    out = fork_call(os._exit, (3,))
    assert out == ChildOutcome(ok=False, exit_code=3, duration=out.duration)


def test_timeout_kills_and_reaps() -> None:
    start = time.monotonic()
    out = fork_call(time.sleep, (30,), timeout=0.3)
    assert out.timed_out
    assert time.monotonic() - start < 5


def test_grandchild_holding_the_pipe_does_not_hang() -> None:
    def spawn_grandchild() -> str:
        if os.fork() == 0:  # grandchild keeps every inherited descriptor open
            time.sleep(3)
            os._exit(0)
        return "done"

    start = time.monotonic()
    out = fork_call(spawn_grandchild, timeout=10)
    assert out.value == "done"
    assert time.monotonic() - start < 2.5


def test_before_runs_in_the_child_only() -> None:
    marker: list[int] = []
    out = fork_call(lambda: len(marker), before=lambda: marker.append(1))
    assert out.value == 1
    assert marker == []


def test_parent_threads_do_not_matter() -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert fork_call(threading.active_count).value == 1
    finally:
        stop.set()
        t.join()


def _refusal_seconds(data: bytes) -> float:
    start = time.perf_counter()
    assert _decode(data)[1] == f"more than {MAX_RESULT_VALUES} JSON values"
    return time.perf_counter() - start


def test_result_bound_is_linear_in_escaped_quotes() -> None:
    # A hostile child's report: enough separators to need the recount, then one string of
    # escaped quotes. A backtracking string pattern took quadratic time here (20k: 10 s,
    # 40k: 43 s), and the caller decodes after the child's timeout no longer applies.
    def payload(n: int) -> bytes:
        return b"[" + b"," * (MAX_RESULT_VALUES + 10) + b'"' + b'\\"' * n

    small = min(_refusal_seconds(payload(4000)) for _ in range(2))
    large = min(_refusal_seconds(payload(16000)) for _ in range(2))
    assert large <= 5 * small + 0.05, (small, large)


def _decode_growth(data: bytes) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert _decode(data)[1] is not None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB


def test_refusing_a_result_allocates_little() -> None:
    # 1M keys (16 MB): the recount outside strings used to build a piece per string
    # (~5x the report's size in the caller) before refusing it.
    data = json.dumps({"ok": True, "value": dict.fromkeys(map(str, range(1_000_000)))}).encode()
    out = fork_call(_decode_growth, (data,))  # a fresh high-water mark
    assert out.ok, out
    assert out.value < 8 << 10, out.value


@pytest.mark.parametrize(
    "text",
    [
        b'{"ok": true, "value": ["a,b", [], [1, [2, {"k:": "\\\\"}]], "\\",\\"", ":"]}',
        b'["[", "]", [[]], {"": ""}]',
    ],
)
def test_value_bound_covers_what_the_decoder_builds(text: bytes, monkeypatch: Any) -> None:
    def count(value: Any) -> int:
        if isinstance(value, dict):
            return 1 + sum(count(v) for v in value.values())
        if isinstance(value, list):
            return 1 + sum(count(v) for v in value)
        return 1

    exact = count(json.loads(text))
    monkeypatch.setattr(child_mod, "MAX_RESULT_VALUES", 1)  # force the recount outside strings
    assert _values_bound(text) >= min(exact, 2)
    monkeypatch.setattr(child_mod, "MAX_RESULT_VALUES", 10_000)
    assert _values_bound(text) >= exact


def test_the_child_imports_nothing_in_a_fresh_interpreter() -> None:
    # The child's first step (prctl through libc, ctypes) is loaded before the fork: a
    # confined child may no longer read the standard library, and the fork of a threaded
    # parent must not import. In a fresh interpreter, where nothing loaded ctypes yet.
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "import sys\n"
        "from hardenkit._child import fork_call\n"
        "out = fork_call(lambda: sorted(sys.modules))\n"
        "print(sorted(set(out.value) - set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout
