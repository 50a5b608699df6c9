"""Regression tests for the adversarial review of the one-plan confinement (F1-F9).

Each test failed on the code before the fix: a shed that covered one thread of several,
a parent descriptor reaching the command through the fork path, limits past what
setrlimit takes, keywords silently dropped beside ``confinement=``, ``hardenkit run``
running unconfined, ``keep=`` bytes read as capability numbers, and the two spawn paths
disagreeing on long group lists and on an empty bounding set.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit import Confinement, call_sandboxed, confine
from hardenkit._linux import exec_helper as xh
from hardenkit._linux.caps import bounding_drop
from hardenkit._linux.procfs import cap_last_cap, read_task_status
from hardenkit.capabilities import parse_caps
from hardenkit.errors import PolicyError, SandboxError
from hardenkit.privileges import drop_privileges
from hardenkit.sandbox import FilesystemPolicy, ResourceLimits, SeccompPolicy, prepare_confinement
from hardenkit.sandbox._check import shed_problems
from hardenkit.sandbox._enter import shed_capabilities
from hardenkit.sandbox.options import resolve
from hardenkit.sandbox.seccomp import SyscallRule
from hardenkit.spawn import _run as spawn_run, run, run_async
from hardenkit.spawn._helper import why_not

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import InChild

pytestmark = [pytest.mark.linux, pytest.mark.root]

CAP_MKNOD = 27
CAP_NET_RAW = 13


def _status(text: str) -> dict[str, str]:
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


@pytest.fixture(params=[pytest.param("helper", marks=pytest.mark.exec_helper), "fork"])
def spawn_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test runs through the exec helper and through the Python fork path."""
    path = str(request.param)
    monkeypatch.setattr(spawn_run, "FORCE_PATH", path)
    return path


# F1: a shed with other threads is refused; the checker reads every thread.


def test_confine_refuses_a_shed_that_would_miss_other_threads(in_child: InChild) -> None:
    def child() -> dict[str, Any]:

        stop = threading.Event()
        tids: list[int] = []

        def worker() -> None:
            tids.append(threading.get_native_id())
            stop.wait(30)

        t = threading.Thread(target=worker)
        t.start()
        try:
            while not tids:
                pass
            try:
                confine(isolate=False)
            except SandboxError as err:
                message = str(err)
            else:
                message = "confine returned"
            worker_eff = read_task_status(tids[0]).cap_effective
            main_eff = read_task_status(threading.get_native_id()).cap_effective
        finally:
            stop.set()
            t.join()
        return {"message": message, "worker": worker_eff, "main": main_eff}

    out = in_child(child)
    assert "shedding CAP_MKNOD" in out["message"]
    assert "threads are running" in out["message"]
    # Refused before any step: both threads still hold it (nothing half-applied).
    assert out["worker"] >> CAP_MKNOD & 1
    assert out["main"] >> CAP_MKNOD & 1


def test_shed_check_reads_every_thread(in_child: InChild) -> None:
    def child() -> list[str]:
        stop = threading.Event()
        t = threading.Thread(target=stop.wait, args=(30,))
        t.start()
        try:
            shed_capabilities(1 << CAP_MKNOD, cap_last_cap(), no_new_privs=False)
            return shed_problems(1 << CAP_MKNOD, no_new_privs=False)
        finally:
            stop.set()
            t.join()

    problems = in_child(child)
    assert len(problems) == 1  # the worker only: this thread shed it
    assert "CapEff" in problems[0]


def test_confine_with_threads_still_allows_what_covers_them(in_child: InChild) -> None:
    def child() -> str:
        stop = threading.Event()
        t = threading.Thread(target=stop.wait, args=(30,))
        t.start()
        try:
            confine(isolate=False, keep=["CAP_MKNOD"], limits=ResourceLimits(open_files=64))
        finally:
            stop.set()
            t.join()
        return open("/proc/self/status").read()

    status = _status(in_child(child))
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"


# F2: the fork path marks every descriptor close-on-exec before the confinement.


@pytest.fixture
def fd_100(tmp_path: Any) -> Iterator[int]:
    """An inheritable descriptor 100 of this process, on a file holding a secret."""
    secret = tmp_path / "secret"
    secret.write_text("TOP-SECRET\n")
    fd = os.open(secret, os.O_RDONLY)
    os.dup2(fd, 100)  # inheritable
    os.close(fd)
    try:
        yield 100
    finally:
        os.close(100)


@pytest.mark.seccomp
@pytest.mark.landlock
@pytest.mark.parametrize("with_fs", [True, False])
def test_no_parent_descriptor_reaches_the_command(
    spawn_path: str, fd_100: int, with_fs: bool
) -> None:
    fs = FilesystemPolicy(
        read=["/usr", "/lib", "/bin", "/lib64", "/etc"], execute=["/usr", "/bin", "/lib", "/lib64"]
    )
    code = f"import os\ntry: print(os.read({fd_100}, 100))\nexcept OSError: print('closed')"
    result = run(
        ["/usr/bin/python3", "-c", code],
        filesystem=fs if with_fs else None,
        seccomp=SeccompPolicy(default="allow", deny=["close_range"]),
        limits=ResourceLimits(open_files=64),
    )
    assert (result.returncode, result.stdout) == (0, b"closed\n"), spawn_path


@pytest.mark.seccomp
def test_a_filter_killing_close_range_does_not_kill_the_child(spawn_path: str) -> None:
    policy = SeccompPolicy(default="allow", rules=[SyscallRule(names="close_range", action="kill")])
    result = run(["/bin/echo", "command ran"], seccomp=policy)
    assert (result.returncode, result.stdout) == (0, b"command ran\n"), spawn_path


def test_unconfined_fork_path_keeps_nothing_beyond_stdio(
    monkeypatch: pytest.MonkeyPatch, fd_100: int
) -> None:
    monkeypatch.setattr(spawn_run, "FORCE_PATH", "fork")
    out = run(["/bin/ls", "/proc/self/fd"]).stdout.split()
    assert str(fd_100).encode() not in out
    assert set(out) <= {b"0", b"1", b"2", b"3"}  # 3: ls's own directory descriptor


# F3: limit values are bounded at construction; the encoder refuses what it cannot encode.


@pytest.mark.parametrize("value", [2**64, 2**63, -1])
def test_resource_limits_refuse_values_setrlimit_cannot_take(value: int) -> None:
    with pytest.raises(PolicyError, match="from 0 to 2\\*\\*63-1"):
        ResourceLimits(open_files=64, stack_bytes=value)


def test_largest_limit_is_accepted() -> None:
    assert ResourceLimits(cpu_seconds=2**63 - 1).cpu_seconds == 2**63 - 1


def test_helper_script_refuses_numbers_it_would_wrap() -> None:
    script = xh.Script()
    with pytest.raises(ValueError, match="64-bit"):
        script.add(xh.OP_RLIMIT, "setrlimit", 3, 2**64, 2**64)
    script.add(xh.OP_RLIMIT, "setrlimit", 3, 2**64 - 1, 2**64 - 1)


# F5: any confinement keyword passed beside confinement= is refused, defaults included.


def test_keyword_equal_to_its_default_beside_confinement_is_refused(in_child: InChild) -> None:

    c = Confinement(isolate=False, no_new_privs=False, block_namespaces=False)
    with pytest.raises(TypeError, match="not both \\(isolate\\)"):
        resolve(c, isolate=True)
    with pytest.raises(TypeError, match="not both \\(isolate\\)"):
        call_sandboxed(len, "x", confinement=c, isolate=True)
    with pytest.raises(TypeError, match="not both \\(no_new_privs, block_namespaces\\)"):
        run(["/bin/true"], confinement=c, no_new_privs=True, block_namespaces=True)
    with pytest.raises(TypeError, match="not both \\(keep\\)"):
        prepare_confinement(confinement=c, keep=())

    def child() -> str:
        try:
            confine(confinement=c, user=None)
        except TypeError as err:
            return str(err)
        return "confined"

    assert "not both (user)" in in_child(child)


def test_run_async_refuses_mixing_too() -> None:

    c = Confinement(isolate=False)
    with pytest.raises(TypeError, match="not both \\(isolate\\)"):
        asyncio.run(run_async(["/bin/true"], confinement=c, isolate=True))


# F6: one validation, and `hardenkit run` confines as `hardenkit exec` does.


def test_groups_without_user_are_refused_everywhere() -> None:
    with pytest.raises(SandboxError, match="need user="):
        Confinement(groups=())
    with pytest.raises(SandboxError, match="need user="):
        run(["/bin/true"], groups=[])


@pytest.mark.seccomp
@pytest.mark.landlock
def test_cli_run_confines_like_exec() -> None:
    def status(cmd: str) -> dict[str, str]:
        proc = subprocess.run(
            [sys.executable, "-m", "hardenkit", cmd, "--", "/bin/cat", "/proc/self/status"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return _status(proc.stdout)

    by_run, by_exec = status("run"), status("exec")
    for key in ("NoNewPrivs", "Seccomp", "CapBnd", "CapEff"):
        assert by_run[key] == by_exec[key], key
    assert by_run["NoNewPrivs"] == "1"
    assert by_run["Seccomp"] == "2"
    assert not int(by_run["CapBnd"], 16) >> CAP_MKNOD & 1


# F8: keep= never iterates bytes as capability numbers.


@pytest.mark.parametrize("keep", [b"\x0d", bytearray(b"\x0d"), [13.0], [True]])
def test_keep_refuses_bytes_and_non_capability_items(keep: Any) -> None:
    with pytest.raises(TypeError):
        Confinement(user="nobody", keep=keep)
    with pytest.raises(TypeError):
        parse_caps(keep)


def test_drop_privileges_refuses_keep_bytes(in_child: InChild) -> None:
    def child() -> str:
        try:
            drop_privileges("nobody", keep=b"\x0d")
        except TypeError as err:
            return f"TypeError: {err}"
        return open("/proc/self/status").read()

    assert in_child(child).startswith("TypeError")


# F9: both paths take long group lists and an empty bounding set alike.


def test_more_groups_than_the_helper_takes_go_the_python_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    monkeypatch.setattr(spawn_run, "FORCE_PATH", None)
    groups = list(range(1000, 1300))
    with prepare_confinement(user="nobody", groups=groups) as plan:
        assert "supplementary groups" in (why_not(plan) or "")
    result = run(
        ["/bin/grep", "Groups", "/proc/self/status"],
        confinement=Confinement(user="nobody", groups=tuple(groups)),
    )
    assert result.returncode == 0
    assert len(result.stdout.split()) == 1 + len(groups)


def test_shed_skips_capabilities_outside_the_bounding_set(in_child: InChild) -> None:
    def child() -> str:

        last = cap_last_cap()
        for cap in range(last + 1):
            bounding_drop(cap)
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)  # every capability gone, no CAP_SETPCAP
        shed_capabilities(1 << CAP_MKNOD, last, no_new_privs=False)
        return "shed"

    assert in_child(child) == "shed"


def test_nobody_with_empty_bounding_set_runs_on_both_paths(
    spawn_path: str, in_child: InChild
) -> None:
    def child() -> list[Any]:

        for cap in range(cap_last_cap() + 1):
            bounding_drop(cap)
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
        spawn_run.FORCE_PATH = spawn_path
        conf = Confinement(
            no_new_privs=False,
            isolate=False,
            block_namespaces=False,
            limits=ResourceLimits(open_files=33),
        )
        try:
            r = run(["/bin/grep", "CapBnd", "/proc/self/status"], confinement=conf)
        except SandboxError as err:
            return ["SandboxError", str(err)]
        return [r.returncode, r.stdout.decode()]

    assert in_child(child) == [0, "CapBnd:\t0000000000000000\n"]
