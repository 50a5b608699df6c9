"""Adversarial tests of the confinement promises: does the kernel agree with "done"?

Every attack runs in a child process (``in_child``, ``call_sandboxed`` or ``run``); the
pytest process is never confined. Each regression test pairs the attack with a control
(the same attack without the protection, or a reason in a comment) so it can fail.
Weaknesses that live in files this suite may not change are ``xfail(strict=True)`` with
the bug in the reason: they turn into failures the day the fix lands, so the marker goes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from tests._helpers import (
    NR_IO_URING_SETUP,
    URING_PARAMS_SIZE,
    host_pid,
    no_pid_namespace,
    proc_alive,
    raw_syscall,
    uring_socket,
)

import hardenkit._child
from hardenkit._linux.libc import libc
from hardenkit.errors import CommandNotAllowed, CommandTimeout, PolicyError, SandboxError
from hardenkit.privileges import drop_privileges
from hardenkit.sandbox import (
    FilesystemPolicy,
    ResourceLimits,
    SeccompPolicy,
    apply_landlock,
    apply_limits,
    apply_seccomp,
    call_sandboxed,
    confine,
)
from hardenkit.sandbox.landlock import LandlockPlan
from hardenkit.sandbox.seccomp import compile_policy
from hardenkit.spawn import CommandPolicy, run

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]

NOBODY = 65534
X32 = 0x40000000
NR = {"clone": 56, "unshare": 272, "setns": 308, "clone3": 435, "getpid": 39, "ptrace": 101}
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE = 47, 2
PR_SET_SECUREBITS = 28
PR_GET_SECCOMP = 21
PR_SET_NO_NEW_PRIVS = 38
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
CAP_NET_RAW = 13


def uring_setup_errno() -> int:
    """io_uring_setup's errno (0: a ring was created, and closed again)."""
    params = ctypes.create_string_buffer(URING_PARAMS_SIZE)
    fd, err = raw_syscall(NR_IO_URING_SETUP, 4, params)
    if fd >= 0:
        os.close(fd)
    return err


def errno_of(fn: Callable[[], object]) -> int:
    """Run ``fn``; 0 when it worked, else the errno of the OSError it raised."""
    try:
        fn()
    except OSError as err:
        return err.errno or -1
    return 0


def ns_attempts() -> dict[str, int]:
    """Every route to a new namespace; the errno each got (0: it worked)."""
    out = {
        "unshare": raw_syscall(NR["unshare"], CLONE_NEWUSER)[1],
        "unshare_net": raw_syscall(NR["unshare"], CLONE_NEWNET)[1],
        "setns": raw_syscall(NR["setns"], 0, CLONE_NEWUSER)[1],
        "clone3": raw_syscall(NR["clone3"], 0, 0)[1],
    }
    rc, err = raw_syscall(NR["clone"], CLONE_NEWUSER | signal.SIGCHLD, 0, 0, 0, 0)
    if rc == 0:  # the protection failed and this is the cloned child: leave at once
        os._exit(0)
    if rc > 0:
        os.waitpid(rc, 0)
    out["clone"] = err
    pid = os.fork()  # plain fork (clone without CLONE_NEW*) must keep working
    if pid == 0:
        os._exit(7)
    out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return out


@pytest.fixture
def victim() -> Any:
    """A root process in a group of its own: what an attack must not be able to touch."""
    proc = subprocess.Popen(["/bin/sleep", "60"], start_new_session=True)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


# --- call_sandboxed: the parent must never act on what the child says ---------------------


def _forge_group(pgid: int) -> list[int]:
    """Read every pipe we can read and write ``pgid`` into every pipe we can write."""
    touched = []
    stdio = {os.readlink(f"/proc/self/fd/{fd}") for fd in (0, 1, 2)}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
            if not link.startswith("pipe:") or link in stdio:  # leave the runner's output be
                continue
            with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as fh:
                flags = int(fh.read().split("flags:")[1].split()[0], 8)
            if flags & os.O_ACCMODE == os.O_RDONLY:
                os.set_blocking(fd, False)
                os.read(fd, 64)
            else:
                os.write(fd, b"%d\n" % pgid)
            touched.append(fd)
        except OSError:
            continue
    return touched


@pytest.mark.seccomp
def test_sandboxed_child_cannot_make_the_parent_kill_another_group(victim: Any) -> None:
    # Before the fix the child (as nobody!) read its own pid off the report pipe and wrote
    # the victim's pgid instead; the root parent then SIGKILLed that group.
    with contextlib.suppress(SandboxError):  # a garbled result pipe may be refused: fine
        call_sandboxed(_forge_group, victim.pid, user="nobody")
    time.sleep(0.1)
    assert victim.poll() is None, "the parent killed a process group the child named"


def _close_everything_and_sleep(seconds: float) -> int:
    os.closerange(3, 65536)
    time.sleep(seconds)
    return 1


@pytest.mark.seccomp
def test_timeout_holds_after_the_child_closes_its_descriptors() -> None:
    # EOF on the result pipe used to end the wait; waitpid then blocked for the full 4 s.
    start = time.monotonic()
    with pytest.raises(SandboxError, match="timeout") as info:
        call_sandboxed(_close_everything_and_sleep, 4.0, timeout=0.5)
    assert time.monotonic() - start < 2.5
    assert info.value.signal == signal.SIGKILL


@pytest.mark.seccomp
def test_oversized_result_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardenkit._child, "MAX_RESULT_BYTES", 1 << 20)
    assert len(call_sandboxed(lambda: "x" * 1000)) == 1000  # control: small results pass
    with pytest.raises(SandboxError):
        call_sandboxed(lambda: "x" * (2 << 20))


class _Str(str):
    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


class _Dict(dict[str, Any]):
    def __getitem__(self, key: str) -> Any:
        return "smuggled"


@pytest.mark.seccomp
def test_results_arrive_as_plain_builtins_only() -> None:
    # Pickle would bring the subclasses (and their methods) into the parent.
    got = call_sandboxed(lambda: [_Str("a"), _Dict(k="v"), {1: 2}])
    assert [type(x) for x in got] == [str, dict, dict]
    assert got[0] != "b"
    assert got[1]["k"] == "v"
    assert got[2] == {"1": 2}  # JSON keys: data, never objects


def _setsid_escapee() -> int:
    """Start a grandchild that leaves the session; return its (host) pid once it has left.

    The pipe makes the race deterministic: the function returns only after setsid().
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.write(w, b"%d" % host_pid())
        os.closerange(0, 65536)  # holds nothing of ours: neither our pipes nor pytest's
        time.sleep(30)
        os._exit(0)
    os.close(w)
    host = int(os.read(r, 32))
    os.waitpid(pid, os.WNOHANG)
    return host


def _survives(pid: int) -> bool:
    try:
        return proc_alive(pid)
    finally:
        if proc_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.seccomp
def test_setsid_escapee_does_not_survive_call_sandboxed() -> None:
    # Control: the fallback without a PID namespace kills the child's session and group
    # only, so this escapee survives it (the documented limit of the fallback).
    with no_pid_namespace():
        escaped = call_sandboxed(_setsid_escapee, user="nobody")
    assert _survives(escaped)
    # As root the child is pid 1 of its own namespace: the kernel kills the escapee before
    # the child can be reaped, so it is gone when call_sandboxed returns (no waiting).
    pid = call_sandboxed(_setsid_escapee, user="nobody")
    assert not _survives(pid)


@pytest.mark.seccomp
def test_fallback_kills_the_childs_session_and_group() -> None:
    def session_member() -> int:
        r, w = os.pipe()
        if os.fork() == 0:
            os.setpgid(0, 0)  # leaves the group, stays in the session
            os.write(w, b"%d" % host_pid())
            os.closerange(0, 65536)
            time.sleep(30)
            os._exit(0)
        os.close(w)
        return int(os.read(r, 32))

    with no_pid_namespace():
        pid = call_sandboxed(session_member, user="nobody")
    assert not _survives(pid)


# --- rlimits ---------------------------------------------------------------------------


def _fork_three() -> int:
    pids = []
    for _ in range(3):
        try:
            pid = os.fork()
        except BlockingIOError:
            break
        if pid == 0:
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    return len(pids)


def test_nproc_limit_is_refused_where_the_kernel_ignores_it(in_child: Any) -> None:
    def as_root() -> dict[str, Any]:
        before = resource.getrlimit(resource.RLIMIT_NPROC)
        try:
            apply_limits(ResourceLimits(processes=1))
            said = "done"
        except SandboxError as err:
            said = "refused" if "not be enforced" in str(err) else str(err)
        return {
            "said": said,
            "unchanged": resource.getrlimit(resource.RLIMIT_NPROC) == before,
            "forks": _fork_three(),  # root: the kernel lets these through either way
        }

    assert in_child(as_root) == {"said": "refused", "unchanged": True, "forks": 3}


@pytest.mark.seccomp
def test_nproc_limit_bites_after_a_drop(in_child: Any) -> None:
    def dropped(limit: int | None) -> int:
        confine(user="nobody", limits=ResourceLimits(processes=limit) if limit else None)
        return _fork_three()

    assert in_child(dropped, None) == 3  # control
    assert in_child(dropped, 1) == 0


def test_open_files_limit_against_inherited_descriptors(in_child: Any) -> None:
    def child(limit: int | None) -> dict[str, Any]:
        high = os.dup2(os.open("/etc/hostname", os.O_RDONLY), 200)
        if limit is not None:
            apply_limits(ResourceLimits(open_files=limit))
        out: dict[str, Any] = {"high_readable": len(os.pread(high, 4, 0)) > 0}
        err = errno_of(lambda: os.dup2(high, 100))
        out["dup2_above"] = errno.errorcode[err] if err else "ok"
        opened: list[int] = []
        out["opens"] = "unbounded"
        for _ in range(40):
            err = errno_of(lambda: opened.append(os.open("/dev/null", os.O_RDONLY)))
            if err:
                out["opens"] = errno.errorcode[err]
                break
        out["max_fd"] = max(opened)
        return out

    assert in_child(child, None)["opens"] == "unbounded"  # control
    got = in_child(child, 16)
    # Already-open descriptors above the limit stay usable (documented), but no new
    # descriptor number at or above it can be made, by open or by dup2.
    assert got == {"high_readable": True, "dup2_above": "EBADF", "opens": "EMFILE", "max_fd": 15}


# --- seccomp: namespaces, foreign ABIs, io_uring ------------------------------------------


def _docker_with_root_caps() -> SeccompPolicy:
    # Built in the root parent: the profile's CAP_SYS_ADMIN rules allow unshare and clone
    # with namespace flags. Confine must refuse namespaces anyway after the drop.
    return SeccompPolicy.docker_default()


def _system_service() -> SeccompPolicy:
    return SeccompPolicy(default="errno", allow=["@system-service"])


@pytest.mark.seccomp
@pytest.mark.parametrize(
    "policy",
    [None, _docker_with_root_caps, _system_service],
    ids=["default", "docker-root-caps", "system-service"],
)
@pytest.mark.parametrize("user", [None, "nobody"])
def test_no_namespace_after_confine(
    in_child: Any, policy: Callable[[], SeccompPolicy] | None, user: str | None
) -> None:
    seccomp = policy() if policy is not None else None
    refused = {
        "unshare": errno.EPERM,
        "unshare_net": errno.EPERM,
        "setns": errno.EPERM,
        "clone3": errno.ENOSYS,
        "clone": errno.EPERM,
        "fork": 7,
    }

    def child() -> dict[str, int]:
        confine(user=user, seccomp=seccomp)
        return ns_attempts()

    def control() -> dict[str, int]:
        if user is not None:
            drop_privileges(user)  # the kernel itself allows unprivileged user namespaces
        return ns_attempts()

    assert in_child(control)["unshare"] == 0
    assert in_child(child) == refused


@pytest.mark.seccomp
def test_x32_numbers_after_confine(in_child: Any) -> None:
    docker = SeccompPolicy.docker_default(capabilities=())
    groups = SeccompPolicy(default="errno", allow=["@system-service"])

    def child(policy: SeccompPolicy) -> list[int]:
        confine(user="nobody", seccomp=policy)
        return [
            raw_syscall(NR["unshare"] | X32, CLONE_NEWUSER)[1],
            raw_syscall(NR["clone"] | X32, CLONE_NEWUSER | signal.SIGCHLD, 0, 0, 0, 0)[1],
        ]

    # Docker allows the x32 ABI, so it must get the native rules; the systemd-group policy
    # does not list x32, so an x32 number kills the process.
    assert in_child(child, docker) == [errno.EPERM, errno.EPERM]
    assert in_child.outcome(child, groups).signal == signal.SIGSYS


@pytest.mark.seccomp
def test_docker_profile_refuses_io_uring(in_child: Any) -> None:
    policy = SeccompPolicy.docker_default()

    def child(confined: bool) -> int:
        if confined:
            confine(seccomp=policy)
        return uring_setup_errno()

    assert in_child(child, confined=False) == 0  # control: io_uring works here
    assert in_child(child, confined=True) == errno.EPERM


@pytest.mark.seccomp
def test_network_deny_cannot_be_bypassed_through_io_uring(in_child: Any) -> None:
    # @system-service includes @aio, which holds io_uring_*: reached through a group they
    # stay denied, since IORING_OP_SOCKET would create a socket the filter never sees.
    def child(default: str) -> list[Any]:
        policy = SeccompPolicy(default=default, allow=["@system-service"], deny=["@network-io"])
        confine(user="nobody", seccomp=policy)
        try:
            socket.socket()
            direct = "allowed"
        except PermissionError:
            direct = "EPERM"
        return [direct, uring_socket()]

    assert in_child(child, "errno") == ["EPERM", ["setup", errno.EPERM]]
    assert in_child.outcome(child, "kill").signal == signal.SIGSYS
    # control: named explicitly, io_uring is allowed and the socket op goes through
    explicit = SeccompPolicy(
        default="errno", allow=["@system-service", "io_uring_setup", "io_uring_enter"]
    )

    def control() -> list[Any]:
        confine(user="nobody", seccomp=explicit)
        return uring_socket()

    assert in_child(control)[0] == "socket"


@pytest.mark.seccomp
def test_apply_seccomp_blocks_namespaces_by_default(in_child: Any) -> None:
    def child() -> int:
        apply_seccomp(SeccompPolicy(default="kill", allow=["@system-service"]))
        return raw_syscall(NR["unshare"], CLONE_NEWUSER)[1]

    assert in_child(child) == errno.EPERM


@pytest.mark.seccomp
def test_threads_born_while_the_filter_loads_are_filtered(in_child: Any) -> None:
    policy = SeccompPolicy(default="allow", deny=["mkdir"])
    program = compile_policy(policy).program  # what confine() and apply_seccomp() load

    def child() -> dict[str, int]:
        stop = threading.Event()
        loaded = threading.Event()
        seen: list[tuple[bool, int]] = []

        def probe(after: bool) -> None:
            seen.append((after, libc().prctl(PR_GET_SECCOMP, 0, 0, 0, 0)))

        def spawner() -> None:  # keeps creating threads while the filter goes on
            while not stop.is_set():
                t = threading.Thread(target=probe, args=(loaded.is_set(),))
                t.start()
                t.join()

        s = threading.Thread(target=spawner)
        s.start()
        time.sleep(0.05)
        libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        program.load(tsync=True)
        loaded.set()
        time.sleep(0.05)
        stop.set()
        s.join()
        before = [mode for after, mode in seen if not after]
        after = [mode for after, mode in seen if after]
        return {"before_unfiltered": before.count(0), "after": len(after), "ok": after.count(2)}

    got = in_child(child)
    assert got["before_unfiltered"] > 0  # control: the probe sees unfiltered threads
    assert got["after"] > 0
    assert got["ok"] == got["after"]  # without TSYNC the spawner and its threads escape


@pytest.mark.seccomp
def test_a_thread_that_exits_during_verification_is_not_an_error(in_child: Any) -> None:
    from hardenkit._linux import procfs  # noqa: PLC0415
    from hardenkit.sandbox.seccomp import verify_seccomp  # noqa: PLC0415

    def child() -> str:
        t = threading.Thread(target=threading.get_native_id)
        t.start()
        t.join()
        gone = max(procfs.task_ids()) + 1000  # stands for the thread that just exited
        listed = procfs.task_ids
        procfs.task_ids = lambda *a, **k: [*listed(*a, **k), gone]
        apply_seccomp(SeccompPolicy(default="allow", deny=["mkdir"]))
        verify_seccomp()
        return "verified"

    assert in_child(child) == "verified"


def test_a_thread_that_exits_during_nnp_and_drop_checks_is_not_an_error(in_child: Any) -> None:
    from hardenkit.sandbox import set_no_new_privs  # noqa: PLC0415

    def child(failure: type[OSError] | None) -> list[str]:
        from hardenkit import privileges  # noqa: PLC0415
        from hardenkit._linux import procfs  # noqa: PLC0415

        plan = privileges.prepare_drop("nobody")
        privileges.apply_drop(plan)
        listed, read = procfs.task_ids, procfs.read_task_status
        gone = max(listed()) + 1000  # stands for a thread that exited after the listing
        procfs.task_ids = lambda *a, **k: [*listed(*a, **k), gone]
        if failure is not None:  # control: a status that exists but cannot be read

            def unreadable(tid: int, *a: Any, **k: Any) -> Any:
                if tid == gone:
                    raise failure(errno.EACCES, "denied")
                return read(tid, *a, **k)

            procfs.read_task_status = unreadable

        def outcome(step: Callable[[], object]) -> str:
            try:
                step()
            except (SandboxError, PermissionError) as err:
                return type(err).__name__
            return "verified"

        return [
            outcome(set_no_new_privs),
            outcome(lambda: privileges.verify_drop(plan, no_new_privs=True)),
        ]

    assert in_child(child, None) == ["verified", "verified"]
    assert in_child(child, PermissionError) == ["SandboxError", "PrivilegeError"]


# --- privileges and capabilities after a drop ---------------------------------------------


@pytest.mark.seccomp
def test_dropped_process_cannot_raise_anything_back(in_child: Any, victim: Any) -> None:
    def attempts(drop: bool) -> dict[str, int]:
        from hardenkit._linux import caps  # noqa: PLC0415 -- the test's own capset

        if drop:
            confine(user="nobody")
        caps.prepare()
        out = {
            "securebits": errno_of(lambda: caps.set_securebits(0)),
            "ptrace": raw_syscall(NR["ptrace"], PTRACE_ATTACH, victim.pid, 0, 0)[1],
            "signal": errno_of(lambda: os.kill(victim.pid, 0)),
            "mem": errno_of(lambda: os.close(os.open(f"/proc/{victim.pid}/mem", os.O_RDONLY))),
            "setuid": errno_of(lambda: os.setuid(0)),
            "ambient": errno_of(lambda: caps.ambient_raise(CAP_NET_RAW)),
            # Last: as root (the control) this capset sheds every other capability.
            "capset": errno_of(lambda: caps.capset(1 << CAP_NET_RAW, 1 << CAP_NET_RAW, 0)),
        }
        if out["ptrace"] == 0:
            raw_syscall(NR["ptrace"], PTRACE_DETACH, victim.pid, 0, 0)
        return out

    # Control: the same attempts as root all succeed except the ambient raise (the cap is
    # not inheritable), so each refusal below is the drop's doing.
    control = in_child(attempts, drop=False)
    assert control["capset"] == control["securebits"] == control["ptrace"] == 0
    assert in_child(attempts, drop=True) == dict.fromkeys(
        ("capset", "ambient", "securebits", "ptrace", "signal", "setuid"), errno.EPERM
    ) | {"mem": errno.EACCES}


@pytest.fixture
def raw_cat(nobody_tmp: Path) -> Path:
    """A copy of cat holding cap_net_raw+ep, executable by nobody."""
    path = nobody_tmp / "rawcat"
    shutil.copy2("/bin/cat", path)
    subprocess.run(["setcap", "cap_net_raw+ep", str(path)], check=True)
    return path


def _cap_eff_of_exec(binary: Path) -> str:
    try:
        out = subprocess.run(
            [str(binary), "/proc/self/status"], capture_output=True, text=True, check=False
        ).stdout
    except PermissionError:
        return "EPERM"  # exec refused: the file's caps are outside the bounding set
    return next(line.split()[1] for line in out.splitlines() if line.startswith("CapEff"))


@pytest.mark.caps
@pytest.mark.seccomp
def test_file_capability_binary_gains_nothing_in_a_confined_child(
    in_child: Any, raw_cat: Path
) -> None:
    def control() -> str:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        return _cap_eff_of_exec(raw_cat)

    assert int(in_child(control), 16) == 1 << CAP_NET_RAW
    got = call_sandboxed(_cap_eff_of_exec, raw_cat, user="nobody")
    assert got in ("EPERM", "0000000000000000")
    try:
        status = run([str(raw_cat), "/proc/self/status"], user="nobody").stdout.decode()
    except PermissionError:  # exec refused, or file caps refused up front (InsecurePathError)
        status = "CapEff:\tEPERM"  # exec refused: fail closed
    assert "CapEff:\t0000000000000000" in status or "CapEff:\tEPERM" in status


# --- Landlock -------------------------------------------------------------------------


_RO_FILES = ("link", "rename", "truncate", "trunc", "unlink", "content")


def _landlock_attacks(base: str, enforce: bool) -> dict[str, str]:
    ro, rw, out = (os.path.join(base, d) for d in ("ro", "rw", "out"))

    def ro_file(name: str) -> str:
        return os.path.join(ro, name)

    pre_file = os.open(ro_file("content"), os.O_RDONLY)
    pre_dir = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    if enforce:
        apply_landlock(FilesystemPolicy(read=[ro], write=[rw]))
    results: dict[str, str] = {}

    def attempt(name: str, fn: Callable[[], object]) -> None:
        err = errno_of(fn)
        results[name] = errno.errorcode[err] if err else "ok"

    def from_cwd() -> None:
        os.chdir(out)
        os.close(os.open("secret", 0))

    attempt("link_out_of_ro", lambda: os.link(ro_file("link"), os.path.join(rw, "link")))
    attempt("rename_out_of_ro", lambda: os.rename(ro_file("rename"), os.path.join(rw, "moved")))
    attempt("rename_into_ro", lambda: os.rename(os.path.join(rw, "mine"), ro_file("mine")))
    attempt("truncate", lambda: os.truncate(ro_file("truncate"), 0))
    attempt("open_trunc", lambda: os.close(os.open(ro_file("trunc"), os.O_WRONLY | os.O_TRUNC)))
    attempt("unlink_ro", lambda: os.unlink(ro_file("unlink")))
    attempt("reopen_rw", lambda: os.close(os.open(f"/proc/self/fd/{pre_file}", os.O_RDWR)))
    attempt("through_fd_dir", lambda: os.close(os.open(f"/proc/self/fd/{pre_dir}/secret", 0)))
    attempt("openat_pre_dir", lambda: os.close(os.open("secret", os.O_RDONLY, dir_fd=pre_dir)))
    attempt("proc_root", lambda: os.close(os.open(f"/proc/{os.getppid()}/root{out}/secret", 0)))
    attempt("symlink_to_out", lambda: os.close(os.open(os.path.join(rw, "sym"), 0)))
    attempt("relative_from_cwd", from_cwd)
    # What was opened before confinement keeps exactly its original access.
    results["pre_opened_read"] = os.pread(pre_file, 64, 0).decode()
    return results


def _landlock_tree(base: Path) -> str:
    for d in ("ro", "rw", "out"):
        (base / d).mkdir(parents=True)
    for name in _RO_FILES:
        (base / "ro" / name).write_text("original")
    (base / "out" / "secret").write_text("s")
    (base / "rw" / "mine").write_text("m")
    (base / "rw" / "sym").symlink_to(base / "out" / "secret")
    return str(base)


@pytest.mark.landlock
def test_landlock_escapes_are_refused(in_child: Any, tmp_path: Path) -> None:
    control = in_child(_landlock_attacks, _landlock_tree(tmp_path / "a"), enforce=False)
    assert set(control.values()) == {"ok", "original"}, control  # every attack works unconfined
    got = in_child(_landlock_attacks, _landlock_tree(tmp_path / "b"), enforce=True)
    assert got.pop("pre_opened_read") == "original"
    assert got.pop("link_out_of_ro") == "EXDEV"  # REFER is not granted on the ro tree
    assert set(got.values()) == {"EACCES"}, got
    for name in _RO_FILES:
        assert (tmp_path / "b" / "ro" / name).read_text() == "original"
    assert not (tmp_path / "b" / "ro" / "mine").exists()


@pytest.mark.landlock
@pytest.mark.seccomp
def test_landlock_verification_is_not_vacuous_for_an_unprivileged_user(in_child: Any) -> None:
    # With "/" readable the probe is a mkdir outside the policy. As nobody, a mkdir in "/"
    # is refused by file modes alone, so probing there proved nothing: verify() passed
    # although no ruleset was in force.
    def child(enforce: bool) -> str:
        drop_privileges("nobody")
        plan = LandlockPlan(FilesystemPolicy(read=["/"]))
        if enforce:
            plan.enforce()
        try:
            plan.verify()
        except SandboxError as err:
            return "refused" if "not in force" in str(err) else str(err)
        return "verified"

    assert in_child(child, enforce=False) == "refused"
    assert in_child(child, enforce=True) == "verified"
    assert call_sandboxed(os.listdir, "/", user="nobody", filesystem=FilesystemPolicy(read="/"))


@pytest.mark.landlock
@pytest.mark.seccomp
def test_landlock_confined_root_cannot_chmod_outside(in_child: Any, tmp_path: Path) -> None:
    inside, outside = tmp_path / "in", tmp_path / "secret"
    inside.mkdir()
    outside.write_text("s")
    outside.chmod(0o600)

    def child() -> str:
        confine(filesystem=FilesystemPolicy(read=[inside]))
        try:
            os.chmod(outside, 0o666)  # noqa: S103 -- the attack under test
        except PermissionError:
            return "EPERM"
        return "changed"

    try:
        assert in_child(child) == "EPERM"
    finally:
        assert outside.stat().st_mode & 0o777 in (0o600, 0o666)


NR_FCHMODAT2, NR_SETXATTRAT, NR_FILE_SETATTR = 452, 463, 469
AT_FDCWD = -100


def _metadata_attacks(target: str, inside: str, confined: dict[str, Any] | None) -> dict[str, str]:
    """Change ``target``'s metadata every way there is; ``ok`` or the errno name of each."""
    if confined is not None:
        confine(filesystem=FilesystemPolicy(read=[inside]), **confined)
    path = ctypes.create_string_buffer(target.encode())
    results: dict[str, str] = {}

    def attempt(name: str, fn: Callable[[], object]) -> None:
        err = errno_of(fn)
        results[name] = errno.errorcode[err] if err else "ok"

    def raw_call(nr: int, *args: int | ctypes.Array[ctypes.c_char] | None) -> None:
        rc, err = raw_syscall(nr, *args)
        if rc < 0:
            raise OSError(err, os.strerror(err))

    opath = os.open(target, os.O_PATH)
    attempt("chmod", lambda: os.chmod(target, 0o666))  # noqa: S103 -- the attack
    attempt("chmod_via_opath", lambda: os.chmod(f"/proc/self/fd/{opath}", 0o666))  # noqa: S103
    attempt("fchmodat2", lambda: raw_call(NR_FCHMODAT2, AT_FDCWD, path, 0o666, 0))
    attempt("chown", lambda: os.chown(target, NOBODY, -1))
    attempt("utime", lambda: os.utime(target, (0, 0)))
    attempt("setxattr_user", lambda: os.setxattr(target, "user.hk", b"1"))
    attempt("setxattr_trusted", lambda: os.setxattr(target, "trusted.hk", b"1"))
    # Newer than libseccomp 2.5's table: only a non-allow default can refuse them.
    attempt("setxattrat", lambda: raw_call(NR_SETXATTRAT, AT_FDCWD, path, 0, 0, 0, 0))
    attempt("file_setattr", lambda: raw_call(NR_FILE_SETATTR, AT_FDCWD, path, 0, 0, 0))
    os.close(opath)
    err = uring_setup_errno()  # IORING_OP_SETXATTR would go round the filter
    results["io_uring_setup"] = errno.errorcode[err] if err else "ok"
    with open(os.path.join(inside, "f"), encoding="ascii") as fh:  # Landlock allows this
        results["read_inside"] = fh.read()
    return results


@pytest.mark.landlock
@pytest.mark.seccomp
def test_metadata_outside_the_policy_stays_out_of_reach(in_child: Any, tmp_path: Path) -> None:
    inside = tmp_path / "in"
    inside.mkdir()
    (inside / "f").write_text("in")
    targets = []
    for name in ("control", "root", "fowner"):
        target = tmp_path / name
        target.write_text("s")
        target.chmod(0o600)
        targets.append(target)
    control = in_child(_metadata_attacks, str(targets[0]), str(inside), None)
    # Unconfined, root changes everything (the two raw calls get EFAULT/EINVAL for their
    # dummy arguments: what matters is that the kernel ran them).
    assert control.pop("setxattrat") in ("EFAULT", "EINVAL")
    assert control.pop("file_setattr") in ("EFAULT", "EINVAL")
    assert set(control.values()) == {"ok", "in"}, control
    refused = dict.fromkeys(
        ("chmod", "chmod_via_opath", "fchmodat2", "chown", "utime", "setxattr_user"),
        "EPERM",
    ) | {"setxattr_trusted": "EPERM", "setxattrat": "ENOSYS", "file_setattr": "ENOSYS"}
    refused["io_uring_setup"] = "EPERM"
    as_root = in_child(_metadata_attacks, str(targets[1]), str(inside), {})
    assert as_root == refused | {"read_inside": "in"}
    keeps_fowner = {
        "user": "nobody",
        "keep": ["CAP_FOWNER", "CAP_DAC_READ_SEARCH"],
        "allow_root_equivalent": True,
    }
    assert in_child(_metadata_attacks, str(targets[2]), str(inside), keeps_fowner) == refused | {
        "read_inside": "in"
    }
    for target in targets[1:]:
        st = target.stat()
        assert (st.st_mode & 0o777, st.st_uid) == (0o600, 0)
        assert not os.listxattr(target)


def test_metadata_guard_only_where_landlock_cannot_cover_metadata(tmp_path: Path) -> None:
    from hardenkit.sandbox.confinement import prepare_confinement  # noqa: PLC0415

    fs = FilesystemPolicy(read=[tmp_path])

    def guarded(**options: Any) -> bool:
        with prepare_confinement(**options) as plan:
            return plan.metadata_guard is not None

    assert guarded(filesystem=fs)  # root
    ack = {"allow_root_equivalent": True}
    assert guarded(filesystem=fs, user="nobody", keep=["CAP_CHOWN"], **ack)
    assert guarded(filesystem=fs, user="nobody", keep=["CAP_DAC_OVERRIDE"], **ack)
    assert not guarded(filesystem=fs, user="nobody")  # DAC already refuses others' files
    assert not guarded(filesystem=fs, user="nobody", keep=["CAP_NET_BIND_SERVICE"])
    assert not guarded()  # no Landlock: no guard
    assert not guarded(seccomp=SeccompPolicy(default="allow"))


# --- spawn ----------------------------------------------------------------------------


def test_pinned_binary_child_has_only_stdio(tmp_path: Path) -> None:
    ls = os.path.realpath("/bin/ls")
    with open(ls, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    leak_r, leak_w = os.pipe()
    os.set_inheritable(leak_r, True)  # noqa: FBT003 -- stdlib signature
    secret = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    os.set_inheritable(secret, True)  # noqa: FBT003
    try:
        policy = CommandPolicy(["ls"], sha256={"ls": digest})
        out = run(["ls", "/proc/self/fd"], policy=policy, user="nobody").stdout.split()
    finally:
        for fd in (leak_r, leak_w, secret):
            os.close(fd)
    assert out == [b"0", b"1", b"2", b"3"]  # 3 is ls's own directory handle


def test_stopped_grandchild_and_term_ignoring_child_die_on_timeout() -> None:
    grandchild = (
        'trap "" TERM HUP INT; read p _ < /proc/self/stat; echo "$p"; kill -STOP $$; sleep 60'
    )
    script = f"trap '' TERM HUP INT; /bin/sh -c '{grandchild}' & sleep 60"
    start = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        run(["/bin/sh", "-c", script], timeout=0.5)
    assert time.monotonic() - start < 2.0
    assert info.value.result is not None
    pid = int(info.value.result.stdout.split()[0])  # the host pid (read through /proc)
    assert not proc_alive(pid)


@pytest.mark.parametrize("argv0", ["./echo", "echo/", "../echo", "/tmp/echo", "echo\u200b"])
def test_argv0_tricks_run_nothing(tmp_path: Path, argv0: str) -> None:
    marker = tmp_path / "ran"
    fake = tmp_path / "echo"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\n")
    fake.chmod(0o755)
    with pytest.raises(CommandNotAllowed):
        run([argv0, "x"], policy=CommandPolicy(["echo"]), cwd=tmp_path)
    assert not marker.exists()
    assert run(["echo", "x"], policy=CommandPolicy(["echo"]), cwd=tmp_path).stdout == b"x\n"


def test_explicit_env_cannot_make_bash_run_code(nobody_tmp: Path) -> None:
    writable = nobody_tmp / "w"
    writable.mkdir()
    writable.chmod(0o777)
    marker = writable / "pwned"
    env = {"PATH": "/usr/bin:/bin", "SHELLOPTS": "xtrace", "PS4": f"$(touch {marker})"}
    # Control: the attack is real (plain subprocess, same user and env).
    subprocess.run(
        ["/bin/bash", "-c", "true"], env=env, user=NOBODY, check=False, capture_output=True
    )
    assert marker.exists()
    marker.unlink()
    with pytest.raises(PolicyError) as info:
        run(["/bin/bash", "-c", "true"], env=env, user="nobody")
    assert "PS4" in str(info.value)
    assert "touch" not in str(info.value)  # names, never values
    with pytest.raises(PolicyError, match="never passed"):
        run(["/bin/bash", "-c", "true"], env=env, user="nobody", allow_dangerous_env={"PS4"})
    assert not marker.exists()
