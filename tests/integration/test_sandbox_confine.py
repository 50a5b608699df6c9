"""confine() and ConfinementPlan: the one order, verified; always in a child."""

from __future__ import annotations

import os
import resource
import subprocess
import threading
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit._linux.procfs import read_status, read_task_status, task_ids
from hardenkit.errors import SandboxError
from hardenkit.sandbox import FilesystemPolicy, ResourceLimits, SeccompPolicy, confine
from hardenkit.sandbox.confinement import prepare_confinement

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root, pytest.mark.seccomp]


def _unshare_user() -> int:
    from hardenkit._linux.libc import libc  # noqa: PLC0415

    return int(libc().unshare(0x10000000))


def test_prepare_has_no_side_effects(tmp_path: Path) -> None:
    before = read_status()
    limits_before = resource.getrlimit(resource.RLIMIT_NOFILE)
    with prepare_confinement(
        limits=ResourceLimits(open_files=10),
        filesystem=FilesystemPolicy(read=[tmp_path]),
        seccomp=SeccompPolicy(default="allow", deny=["mount"]),
    ) as plan:
        assert plan.seccomp is not None
        assert plan.landlock is not None
    after = read_status()
    assert (after.seccomp, after.no_new_privs) == (before.seccomp, before.no_new_privs)
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == limits_before


def test_confine_applies_everything_and_blocks_namespaces(in_child: Any, tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("ok")

    def child() -> dict[str, Any]:
        ident = confine(
            limits=ResourceLimits(open_files=32),
            filesystem=FilesystemPolicy(read=[tmp_path]),
            seccomp=SeccompPolicy(default="allow", deny=["@mount"]),
        )
        try:
            open("/etc/hostname").close()
            outside = "read"
        except PermissionError:
            outside = "EACCES"
        return {
            "uid": ident.uid,
            "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
            "inside": (tmp_path / "ok.txt").read_text(),
            "outside": outside,
            "unshare": _unshare_user(),
        }

    assert in_child(child) == {
        "uid": 0,
        "nofile": [32, 32],
        "inside": "ok",
        "outside": "EACCES",
        "unshare": -1,
    }


def test_confine_drops_to_nobody_then_filters(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        ident = confine(user="nobody", seccomp=SeccompPolicy(default="allow", deny=["mkdir"]))
        st = read_status()
        return {
            "ids": [ident.uid, ident.euid, os.getuid()],
            "nnp": st.no_new_privs,
            "seccomp": st.seccomp,
            "capeff": st.cap_effective,
            "unshare": _unshare_user(),
        }

    assert in_child(child) == {
        "ids": [65534, 65534, 65534],
        "nnp": True,
        "seccomp": 2,
        "capeff": 0,
        "unshare": -1,
    }


def test_block_namespaces_can_be_turned_off(in_child: Any) -> None:
    def child() -> int:
        confine(block_namespaces=False, no_new_privs=True)
        return _unshare_user()

    assert in_child(child) == 0


def test_confine_with_live_thread_and_seccomp_covers_it(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        stop = threading.Event()
        t = threading.Thread(target=stop.wait)
        t.start()
        try:
            # isolate=False: Landlock (ABI < 8) could isolate only this thread; keep=
            # CAP_MKNOD: shedding it would miss the other thread (refused).
            confine(
                seccomp=SeccompPolicy(default="allow", deny=["mkdir"]),
                isolate=False,
                keep=["CAP_MKNOD"],
            )
            states = [read_task_status(tid) for tid in task_ids()]
        finally:
            stop.set()
            t.join()
        return {
            "threads": len(states),
            "seccomp": sorted({s.seccomp for s in states}),
            "nnp": all(s.no_new_privs for s in states),
        }

    assert in_child(child) == {"threads": 2, "seccomp": [2], "nnp": True}


@pytest.mark.parametrize("what", ["user", "filesystem", "nnp_without_filter", "isolation"])
def test_confine_with_live_thread_refuses_per_thread_steps(
    in_child: Any, tmp_path: Path, what: str
) -> None:
    choices: dict[str, dict[str, Any]] = {
        "user": {"user": "nobody"},
        "filesystem": {"filesystem": FilesystemPolicy(read=[tmp_path])},
        "nnp_without_filter": {"block_namespaces": False, "isolate": False},
        "isolation": {"seccomp": SeccompPolicy(default="allow", deny=["mkdir"])},
    }
    kwargs = choices[what]

    def child() -> dict[str, Any]:
        stop = threading.Event()
        t = threading.Thread(target=stop.wait)
        t.start()
        try:
            confine(**kwargs)
        except SandboxError as err:
            st = read_status()
            return {"error": str(err), "seccomp": st.seccomp, "uid": os.getuid()}
        finally:
            stop.set()
            t.join()
        return {"error": None}

    out = in_child(child)
    assert "threads are running" in out["error"]
    assert out["seccomp"] == 0  # refused before anything was applied
    assert out["uid"] == 0


def test_plan_entered_in_a_fork_child_before_exec() -> None:
    """The spawn path: prepare in the parent, enter in the child, exec; check from outside."""
    plan = prepare_confinement(
        user="nobody",
        limits=ResourceLimits(open_files=40),
        seccomp=SeccompPolicy(default="allow", deny=["mkdir", "mkdirat"]),
    )
    script = (
        "import os, resource\n"
        "print(os.getresuid(), resource.getrlimit(resource.RLIMIT_NOFILE))\n"
        "print(open('/proc/self/status').read().count('Seccomp:\\t2'))\n"
        "try:\n    os.mkdir('/tmp/hk-never')\nexcept PermissionError as e:\n    print(e.errno)\n"
    )
    try:
        proc = subprocess.run(
            ["/usr/bin/python3", "-c", script],
            preexec_fn=plan.enter,
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
        )
    finally:
        plan.close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:3] == ["(65534, 65534, 65534) (40, 40)", "1", "1"]


def test_limit_above_hard_limit_is_refused_before_anything(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        resource.setrlimit(resource.RLIMIT_NOFILE, (50, 50))
        try:
            confine(limits=ResourceLimits(open_files=100))
        except SandboxError as err:
            return {"error": str(err), "seccomp": read_status().seccomp}
        return {"error": None}

    out = in_child(child)
    assert "RLIMIT_NOFILE" in out["error"]
    assert out["seccomp"] == 0
