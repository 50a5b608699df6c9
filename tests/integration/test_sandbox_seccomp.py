"""Seccomp filters as the kernel enforces them; every filter is installed in a child."""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import mmap
import os
import platform
import signal
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from tests._helpers import raw_syscall

from hardenkit._linux.procfs import read_task_status, task_ids
from hardenkit._linux.seccomp_load import BpfProgram
from hardenkit.errors import SandboxError
from hardenkit.sandbox import SeccompPolicy, apply_seccomp
from hardenkit.sandbox.seccomp import ArgCondition, SyscallRule, compile_policy

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root, pytest.mark.seccomp]

X32 = 0x40000000
NR = {"mkdir": 83, "unshare": 272, "clone3": 435, "setns": 308, "getppid": 110}
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def docker(shared_data: Path, caps: tuple[str, ...] | None = ()) -> SeccompPolicy:
    return SeccompPolicy.from_docker_profile(
        shared_data / "docker-default-seccomp.json", capabilities=caps
    )


def test_denied_syscall_gets_eperm_and_stays_denied_after_exec(
    in_child: Any, tmp_path: Path
) -> None:
    target = tmp_path / "made"

    def child() -> dict[str, Any]:
        apply_seccomp(SeccompPolicy(default="allow", deny=["mkdir", "mkdirat"]))
        try:
            os.mkdir(target)
            direct = "created"
        except PermissionError as err:
            direct = errno.errorcode[err.errno or 0]
        proc = subprocess.run(["/bin/mkdir", str(target)], capture_output=True, check=False)
        return {"direct": direct, "rc": proc.returncode, "err": proc.stderr.decode()}

    out = in_child(child)
    assert out["direct"] == "EPERM"
    assert out["rc"] != 0
    assert "Operation not permitted" in out["err"]
    assert not target.exists()


def test_custom_errno_and_argument_condition(in_child: Any) -> None:
    af_inet = 2
    policy = SeccompPolicy(
        default="allow",
        rules=(
            SyscallRule(
                names=("socket",),
                action="errno",
                errno=errno.EAFNOSUPPORT,
                args=(ArgCondition(index=0, op="eq", value=af_inet),),
            ),
        ),
    )

    def child() -> list[Any]:
        import socket  # noqa: PLC0415

        apply_seccomp(policy)
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()  # other families work
        try:
            socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as err:
            return ["refused", err.errno]
        return ["allowed", 0]

    assert in_child(child) == ["refused", errno.EAFNOSUPPORT]


def test_violation_in_a_worker_thread_kills_the_whole_process(in_child: Any) -> None:
    def child() -> str:
        apply_seccomp(SeccompPolicy(default="kill", allow=["@system-service"]))
        worker = threading.Thread(target=os.chroot, args=("/",))
        worker.start()
        worker.join()
        time.sleep(2)  # a thread-only kill would let the main thread return here
        return "main thread survived"

    outcome = in_child.outcome(child)
    assert outcome.signal == signal.SIGSYS, outcome.describe()


def test_kill_default_kills_the_process(in_child: Any) -> None:
    def child() -> str:
        apply_seccomp(SeccompPolicy(default="kill", allow=["@system-service"]))
        os.getppid()  # in @system-service: fine
        os.chroot("/")  # @privileged: not allowed
        return "survived"

    assert in_child.outcome(child).signal == signal.SIGSYS


def test_filter_with_a_live_thread_covers_it(in_child: Any, tmp_path: Path) -> None:
    def child() -> dict[str, Any]:
        go = threading.Event()
        result: dict[str, Any] = {}

        def worker() -> None:
            go.wait()
            try:
                os.mkdir(tmp_path / "by-thread")
                result["mkdir"] = "created"
            except PermissionError:
                result["mkdir"] = "EPERM"

        t = threading.Thread(target=worker)
        t.start()
        apply_seccomp(SeccompPolicy(default="allow", deny=["mkdir", "mkdirat"]))
        statuses = [read_task_status(tid) for tid in task_ids()]
        go.set()
        t.join()
        result["threads"] = len(statuses)
        result["modes"] = sorted({s.seccomp for s in statuses})
        result["nnp"] = all(s.no_new_privs for s in statuses)
        return result

    out = in_child(child)
    assert out == {"mkdir": "EPERM", "threads": 2, "modes": [2], "nnp": True}
    assert not (tmp_path / "by-thread").exists()


def test_filter_that_cannot_cover_a_thread_is_refused_and_applies_nothing(in_child: Any) -> None:
    allow_all = bytes([6, 0, 0, 0, 0, 0, 0xFF, 0x7F])

    def child() -> dict[str, Any]:
        from hardenkit._linux.libc import PR_SET_NO_NEW_PRIVS, prctl  # noqa: PLC0415

        ready, done = threading.Event(), threading.Event()

        def diverge() -> None:
            prctl(PR_SET_NO_NEW_PRIVS, 1)
            BpfProgram(allow_all).load(tsync=False)  # this thread only: a diverging filter
            ready.set()
            done.wait()

        t = threading.Thread(target=diverge)
        t.start()
        ready.wait()
        try:
            apply_seccomp(SeccompPolicy(default="allow", deny=["mkdir"]))
            refused = False
        except SandboxError:
            refused = True
        mine = read_task_status(threading.get_native_id())
        done.set()
        t.join()
        return {"refused": refused, "main_mode": mine.seccomp}

    assert in_child(child) == {"refused": True, "main_mode": 0}


def test_x32_syscall_does_not_bypass_a_native_filter(in_child: Any, tmp_path: Path) -> None:
    def unfiltered() -> list[int]:
        return list(raw_syscall(NR["mkdir"] | X32, str(tmp_path / "plain").encode(), 0o700))

    def filtered() -> list[int]:
        apply_seccomp(SeccompPolicy(default="allow", deny=["mkdir"]))
        return list(raw_syscall(NR["mkdir"] | X32, str(tmp_path / "x32").encode(), 0o700))

    # Without a filter the x32 number reaches the kernel (ENOSYS when x32 is compiled out,
    # success when it is in): either way it is not killed, so a kill proves the filter.
    assert in_child.outcome(unfiltered).ok
    assert in_child.outcome(filtered).signal == signal.SIGSYS
    assert not (tmp_path / "x32").exists()


def test_x32_abi_under_docker_profile_gets_the_same_rules(in_child: Any, shared_data: Path) -> None:
    policy = docker(shared_data)

    def child() -> list[list[int]]:
        apply_seccomp(policy)
        return [
            list(raw_syscall(NR["unshare"] | X32, CLONE_NEWUSER)),
            list(raw_syscall(NR["setns"] | X32, 0, 0)),
        ]

    assert in_child(child) == [[-1, errno.EPERM], [-1, errno.EPERM]]


def test_docker_profile_blocks_namespaces_clone3_and_runs_programs(
    in_child: Any, shared_data: Path
) -> None:
    policy = docker(shared_data)

    def child() -> dict[str, Any]:
        apply_seccomp(policy)
        out: dict[str, Any] = {
            "unshare": raw_syscall(NR["unshare"], CLONE_NEWUSER)[1],
            "clone3": raw_syscall(NR["clone3"], 0, 0)[1],
            "mseal": raw_syscall(462, 0, 0, 0)[1],  # unknown to libseccomp 2.5.4: ENOSYS, not EPERM
        }
        out["ls"] = subprocess.run(["/bin/ls", "/"], capture_output=True, check=False).returncode
        script = "import threading; t = threading.Thread(target=print); t.start(); t.join()"
        py = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, check=False)
        out["python_threads"] = py.returncode
        out["fork"] = subprocess.run(["/bin/sh", "-c", "true | true"], check=False).returncode
        return out

    assert in_child(child) == {
        "unshare": errno.EPERM,
        "clone3": errno.ENOSYS,
        "mseal": errno.ENOSYS,
        "ls": 0,
        "python_threads": 0,
        "fork": 0,
    }


def test_docker_profile_with_sys_admin_still_blocks_namespaces_when_asked(
    in_child: Any, shared_data: Path
) -> None:
    policy = dataclasses.replace(
        docker(shared_data, caps=("CAP_SYS_ADMIN",)), block_namespaces=False
    )

    def child(*, block: bool) -> list[int]:
        apply_seccomp(policy.with_namespace_block() if block else policy)
        rc, err = raw_syscall(NR["unshare"], CLONE_NEWNET)
        return [rc, err]

    assert in_child(child, block=False) == [0, 0]  # the profile allows it with CAP_SYS_ADMIN
    assert in_child(child, block=True) == [-1, errno.EPERM]


def test_namespace_block_refuses_every_route(in_child: Any) -> None:
    policy = SeccompPolicy(default="allow").with_namespace_block()

    def child() -> dict[str, Any]:
        apply_seccomp(policy)
        pid = os.fork()  # clone without CLONE_NEW*: still fine
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        return {
            "unshare_user": raw_syscall(NR["unshare"], CLONE_NEWUSER)[1],
            "unshare_high_bits": raw_syscall(NR["unshare"], (1 << 32) | CLONE_NEWUSER)[1],
            "unshare_none": raw_syscall(NR["unshare"], 0)[0],
            "clone_newuser": raw_syscall(56, CLONE_NEWUSER | signal.SIGCHLD, 0, 0, 0, 0)[1],
            "clone3": raw_syscall(NR["clone3"], 0, 0)[1],
            "setns": raw_syscall(NR["setns"], 0, 0)[1],
        }

    assert in_child(child) == {
        "unshare_user": errno.EPERM,
        "unshare_high_bits": errno.EPERM,
        "unshare_none": 0,
        "clone_newuser": errno.EPERM,
        "clone3": errno.ENOSYS,
        "setns": errno.EPERM,
    }


def test_syscalls_newer_than_the_table_get_enosys(in_child: Any) -> None:
    policy = SeccompPolicy(default="errno", allow=["@system-service"])
    newest = compile_policy(policy).program.instructions  # compiled before the fork

    def child() -> list[int]:
        apply_seccomp(policy)
        return [
            raw_syscall(500)[1],
            raw_syscall(NR["getppid"])[1],
            raw_syscall(169)[1],
        ]  # 169: reboot, denied

    assert newest > 0
    assert in_child(child) == [errno.ENOSYS, 0, errno.EPERM]


def test_log_default_allows(in_child: Any) -> None:
    def child() -> list[Any]:
        apply_seccomp(SeccompPolicy(default="log", deny=["mkdir"]))
        return [os.getppid() > 0, raw_syscall(NR["mkdir"], b"/nonexistent/x", 0)[1]]

    assert in_child(child) == [True, errno.EPERM]


#: i386 syscall through ``int 0x80`` from 64-bit code (the kernel filters it as
#: AUDIT_ARCH_I386): push rbx; eax=nr; ebx=a1; ecx=a2; int 0x80; pop rbx; rax=(long)eax.
_INT80 = bytes.fromhex("53 89f8 89f3 89d1 cd80 5b 4863c0 c3")
I386_NR = {"getpid": 20, "mount": 21, "unshare": 310}
x86_64_only = pytest.mark.skipif(
    platform.machine() != "x86_64", reason="int 0x80 machine code is x86_64-only"
)


def _int80() -> Callable[[int, int, int], int]:
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(_INT80)
    fn = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_long, ctypes.c_long, ctypes.c_long)(
        ctypes.addressof(ctypes.c_char.from_buffer(page))
    )

    def call(nr: int, a1: int, a2: int) -> int:
        _ = page  # the code page lives as long as the function
        return int(fn(nr, a1, a2))

    return call


@x86_64_only
def test_i386_syscalls_reach_the_i386_program_of_a_docker_profile(
    in_child: Any, shared_data: Path
) -> None:
    policy = docker(shared_data).with_namespace_block()

    def child() -> list[int | bool]:
        call = _int80()
        apply_seccomp(policy)
        return [
            call(I386_NR["getpid"], 0, 0) == os.getpid(),  # allowed by the i386 rules
            call(I386_NR["mount"], 0, 0),  # not allowed without CAP_SYS_ADMIN: default
            call(I386_NR["unshare"], CLONE_NEWUSER, 0),  # namespaces blocked on i386 too
        ]

    assert in_child(child) == [True, -errno.EPERM, -errno.EPERM]


@x86_64_only
def test_i386_syscall_is_killed_when_the_policy_leaves_i386_out(in_child: Any) -> None:
    def child() -> int:
        call = _int80()
        apply_seccomp(SeccompPolicy(default="allow"))
        return call(I386_NR["getpid"], 0, 0)

    assert in_child.outcome(child).signal == signal.SIGSYS
