"""run(network=...) through the compiled exec helper confines exactly as the Python fork path.

Each mode runs one probe program (the system python3, so ``nobody`` can start it) through
both paths, as root and as nobody, against loopback listeners this test starts; the
answers must be the documented errnos and identical on both paths. Then: the helper path
is the one taken by default, and a report that is missing, tampered with, or built
without the network steps fails closed (an error, and the command never ran).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import struct
from typing import TYPE_CHECKING, Any

import pytest
from tests._helpers import sabotage_helper_steps

from hardenkit._linux import exec_helper as xh
from hardenkit.errors import SandboxError
from hardenkit.sandbox import FilesystemPolicy, NetworkPolicy, SeccompPolicy
from hardenkit.sandbox.confinement import prepare_confinement
from hardenkit.spawn import CommandPolicy, _helper, _helper_net, _run as spawn_run, run

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tests.conftest import InChild

pytestmark = [
    pytest.mark.linux,
    pytest.mark.root,
    pytest.mark.seccomp,
    pytest.mark.landlock,
    pytest.mark.exec_helper,
]

PY = "/usr/bin/python3"  # ~/.pyenv is mode 700: nobody runs the system Python
SH = CommandPolicy(["sh"])
PATHS = ["helper", "fork"]
USERS = [None, "nobody"]
#: argv: allowed port, other port, a free port, abstract name, unix socket path.
_PROBE = r"""
import ctypes, errno, json, os, socket, sys
allowed, other, free = (int(a) for a in sys.argv[1:4])
abstract, path = sys.argv[4].encode(), sys.argv[5]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
HIGH = 1 << 32
FLAGS = socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC

def name(fn):
    try:
        fn()
    except OSError as err:
        return errno.errorcode.get(err.errno or 0, str(err))
    return "ok"

def sock(family, kind):
    socket.socket(family, kind).close()

def raw(family, kind):
    fd = libc.syscall(ctypes.c_long(41), ctypes.c_ulong(family), ctypes.c_ulong(kind),
                      ctypes.c_ulong(0))
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    os.close(fd)
    return "ok"

def io_uring():
    fd = libc.syscall(ctypes.c_long(425), ctypes.c_ulong(4), ctypes.create_string_buffer(120))
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    os.close(fd)
    return "ok"

def connect(port, family=socket.AF_INET, host=b"127.0.0.1"):
    with socket.socket(family) as s:
        s.settimeout(5)
        s.connect((host, port))

def bind(port):
    with socket.socket() as s:
        s.bind((b"127.0.0.1", port))

def listen_unbound():
    with socket.socket() as s:
        s.listen(1)

def fastopen(port):
    with socket.socket() as s:  # a TCP Fast Open connect without connect()
        s.sendto(b"x", socket.MSG_FASTOPEN, (b"127.0.0.1", port))

def unix_connect(addr):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(addr)

print(json.dumps({
    "inet": name(lambda: sock(socket.AF_INET, socket.SOCK_STREAM)),
    "inet6": name(lambda: sock(socket.AF_INET6, socket.SOCK_STREAM)),
    "unix": name(lambda: sock(socket.AF_UNIX, socket.SOCK_STREAM)),
    "netlink": name(lambda: sock(socket.AF_NETLINK, socket.SOCK_DGRAM)),
    "udp": name(lambda: sock(socket.AF_INET, socket.SOCK_DGRAM)),
    "socketpair": name(lambda: [s.close() for s in socket.socketpair()]),
    "dgram_pair": name(lambda: [s.close() for s in socket.socketpair(type=socket.SOCK_DGRAM)]),
    "connect_allowed": name(lambda: connect(allowed)),
    "connect_other": name(lambda: connect(other)),
    "fastopen_other": name(lambda: fastopen(other)),
    "bind_free": name(lambda: bind(free)),
    "listen_unbound": name(listen_unbound),
    "io_uring": io_uring(),
    "inet_high_bits": raw(socket.AF_INET | HIGH, socket.SOCK_STREAM),
    "unix_high_bits": raw(socket.AF_UNIX | HIGH, socket.SOCK_STREAM | FLAGS),
    "dgram_high": raw(socket.AF_INET, socket.SOCK_DGRAM | HIGH),
    "abstract": name(lambda: unix_connect(b"\0" + abstract)),
    "unix_path": name(lambda: unix_connect(path)),
}))
"""


@pytest.fixture
def force(monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], None]:
    def set_path(path: str | None) -> None:
        monkeypatch.setattr(spawn_run, "FORCE_PATH", path)

    return set_path


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two TCP listeners, a free port, an abstract and a pathname UNIX listener."""
    socks = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        socks.append(s)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    name = "hardenkit-nethelper-" + os.urandom(6).hex()
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(b"\0" + name.encode())
    abstract.listen(64)
    folder = tmp_path_factory.mktemp("sock")
    for parent in [folder, *folder.parents]:  # nobody must reach the socket
        if str(parent) == "/tmp":
            break
        parent.chmod(parent.stat().st_mode | 0o755)
    path = str(folder / "s.sock")
    named = socket.socket(socket.AF_UNIX)
    named.bind(path)
    os.chmod(path, 0o777)  # noqa: S103 -- nobody must be able to connect
    named.listen(64)
    socks += [abstract, named]
    yield [str(p) for p in (socks[0].getsockname()[1], socks[1].getsockname()[1], free)] + [
        name,
        path,
    ]
    for s in socks:
        s.close()


def _probe(
    force: Callable[[str | None], None], path: str, targets: list[str], **options: Any
) -> dict[str, str]:
    force(path)
    r = run([PY, "-c", _PROBE, *targets], timeout=30, **options)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    got: dict[str, str] = json.loads(r.stdout)
    return got


def _both(
    force: Callable[[str | None], None], targets: list[str], **options: Any
) -> dict[str, str]:
    """The probe's answers through the helper, which must equal the fork path's."""
    helper = _probe(force, "helper", targets, **options)
    fork = _probe(force, "fork", targets, **options)
    assert helper == fork
    return helper


def _modes(allowed: int, free: int) -> dict[str, tuple[NetworkPolicy, dict[str, str]]]:
    """Per mode: the policy and the documented answers (root and nobody alike)."""
    no = "EAFNOSUPPORT"
    refused_all = dict.fromkeys(
        ("inet", "inet6", "netlink", "udp", "connect_allowed", "connect_other", "bind_free"), no
    )
    refused_all |= {"listen_unbound": no, "inet_high_bits": no, "dgram_high": no}
    return {
        "none": (
            NetworkPolicy.none(),
            refused_all
            | dict.fromkeys(("unix", "unix_high_bits", "abstract", "unix_path", "dgram_pair"), no)
            | {"socketpair": "ok", "io_uring": "EPERM"},
        ),
        "unix": (
            NetworkPolicy.unix(),
            refused_all
            | {"unix": "ok", "unix_high_bits": "ok", "socketpair": "ok", "dgram_pair": "ok"}
            | {"abstract": "EPERM", "unix_path": "ok", "io_uring": "EPERM"},
        ),
        "connect": (
            NetworkPolicy.parse([f"connect={allowed}"]),
            {"inet": "ok", "inet6": "ok", "unix": "ok", "connect_allowed": "ok"}
            | {"connect_other": "EACCES", "fastopen_other": "EACCES", "udp": no}
            | {"dgram_high": no, "netlink": no}
            | {"inet_high_bits": "ok", "bind_free": "ok", "io_uring": "EPERM"},
        ),
        "bind": (
            NetworkPolicy(families=["AF_INET"], bind=[free], connect=[allowed]),
            {"bind_free": "ok", "connect_allowed": "ok", "connect_other": "EACCES"}
            | {"inet6": no, "unix": no, "udp": no, "listen_unbound": "ok"},
        ),
        "no_bind": (
            NetworkPolicy(families=["AF_INET", "AF_INET6"], bind=(), connect=[allowed]),
            {"bind_free": "EACCES", "listen_unbound": "EACCES", "connect_allowed": "ok"}
            | {"connect_other": "EACCES", "unix": no},
        ),
        "udp": (
            NetworkPolicy(families=["AF_INET"], udp=True),
            {"udp": "ok", "dgram_high": "ok", "connect_allowed": "ok", "connect_other": "ok"}
            | {"inet6": no, "unix": no, "io_uring": "EPERM"},
        ),
    }


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("mode", ["none", "unix", "connect", "bind", "no_bind", "udp"])
def test_each_mode_confines_alike_on_both_paths(
    mode: str, user: str | None, force: Callable[[str | None], None], targets: list[str]
) -> None:
    policy, expected = _modes(int(targets[0]), int(targets[2]))[mode]
    got = _both(force, targets, network=policy, user=user)
    assert {k: got[k] for k in expected} == expected


def test_keep_scope_reaches_abstract_sockets(
    force: Callable[[str | None], None], targets: list[str]
) -> None:
    # Signals are not probed here: as root, run() starts the child in a PID namespace.
    got = _both(force, targets, network=NetworkPolicy.unix(scope=False))
    assert got["abstract"] == "ok"


def test_a_unix_path_outside_the_filesystem_policy_stays_unreachable(
    force: Callable[[str | None], None], targets: list[str]
) -> None:
    fs = FilesystemPolicy(read=["/usr", "/etc", "/lib", "/lib64", "/bin"], execute=["/usr"])
    for user in USERS:
        got = _both(force, targets, network=NetworkPolicy.unix(), filesystem=fs, user=user)
        assert got["unix_path"] == got["unix"] == "EACCES"  # the filesystem guard
        assert got["socketpair"] == "ok"
        assert got["inet"] == "EAFNOSUPPORT"


#: mov eax, 102 (socketcall); mov ebx, 1 (SYS_SOCKET); xor ecx, ecx; int 0x80; ret
_SOCKETCALL = (
    "import ctypes, mmap\n"
    "m = mmap.mmap(-1, 4096, prot=7)\n"
    "m.write(bytes.fromhex('b866000000bb0100000031c9cd80c3'))\n"
    "f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))\n"
    "print(f())\n"
)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="i386 ABI test for x86_64")
@pytest.mark.parametrize("path", PATHS)
def test_i386_socketcall_is_killed_on_both_paths(
    path: str, force: Callable[[str | None], None]
) -> None:
    force(path)
    x86 = SeccompPolicy(default="allow", arches=["SCMP_ARCH_X86"])
    r = run([PY, "-c", _SOCKETCALL], seccomp=x86)
    assert r.stdout.strip() == str(-14).encode()  # EFAULT: the i386 ABI is reachable
    for network in (NetworkPolicy.none(), NetworkPolicy.unix()):
        r = run([PY, "-c", _SOCKETCALL], seccomp=x86, network=network, user="nobody")
        assert r.returncode == -signal.SIGSYS, r.stderr


def test_the_helper_path_is_taken_for_network_policies(
    monkeypatch: pytest.MonkeyPatch, force: Callable[[str | None], None], targets: list[str]
) -> None:
    force(None)  # let run() choose
    monkeypatch.delenv(xh.DISABLE_ENV, raising=False)
    started: list[object] = []
    real = _helper.spawn

    def spy(*args: Any, **kwargs: Any) -> Any:
        proc = real(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(_helper, "spawn", spy)
    for policy, _expected in _modes(int(targets[0]), int(targets[2])).values():
        for user in USERS:
            with prepare_confinement(user=user, network=policy) as plan:
                assert _helper.why_not(plan) is None
            r = run(["/bin/true"], network=policy, user=user)
            assert r.returncode == 0
    assert len(started) == 12
    assert all(proc is not None for proc in started)


@pytest.mark.parametrize(
    ("step", "policy", "reason"),
    [
        ("(network rules)", NetworkPolicy(families=["AF_INET"], connect=[443]), "connect rules"),
        ("(network rules)", NetworkPolicy(families=["AF_INET"], bind=[8080]), "bind rules are"),
        ("(network rules)", NetworkPolicy.unix(), "abstract UNIX socket scope is not in"),
        ("abstract UNIX name", NetworkPolicy.unix(), "abstract UNIX connect failed"),
        ("of the network filter", NetworkPolicy.none(), "a AF_INET socket could be"),
        (
            "of the network filter",
            NetworkPolicy.parse(["connect=443"]),
            "AF_NETLINK socket failed",
        ),
        ("network probe: AF_INET", NetworkPolicy.none(), "lacks the network probe"),
        ("signal to the parent", NetworkPolicy.none(), "lacks the signal scope probe"),
    ],
)
@pytest.mark.parametrize("user", USERS)
def test_a_skipped_network_step_is_caught(  # noqa: PLR0917 -- parametrized
    step: str,
    policy: NetworkPolicy,
    reason: str,
    user: str | None,
    monkeypatch: pytest.MonkeyPatch,
    force: Callable[[str | None], None],
    nobody_tmp: Path,
) -> None:
    force("helper")
    marker = nobody_tmp / f"ran-{os.urandom(4).hex()}"
    hit = sabotage_helper_steps(monkeypatch, step)
    with pytest.raises(SandboxError, match=reason):
        run(["sh", "-c", f"touch {marker}"], policy=SH, network=policy, user=user)
    assert hit, f"no step matched {step!r}"
    assert not marker.exists()


def _tamper(monkeypatch: pytest.MonkeyPatch, label: str, forged: bytes | None) -> list[str]:
    """Forge (None: drop) the answer of the step labelled ``label`` in the parsed report.

    The parent judges what a lying or broken helper would have sent.
    """
    real_build, real_parse = _helper.build_script, xh.parse_records
    labels: list[str] = []
    hit: list[str] = []

    def build(plan: Any, **kwargs: Any) -> Any:
        script, rep = real_build(plan, **kwargs)
        labels[:] = script.labels
        return script, rep

    def parse(payload: bytes) -> dict[int, bytes]:
        records = real_parse(payload)
        for index, name in enumerate(labels):
            if label in name and index in records:
                hit.append(name)
                if forged is None:
                    del records[index]
                else:
                    records[index] = forged
        return records

    monkeypatch.setattr(_helper, "build_script", build)
    monkeypatch.setattr(xh, "parse_records", parse)
    return hit


@pytest.mark.parametrize(
    ("label", "forged", "reason"),
    [
        ("network probe: AF_NETLINK", struct.pack("<ii", 0, 0), "could be opened"),
        ("network probe: AF_INET UDP", None, "lacks the network probe"),
        ("network probe: TCP connect", struct.pack("<ii", 0, 111), "connect rules are not in"),
        ("network probe: TCP connect", b"\0" * 4, "lacks the network probe"),
        ("network probe: socketpair", struct.pack("<ii", 97, 0), "socketpair"),
        ("abstract UNIX connect", struct.pack("<ii", 0, 0), "abstract UNIX socket scope is not"),
        ("abstract UNIX connect", struct.pack("<ii", 0, 111), "abstract UNIX connect failed"),
        ("signal to the parent", struct.pack("<ii", os.getpid(), 0), "signal scope is not in"),
    ],
)
def test_a_tampered_or_missing_probe_report_fails_closed(  # noqa: PLR0917 -- parametrized
    label: str,
    forged: bytes | None,
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
    force: Callable[[str | None], None],
    nobody_tmp: Path,
) -> None:
    force("helper")
    hit = _tamper(monkeypatch, label, forged)
    marker = nobody_tmp / f"ran-{os.urandom(4).hex()}"
    policy = NetworkPolicy.parse(["connect=443"])
    with pytest.raises(SandboxError, match=reason):
        run(["sh", "-c", f"touch {marker}"], policy=SH, network=policy)
    assert len(hit) == 1, hit
    assert not marker.exists()


def test_a_script_without_the_network_steps_fails_closed(
    monkeypatch: pytest.MonkeyPatch, force: Callable[[str | None], None], nobody_tmp: Path
) -> None:
    force("helper")
    monkeypatch.setattr(_helper_net, "add_probes", lambda *_a: _helper_net.NetReports())
    marker = nobody_tmp / "ran"
    with pytest.raises(SandboxError, match="lacks network probes"):
        run(["sh", "-c", f"touch {marker}"], policy=SH, network=NetworkPolicy.none())
    assert not marker.exists()


def test_the_probe_list_follows_network_plan_probe() -> None:
    from hardenkit.sandbox.network import NetworkPlan  # noqa: PLC0415

    plan = NetworkPlan(NetworkPolicy(families=["AF_INET"], bind=(), connect=[443]), abi=7)
    got = [(p[0], p[1], p[2], p[4]) for p in _helper_net.probes(plan)]
    inet, pair = socket.AF_INET, _helper_net.NET_PAIR
    assert got == [
        (_helper_net.NET_SOCKET, socket.AF_INET6, 1, "refused"),
        (_helper_net.NET_SOCKET, inet, 1, "works"),
        (pair, socket.AF_UNIX, 1, "works"),
        (_helper_net.NET_SOCKET, inet, 2, "refused"),
        (_helper_net.NET_BIND, inet, 1, "denied"),
        (_helper_net.NET_CONNECT, inet, 1, "denied"),
        (_helper_net.NET_LISTEN, inet, 1, "denied"),
    ]


def test_unix_families_probe_the_abstract_scope() -> None:
    from hardenkit.sandbox.network import NetworkPlan  # noqa: PLC0415

    def whats(policy: NetworkPolicy, **kw: Any) -> list[str]:
        return [p[5] for p in _helper_net.probes(NetworkPlan(policy, abi=7, **kw))]

    assert "abstract UNIX connect" in whats(NetworkPolicy.unix())
    assert "abstract UNIX connect" in whats(NetworkPolicy.parse(["connect=443"]))
    assert "abstract UNIX connect" not in whats(NetworkPolicy.unix(scope=False))
    assert "abstract UNIX connect" not in whats(NetworkPolicy.none())
    assert "abstract UNIX connect" not in whats(NetworkPolicy.unix(), unix_refused=True)


def _fork_path_without_scope() -> str:
    plan = prepare_confinement(network=NetworkPolicy.unix())
    assert plan.network is not None
    assert plan.network.ruleset is not None

    class Skipped:
        def enforce(self) -> None:
            """The sabotage: the network domain is never entered."""

    plan.network.ruleset = Skipped()  # type: ignore[assignment]
    try:
        plan.enter()
    except SandboxError as err:
        return str(err)
    return "held"


def test_the_fork_path_probes_the_abstract_scope_too(in_child: InChild) -> None:
    assert "abstract UNIX socket scope is not in force" in in_child(_fork_path_without_scope)


def _drive(script: xh.Script) -> tuple[int, bytes, int]:
    """Run the helper binary on ``script`` (unconfined), answer go; (kind, payload, status)."""
    import subprocess  # noqa: PLC0415
    import time  # noqa: PLC0415

    from hardenkit.spawn import _locate  # noqa: PLC0415

    helper, why = _locate.locate()
    assert helper is not None, why
    ours, theirs = socket.socketpair()
    with ours:
        proc = subprocess.Popen(
            [helper, str(theirs.fileno()), "/bin/true", "true"], pass_fds=(theirs.fileno(),)
        )
        theirs.close()
        ours.sendall(script.encode())
        frame = xh.read_frame(ours, time.monotonic() + 10)
        assert frame is not None
        if frame[0] == xh.FRAME_REPORT:
            ours.sendall(b"G")
    return frame[0], frame[1], proc.wait(10)


def test_the_helper_network_ops_report_the_kernel_answers() -> None:
    script = xh.Script()
    script.add(xh.OP_ABSTRACT_LISTEN, "listen")
    conn = script.add(xh.OP_PROBE_SOCKET, "abstract", _helper_net.NET_CONNECT, 1, 2, 0)
    inet = script.add(xh.OP_PROBE_SOCKET, "inet", _helper_net.NET_SOCKET, 2, 1, 0)
    bogus = script.add(xh.OP_PROBE_SOCKET, "af 46", _helper_net.NET_SOCKET, 46, 1, 0)
    pair = script.add(xh.OP_PROBE_SOCKET, "pair", _helper_net.NET_PAIR, 1, 2, 0)
    listen = script.add(xh.OP_PROBE_SOCKET, "listen", _helper_net.NET_LISTEN, 2, 1, 0)
    sig = script.add(xh.OP_PROBE_SIGNAL, "signal")
    script.add(xh.OP_SYNC, "sync")
    kind, payload, status = _drive(script)
    assert (kind, status) == (xh.FRAME_REPORT, 0)
    got = {i: struct.unpack("<ii", v) for i, v in xh.parse_records(payload).items()}
    assert got[conn] == (0, 0)  # no scope here: the abstract listener is reachable
    assert got[inet] == (0, 0)
    assert got[bogus] == (errno.EAFNOSUPPORT, 0)
    assert got[pair] == (0, 0)
    assert got[listen] == (0, 0)
    assert got[sig] == (os.getpid(), 0)


@pytest.mark.parametrize(
    ("numbers", "data"),
    [
        ((_helper_net.NET_SOCKET, 2, 1), b""),  # 24 bytes, not 32
        ((9, 2, 1, 0), b""),  # no such action
        ((_helper_net.NET_SOCKET, 65, 1, 0), b""),  # family out of range
        ((_helper_net.NET_SOCKET, 2, 16, 0), b""),  # type out of range
        ((_helper_net.NET_BIND, 2, 1, 65536), b""),  # port out of range
        ((_helper_net.NET_BIND, 1, 1, 80), b""),  # AF_UNIX bind: not a probe
        ((_helper_net.NET_CONNECT, 1, 1, 0), b""),  # AF_UNIX connect with no listener
        ((_helper_net.NET_SOCKET, 2, 1, 0), b"x"),  # trailing byte
    ],
)
def test_the_helper_refuses_malformed_network_probes(numbers: tuple[int, ...], data: bytes) -> None:
    script = xh.Script()
    script.add(xh.OP_PROBE_SOCKET, "bad", *numbers, data=data)
    script.add(xh.OP_SYNC, "sync")
    kind, payload, status = _drive(script)
    assert (kind, status) == (xh.FRAME_FAILED, 127)
    assert struct.unpack("<Ii", payload) == (0, errno.EINVAL)
