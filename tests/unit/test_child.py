from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from hardenkit._child import ChildOutcome, fork_call

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
