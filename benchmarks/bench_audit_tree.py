"""``audit_tree`` over a generated 100k-file tree against ``find -xdev`` with the same predicates.

Goal (DESIGN.md): at most 1.5x find's time. Both run warm (one untimed pass each), then
alternate; the median of the rounds is compared. The tree lives in a fresh temp directory
that is removed afterwards. The record's ``ok`` also requires both to report the same paths.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from hardenkit.fileperms import audit_tree

FILES = 100_000
TOP, SUB = 20, 10  # 200 leaf directories of 500 files each
ROUNDS = 5
GOAL = 1.5
UNNAMED = 4_000_017  # a uid/gid with no name

# find's spelling of audit_tree's predicates.
FIND_PREDICATES = [
    "(", "!", "-type", "d", "!", "-type", "l", "-perm", "-0002", ")",
    "-o", "(", "-type", "d", "-perm", "-0002", "!", "-perm", "-1000", ")",
    "-o", "(", "!", "-type", "d", "-perm", "/6000", ")",
    "-o", "-nouser", "-o", "-nogroup",
]  # fmt: skip


def _generate(root: str) -> int:
    per_dir = FILES // (TOP * SUB)
    planted = 0
    for a in range(TOP):
        for b in range(SUB):
            d = os.path.join(root, f"d{a:02}", f"e{b:02}")
            os.makedirs(d)
            for i in range(per_dir):
                path = os.path.join(d, f"f{i:04}")
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
                if i == 7:  # one planted problem of each kind per 10 directories
                    kind = (a * SUB + b) % 10
                    if kind == 0:
                        os.chmod(path, 0o666)  # noqa: S103 -- planted finding
                    elif kind == 1:
                        os.chmod(path, 0o4755)  # noqa: S103 -- planted finding
                    elif kind == 2:
                        os.chown(path, UNNAMED, UNNAMED)
                    else:
                        continue
                    planted += 1
    os.chmod(os.path.join(root, "d00", "e00"), 0o777)  # noqa: S103 -- planted finding
    os.symlink("/etc", os.path.join(root, "d00", "link-to-etc"))
    return planted + 1


def _run_find(root: str) -> set[str]:
    out = subprocess.run(
        ["find", root, "-xdev", *FIND_PREDICATES], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def _time(fn: object, root: str) -> tuple[float, set[str]]:
    start = time.perf_counter()
    result = fn(root)  # type: ignore[operator]
    return time.perf_counter() - start, result


def _run_ours(root: str) -> set[str]:
    return {f.path for f in audit_tree(root)}


def run() -> list[dict[str, object]]:
    """Measure and return the records (see benchmarks/README.md)."""
    root = tempfile.mkdtemp(prefix="hk-bench-tree-")
    try:
        planted = _generate(root)
        ours_found, find_found = _run_ours(root), _run_find(root)  # warm the caches
        ours_t, find_t = [], []
        for _ in range(ROUNDS):
            t, ours_found = _time(_run_ours, root)
            ours_t.append(t)
            t, find_found = _time(_run_find, root)
            find_t.append(t)
    finally:
        shutil.rmtree(root)
    ours, base = statistics.median(ours_t), statistics.median(find_t)
    ratio = ours / base
    same = ours_found == find_found and len(ours_found) >= planted
    return [
        {
            "name": f"audit_tree of {FILES // 1000}k files ({len(ours_found)} findings)",
            "value": round(ours * 1000, 1),
            "unit": "ms",
            "baseline": "find -xdev with the same predicates",
            "baseline_value": round(base * 1000, 1),
            "ratio": round(ratio, 3),
            "goal": f"<= {GOAL}x find, same paths reported ({'yes' if same else 'NO'})",
            "ok": ratio <= GOAL and same,
        }
    ]


if __name__ == "__main__":
    for record in run():
        print(json.dumps(record))
