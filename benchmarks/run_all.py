"""Run every benchmark in one run and rewrite the figures table in benchmarks/README.md.

Usage: ``.venv/bin/python benchmarks/run_all.py [--no-write] [NAME ...]`` where NAME picks
``bench_NAME.py`` scripts (default: all). Each script defines ``run() -> list[dict]`` and
prints its records as JSON lines; each runs in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN = "<!-- figures:begin -->"
END = "<!-- figures:end -->"


def _row(rec: dict[str, Any]) -> str:
    ratio = "" if rec.get("ratio") is None else f"{rec['ratio']}x"
    base = rec.get("baseline_value")
    name = rec.get("baseline", "none")
    base_txt = name if base is None else f"{name} ({base} {rec['unit']})"
    if rec.get("cold") is not None:  # cold (fresh process) first, warm beside it
        rec = {**rec, "value": f"{rec['cold']} cold / {rec['value']} warm"}
    if rec.get("changed"):
        base_txt = f"{base_txt}; {rec['changed']}" if rec.get("baseline") else rec["changed"]
    verdict = "yes" if rec.get("ok") else "**no**"
    return (
        f"| {rec['name']} | {rec['value']} {rec['unit']} | {base_txt} | {ratio} "
        f"| {rec['goal']} | {verdict} |"
    )


def main() -> int:
    """Run the benchmarks and print (and by default record) the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite README.md")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.names]
    records: list[dict[str, Any]] = []
    for script in scripts:
        print(f"running {script.name} ...", file=sys.stderr)
        # A fresh interpreter per script: fork costs grow with the parent's memory, so one
        # benchmark's leftovers must not slow the next one down.
        out = subprocess.run(
            [sys.executable, str(script)], check=True, capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            rec["script"] = script.name
            print(json.dumps(rec))
            records.append(rec)
    header = (
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC in one run on "
        f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}.\n\n"
        "| what | ours | baseline | ratio | goal | met |\n|---|---|---|---|---|---|\n"
    )
    table = header + "\n".join(_row(r) for r in records) + "\n"
    if not args.no_write and not args.names:
        text = README.read_text()
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        README.write_text(text[:start] + "\n" + table + text[end:])
    print(table)
    return 0 if all(r.get("ok") for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
