"""``redact()`` on real logs that no one here wrote (issue 16's held-out measure).

Real logs are not in this repository. Point ``HARDENKIT_BENCH_LOGS`` at directories (joined
with ``:``); every ``*.log`` file under each is read, one line per log line, and each
directory is measured on its own. Measured here on two sets:

- the loghub 2k samples (https://github.com/logpai/loghub, its ``*/*_2k.log``: Android,
  Apache, BGL, HDFS, HPC, Hadoop, HealthApp, Linux, Mac, OpenSSH, OpenStack, Proxifier,
  Spark, Thunderbird, Windows, Zookeeper; 32,000 lines, 4.4 MB);
- elastic/examples' logs (https://github.com/elastic/examples: ``Common Data
  Formats/apache_logs/apache_logs``, ``nginx_json_plus_logs/nginxplus_json_logs``, the
  ``suspicious_login_activity`` auth.log and three Kafka logs of ``kafka_monitoring``,
  each copied with a ``.log`` name; 41,890 lines, 8.0 MB).

Without it this script measures nothing and says so on stderr.

A secret line of every kind (corpus.py's samples, fresh values of the same shape) is
inserted after about 1 % of the lines. Reported: every inserted secret masked, the share
of the original lines that come back changed (goal <= 0.5 %; real logs hold some real
secrets, such as phpBB's sid= in Apache's referrers, so this is an upper bound), and the
speed one call per line and in 64 KiB blocks (goals 30 and 100 MB/s), cold (a fresh
process) first and warm (CPU time, best of three) beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_redact_corpus import _mb, records

ENV = "HARDENKIT_BENCH_LOGS"


def _log_lines(root: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted(root.rglob("*.log")):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        lines.extend(line for line in text.split("\n") if line)
    return lines


def _pairs(root: Path) -> list[tuple[str, str]]:
    import corpus  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415

    made: list[tuple[str, str]] = corpus.with_secrets(_log_lines(root))
    return made


_COLD = """
import sys, time
sys.path.insert(0, {bench!r})
from pathlib import Path
from bench_redact_reallogs import _pairs
from bench_redact_corpus import _blocks
texts = [l for l, _ in _pairs(Path({root!r}))]
if {blocks}:
    texts = _blocks(texts)
start = time.perf_counter()
from hardenkit.redaction import redact
for t in texts:
    redact(t)
print(sum(len(t.encode("utf-8", "surrogateescape")) + 1 for t in texts) / 1e6
      / (time.perf_counter() - start))
"""


def _cold(root: Path, *, blocks: bool) -> float:
    here = str(Path(__file__).resolve().parent)
    code = _COLD.format(bench=here, root=str(root), blocks=blocks)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout)


def run() -> list[dict[str, object]]:
    """Measure and return the records (none without the logs; see the module docstring)."""
    dirs = [Path(p) for p in os.environ.get(ENV, "").split(os.pathsep) if p]
    dirs = [d for d in dirs if any(d.rglob("*.log"))]
    if not dirs:
        print(f"bench_redact_reallogs: set {ENV} to directories of *.log files", file=sys.stderr)
        return []
    return [record for root in dirs for record in _measure(root)]


def _measure(root: Path) -> list[dict[str, object]]:
    pairs = _pairs(root)
    clean = sum(1 for _, secret in pairs if not secret)
    size = f"{root.name}: {clean} lines, {_mb([t for t, s in pairs if not s]):.1f} MB"
    return records(
        pairs,
        lambda blocks: _cold(root, blocks=blocks),
        (
            f"redact() on real logs ({size}), one call per line",
            f"redact() on real logs ({root.name}) in 64 KiB blocks",
            f"real logs ({root.name}): inserted secrets left visible / lines changed",
        ),
    )


if __name__ == "__main__":
    for record in run():
        print(json.dumps(record))
