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
CLI_ROUNDS = 15


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


def _cli_ms(args: list[str]) -> float:
    def once() -> None:
        subprocess.run(args, check=False, capture_output=True)

    return _median_ms(once, CLI_ROUNDS)


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
        base_ms = _cli_ms([sys.executable, "-c", "pass"])
        cli_ms = _cli_ms([*hardenkit_command(), "audit", "--pid", one, "--json"])
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
        },
    ]


if __name__ == "__main__":
    for record in run():
        print(json.dumps(record))
