"""Import cost: ``python -c "import hardenkit"`` against ``python -c "pass"``.

Goal (DESIGN.md): at most +10 ms, and no heavy module loaded.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

HEAVY = ("psutil", "cryptography", "coincurve", "prctl", "pyseccomp", "dotenv")
ROUNDS = 30
GOAL_MS = 10.0


def _time(code: str) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def run() -> list[dict[str, object]]:
    """Measure and return the records (see benchmarks/README.md)."""
    base = _time("pass")
    ours = _time("import hardenkit")
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, hardenkit; print(' '.join(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    heavy = sorted({m.split(".")[0] for m in loaded} & set(HEAVY))
    extra = ours - base
    return [
        {
            "name": "import hardenkit (extra over python -c pass)",
            "value": round(extra, 2),
            "unit": "ms",
            "baseline": "python -c pass",
            "baseline_value": round(base, 2),
            "ratio": round(ours / base, 3),
            "goal": f"<= +{GOAL_MS:.0f} ms, no heavy module (loaded: {heavy or 'none'})",
            "ok": extra <= GOAL_MS and not heavy,
        }
    ]


if __name__ == "__main__":
    for record in run():
        print(json.dumps(record))
