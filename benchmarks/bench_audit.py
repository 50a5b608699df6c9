"""Audit speed: every process, one process in a loop, and one pid from a fresh CLI process.

Every sleeping child holds a socket, so both sides read the socket tables as a service's
audit would. Goals (issue 19): ``audit_all`` over 500 processes <= 1 s; ``audit_process`` in a loop
<= 1.5x psutil reading the same facts (ids, threads, environment, cwd, exe, core limit,
inet sockets); ``hardenkit audit --pid N --json`` (the console script) <= 100 ms.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from _timing import hardenkit_command  # a sibling: the scripts run from this folder

TARGET_PROCESSES = 500
ROUNDS = 5
CLI_ROUNDS = 21  # interleaved with python -c pass; wall and child CPU (wait4)


def _sleepers(count: int) -> list[subprocess.Popen[bytes]]:
    """Sleeping children, each holding one TCP socket (so socket tables are read)."""
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        return [
            subprocess.Popen(["sleep", "600"], pass_fds=(sock.fileno(),))
            for _ in range(max(0, count))
        ]


def _psutil_facts(pid: int) -> None:
    import psutil  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415

    p = psutil.Process(pid)
    with p.oneshot():
        p.name()
        p.uids()
        p.gids()
        p.num_threads()
        p.environ()
        p.cwd()
        p.exe()
        p.rlimit(psutil.RLIMIT_CORE)
        p.net_connections(kind="inet")


def _median_ms(fn: Any, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _spawn(args: list[str]) -> tuple[float, float]:
    """Run ``args`` once, output to /dev/null: (wall seconds, the child's CPU seconds)."""
    out = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    start = time.perf_counter()
    pid = os.posix_spawn(args[0], args, os.environ, file_actions=out)
    _, _, usage = os.wait4(pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def _cli_ms(*commands: list[str]) -> list[tuple[float, float]]:
    """Median (wall ms, child CPU ms) of each command, interleaved round by round."""
    for args in commands:  # warm: page cache, byte-compiled files
        _spawn(args)
    samples: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(CLI_ROUNDS):
        for args, out in zip(commands, samples, strict=True):
            out.append(_spawn(args))
    return [
        (
            statistics.median(wall for wall, _ in out) * 1000,
            statistics.median(cpu for _, cpu in out) * 1000,
        )
        for out in samples
    ]


def run() -> list[dict[str, object]]:
    """Measure and return the records (see benchmarks/README.md)."""
    from hardenkit.audit import audit_all, audit_process  # noqa: PLC0415

    present = sum(1 for p in os.listdir("/proc") if p.isdecimal())
    procs = _sleepers(TARGET_PROCESSES - present)
    try:
        audit_all()  # warm: imports, libseccomp, caches
        total = sum(1 for p in os.listdir("/proc") if p.isdecimal())
        sweep_ms = _median_ms(audit_all, ROUNDS)
        pids = [p.pid for p in procs[:200]] or [os.getpid()]

        def ours() -> None:
            for pid in pids:
                audit_process(pid)

        def theirs() -> None:
            for pid in pids:
                _psutil_facts(pid)

        ours_ms = _median_ms(ours, ROUNDS) / len(pids)
        theirs_ms = _median_ms(theirs, ROUNDS) / len(pids)
        one = str(pids[0])
        (base_ms, base_cpu), (cli_ms, cli_cpu) = _cli_ms(
            [sys.executable, "-c", "pass"],
            [*hardenkit_command(), "audit", "--pid", one, "--json"],
        )
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return [
        {
            "name": f"audit_all over {total} processes",
            "value": round(sweep_ms, 1),
            "unit": "ms",
            "baseline": "none",
            "baseline_value": None,
            "ratio": None,
            "goal": "<= 1000 ms for 500 processes",
            "ok": sweep_ms * TARGET_PROCESSES / max(total, 1) <= 1000,
        },
        {
            "name": "audit_process per process, in a loop",
            "value": round(ours_ms, 3),
            "unit": "ms",
            "baseline": "psutil reading the same facts",
            "baseline_value": round(theirs_ms, 3),
            "ratio": round(ours_ms / theirs_ms, 3),
            "goal": "<= 1.5x psutil",
            "ok": ours_ms <= 1.5 * theirs_ms,
        },
        {
            "name": "hardenkit audit --pid N --json (fresh process)",
            "value": round(cli_ms, 1),
            "unit": "ms",
            "baseline": "python -c pass",
            "baseline_value": round(base_ms, 1),
            "ratio": round(cli_ms / base_ms, 3),
            "goal": "<= 100 ms",
            "ok": cli_ms <= 100,
            "cpu_ms": round(cli_cpu, 1),
            "baseline_cpu_ms": round(base_cpu, 1),
        },
    ]


if __name__ == "__main__":
    for record in run():
        print(json.dumps(record))
