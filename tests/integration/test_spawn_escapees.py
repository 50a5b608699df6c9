"""Nothing a command starts outlives run(): grandchildren, setsid, double fork, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
import time
import tracemalloc
import uuid
from typing import TYPE_CHECKING

import psutil  # type: ignore[import-untyped,unused-ignore]
import pytest
from typing_extensions import Self

from hardenkit.errors import CommandTimeout
from hardenkit.spawn import CommandPolicy, _run as run_module, run, run_async

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.linux]

SH = CommandPolicy(["sh"])


def _marker() -> str:
    """A unique sleep duration: the processes that carry it are the ones under test."""
    return f"{300 + uuid.uuid4().int % 600}.{uuid.uuid4().int % 10**6:06d}"


def _alive(marker: str) -> list[int]:
    pids = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["status"] != psutil.STATUS_ZOMBIE and marker in (
                proc.info["cmdline"] or ()
            ):
                pids.append(proc.pid)
    return pids


class Watcher:
    """Polls for marker processes while run() blocks, to prove they really existed."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.seen.update(_alive(self.marker))
            time.sleep(0.02)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(params=["pid-namespace", "sweep"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test with the PID namespace (root) and with the unprivileged fallback."""
    if request.param == "pid-namespace":
        if os.geteuid() != 0:
            pytest.skip("PID namespaces need CAP_SYS_ADMIN")
    else:

        @contextlib.contextmanager
        def no_namespace() -> Iterator[bool]:
            yield False

        monkeypatch.setattr(run_module, "_contained", no_namespace)
    return str(request.param)


def _assert_gone(marker: str, seen: set[int]) -> None:
    assert seen, "the test processes never started: the test would prove nothing"
    deadline = time.monotonic() + 0.5  # killed processes may need a moment to be reaped
    while _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _alive(marker) == []
    for pid in seen:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def test_grandchild_holding_stdout_is_killed_on_time(mode: str) -> None:
    m = _marker()
    start = time.monotonic()
    with Watcher(m) as w, pytest.raises(CommandTimeout) as info:
        run(["sh", "-c", f"echo partial; sleep {m} & sleep {m}"], policy=SH, timeout=1.0)
    elapsed = time.monotonic() - start
    assert elapsed < 1.5, f"{mode}: returned {elapsed:.2f}s after start"
    assert info.value.timeout == 1.0
    assert info.value.result.stdout == b"partial\n"
    assert info.value.result.returncode == -9
    _assert_gone(m, w.seen)


@pytest.mark.usefixtures("mode")
def test_setsid_escapee_holding_the_pipe_is_killed() -> None:
    m = _marker()
    script = f"setsid sh -c 'sleep {m}' & sleep {m}"
    start = time.monotonic()
    with Watcher(m) as w, pytest.raises(CommandTimeout):
        run(["sh", "-c", script], policy=SH, timeout=1.0)
    assert time.monotonic() - start < 1.5
    _assert_gone(m, w.seen)


def test_double_fork_setsid_escapee_is_killed_on_timeout() -> None:
    # Orphaned, in its own session, pipes closed: only the PID namespace can catch it.
    m = _marker()
    script = f"(setsid sleep {m} </dev/null >/dev/null 2>&1 &); sleep {m}"
    start = time.monotonic()
    with Watcher(m) as w, pytest.raises(CommandTimeout):
        run(["sh", "-c", script], policy=SH, timeout=1.0)
    assert time.monotonic() - start < 1.5
    _assert_gone(m, w.seen)


def test_double_fork_escapee_dies_when_the_command_exits() -> None:
    m = _marker()
    script = f"(setsid sleep {m} </dev/null >/dev/null 2>&1 &); sleep 0.3; echo done"
    with Watcher(m) as w:
        result = run(["sh", "-c", script], policy=SH, timeout=10)
    assert result.stdout == b"done\n"
    assert result.duration < 2
    _assert_gone(m, w.seen)


@pytest.mark.usefixtures("mode")
def test_background_child_holding_the_pipe_does_not_block_a_normal_exit() -> None:
    m = _marker()
    with Watcher(m) as w:
        result = run(["sh", "-c", f"sleep {m} & sleep 0.3; echo out"], policy=SH, timeout=10)
    assert result.stdout == b"out\n"
    assert result.returncode == 0
    assert result.duration < 2.5
    _assert_gone(m, w.seen)


@pytest.mark.usefixtures("mode")
def test_fork_bomb_style_respawner_is_contained() -> None:
    m = _marker()
    # Each generation forks the next before dying: a sweep must keep up with it.
    script = f"while :; do (sleep {m} &) ; sleep 0.05; done"
    with Watcher(m) as w, pytest.raises(CommandTimeout):
        run(["sh", "-c", script], policy=SH, timeout=1.0)
    _assert_gone(m, w.seen)


def test_hundred_mib_child_is_cut_at_the_cap_with_bounded_memory() -> None:
    cap = 1 << 20
    tracemalloc.start()
    try:
        result = run(
            ["sh", "-c", "head -c 104857600 /dev/zero; echo tail >&2"],
            policy=SH,
            max_output=cap,
            timeout=30,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.truncated
    assert len(result.stdout) == cap
    assert result.stderr == b"tail\n"
    assert result.returncode == 0  # the child wrote everything: no SIGPIPE
    assert peak < 8 * cap, f"parent peak {peak / 2**20:.1f} MiB for a 1 MiB cap"


def test_no_descriptor_beyond_stdio_is_inherited() -> None:
    r, w = os.pipe()
    os.set_inheritable(r, True)  # noqa: FBT003 -- stdlib signature
    high = os.dup2(w, 57, inheritable=True)
    try:
        out = run(["ls", "/proc/self/fd"], policy=CommandPolicy(["ls"])).stdout.split()
    finally:
        for fd in (r, w, high):
            os.close(fd)
    assert out == [b"0", b"1", b"2", b"3"]  # 3 is ls's own directory handle


def test_child_runs_in_a_new_session() -> None:
    out = run(
        ["/usr/bin/python3", "-c", "import os; print(os.getsid(0) == os.getpid())"],
        policy=CommandPolicy(["/usr/bin/python3"]),
    )
    assert out.stdout == b"True\n"


def test_shadowed_path_still_runs_the_allowlisted_binary(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = os.path.join(tmp_path, "evil")
    os.mkdir(evil)
    marker = os.path.join(tmp_path, "evil-ran")
    for where in (evil, str(tmp_path)):
        path = os.path.join(where, "true")
        with open(path, "w") as fh:
            fh.write(f"#!/bin/sh\ntouch {marker}\n")
        os.chmod(path, 0o755)  # noqa: S103 -- an executable decoy
    monkeypatch.setenv("PATH", f":/tmp/evil:{evil}:/usr/bin")
    monkeypatch.chdir(tmp_path)
    policy = CommandPolicy(["true"])
    assert run(["true"], policy=policy).returncode == 0
    assert run(["true"], policy=policy, cwd=tmp_path).returncode == 0
    with pytest.raises(Exception, match="relative"):
        run(["./true"], policy=policy)
    assert not os.path.exists(marker)


def test_eight_threads_spawning_concurrently_never_deadlock() -> None:
    ls = os.path.realpath("/usr/bin/echo")
    with open(ls, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    plain = CommandPolicy(["echo"])
    pinned = CommandPolicy(["echo"], sha256={"echo": digest})  # the fork + preexec path
    errors: list[BaseException] = []
    done = threading.Event()
    log = logging.getLogger("hardenkit.test.noise")

    def noise() -> None:  # other threads holding locks while we fork
        while not done.is_set():
            log.debug("noise %s", threading.get_ident())
            hashlib.sha256(b"x" * 4096).hexdigest()

    def worker(n: int) -> None:
        try:
            for i in range(15):
                policy = pinned if (n + i) % 2 else plain
                out = run(["echo", f"{n}-{i}"], policy=policy, timeout=20).stdout
                assert out == f"{n}-{i}\n".encode()
        except BaseException as exc:
            errors.append(exc)

    noisy = [threading.Thread(target=noise, daemon=True) for _ in range(2)]
    workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(8)]
    for t in noisy + workers:
        t.start()
    deadline = time.monotonic() + 60
    for t in workers:
        t.join(max(0.0, deadline - time.monotonic()))
    done.set()
    assert not any(t.is_alive() for t in workers), "a spawning thread is stuck (deadlock)"
    assert errors == []


def test_run_async_returns_and_cancellation_kills_the_group() -> None:
    m = _marker()

    async def main() -> bytes:
        ok = await run_async(["echo", "async"], policy=CommandPolicy(["echo"]))
        task = asyncio.create_task(
            run_async(["sh", "-c", f"sleep {m} & sleep {m}"], policy=SH, timeout=30)
        )
        await asyncio.sleep(0.5)
        task.cancel()
        start = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - start < 1.5
        return ok.stdout

    with Watcher(m) as w:
        assert asyncio.run(main()) == b"async\n"
    _assert_gone(m, w.seen)


def test_run_async_timeout_is_command_timeout() -> None:
    async def main() -> None:
        await run_async(["sleep", "5"], policy=CommandPolicy(["sleep"]), timeout=0.3)

    with pytest.raises(CommandTimeout) as info:
        asyncio.run(main())
    assert info.value.timeout == 0.3
