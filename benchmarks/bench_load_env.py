"""``load_env`` of 200 encrypted values against ``dotenvx get`` on the same file.

Goal (DESIGN.md): at least 20x faster than dotenvx and at most 100 ms. ``load_env`` is timed
in-process (imports warm, the whole parse + key lookup + decrypt + environ update); a cold
``python -c`` run of the same call is reported too, for a process-to-process comparison.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hardenkit.envcrypt import encrypt_env_file, load_env

VALUES = 200
ROUNDS = 15
CLI_ROUNDS = 3
GOAL_MS = 100.0
GOAL_RATIO = 20.0
DOTENVX = Path(__file__).resolve().parents[1] / "tests" / "interop" / "node_modules" / ".bin"


def _make(directory: Path) -> Path:
    env = directory / ".env"
    env.write_text("".join(f"SECRET_{i}=value-{i}-{'x' * 24}\n" for i in range(VALUES)))
    encrypt_env_file(env)
    return env


def _ours(env: Path) -> float:
    load_env(env, environ={})  # warm-up: imports and first-use costs
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        values = load_env(env, environ={})
        samples.append(time.perf_counter() - start)
        if len(values) != VALUES + 1:
            raise RuntimeError("load_env returned the wrong number of values")
    return statistics.median(samples) * 1000


def _cold(env: Path) -> float:
    code = f"from hardenkit.envcrypt import load_env; load_env({str(env)!r}, environ={{}})"
    samples = []
    for _ in range(CLI_ROUNDS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=env.parent)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def _dotenvx(env: Path) -> float | None:
    tool = DOTENVX / "dotenvx"
    if not tool.exists():
        return None
    node = shutil.which("node")
    path = f"{Path(node).parent}:/usr/bin:/bin" if node else "/usr/bin:/bin"
    clean = {"PATH": path, "HOME": str(env.parent)}
    samples = []
    for _ in range(CLI_ROUNDS):
        start = time.perf_counter()
        done = subprocess.run(
            [str(tool), "get", "-f", str(env), "--no-armor"],
            cwd=env.parent,
            env=clean,
            capture_output=True,
            check=True,
        )
        samples.append(time.perf_counter() - start)
        if b"value-7-" not in done.stdout:
            raise RuntimeError("dotenvx did not decrypt the file")
    return statistics.median(samples) * 1000


def _record(
    name: str, value: float, base: float | None, goal: str, *, ok: bool
) -> dict[str, object]:
    return {
        "name": name,
        "value": round(value, 2),
        "unit": "ms",
        "baseline": "dotenvx get (same file, dotenvx 1.75.1)",
        "baseline_value": None if base is None else round(base, 1),
        "ratio": None if base is None else round(base / value, 1),
        "goal": goal,
        "ok": ok,
    }


def run() -> list[dict[str, object]]:
    """Measure and return the records (see benchmarks/README.md)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = _make(Path(tmp))
        os.chmod(tmp, 0o700)
        ours = _ours(env)
        cold = _cold(env)
        base = _dotenvx(env)
    ratio_ok = base is not None and base / ours >= GOAL_RATIO
    return [
        _record(
            f"load_env, {VALUES} encrypted values (in-process)",
            ours,
            base,
            f"<= {GOAL_MS:.0f} ms and >= {GOAL_RATIO:.0f}x faster",
            ok=ours <= GOAL_MS and ratio_ok,
        ),
        _record(
            f"python -c load_env, {VALUES} encrypted values (cold process)",
            cold,
            base,
            "informational: process to process",
            ok=True,
        ),
    ]


if __name__ == "__main__":
    for record in run():
        print(json.dumps(record))
