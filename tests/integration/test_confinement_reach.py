"""What a confined child must not reach around Landlock (issue 15, items 3, 4, 5 and 7).

- 3: a UNIX socket outside the FilesystemPolicy (connect() is not governed by Landlock);
- 4: a device node made by a root child (write= must not grant MAKE_CHAR/MAKE_BLOCK,
  and a child that keeps root keeps no CAP_MKNOD);
- 5: the memory of the caller or any process outside the sandbox (ptrace,
  /proc/<pid>/mem, process_vm_readv), whatever uid the child runs as;
- 7: executing an anonymous file (memfd) where execute= is restricted.

Every attack runs in a child: ``call_sandboxed``, ``run()`` through both spawn paths
(the exec helper and the Python fork path) and ``confine()`` in an ``in_child`` child,
as root and as an unprivileged caller (a forked child that became nobody). Each attack
works against an unconfined child (the controls), so each test can fail.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from tests._helpers import sabotage_helper_steps

from hardenkit.errors import SandboxError
from hardenkit.sandbox import FilesystemPolicy, ResourceLimits, call_sandboxed, confine
from hardenkit.spawn import _run as spawn_run, run

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root, pytest.mark.landlock, pytest.mark.seccomp]

NOBODY = 65534
PYTHON = "/usr/bin/python3"  # a nobody child cannot reach ~/.pyenv
LDSO = os.path.realpath("/lib64/ld-linux-x86-64.so.2")
CAP_MKNOD = 27
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_DAC_OVERRIDE = 1

# The attacks, as source: call_sandboxed and confine() run them as functions, run() as
# `python3 -c` with the same text (so both see exactly the same code).
ATTACKS = r'''
import ctypes, errno, json, mmap, os, socket, stat, sys

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _sys(nr, *args):
    ctypes.set_errno(0)
    rc = _libc.syscall(ctypes.c_long(nr), *[
        ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return int(rc), ctypes.get_errno()


def _err(fn):
    try:
        fn()
    except OSError as err:
        return err.errno or -1
    return 0


class _Iovec(ctypes.Structure):
    _fields_ = (("base", ctypes.c_void_p), ("len", ctypes.c_size_t))


def memory_attack(pid, addr, size, victim):
    """Reach another process: 0 for each attack that worked, else its errno."""
    out = {}
    try:
        fd = os.open("/proc/%d/mem" % pid, os.O_RDWR)
    except OSError as err:
        out["mem_write"] = err.errno
    else:
        try:
            os.pwrite(fd, b"PWNED!", addr)
            out["mem_write"] = 0
        except OSError as err:
            out["mem_write"] = -err.errno
        os.close(fd)
    out["mem_read"] = _err(lambda: open("/proc/%d/mem" % pid, "rb").close())
    out["environ"] = _err(lambda: open("/proc/%d/environ" % pid, "rb").read())
    for name in ("maps", "smaps", "auxv"):  # PTRACE_MODE_READ files, like environ
        out[name] = _err(lambda: open("/proc/%d/%s" % (pid, name), "rb").read())
    out["map_files"] = _err(lambda: os.listdir("/proc/%d/map_files" % pid))
    out["victim_environ"] = _err(lambda: open("/proc/%d/environ" % victim, "rb").read())
    out["victim_maps"] = _err(lambda: open("/proc/%d/maps" % victim, "rb").read())
    buf = ctypes.create_string_buffer(size)
    local, remote = _Iovec(ctypes.addressof(buf), size), _Iovec(addr, size)
    rc, err = _sys(310, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    out["process_vm_readv"] = 0 if rc == size else err or -1
    rc, err = _sys(311, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    out["process_vm_writev"] = 0 if rc == size else err or -1
    # PTRACE_SEIZE (no SIGSTOP); a tracer that exits detaches on its own.
    rc, err = _sys(101, 0x4206, victim, 0, 0)
    out["ptrace_seize"] = 0 if rc == 0 else err
    return out


def dgram_pair_attack(dgram_path):
    """Reach a named datagram socket from an AF_UNIX socketpair: {how: 0 or errno}."""
    out = {}
    for kind in ("SOCK_DGRAM", "SOCK_RAW"):  # AF_UNIX makes SOCK_RAW a SOCK_DGRAM
        try:
            a, b = socket.socketpair(socket.AF_UNIX, getattr(socket, kind))
        except OSError as err:
            out[kind + "_sendto"] = out[kind + "_connect"] = err.errno
            continue
        with a, b:
            out[kind + "_sendto"] = _err(lambda: a.sendto(b"sendto", dgram_path))
            out[kind + "_connect"] = _err(lambda: (b.connect(dgram_path), b.send(b"conn")))
    return out


def unix_attack(secret, sock_path, abstract, dgram_path=None):
    """Open a file outside the policy, connect to a socket beside it."""
    out = {"open": _err(lambda: open(secret, "rb").close())}

    def connect(family_bits, address):
        rc, err = _sys(41, family_bits, socket.SOCK_STREAM | socket.SOCK_CLOEXEC, 0)
        if rc < 0:
            return err
        s = socket.socket(fileno=rc)
        try:
            s.connect(address)
        except OSError as e:
            return -e.errno
        finally:
            s.close()
        return 0

    out["connect"] = connect(socket.AF_UNIX, sock_path)
    out["connect_high_bits"] = connect(socket.AF_UNIX | 1 << 32, sock_path)
    out["abstract"] = connect(socket.AF_UNIX, abstract)

    def pair():
        a, b = socket.socketpair()
        a.sendall(b"x")
        assert b.recv(1) == b"x"
        a.close()
        b.close()

    out["socketpair"] = _err(pair)
    # io_uring's IORING_OP_SOCKET would make a socket the filter never sees.
    params = ctypes.create_string_buffer(120)
    rc, err = _sys(425, 4, params)
    if rc >= 0:
        os.close(rc)
    out["io_uring"] = 0 if rc >= 0 else err
    if dgram_path is not None:
        out.update(dgram_pair_attack(dgram_path))
    return out


def make_node(path, kind):
    """mknod a device node (a disk: block 8:0, or /dev/mem: char 1:1)."""
    mode, dev = (stat.S_IFBLK, os.makedev(8, 0)) if kind == "block" else (
        stat.S_IFCHR, os.makedev(1, 1))
    try:
        os.mknod(path, mode | 0o600, dev)
    except OSError as err:
        return err.errno
    os.unlink(path)
    return 0


def _fd_of(how, src, tmpdir):
    """A descriptor holding a copy of src made the way `how` says."""
    with open(src, "rb") as fh:
        data = fh.read()
    if how.startswith("memfd"):
        fd = os.memfd_create("payload", 0)
    elif how == "opath":
        return os.open(src, os.O_PATH)
    elif how == "tmpfile":  # an unnamed file in a writable directory
        fd = os.open(tmpdir, os.O_TMPFILE | os.O_RDWR, 0o755)
        os.write(fd, data)
        ro = os.open("/proc/self/fd/%d" % fd, os.O_RDONLY)
        os.close(fd)
        return ro
    else:
        path = os.path.join(tmpdir, "payload-%d" % os.getpid())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755)
        os.fchmod(fd, 0o755)
        os.write(fd, data)
        os.close(fd)  # a file open for writing cannot be executed (ETXTBSY)
        return os.open(path, os.O_RDONLY)
    os.write(fd, data)
    return fd


def exec_attack(how, via, src, tmpdir):
    """Execute a copy of src (static or dynamic) from a memfd, a written file or O_PATH.

    ["ran", output] when the payload ran, else ["refused", errno] and the failing step.
    """
    try:
        fd = _fd_of(how, src, tmpdir)
    except OSError as err:
        return ["refused", err.errno, "create"]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 1)
        try:
            argv = [src, "--version"]
            if via == "fexecve":
                os.execve(fd, argv, {})
            elif via == "proc":
                os.execve("/proc/self/fd/%d" % fd, argv, {})
            else:
                cargv = (ctypes.c_char_p * 3)(src.encode(), b"--version", None)
                envp = (ctypes.c_char_p * 1)(None)
                _sys(322, fd, b"", cargv, envp, 0x1000)  # execveat(AT_EMPTY_PATH)
                os._exit(100 + ctypes.get_errno())
        except OSError as err:
            os._exit(100 + (err.errno or 0))
        os._exit(99)
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        out += chunk
    os.close(r)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code == 0 and out:
        return ["ran", out[:40].decode(errors="replace")]
    return ["refused", code - 100, "exec"]


def map_files_exec(src, kind):
    """Execute the shmem file behind a shared anonymous mapping (or a SysV segment)."""
    with open(src, "rb") as fh:
        data = fh.read()
    try:
        if kind == "mmap":
            m = mmap.mmap(-1, len(data))
            m.write(data)
            addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
        else:
            rc, err = _sys(29, 0, len(data), 0o1600)  # shmget(IPC_PRIVATE, IPC_CREAT|0600)
            if rc < 0:
                return ["refused", err, "shmget"]
            _libc.shmat.restype = ctypes.c_void_p
            addr = _libc.shmat(rc, None, 0)
            _sys(31, rc, 0, 0)  # shmctl(IPC_RMID): gone once detached
            if addr in (None, 2**64 - 1):
                return ["refused", ctypes.get_errno(), "shmat"]
            ctypes.memmove(addr, data, len(data))
    except OSError as err:
        return ["refused", err.errno, "map"]
    with open("/proc/self/maps") as fh:
        ranges = [line.split()[0] for line in fh if int(line.split("-")[0], 16) == addr]
    try:
        fd = os.open("/proc/self/map_files/" + ranges[0], os.O_RDONLY)
    except OSError as err:
        return ["refused", err.errno, "map_files"]
    return ["ran", "?"] if exec_via_fd(fd) == -100 else ["refused", exec_via_fd(fd), "exec"]


def sealed_memfd():
    """A MFD_NOEXEC_SEAL memfd is allowed, but can never be made executable."""
    fd = os.memfd_create("sealed", 0x0008)
    with open("/usr/bin/true", "rb") as fh:
        os.write(fd, fh.read())
    return {"chmod": _err(lambda: os.fchmod(fd, 0o755)),
            "exec": exec_via_fd(fd)}


def exec_via_fd(fd):
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        except OSError:
            os.close(1)
        try:
            os.execve(fd, ["true", "--version"], {})
        except OSError as err:
            os._exit(100 + (err.errno or 0))
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) - 100


if __name__ == "__main__":
    name, args = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(globals()[name](*args)))
'''
_NS: dict[str, Any] = {"__name__": "attacks"}
exec(compile(ATTACKS, "<attacks>", "exec"), _NS)  # noqa: S102 -- our own text, above
memory_attack: Callable[..., dict[str, int]] = _NS["memory_attack"]
unix_attack: Callable[..., dict[str, int]] = _NS["unix_attack"]
make_node: Callable[[str, str], int] = _NS["make_node"]
exec_attack: Callable[..., list[Any]] = _NS["exec_attack"]
sealed_memfd: Callable[[], dict[str, int]] = _NS["sealed_memfd"]
map_files_exec: Callable[[str, str], list[Any]] = _NS["map_files_exec"]


def run_attack(name: str, *args: Any, **options: Any) -> Any:
    """The attack as a command under run() (python3 -I -c ATTACKS name json-args)."""
    res = run([PYTHON, "-I", "-c", ATTACKS, name, json.dumps(args)], timeout=60, **options)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-800:]
    return json.loads(res.stdout)


@pytest.fixture(params=[pytest.param("helper", marks=pytest.mark.exec_helper), "fork"])
def spawn_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """run() through the exec helper and through the Python fork path."""
    monkeypatch.setattr(spawn_run, "FORCE_PATH", request.param)
    return str(request.param)


def _become_nobody() -> None:
    """Turn this (forked) child into an ordinary unprivileged process, dumpable as usual."""
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    ctypes.CDLL(None, use_errno=True).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE, as after exec


def _in_caller(in_child: Any, caller: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a forked caller that is root or an unprivileged (nobody) process."""

    def body() -> Any:
        if caller == "nobody":
            _become_nobody()
        return fn()

    return in_child(body)


# --- 5: the caller's memory and other processes -----------------------------------------


def _memory_scenario(attack: Callable[[int, int, int, int], dict[str, int]]) -> dict[str, Any]:
    """Set up a marker in this process and a victim of the same uid; attack both."""
    marker = ctypes.create_string_buffer(b"untouched-marker")
    victim = subprocess.Popen(["/bin/sleep", "30"])
    try:
        result = attack(os.getpid(), ctypes.addressof(marker), len(marker.raw), victim.pid)
    finally:
        victim.kill()
        victim.wait()
    return {"attack": result, "marker": marker.raw.rstrip(b"\0").decode(errors="replace")}


def _assert_all_refused(out: dict[str, Any]) -> None:
    # Root without user= included: CAP_SYS_ADMIN and CAP_PERFMON, with which environ and
    # maps of outside processes stay readable inside a Landlock domain, are shed.
    worked = [name for name, err in out["attack"].items() if err == 0]
    assert worked == [], f"reached outside the sandbox: {worked} ({out})"
    assert out["marker"] == "untouched-marker"


CALLERS = ["root", "nobody"]


@pytest.mark.parametrize("caller", CALLERS)
def test_control_an_unconfined_child_reaches_its_caller(in_child: Any, caller: str) -> None:
    """Control: the attack works against a plain child of the same uid."""

    def scenario() -> dict[str, Any]:
        def attack(pid: int, addr: int, size: int, victim: int) -> dict[str, int]:
            r, w = os.pipe()
            child = os.fork()
            if child == 0:
                os.write(w, json.dumps(memory_attack(pid, addr, size, victim)).encode())
                os._exit(0)
            os.waitpid(child, 0)
            os.close(w)
            return dict(json.loads(os.read(r, 65536)))

        return _memory_scenario(attack)

    out = _in_caller(in_child, caller, scenario)
    assert out["attack"]["mem_write"] == 0
    assert out["attack"]["ptrace_seize"] == 0
    assert out["marker"].startswith("PWNED!")


@pytest.mark.parametrize("caller", CALLERS)
def test_call_sandboxed_child_cannot_reach_its_caller(in_child: Any, caller: str) -> None:
    def scenario() -> dict[str, Any]:
        return _memory_scenario(
            lambda *a: call_sandboxed(
                memory_attack, *a, seccomp=None, limits=ResourceLimits(open_files=64)
            )
        )

    _assert_all_refused(_in_caller(in_child, caller, scenario))


def test_call_sandboxed_child_with_a_policy_denying_ptrace(in_child: Any) -> None:
    """The issue's case: ptrace and process_vm_* denied by seccomp, /proc/<ppid>/mem open."""
    from hardenkit.sandbox import SeccompPolicy  # noqa: PLC0415

    policy = SeccompPolicy(
        default="allow", deny=["ptrace", "process_vm_readv", "process_vm_writev"]
    )

    def scenario() -> dict[str, Any]:
        return _memory_scenario(lambda *a: call_sandboxed(memory_attack, *a, seccomp=policy))

    _assert_all_refused(_in_caller(in_child, "nobody", scenario))
    _assert_all_refused(in_child(scenario))


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.usefixtures("spawn_path")
def test_run_command_cannot_reach_its_caller(
    in_child: Any,
    caller: str,
) -> None:
    def scenario() -> dict[str, Any]:
        return _memory_scenario(
            lambda *a: run_attack("memory_attack", *a, limits=ResourceLimits(open_files=64))
        )

    _assert_all_refused(_in_caller(in_child, caller, scenario))


@pytest.mark.parametrize("caller", CALLERS)
def test_confined_process_cannot_reach_processes_outside(in_child: Any, caller: str) -> None:
    """confine() in the caller itself: its parent and an older sibling are outside."""

    def scenario() -> dict[str, Any]:
        marker = ctypes.create_string_buffer(b"untouched-marker")
        victim = subprocess.Popen(["/bin/sleep", "30"])
        try:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the confined process; its parent holds the marker
                try:
                    confine(limits=ResourceLimits(open_files=64))
                    res = memory_attack(
                        os.getppid(), ctypes.addressof(marker), len(marker.raw), victim.pid
                    )
                except BaseException as exc:
                    res = {"error": repr(exc)}  # type: ignore[dict-item]
                os.write(w, json.dumps(res).encode())
                os._exit(0)
            os.close(w)
            os.waitpid(pid, 0)
            attack = json.loads(os.read(r, 65536))
        finally:
            victim.kill()
            victim.wait()
        return {"attack": attack, "marker": marker.raw.rstrip(b"\0").decode(errors="replace")}

    _assert_all_refused(_in_caller(in_child, caller, scenario))


def test_isolation_can_be_turned_off_explicitly(in_child: Any) -> None:
    """isolate=False is the documented opt-out (for kernels without Landlock)."""

    def scenario() -> dict[str, Any]:
        return _memory_scenario(lambda *a: call_sandboxed(memory_attack, *a, isolate=False))

    out = in_child(scenario)
    assert out["attack"]["mem_write"] == 0  # the opt-out is real: nothing isolates it


@pytest.mark.parametrize("kept", ["CAP_PERFMON", "CAP_SYS_ADMIN"])
@pytest.mark.usefixtures("spawn_path")
def test_keeping_what_isolation_sheds_reopens_proc_reads(in_child: Any, kept: str) -> None:
    """keep= may name CAP_SYS_ADMIN/CAP_PERFMON without user=: the documented opt-in."""
    limits = ResourceLimits(open_files=64)

    def scenario() -> dict[str, Any]:
        return _memory_scenario(
            lambda *a: run_attack(
                "memory_attack", *a, limits=limits, keep=[kept], allow_root_equivalent=True
            )
        )

    out = in_child(scenario)
    assert out["attack"]["environ"] == 0  # what the shedding closes by default
    assert out["attack"]["mem_write"] != 0  # Landlock still refuses the memory itself
    assert out["marker"] == "untouched-marker"


def test_keeping_sys_admin_without_user_needs_the_acknowledgement(in_child: Any) -> None:
    from hardenkit.errors import RootEquivalentError  # noqa: PLC0415

    with pytest.raises(RootEquivalentError, match="SYS_ADMIN"):
        run(["/bin/true"], keep=["CAP_SYS_ADMIN"])
    out = in_child.outcome(lambda: confine(keep=["CAP_SYS_ADMIN"]))
    assert out.exc_type == "RootEquivalentError", out.describe()
    # Without no_new_privs Landlock would need the CAP_SYS_ADMIN that is shed: refused.
    out = in_child.outcome(lambda: confine(no_new_privs=False, block_namespaces=False))
    assert out.exc_type == "SandboxError", out.describe()
    assert "CAP_SYS_ADMIN" in str(out.exc_message)
    # Kept by name, the isolated process enters Landlock without no_new_privs again.
    assert (
        in_child(
            lambda: (
                confine(
                    no_new_privs=False,
                    block_namespaces=False,
                    keep=["CAP_SYS_ADMIN"],
                    allow_root_equivalent=True,
                ).uid
            )
        )
        == 0
    )


def test_docker_profile_is_decided_without_the_shed_capabilities() -> None:
    """Docker grants mount/setns only with CAP_SYS_ADMIN, perf_event_open with CAP_PERFMON."""
    from hardenkit.sandbox import SeccompPolicy  # noqa: PLC0415
    from hardenkit.sandbox.confinement import prepare_confinement  # noqa: PLC0415

    def granted(**options: Any) -> set[str]:
        with prepare_confinement(seccomp=SeccompPolicy.docker_default(), **options) as plan:
            assert plan.seccomp_policy is not None
            rules = plan.seccomp_policy.rules
            return {
                n for n in ("mount", "setns", "perf_event_open") if any(n in r.names for r in rules)
            }

    assert granted() == set()
    assert granted(keep=["CAP_PERFMON"]) == {"perf_event_open"}
    kept = granted(keep=["CAP_SYS_ADMIN"], allow_root_equivalent=True)
    assert kept == {"mount", "setns", "perf_event_open"}
    assert granted(isolate=False) == kept  # no domain entered, nothing shed


def test_isolation_without_landlock_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    from hardenkit.sandbox import _prepare, confinement  # noqa: PLC0415

    monkeypatch.setattr(_prepare, "_landlock_abi", lambda: 0)
    with pytest.raises(SandboxError, match="isolate=False"):
        confinement.prepare_confinement(limits=ResourceLimits(open_files=64))
    with pytest.raises(SandboxError, match="isolate=False"):
        call_sandboxed(len, "abc")
    assert call_sandboxed(len, "abc", isolate=False) == 3


def test_signals_to_processes_outside_are_refused(in_child: Any) -> None:
    """ABI 6 scopes signals: the confined process cannot kill its caller's other children."""

    def scenario() -> list[int]:
        victim = subprocess.Popen(["/bin/sleep", "30"])
        try:
            out = []
            for isolate in (True, False):
                r, w = os.pipe()
                pid = os.fork()
                if pid == 0:
                    confine(isolate=isolate)
                    try:
                        os.kill(victim.pid, 0)
                        err = 0
                    except OSError as exc:
                        err = exc.errno or -1
                    os.write(w, str(err).encode())
                    os._exit(0)
                os.close(w)
                os.waitpid(pid, 0)
                out.append(int(os.read(r, 64)))
            return out
        finally:
            victim.kill()
            victim.wait()

    assert in_child(scenario) == [errno.EPERM, 0]


# --- 3: UNIX sockets outside the policy --------------------------------------------------


@pytest.fixture
def socket_beside_secret(nobody_tmp: Path) -> Iterator[dict[str, str]]:
    """inside/ (the policy), outside/secret and outside/srv.sock (listening), an abstract one."""
    inside = nobody_tmp / "inside"
    outside = nobody_tmp / "outside"
    inside.mkdir(mode=0o755)
    outside.mkdir(mode=0o755)
    inside.chmod(0o755)
    outside.chmod(0o755)
    secret = outside / "secret"
    secret.write_text("secret")
    secret.chmod(0o644)
    sock_path = str(outside / "srv.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dgram_path = str(outside / "dgram.sock")  # think /dev/log, journald, systemd's notify
    dsrv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    abstract = f"\0hardenkit-test-{os.getpid()}-{os.urandom(4).hex()}"
    asrv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        srv.bind(sock_path)
        os.chmod(sock_path, 0o777)  # noqa: S103 -- nobody must be able to connect
        srv.listen(64)
        asrv.bind(abstract)
        asrv.listen(64)
        dsrv.bind(dgram_path)
        os.chmod(dgram_path, 0o777)  # noqa: S103 -- nobody must be able to send
        yield {
            "inside": str(inside),
            "secret": str(secret),
            "sock": sock_path,
            "abs": abstract,
            "dgram": dgram_path,
        }
    finally:
        dsrv.close()
        srv.close()
        asrv.close()


def _unix_expectations(out: dict[str, int], *, named: bool = False) -> None:
    assert out["open"] == errno.EACCES  # Landlock: the file beside the socket
    if named:
        assert out["connect"] == 0  # allowed by naming it
    else:
        assert out["connect"] == errno.EACCES
        assert out["connect_high_bits"] == errno.EACCES
        assert out["io_uring"] != 0
        # A datagram socketpair could sendto() or re-connect() to the named socket.
        pair = {k: v for k, v in out.items() if k.startswith("SOCK_")}
        assert pair, out
        assert set(pair.values()) == {errno.EACCES}, pair
    assert out["abstract"] != 0  # scoped (ABI 6) or no AF_UNIX socket at all
    assert out["socketpair"] == 0  # still works


def test_control_unix_socket_reachable_without_policy(
    in_child: Any, socket_beside_secret: dict[str, str]
) -> None:
    s = socket_beside_secret
    out = in_child(lambda: unix_attack(s["secret"], s["sock"], s["abs"], s["dgram"]))
    assert out["open"] == out["connect"] == out["connect_high_bits"] == out["abstract"] == 0
    assert {k: v for k, v in out.items() if k.startswith("SOCK_")} == dict.fromkeys(
        ("SOCK_DGRAM_sendto", "SOCK_DGRAM_connect", "SOCK_RAW_sendto", "SOCK_RAW_connect"), 0
    )


@pytest.mark.parametrize("user", [None, "nobody"])
def test_call_sandboxed_cannot_connect_outside_the_policy(
    socket_beside_secret: dict[str, str], user: str | None
) -> None:
    s = socket_beside_secret
    policy = FilesystemPolicy(read=[s["inside"], "/usr"])
    out = call_sandboxed(
        unix_attack, s["secret"], s["sock"], s["abs"], s["dgram"], filesystem=policy, user=user
    )
    _unix_expectations(out)


def test_unprivileged_caller_cannot_connect_outside_the_policy(
    in_child: Any, socket_beside_secret: dict[str, str]
) -> None:
    s = socket_beside_secret
    policy = FilesystemPolicy(read=[s["inside"], "/usr"])

    def scenario() -> dict[str, int]:
        _become_nobody()
        return dict(
            call_sandboxed(
                unix_attack, s["secret"], s["sock"], s["abs"], s["dgram"], filesystem=policy
            )
        )

    _unix_expectations(in_child(scenario))


@pytest.mark.parametrize("user", [None, "nobody"])
@pytest.mark.usefixtures("spawn_path")
def test_run_cannot_connect_outside_the_policy(
    socket_beside_secret: dict[str, str], user: str | None
) -> None:
    s = socket_beside_secret
    policy = FilesystemPolicy(read=[s["inside"], "/usr"], execute=["/usr"])
    out = run_attack(
        "unix_attack", s["secret"], s["sock"], s["abs"], s["dgram"], filesystem=policy, user=user
    )
    _unix_expectations(out)


def test_confine_cannot_connect_outside_the_policy(
    in_child: Any, socket_beside_secret: dict[str, str]
) -> None:
    s = socket_beside_secret

    def child() -> dict[str, int]:
        confine(filesystem=FilesystemPolicy(read=[s["inside"], "/usr"]))
        return dict(unix_attack(s["secret"], s["sock"], s["abs"], s["dgram"]))

    _unix_expectations(in_child(child))


@pytest.mark.usefixtures("spawn_path")
def test_named_socket_is_reachable_and_abstract_ones_stay_scoped(
    socket_beside_secret: dict[str, str],
) -> None:
    s = socket_beside_secret
    policy = FilesystemPolicy(read=[s["inside"], "/usr"], execute=["/usr"], sockets=[s["sock"]])
    _unix_expectations(
        call_sandboxed(
            unix_attack, s["secret"], s["sock"], s["abs"], s["dgram"], filesystem=policy
        ),
        named=True,
    )
    out = run_attack("unix_attack", s["secret"], s["sock"], s["abs"], s["dgram"], filesystem=policy)
    _unix_expectations(out, named=True)
    assert out["abstract"] == -errno.EPERM  # connect() refused: Landlock ABI 6's scope


# --- 4: device nodes ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["block", "char"])
def test_write_does_not_grant_device_nodes(nobody_tmp: Path, kind: str) -> None:
    node = str(nobody_tmp / "disk")
    policy = FilesystemPolicy(read=["/usr"], write=[nobody_tmp])
    assert call_sandboxed(make_node, node, kind, filesystem=policy) == errno.EACCES
    # Named explicitly, a root child may make it (and keeps CAP_MKNOD for it).
    granted = FilesystemPolicy(read=["/usr"], write=[nobody_tmp], devices=[nobody_tmp])
    assert call_sandboxed(make_node, node, kind, filesystem=granted) == 0
    assert not os.path.exists(node)


def test_control_an_unconfined_root_child_makes_device_nodes(
    in_child: Any, nobody_tmp: Path
) -> None:
    assert in_child(make_node, str(nobody_tmp / "disk"), "block") == 0


@pytest.mark.usefixtures("spawn_path")
def test_run_root_child_makes_no_device_node(
    nobody_tmp: Path,
) -> None:
    node = nobody_tmp / "disk"
    policy = FilesystemPolicy(read=["/usr"], write=[nobody_tmp], execute=["/usr"])
    res = run(["/usr/bin/mknod", str(node), "b", "8", "0"], filesystem=policy)
    assert res.returncode != 0
    assert not node.exists()
    granted = FilesystemPolicy(
        read=["/usr"], write=[nobody_tmp], execute=["/usr"], devices=[nobody_tmp]
    )
    assert run(["/usr/bin/mknod", str(node), "b", "8", "0"], filesystem=granted).returncode == 0
    assert stat.S_ISBLK(node.lstat().st_mode)
    node.unlink()


def _caps(status: str) -> dict[str, int]:
    return {
        line.split(":")[0]: int(line.split()[1], 16)
        for line in status.splitlines()
        if line.startswith("Cap")
    }


def _read_status() -> str:
    with open("/proc/self/status", encoding="ascii") as fh:
        return fh.read()


@pytest.mark.usefixtures("spawn_path")
def test_confined_root_child_keeps_no_cap_mknod(
    in_child: Any,
) -> None:
    """Without user= the child keeps root, but not CAP_MKNOD (every set, bounding too)."""
    limits = ResourceLimits(open_files=64)
    seen = {
        "run": _caps(run(["/bin/cat", "/proc/self/status"], limits=limits).stdout.decode()),
        "call_sandboxed": _caps(call_sandboxed(_read_status)),
    }

    def confined() -> str:
        confine(limits=limits)
        with open("/proc/self/status", encoding="ascii") as fh:
            return fh.read()

    seen["confine"] = _caps(in_child(confined))
    for where, caps in seen.items():
        for cap in (CAP_MKNOD, CAP_SYS_ADMIN, CAP_PERFMON):  # isolation sheds the last two
            held = {k for k, v in caps.items() if v >> cap & 1}
            assert held == set(), f"{where}: capability {cap} in {held}"
        assert caps["CapEff"] >> CAP_DAC_OVERRIDE & 1  # still root otherwise
    # Kept by name (the one capability keep= may name without user=), it stays.
    kept = run(["/bin/cat", "/proc/self/status"], limits=limits, keep=["CAP_MKNOD"])
    assert _caps(kept.stdout.decode())["CapEff"] >> CAP_MKNOD & 1
    with pytest.raises(SandboxError, match="only name CAP_MKNOD, CAP_SYS_ADMIN or CAP_PERFMON"):
        run(["/bin/true"], limits=limits, keep=["CAP_MKNOD", "CAP_NET_RAW"])
    # Named through devices=, the run() child keeps it.
    granted = FilesystemPolicy(read=["/"], devices=["/tmp"], execute=["/usr", "/bin"])
    caps = _caps(run(["/bin/cat", "/proc/self/status"], filesystem=granted).stdout.decode())
    assert caps["CapEff"] >> CAP_MKNOD & 1


def test_no_device_nodes_without_a_filesystem_policy(in_child: Any) -> None:
    def child() -> int:
        confine()
        return make_node(f"/tmp/.hardenkit-test-node-{os.getpid()}", "char")

    assert in_child(child) == errno.EACCES


# --- 7: executing anonymous files --------------------------------------------------------


def _exec_policy(tmpdir: str) -> FilesystemPolicy:
    # The dynamic loader is needed for any dynamic binary; /usr/bin/true is the allowed one.
    return FilesystemPolicy(
        read=["/usr", "/etc", "/proc", tmpdir],
        write=[tmpdir],
        execute=["/usr/bin/true", LDSO, PYTHON, os.path.realpath(PYTHON)],
    )


STATIC = "/sbin/ldconfig"  # static-pie: needs no loader
DYNAMIC = "/usr/bin/id"
VARIANTS = [
    ("memfd", "fexecve"),
    ("memfd", "proc"),
    ("memfd", "execveat"),
    ("file", "fexecve"),
    ("file", "execveat"),
    ("opath", "execveat"),
    ("opath", "fexecve"),
    ("tmpfile", "fexecve"),
]


@pytest.mark.parametrize(("how", "via"), VARIANTS)
def test_control_anonymous_exec_works_unconfined(
    in_child: Any, nobody_tmp: Path, how: str, via: str
) -> None:
    assert in_child(exec_attack, how, via, STATIC, str(nobody_tmp))[0] == "ran"


@pytest.mark.parametrize("src", [STATIC, DYNAMIC])
@pytest.mark.parametrize(("how", "via"), VARIANTS)
def test_call_sandboxed_executes_nothing_outside_execute(
    nobody_tmp: Path, how: str, via: str, src: str
) -> None:
    out = call_sandboxed(
        exec_attack, how, via, src, str(nobody_tmp), filesystem=_exec_policy(str(nobody_tmp))
    )
    assert out[0] == "refused", out


@pytest.mark.parametrize("where", ["/dev/shm", "tmp"])
def test_written_files_do_not_execute(nobody_tmp: Path, where: str) -> None:
    tmpdir = str(nobody_tmp) if where == "tmp" else where
    policy = FilesystemPolicy(read=["/usr", tmpdir], write=[tmpdir], execute=["/usr/bin/true"])
    out = call_sandboxed(exec_attack, "file", "proc", STATIC, tmpdir, filesystem=policy)
    assert out[0] == "refused", out
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(tmpdir):
            if name.startswith("payload-"):
                os.unlink(os.path.join(tmpdir, name))


@pytest.mark.parametrize(("how", "via"), [v for v in VARIANTS if v[0] == "memfd"])
@pytest.mark.usefixtures("spawn_path")
def test_run_executes_no_memfd(nobody_tmp: Path, how: str, via: str) -> None:
    out = run_attack(
        "exec_attack", how, via, STATIC, str(nobody_tmp), filesystem=_exec_policy(str(nobody_tmp))
    )
    assert out[0] == "refused", out


@pytest.mark.parametrize("caller", CALLERS)
def test_confine_executes_no_memfd(in_child: Any, nobody_tmp: Path, caller: str) -> None:
    def child() -> list[Any]:
        confine(filesystem=_exec_policy(str(nobody_tmp)))
        return [exec_attack("memfd", via, STATIC, str(nobody_tmp)) for via in ("fexecve", "proc")]

    for out in _in_caller(in_child, caller, child):
        assert out[0] == "refused", out


def test_sealed_memfd_is_allowed_but_never_executable() -> None:
    out = call_sandboxed(sealed_memfd, filesystem=FilesystemPolicy(read=["/usr"]))
    assert out["chmod"] == errno.EPERM  # F_SEAL_EXEC
    assert out["exec"] == errno.EACCES


def test_memfd_left_alone_when_execute_is_not_restricted() -> None:
    policy = FilesystemPolicy(read=["/"], execute=["/"])
    assert (
        call_sandboxed(exec_attack, "memfd", "fexecve", STATIC, "/tmp", filesystem=policy)[0]
        == "ran"
    )


def test_python_binary_is_where_the_tests_expect() -> None:
    assert shutil.which(PYTHON) == PYTHON, "the run() attacks need /usr/bin/python3"
    assert os.path.exists(LDSO)
    assert sys.platform.startswith("linux")


# --- the isolation is verified from the kernel's side ------------------------------------


def test_helper_path_catches_a_skipped_isolation_domain(
    monkeypatch: pytest.MonkeyPatch, nobody_tmp: Path
) -> None:
    """The helper's mknod probe must fail with EACCES; without the domain it does not."""
    monkeypatch.setattr(spawn_run, "FORCE_PATH", "helper")
    # the sabotage under test: the filesystem domain is never entered
    hit = sabotage_helper_steps(monkeypatch, "landlock_restrict_self")
    marker = nobody_tmp / "ran"
    with pytest.raises(SandboxError, match="Landlock is not in force: a device node"):
        run(["/bin/sh", "-c", f"touch {marker}"], limits=ResourceLimits(open_files=64))
    assert hit
    assert not marker.exists()


def test_python_path_catches_a_skipped_isolation_domain(
    in_child: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hardenkit.sandbox.landlock import LandlockPlan  # noqa: PLC0415

    monkeypatch.setattr(LandlockPlan, "enforce", lambda _self: None)

    def child() -> str:
        try:
            confine(limits=ResourceLimits(open_files=64))
        except SandboxError as err:
            return str(err)
        return "confined without a domain"

    assert "Landlock is not in force: a device node" in in_child(child)
    with pytest.raises(SandboxError, match="Landlock is not in force"):
        call_sandboxed(len, "abc")


@pytest.mark.parametrize("kind", ["mmap", "sysv"])
def test_control_map_files_exec_works_unconfined(in_child: Any, kind: str) -> None:
    assert in_child(map_files_exec, STATIC, kind)[0] == "ran"


@pytest.mark.parametrize("kind", ["mmap", "sysv"])
@pytest.mark.parametrize("user", [None, "nobody"])
def test_no_exec_through_map_files(kind: str, user: str | None) -> None:
    """A child keeping CAP_SYS_ADMIN could open /proc/self/map_files and execute shmem."""
    policy = FilesystemPolicy(read=["/usr", "/proc"], execute=["/usr/bin/true", LDSO])
    out = call_sandboxed(map_files_exec, STATIC, kind, filesystem=policy, user=user)
    assert out[0] == "refused", out


def test_run_async_child_is_isolated_too(in_child: Any) -> None:
    import asyncio  # noqa: PLC0415

    from hardenkit.spawn import run_async  # noqa: PLC0415

    def scenario() -> dict[str, Any]:
        def attack(*a: Any) -> dict[str, int]:
            cmd = [PYTHON, "-I", "-c", ATTACKS, "memory_attack", json.dumps(a)]
            res = asyncio.run(run_async(cmd, limits=ResourceLimits(open_files=64)))
            return dict(json.loads(res.stdout))

        return _memory_scenario(attack)

    _assert_all_refused(in_child(scenario))
