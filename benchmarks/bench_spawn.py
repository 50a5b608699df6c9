"""Spawn cost and timeout behaviour (DESIGN.md goals).

- ``run(['/bin/true'], policy=...)`` against ``subprocess.run(['/bin/true'], timeout=30)``: <= 1.3x
- the same fully confined (user nobody + limits + Docker default profile): <= 3x
- a grandchild holding stdout, 1 s deadline: returns <= 1.5 s, 0 survivors
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,unused-ignore]

from hardenkit.errors import CommandTimeout
from hardenkit.sandbox import ResourceLimits, SeccompPolicy
from hardenkit.spawn import CommandPolicy, run as hk_run

ROUNDS = 300
PROFILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "docker-default-seccomp.json"


def _median_ms(fn: Any, rounds: int = ROUNDS) -> float:
    for _ in range(20):
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _record(name: str, value: float, base: float, goal: float) -> dict[str, Any]:
    ratio = value / base
    return {
        "name": name,
        "value": round(value, 3),
        "unit": "ms",
        "baseline": "subprocess.run(['/bin/true'], timeout=30)",
        "baseline_value": round(base, 3),
        "ratio": round(ratio, 3),
        "goal": f"<= {goal}x",
        "ok": ratio <= goal,
    }


def _survivors(marker: str) -> int:
    count = 0
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and marker in (proc.info["cmdline"] or ()):
            count += 1
    return count


def run() -> list[dict[str, Any]]:
    """Measure and return the records (see benchmarks/README.md)."""
    policy = CommandPolicy(["/bin/true"])
    shell = CommandPolicy(["sh"])
    profile = SeccompPolicy.from_docker_profile(PROFILE)
    limits = ResourceLimits(open_files=256, core_bytes=0)
    base = _median_ms(lambda: subprocess.run(["/bin/true"], timeout=30, check=False))
    ours = _median_ms(lambda: hk_run(["/bin/true"], policy=policy))
    confined = _median_ms(
        lambda: hk_run(["/bin/true"], policy=policy, user="nobody", limits=limits, seccomp=profile),
        rounds=150,
    )
    base_again = _median_ms(lambda: subprocess.run(["/bin/true"], timeout=30, check=False))
    base = min(base, base_again)
    marker = f"{600 + uuid.uuid4().int % 300}.{uuid.uuid4().int % 10**6:06d}"
    start = time.monotonic()
    with contextlib.suppress(CommandTimeout):
        hk_run(["sh", "-c", f"sleep {marker} & sleep {marker}"], policy=shell, timeout=1.0)
    elapsed = time.monotonic() - start
    time.sleep(0.1)
    left = _survivors(marker)
    return [
        _record("run(['/bin/true'], policy=...)", ours, base, 1.3),
        _record("run(['/bin/true']) as nobody + limits + Docker profile", confined, base, 3.0),
        {
            "name": "timeout, grandchild holding stdout, 1 s deadline",
            "value": round(elapsed, 3),
            "unit": "s",
            "baseline": "deadline",
            "baseline_value": 1.0,
            "ratio": round(elapsed / 1.0, 3),
            "goal": f"<= 1.5 s, 0 survivors (survivors: {left})",
            "ok": elapsed <= 1.5 and left == 0,
        },
    ]


if __name__ == "__main__":
    for record in run():
        print(json.dumps(record))
