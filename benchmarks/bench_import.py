"""Import cost: ``python -c "import hardenkit"`` against ``python -c "pass"``.

Goal (DESIGN.md): at most +10 ms, and no heavy module loaded. Issue 14 adds one row per
subpackage's first use (``from hardenkit.spawn import run``...): goal <= +40 ms each.
Those are measured interleaved with the baseline (a busy machine shifts both alike), as
wall time and as the child's CPU time (user + system, less sensitive to waiting for a core).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

HEAVY = ("psutil", "cryptography", "coincurve", "prctl", "pyseccomp", "dotenv")
ROUNDS = 30
GOAL_MS = 10.0
FIRST_USE_GOAL_MS = 40.0
FIRST_USE_ROUNDS = 21

#: One first call per subpackage (issue 14): what a program pays to start using it.
FIRST_USES = (
    "from hardenkit.spawn import run",
    "from hardenkit.sandbox import confine",
    "from hardenkit.fileperms import check_path",
    "from hardenkit.redaction import redact",
    "from hardenkit.audit import audit_process",
)

#: The standard library's part, measured in the same rounds, for information: ``spawn``
#: starts its child with ``subprocess.Popen``; ``dataclasses`` (with ``inspect``, ``ast``,
#: ``dis``, ``tokenize``, ``enum``, ``re``) is what every first use paid before
#: ``hardenkit._dataclass`` built the public types without it.
FLOORS = ("import subprocess", "import dataclasses")


def _time(code: str) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _interleaved(codes: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """Code -> (median wall ms, median child CPU ms), rounds interleaved across codes."""
    wall: dict[str, list[float]] = {c: [] for c in codes}
    cpu: dict[str, list[float]] = {c: [] for c in codes}
    for _ in range(FIRST_USE_ROUNDS):
        for code in codes:
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", code])
            _pid, status, usage = os.wait4(proc.pid, 0)
            wall[code].append(time.perf_counter() - start)
            cpu[code].append(usage.ru_utime + usage.ru_stime)
            if status:
                raise RuntimeError(f"{code!r} failed")
    return {c: (statistics.median(wall[c]) * 1000, statistics.median(cpu[c]) * 1000) for c in codes}


def first_use() -> list[dict[str, object]]:
    """One record per subpackage's first use, as wall time and as CPU time."""
    times = _interleaved(("pass", *FLOORS, *FIRST_USES))
    base_wall, base_cpu = times["pass"]
    records: list[dict[str, object]] = []
    for code in FLOORS:
        wall, _cpu = times[code]
        records.append(
            {
                "name": f"floor: {code} (extra over python -c pass, wall)",
                "value": round(wall - base_wall, 2),
                "unit": "ms",
                "baseline": "python -c pass (wall)",
                "baseline_value": round(base_wall, 2),
                "ratio": round(wall / base_wall, 3),
                "goal": "informational (the standard library's part, see FLOORS)",
                "ok": True,
            }
        )
    for code in FIRST_USES:
        wall, cpu = times[code]
        for what, ours, base in (("wall", wall, base_wall), ("CPU", cpu, base_cpu)):
            extra = ours - base
            records.append(
                {
                    "name": f"{code} (extra over python -c pass, {what})",
                    "value": round(extra, 2),
                    "unit": "ms",
                    "baseline": f"python -c pass ({what})",
                    "baseline_value": round(base, 2),
                    "ratio": round(ours / base, 3),
                    "goal": f"<= +{FIRST_USE_GOAL_MS:.0f} ms",
                    "ok": extra <= FIRST_USE_GOAL_MS,
                }
            )
    return records


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
        },
        *first_use(),
    ]


if __name__ == "__main__":
    for record in run():
        print(json.dumps(record))
