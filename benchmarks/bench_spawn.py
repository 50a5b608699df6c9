"""Spawn cost and timeout behaviour (DESIGN.md goals).

- ``run(['/bin/true'], policy=...)`` against ``subprocess.run(['/bin/true'], timeout=30)``: <= 1.3x
- the same fully confined (user nobody + limits + Docker default profile): <= 3x
- the same with a NetworkPolicy (``none``, and TCP ``connect=`` ports): <= 3x (issue 18)
- a grandchild holding stdout, 1 s deadline: returns <= 1.5 s, 0 survivors

Two informational records put the confined figure in context, measured interleaved in
the same process: the same confined ``run()`` through the Python fork path (what
``HARDENKIT_SPAWN_HELPER=0`` or a missing helper gives), and ``subprocess.run`` with a
no-op ``preexec_fn`` (the fork path's fixed cost before hardenkit does anything).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,unused-ignore]
from _timing import interleaved_ms  # a sibling: the scripts run from this folder

from hardenkit.errors import CommandTimeout
from hardenkit.sandbox import NetworkPolicy, ResourceLimits, SeccompPolicy
from hardenkit.spawn import CommandPolicy, run as hk_run

PROFILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "docker-default-seccomp.json"


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


def _info(name: str, value: float, base: float) -> dict[str, Any]:
    return {
        **_record(name, value, base, 3.0),
        "goal": "informational (the path used without the exec helper)",
        "ok": True,
    }


def _noop() -> None:
    """A preexec_fn that does nothing: the cost of leaving vfork for fork."""


def _python_path(policy: CommandPolicy, **options: Any) -> None:
    """The same confined run(), confined by Python between fork and exec."""
    from hardenkit.spawn import _run as spawn_run  # noqa: PLC0415 -- informational row only

    spawn_run.FORCE_PATH = "fork"
    try:
        hk_run(["/bin/true"], policy=policy, user="nobody", **options)
    finally:
        spawn_run.FORCE_PATH = None


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
    confined_run = lambda: hk_run(  # noqa: E731 -- one short measured call
        ["/bin/true"], policy=policy, user="nobody", limits=limits, seccomp=profile
    )
    nets = (NetworkPolicy.none(), NetworkPolicy.parse(["connect=443,5432"]))
    net_runs = [
        lambda net=net: hk_run(
            ["/bin/true"], policy=policy, user="nobody", limits=limits, seccomp=profile, network=net
        )
        for net in nets
    ]
    # Interleaved with the baseline, so both see the same machine state. The fork-path rows
    # are measured apart: every fork write-protects this process's pages, and the faults
    # that follow would be charged to whatever runs next.
    base, ours, confined, net_none, net_ports = interleaved_ms(
        lambda: subprocess.run(["/bin/true"], timeout=30, check=False),
        lambda: hk_run(["/bin/true"], policy=policy),
        confined_run,
        *net_runs,
        rounds=300,
        warmup=20,
    )
    python_path, python_net, floor = interleaved_ms(
        lambda: _python_path(policy, limits=limits, seccomp=profile),
        lambda: _python_path(policy, limits=limits, seccomp=profile, network=nets[0]),
        lambda: subprocess.run(
            ["/bin/true"],
            timeout=30,
            check=False,
            preexec_fn=_noop,  # the point: the fork path's fixed cost
        ),
        rounds=200,
        warmup=20,
    )
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
        _record("the same + network=NetworkPolicy.none()", net_none, base, 3.0),
        _record(
            "the same + network=NetworkPolicy.parse(['connect=443,5432'])", net_ports, base, 3.0
        ),
        _info("the same confined run() through the Python fork path", python_path, base),
        _info("the same + NetworkPolicy.none() through the Python fork path", python_net, base),
        _info("floor of that path: subprocess.run(['/bin/true'], preexec_fn=no-op)", floor, base),
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
