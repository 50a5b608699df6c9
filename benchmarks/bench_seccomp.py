"""Docker default profile: compile + load, cold and cached (goal <= 20 ms, cached per policy).

A filter cannot be unloaded, so every load runs in a forked child or a fresh interpreter:

- "first in a process": a child forked from a parent that has imported hardenkit's
  seccomp modules and opened libseccomp.so.2 but has never parsed nor compiled a policy
  (the child checks that every cache is empty); it times reading + translating the
  profile, resolving names, libseccomp's compile, linking and the TSYNC load;
- "cached": the parent has loaded the profile once; the child reads the profile again
  (served from the content-hash cache, same policy object, compiled program reused) and
  loads it, which is what each ``spawn``/``confine`` with that profile pays;
- "one-time libseccomp load": in a fresh interpreter, hardenkit's direct
  ``dlopen("libseccomp.so.2")`` against importing pyseccomp (which runs ``ldconfig`` twice);
- "fresh interpreter end to end": imports (from source here: PYTHONDONTWRITEBYTECODE is
  set) + first compile + load, informational;
- "import": in a fresh interpreter, ``import hardenkit.sandbox.seccomp`` after the stdlib
  modules any first use of the sandbox imports anyway (dataclasses, re, struct...) and
  ``hardenkit.sandbox``: what the seccomp package itself costs, CPU, informational;
- "the three filters of ``hardenkit exec``": in a fresh interpreter, after the imports
  and libseccomp's dlopen, compiling what ``hardenkit exec --user nobody --seccomp docker
  --read /usr --execute /usr --net none`` compiles: the Docker profile decided for no
  capabilities with the namespace block, the network filter of ``NetworkPolicy.none()``
  and the filesystem guard. No compiled filter is ever cached across processes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hardenkit._child import fork_call
from hardenkit._linux import (  # noqa: F401 -- imported up front: imports are one-time
    libc,
    procfs,
    seccomp_compile,
    seccomp_load,
)
from hardenkit.sandbox.seccomp import SeccompPolicy, apply_seccomp, compile_policy, profiles
from hardenkit.sandbox.seccomp.resolve import resolve_policy

PROFILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "docker-default-seccomp.json"
ROUNDS = 15
FRESH_ROUNDS = 5
GOAL_MS = 20.0

_PRE = "import time\nfrom hardenkit._linux import deps\n"
_FRESH = {
    "dlopen": f"{_PRE}t = time.perf_counter()\ndeps.libseccomp()\n",
    "pyseccomp": "import time\nt = time.perf_counter()\nimport pyseccomp\n",
    "end to end": (
        "import time\nt = time.perf_counter()\n"
        "from hardenkit.sandbox import SeccompPolicy, apply_seccomp\n"
        "apply_seccomp(SeccompPolicy.from_docker_profile({path!r}))\n"
    ),
    "exec filters": (
        "import logging, time\n"
        "logging.disable(logging.WARNING)  # the skipped-names warning is not the compile\n"
        "from hardenkit._linux import seccomp_compile\n"
        "from hardenkit.sandbox import confinement\n"
        "from hardenkit.sandbox.network import NetworkPolicy, network_filter\n"
        "from hardenkit.sandbox.seccomp import SeccompPolicy, compile_policy, profiles\n"
        "seccomp_compile.native_arch()\n"
        "t = time.thread_time()  # CPU time: this row is compared with a figure from before\n"
        "p = SeccompPolicy.docker_default(capabilities=()).with_namespace_block()\n"
        "compile_policy(p)\n"
        "compile_policy(network_filter(NetworkPolicy.none()))\n"
        "compile_policy(confinement.filesystem_guard_policy(tuple(p.arches)))\n"
        "print((time.thread_time() - t) * 1000)\n"
    ),
    "import": (
        "import time, dataclasses, re, struct, math, itertools, threading\n"
        "import hardenkit.sandbox, hardenkit._log, hardenkit._linux\n"
        "t = time.thread_time()\n"
        "import hardenkit.sandbox.seccomp\n"
        "print((time.thread_time() - t) * 1000)\n"
    ),
}
#: CPU time of the same three compiles on main before the seccomp package (issue 14),
#: measured interleaved with this row's code (benchmarks/README.md, "seccomp package").
EXEC_BEFORE_MS = 25.3


def _profile() -> Path | None:
    return PROFILE if PROFILE.exists() else None


def _load_profile() -> SeccompPolicy:
    path = _profile()
    return SeccompPolicy.from_docker_profile(path) if path else SeccompPolicy.docker_default()


def _cold() -> float:
    caches = (
        compile_policy.cache_info().currsize,
        resolve_policy.cache_info().currsize,
        len(seccomp_compile._TABLE_ENDS),  # noqa: SLF001
        len(profiles._POLICIES),  # noqa: SLF001 -- the benchmark checks it starts cold
    )
    if any(caches):
        raise RuntimeError(f"cold run found warm caches: {caches}")
    start = time.perf_counter()
    apply_seccomp(_load_profile())
    return (time.perf_counter() - start) * 1000


def _cached() -> float:
    start = time.perf_counter()
    apply_seccomp(_load_profile())
    return (time.perf_counter() - start) * 1000


def _median_child(fn: Any) -> float:
    values = []
    for _ in range(ROUNDS):
        outcome = fork_call(fn, ())
        if not outcome.ok:
            raise RuntimeError(outcome.describe())
        values.append(float(outcome.value))
    return statistics.median(values)


def _median_fresh(code: str, rounds: int = FRESH_ROUNDS) -> float:
    script = code.format(path=str(_profile() or ""))
    if "print(" not in script:
        script += "print((time.perf_counter() - t) * 1000)\n"
    values = []
    for _ in range(rounds):
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        values.append(float(proc.stdout.strip().splitlines()[-1]))
    return statistics.median(values)


def _record(
    name: str, value: float, base_name: str, base: float | None, goal: str, *, ok: bool
) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 2),
        "unit": "ms",
        "baseline": base_name,
        "baseline_value": None if base is None else round(base, 2),
        "ratio": round(value / base, 3) if base else None,
        "goal": goal,
        "ok": ok,
    }


def run() -> list[dict[str, Any]]:
    """Measure and return the records (see benchmarks/README.md)."""
    seccomp_compile.native_arch()  # one-time per process: dlopen, measured on its own below
    cold = _median_child(_cold)  # before anything is cached in this parent
    _load_profile()
    compile_policy(_load_profile())
    cached = _median_child(_cached)
    exec_filters = _median_fresh(_FRESH["exec filters"], rounds=ROUNDS)
    imported = _median_fresh(_FRESH["import"], rounds=ROUNDS)
    dlopen = _median_fresh(_FRESH["dlopen"])
    pyseccomp = _median_fresh(_FRESH["pyseccomp"])
    records = [
        _record(
            "seccomp docker profile read+translate+compile+load (first in a process)",
            cold,
            "none",
            None,
            f"<= {GOAL_MS} ms (median of {ROUNDS} forked children)",
            ok=cold <= GOAL_MS,
        ),
        _record(
            "seccomp docker profile read again + load (cached per policy)",
            cached,
            "first in a process",
            cold,
            f"<= {GOAL_MS} ms, cached",
            ok=cached <= GOAL_MS and cached < cold,
        ),
        _record(
            "seccomp: the 3 filters of hardenkit exec (Docker, net, guard), fresh process, CPU",
            exec_filters,
            "the same on main before the seccomp package (CPU, measured then)",
            EXEC_BEFORE_MS,
            f"below the figure before (median of {ROUNDS} fresh interpreters)",
            ok=exec_filters < EXEC_BEFORE_MS,
        ),
        _record(
            "seccomp: import hardenkit.sandbox.seccomp after its stdlib prerequisites, CPU",
            imported,
            "none",
            None,
            f"informational (median of {ROUNDS} fresh interpreters)",
            ok=True,
        ),
        _record(
            "seccomp one-time libseccomp.so.2 load (direct dlopen)",
            dlopen,
            "import pyseccomp (runs ldconfig)",
            pyseccomp,
            "below pyseccomp's import",
            ok=dlopen < pyseccomp,
        ),
    ]
    if _profile() is not None:
        fresh = _median_fresh(_FRESH["end to end"])
        records.append(
            _record(
                "seccomp docker profile in a fresh interpreter (imports included)",
                fresh,
                "first in a process",
                cold,
                "informational (one-time imports + first compile + load)",
                ok=True,
            )
        )
    return records


if __name__ == "__main__":
    for record in run():
        print(json.dumps(record))
