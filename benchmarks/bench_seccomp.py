"""Docker default profile: compile + load, cold and cached (goal <= 20 ms, cached per policy).

Each measurement runs in a fresh forked child (a filter cannot be unloaded): "cold"
includes parsing the profile, libseccomp's compile and the load (pyseccomp's one-time
import, which runs ldconfig, is done beforehand); "cached" compiles in
the parent once and times only the load in the child, which is what spawn/confine pay.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from hardenkit._child import fork_call
from hardenkit._linux.deps import pyseccomp
from hardenkit.sandbox.seccomp import SeccompPolicy, apply_seccomp, compile_policy

PROFILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "docker-default-seccomp.json"
ROUNDS = 15
GOAL_MS = 20.0


def _cold() -> float:
    start = time.perf_counter()
    policy = (
        SeccompPolicy.from_docker_profile(PROFILE)
        if PROFILE.exists()
        else SeccompPolicy.docker_default()
    )
    compile_policy.cache_clear()
    apply_seccomp(policy)
    return (time.perf_counter() - start) * 1000


def _cached(policy: SeccompPolicy) -> float:
    start = time.perf_counter()
    apply_seccomp(policy)
    return (time.perf_counter() - start) * 1000


def _median(fn: object, *args: object) -> float:
    values = []
    for _ in range(ROUNDS):
        outcome = fork_call(fn, args)  # type: ignore[arg-type]
        if not outcome.ok:
            raise RuntimeError(outcome.describe())
        values.append(float(outcome.value))
    return statistics.median(values)


def run() -> list[dict[str, object]]:
    """Measure and return the records (see benchmarks/README.md)."""
    pyseccomp()  # one-time per process (it runs ldconfig): not part of a compile
    cold = _median(_cold)
    policy = SeccompPolicy.docker_default()
    compile_policy(policy)  # compiled once, in the parent
    cached = _median(_cached, policy)
    return [
        {
            "name": "seccomp docker profile parse+compile+load (cold)",
            "value": round(cold, 2),
            "unit": "ms",
            "baseline": "none",
            "baseline_value": None,
            "ratio": None,
            "goal": f"<= {GOAL_MS} ms",
            "ok": cold <= GOAL_MS,
        },
        {
            "name": "seccomp docker profile load (cached per policy)",
            "value": round(cached, 3),
            "unit": "ms",
            "baseline": "cold compile+load",
            "baseline_value": round(cold, 2),
            "ratio": round(cached / cold, 4) if cold else None,
            "goal": f"<= {GOAL_MS} ms, cached",
            "ok": cached <= GOAL_MS,
        },
    ]


if __name__ == "__main__":
    for record in run():
        print(json.dumps(record))
