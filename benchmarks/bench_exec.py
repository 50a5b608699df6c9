"""``hardenkit exec`` start-up, cold, and confined ``run()`` with a NetworkPolicy (issue 18).

- ``hardenkit exec --user nobody --seccomp docker --read /usr --execute /usr --net none --
  /bin/true``, a fresh interpreter each time: <= 80 ms wall; shown against
  ``python -c pass`` (the interpreter's own floor) and against ``prlimit`` + ``bwrap``
  with the same Docker seccomp program (``--seccomp FD``), user drop and no network.
- ``run(['/bin/true'], user='nobody', seccomp=Docker, network=NetworkPolicy.none())``
  against ``subprocess.run(['/bin/true'])``: <= 3x.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from _timing import hardenkit_command, interleaved_ms  # a sibling: the scripts run from this folder

from hardenkit.sandbox import NetworkPolicy
from hardenkit.sandbox.docker import default_policy
from hardenkit.sandbox.seccomp import compile_policy
from hardenkit.spawn import run as hk_run

EXEC = [
    *hardenkit_command(),
    "exec",
    "--user",
    "nobody",
    "--seccomp",
    "docker",
    "--read",
    "/usr",
    "--execute",
    "/usr",
    "--net",
    "none",
    "--",
    "/bin/true",
]
ROUNDS = 15


def _call(argv: list[str], **kw: Any) -> Any:
    def go() -> None:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)

    return go


def _cold_cpu_ms(*argvs: list[str], rounds: int) -> list[float]:
    """Median CPU time (user + system, from wait4) of each cold command, interleaved.

    Wall time moves with the machine's other jobs; the child's own CPU time much less.
    """
    import statistics  # noqa: PLC0415

    samples: list[list[float]] = [[] for _ in argvs]
    for _ in range(rounds):
        for argv, out in zip(argvs, samples, strict=True):
            pid = os.posix_spawn(
                argv[0],
                argv,
                os.environ,
                file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)],
            )
            _, status, usage = os.wait4(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"{argv[0]} failed: status {status}")
            out.append((usage.ru_utime + usage.ru_stime) * 1000)
    return [statistics.median(out) for out in samples]


def run() -> list[dict[str, Any]]:
    """Measure and return the records."""
    import compileall  # noqa: PLC0415

    import hardenkit  # noqa: PLC0415

    # Byte-code as an installed wheel has it (PYTHONDONTWRITEBYTECODE would otherwise make
    # every cold start recompile the modules changed since the last write).
    compileall.compile_dir(os.path.dirname(hardenkit.__file__), quiet=1)
    fns = [_call([sys.executable, "-c", "pass"]), _call(EXEC)]
    names = ["python -c pass", "hardenkit exec"]
    bwrap = shutil.which("bwrap")
    prlimit = shutil.which("prlimit")
    tmp = None
    if bwrap and prlimit:
        tmp = tempfile.NamedTemporaryFile(prefix="hk-bench-bpf-")  # noqa: SIM115
        tmp.write(compile_policy(default_policy(capabilities=())).bpf)
        tmp.flush()
        fd = os.open(tmp.name, os.O_RDONLY)
        os.set_inheritable(fd, True)  # noqa: FBT003

        def bw() -> None:
            os.lseek(fd, 0, os.SEEK_SET)
            subprocess.run(
                [prlimit, "--as=536870912", "--", bwrap, "--ro-bind", "/", "/", "--dev", "/dev",
                 "--unshare-net", "--unshare-user", "--uid", "65534", "--gid", "65534",
                 "--seccomp", str(fd), "/bin/true"],
                check=True,
                pass_fds=(fd,),
            )  # fmt: skip

        fns.append(bw)
        names.append("prlimit + bwrap (uid 65534, no net, Docker BPF)")
    try:
        figures = dict(zip(names, interleaved_ms(*fns, rounds=ROUNDS), strict=True))
    finally:
        if tmp is not None:
            tmp.close()
    py, hk = figures["python -c pass"], figures["hardenkit exec"]
    py_cpu, hk_cpu = _cold_cpu_ms([sys.executable, "-c", "pass"], EXEC, rounds=ROUNDS)
    records = [
        {
            "name": "hardenkit exec (nobody, Docker profile, Landlock, --net none) /bin/true, cold",
            "value": round(hk, 2),
            "unit": "ms",
            "baseline": "python -c pass",
            "baseline_value": round(py, 2),
            "ratio": round(hk / py, 2),
            "goal": "<= 80 ms wall",
            "ok": hk <= 80.0,
            # The child's CPU time (user + system), measured in a second interleaved loop.
            "cpu": round(hk_cpu, 2),
            "baseline_cpu": round(py_cpu, 2),
        }
    ]
    records.extend(
        {
            "name": f"{name} of /bin/true",
            "value": round(figures[name], 2),
            "unit": "ms",
            "baseline": "hardenkit exec",
            "baseline_value": round(hk, 2),
            "ratio": round(figures[name] / hk, 3),
            "goal": "informational (composed by hand, verifies nothing)",
            "ok": True,
        }
        for name in names[2:]
    )
    policy = default_policy(capabilities=())
    net = NetworkPolicy.none()

    def confined() -> None:
        hk_run(["/bin/true"], user="nobody", seccomp=policy, network=net)

    base_ms, ours_ms = interleaved_ms(
        lambda: subprocess.run(["/bin/true"], timeout=30, check=False), confined, rounds=60
    )
    records.append(
        {
            "name": "run(['/bin/true']) as nobody + Docker profile + NetworkPolicy.none()",
            "value": round(ours_ms, 3),
            "unit": "ms",
            "baseline": "subprocess.run(['/bin/true'], timeout=30)",
            "baseline_value": round(base_ms, 3),
            "ratio": round(ours_ms / base_ms, 3),
            "goal": "<= 3.0x",
            "ok": ours_ms / base_ms <= 3.0,
        }
    )
    return records


if __name__ == "__main__":
    import json

    for record in run():  # JSON lines, as run_all.py reads them
        print(json.dumps(record))
