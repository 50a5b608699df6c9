"""Regressions from the adversarial review of the network promises, on both spawn paths.

- another uid that fills the abstract probe target's queues neither hangs nor fails the
  probe (it used to be a stream listener with a backlog of 1: a blocking connect on the
  fork path, EAGAIN through the helper);
- a port list covering the usual probe ports (65001-65535) still gets a refused port
  probed, and a list of every port none (it used to be a bare StopIteration);
- a root child under a NetworkPolicy loses CAP_NET_ADMIN (no TAP device on /dev/net/tun);
- the helper's report bound does not wrap (4096 socket probes wrote past its buffer).
"""

from __future__ import annotations

import ctypes
import errno
import os
import pwd
import select
import signal
import socket
import struct
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit._linux import exec_helper as xh
from hardenkit.sandbox import NetworkPolicy, call_sandboxed, confine
from hardenkit.sandbox.landlock import landlock_abi
from hardenkit.sandbox.network import NetworkPlan, network_filter
from hardenkit.sandbox.seccomp import apply_seccomp
from hardenkit.spawn import _helper_net, _run as spawn_run, run

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.conftest import InChild

pytestmark = [pytest.mark.linux, pytest.mark.root, pytest.mark.seccomp, pytest.mark.landlock]

PY = "/usr/bin/python3"  # ~/.pyenv is mode 700: nobody runs the system Python
PATHS = ["helper", "fork"]
_TUNSETIFF = 0x400454CA
_IFF_TAP_NO_PI = 0x0002 | 0x1000


def _unused_uid() -> int:
    taken = {p.pw_uid for p in pwd.getpwall()}
    return next(uid for uid in range(47100, 47200) if uid not in taken)


@pytest.fixture
def force(monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], None]:
    def set_path(path: str | None) -> None:
        monkeypatch.setattr(spawn_run, "FORCE_PATH", path)

    return set_path


# --- 1. an outsider filling the abstract probe target ------------------------------------


def _fill(name: bytes) -> tuple[list[socket.socket], int]:
    """Fill every queue of the abstract socket ``name``: stream backlog, datagram queue."""
    held: list[socket.socket] = []
    reached = 0
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        for _ in range(16):
            s = socket.socket(socket.AF_UNIX, kind | socket.SOCK_NONBLOCK)
            held.append(s)
            try:
                s.connect(name)
            except OSError:
                break  # the backlog is full, or the socket is of the other type
            reached += 1
            if kind == socket.SOCK_DGRAM:
                _send_until_full(s)
                break
    return held, reached


def _send_until_full(s: socket.socket) -> None:
    try:
        for _ in range(10000):
            s.send(b"x")
    except OSError:
        pass  # EAGAIN: the receive queue is full


def _outsider() -> tuple[int, int, int]:
    """Fork a process of another uid that floods the name it is sent: (pid, name_w, ready_r).

    It writes how many of its connects reached the target once the queues are full, and
    holds its connections until ``name_w`` is closed.
    """
    name_r, name_w = os.pipe()
    ready_r, ready_w = os.pipe()
    uid = _unused_uid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- the outsider
        code = 1
        try:
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            os.close(name_w)
            os.close(ready_r)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            name = os.read(name_r, 200)
            held, reached = _fill(name)
            os.write(ready_w, str(reached).encode())
            os.read(name_r, 1)  # holds its connections until the other end closes
            del held
            code = 0
        finally:
            os._exit(code)
    os.close(name_r)
    os.close(ready_w)
    return pid, name_w, ready_r


def _await_flood(ready_r: int) -> int:
    ready, _, _ = select.select([ready_r], [], [], 20)
    assert ready, "the outsider did not answer"
    answer = os.read(ready_r, 32)
    assert answer, "the outsider died"
    return int(answer)


def _stop(pid: int, *fds: int) -> None:
    for fd in fds:
        os.close(fd)  # name_w: the outsider's cue to exit (a scoped child cannot signal it)
    os.waitpid(pid, 0)


def _probe_while_flooded() -> int:
    """Fork path: NetworkPlan's own probe, its target flooded from outside in between."""
    pid, name_w, ready_r = _outsider()  # forked before the domain: it stays outside
    try:
        plan = NetworkPlan(NetworkPolicy.unix(), abi=landlock_abi())
        assert plan.abstract_probe
        plan.enforce_landlock()
        apply_seccomp(network_filter(plan.policy))  # as compile_steps: then the probes
        os.write(name_w, plan._abstract.getsockname())  # type: ignore[union-attr]
        reached = _await_flood(ready_r)
        plan.probe()  # used to block forever in connect() (a full backlog)
    finally:
        _stop(pid, name_w, ready_r)
    return reached


def test_a_flooded_abstract_target_neither_hangs_nor_fails_the_fork_path_probe(
    in_child: InChild,
) -> None:
    assert in_child(_probe_while_flooded, timeout=30) >= 1  # the outsider reached it


def _abstract_name(pid: int) -> bytes:
    """The abstract name bound by a socket of process ``pid`` (from /proc/net/unix)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    with open("/proc/net/unix") as table:
        for line in table.read().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 7 and fields[6] in inodes and fields[7].startswith("@"):
                return b"\0" + fields[7][1:].encode()
    raise AssertionError("the helper has no abstract socket")


@pytest.mark.exec_helper
def test_a_flooded_abstract_target_does_not_fail_the_helper_probe() -> None:
    from hardenkit.spawn import _locate  # noqa: PLC0415

    helper, why = _locate.locate()
    assert helper is not None, why
    plan = NetworkPlan(NetworkPolicy.unix(), abi=landlock_abi())
    probe = next(p for p in _helper_net.probes(plan) if p[5] == "abstract UNIX connect")
    assert plan.ruleset is not None
    net_fd = plan.ruleset.create()
    script = xh.Script()
    script.add(xh.OP_ABSTRACT_LISTEN, "target")
    script.add(xh.OP_SYNC, "pause: the outsider floods the target")
    script.add(xh.OP_LANDLOCK, "network domain", net_fd)
    index = script.add(xh.OP_PROBE_SOCKET, "abstract connect", *probe[:4])
    script.add(xh.OP_SYNC, "report")
    ours, theirs = socket.socketpair()
    pid, name_w, ready_r = _outsider()
    try:
        proc = subprocess.Popen(
            [helper, str(theirs.fileno()), "/bin/true", "true"],
            pass_fds=(theirs.fileno(), net_fd),
        )
        theirs.close()
        os.close(net_fd)
        ours.sendall(script.encode())
        first = xh.read_frame(ours, time.monotonic() + 10)
        assert first is not None
        assert first[0] == xh.FRAME_REPORT
        os.write(name_w, _abstract_name(proc.pid))
        assert _await_flood(ready_r) >= 1
        ours.sendall(b"G")
        second = xh.read_frame(ours, time.monotonic() + 10)
        assert second is not None
        assert second[0] == xh.FRAME_REPORT, second
        got = struct.unpack("<ii", xh.parse_records(second[1])[index])
        ours.sendall(b"G")
        assert proc.wait(10) == 0
    finally:
        ours.close()
        _stop(pid, name_w, ready_r)
    assert got == (0, errno.EPERM)  # the scope's answer, not EAGAIN from a full backlog


_WATCH_SECONDS = 8.0
_SPAWNS = 8


def _watcher(stop_r: int) -> None:  # pragma: no cover -- runs in the outsider
    """Connect to every new abstract socket in /proc/net/unix, as the review's attacker."""
    seen: set[str] = set()
    held: list[socket.socket] = []
    while not select.select([stop_r], [], [], 0)[0]:
        with open("/proc/net/unix") as table:
            names = {f[7] for f in (ln.split() for ln in table) if len(f) > 7 and f[7][:1] == "@"}
        for path in names - seen:
            held += _fill(b"\0" + path[1:].encode())[0]
        seen |= names
        if len(held) > 500:
            for s in held[:250]:
                s.close()
            del held[:250]


@pytest.mark.exec_helper
@pytest.mark.parametrize("path", PATHS)
def test_run_under_an_abstract_socket_watcher_neither_hangs_nor_fails(
    path: str, force: Callable[[str | None], None]
) -> None:
    force(path)
    uid = _unused_uid()
    stop_r, stop_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- the outsider
        try:
            os.close(stop_w)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            _watcher(stop_r)
        finally:
            os._exit(0)
    os.close(stop_r)
    errors: list[BaseException] = []

    def spawns() -> None:
        try:
            for _ in range(_SPAWNS):
                r = run([PY, "-c", "pass"], network=NetworkPolicy.unix(), user="nobody", timeout=5)
                assert r.returncode == 0, r.stderr
        except BaseException as err:  # reported by the test below
            errors.append(err)

    try:
        worker = threading.Thread(target=spawns, daemon=True)  # a hang must not hang pytest
        worker.start()
        worker.join(_SPAWNS * _WATCH_SECONDS)
        assert not worker.is_alive(), "run() hung (timeout=5 was not kept)"
        assert not errors, errors[0]
    finally:
        os.close(stop_w)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# --- 2. port lists covering the probe ports -------------------------------------------------


@pytest.mark.parametrize("direction", ["bind", "connect"])
def test_a_port_list_covering_the_probe_ports_still_probes_a_refused_port(
    direction: str, in_child: InChild, force: Callable[[str | None], None]
) -> None:
    ports: dict[str, Any] = {direction: range(65001, 65536)}
    high = NetworkPolicy(families=["AF_INET"], **ports)
    plan = NetworkPlan(high, abi=landlock_abi())
    port = getattr(plan, f"_{direction}_probe")
    assert port is not None
    assert port not in range(65001, 65536)
    ports = {direction: range(1, 65536)}
    every = NetworkPlan(NetworkPolicy(families=["AF_INET"], **ports), abi=landlock_abi())
    assert getattr(every, f"_{direction}_probe") is None  # nothing is refused: no probe
    for path in PATHS:
        force(path)
        assert run(["/bin/true"], network=high, timeout=30).returncode == 0

    def child() -> str:
        confine(network=high)
        return "confined"

    assert in_child(child) == "confined"


# --- 3. network administration capabilities ----------------------------------------------

_TUN = r"""
import errno, fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
try:
    fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", b"hktest%d", 0x1002))
except OSError as err:
    print(errno.errorcode[err.errno])
else:
    print("ok")
"""

needs_tun = pytest.mark.skipif(
    not os.path.exists("/dev/net/tun"), reason="/dev/net/tun is absent (no TUN driver)"
)


def _tun() -> str:
    """TUNSETIFF for a non-persistent TAP device (gone when the descriptor closes)."""
    import fcntl  # noqa: PLC0415

    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", b"hktest%d", _IFF_TAP_NO_PI))
    except OSError as err:
        return errno.errorcode[err.errno or 0]
    finally:
        os.close(fd)
    return "ok"


@needs_tun
@pytest.mark.exec_helper
@pytest.mark.parametrize("path", PATHS)
def test_a_root_child_under_a_network_policy_cannot_make_a_tap_device(
    path: str, force: Callable[[str | None], None]
) -> None:
    force(path)
    r = run([PY, "-c", _TUN], network=NetworkPolicy.none(), timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "EPERM"
    kept = run([PY, "-c", _TUN], network=NetworkPolicy.none(), keep=["CAP_NET_ADMIN"], timeout=30)
    assert kept.stdout.decode().strip() == "ok"  # keep= names it: kept knowingly


@needs_tun
def test_confine_and_call_sandboxed_shed_network_administration(in_child: InChild) -> None:
    def child() -> str:
        confine(network=NetworkPolicy.none())
        return _tun()

    assert in_child(child) == "EPERM"
    assert call_sandboxed(_tun, network=NetworkPolicy.unix()) == "EPERM"
    assert call_sandboxed(_tun) == "ok"  # without a network policy nothing changes


def _net_caps(policy: list[str]) -> dict[str, object]:
    confine(network=NetworkPolicy.parse(policy))
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    held = int(fields["CapEff"], 16) | int(fields["CapPrm"], 16) | int(fields["CapBnd"], 16)
    caps = {name: bool(held >> bit & 1) for name, bit in (("bind_service", 10), ("admin", 12))}
    caps |= {"raw": bool(held >> 13 & 1), "bpf": bool(held >> 39 & 1)}
    bound = "none"
    if "bind=79" in policy:
        with socket.socket() as s:
            s.bind((b"127.0.0.1", 79))  # below 1024: CAP_NET_BIND_SERVICE
            bound = "bound"
    return caps | {"bound": bound}


def test_which_network_capabilities_are_shed(in_child: InChild) -> None:
    off = {"admin": False, "raw": False, "bpf": False}
    assert in_child(_net_caps, ["none"]) == off | {"bind_service": False, "bound": "none"}
    binds = in_child(_net_caps, ["bind=79"])
    assert binds == off | {"bind_service": True, "bound": "bound"}  # a root service binds


def test_keep_names_network_capabilities_only_under_a_network_policy() -> None:
    from hardenkit.errors import SandboxError  # noqa: PLC0415
    from hardenkit.sandbox.confinement import prepare_confinement  # noqa: PLC0415

    with prepare_confinement(network=NetworkPolicy.none(), keep=["CAP_NET_RAW"]) as plan:
        assert not plan.shed_caps >> 13 & 1
        assert plan.shed_caps >> 12 & 1
    with prepare_confinement(network=NetworkPolicy.parse(["bind=80"]), keep=["NET_BIND_SERVICE"]):
        pass
    with pytest.raises(SandboxError, match="keep= may only name"):
        prepare_confinement(keep=["CAP_NET_RAW"])


# --- 4. the helper's report bound -----------------------------------------------------------


@pytest.mark.exec_helper
def test_a_report_larger_than_the_helper_buffer_fails_cleanly() -> None:
    from hardenkit.spawn import _locate  # noqa: PLC0415

    helper, why = _locate.locate()
    assert helper is not None, why
    script = xh.Script()
    for _ in range(4100):  # 16 bytes each: the 4097th passes the 64 KiB report buffer
        script.add(xh.OP_PROBE_SOCKET, "pair", _helper_net.NET_PAIR, 1, 1, 0)
    script.add(xh.OP_SYNC, "report")
    ours, theirs = socket.socketpair()
    with ours:
        proc = subprocess.Popen(
            [helper, str(theirs.fileno()), "/bin/true", "true"], pass_fds=(theirs.fileno(),)
        )
        theirs.close()
        ours.sendall(script.encode())
        frame = xh.read_frame(ours, time.monotonic() + 20)
        status = proc.wait(20)
    assert status == 127  # not -SIGABRT (_FORTIFY_SOURCE) nor a write past the buffer
    assert frame is not None
    assert frame[0] == xh.FRAME_FAILED
    assert struct.unpack("<Ii", frame[1]) == (4096, errno.ENOSPC)


# --- 5. the signal scope of a dropped child -----------------------------------------------


def _signal_a_same_uid_outsider(*, scope: bool) -> str:
    """As nobody, signal a nobody process started outside the sandbox (no uid check to hide
    behind: only the Landlock signal scope can refuse it)."""
    nobody = pwd.getpwnam("nobody")
    wait_r, wait_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- the target
        try:
            os.close(wait_w)
            os.setgroups([])
            os.setresgid(nobody.pw_gid, nobody.pw_gid, nobody.pw_gid)
            os.setresuid(nobody.pw_uid, nobody.pw_uid, nobody.pw_uid)
            os.read(wait_r, 1)  # until the sandboxed side closes its end
        finally:
            os._exit(0)
    os.close(wait_r)
    confine(user="nobody", network=NetworkPolicy.none(scope=scope))
    try:
        os.kill(pid, 0)
    except PermissionError:
        answer = "EPERM"
    else:
        answer = "delivered"
    os.close(wait_w)
    os.waitpid(pid, 0)
    return answer


def test_the_signal_scope_holds_for_a_dropped_child(in_child: InChild) -> None:
    assert in_child(_signal_a_same_uid_outsider, scope=True) == "EPERM"
    assert in_child(_signal_a_same_uid_outsider, scope=False) == "delivered"
