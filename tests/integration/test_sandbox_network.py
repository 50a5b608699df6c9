"""NetworkPolicy confines a child as promised, as root and as nobody, against loopback listeners."""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit.errors import PolicyError, ProfileError, SandboxError
from hardenkit.sandbox import NetworkPolicy, call_sandboxed, confine, loads_profile
from hardenkit.sandbox.network import NetworkPlan
from hardenkit.spawn import run

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import InChild

pytestmark = [pytest.mark.linux, pytest.mark.root, pytest.mark.seccomp, pytest.mark.landlock]

USERS = [None, "nobody"]
_NR_SOCKET = 41  # x86_64
_NR_IO_URING_SETUP = 425
HIGH = 1 << 32
NONBLOCK_CLOEXEC = socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC


@pytest.fixture
def listeners() -> Iterator[tuple[int, int]]:
    """Two TCP listeners on 127.0.0.1 (an allowed port and a refused one)."""
    socks = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        socks.append(s)
    yield socks[0].getsockname()[1], socks[1].getsockname()[1]
    for s in socks:
        s.close()


def _errname(fn: Any) -> str:
    try:
        fn()
    except OSError as err:
        return errno.errorcode.get(err.errno or 0, str(err))
    return "ok"


def _sock(family: int, kind: int) -> None:
    socket.socket(family, kind).close()


def _socketpair() -> None:
    for s in socket.socketpair():
        s.close()


def _connect(port: int) -> None:
    s = socket.socket()
    try:
        s.settimeout(5)
        s.connect((b"127.0.0.1", port))  # bytes host: no codec import as nobody
    finally:
        s.close()


def _bind(port: int) -> None:
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((b"127.0.0.1", port))
    finally:
        s.close()


def _raw_socket(family: int, kind: int) -> str:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(
        ctypes.c_long(_NR_SOCKET), ctypes.c_ulong(family), ctypes.c_ulong(kind), ctypes.c_ulong(0)
    )
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    os.close(fd)
    return "ok"


def _io_uring() -> str:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    params = ctypes.create_string_buffer(120)
    fd = libc.syscall(ctypes.c_long(_NR_IO_URING_SETUP), ctypes.c_ulong(4), params)
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    os.close(fd)
    return "ok"


def _probe_all(policy: NetworkPolicy, user: str | None, ports: tuple[int, int]) -> dict[str, str]:
    ctypes.CDLL(None)  # load before confinement (nobody cannot reach ~/.pyenv later)
    confine(user=user, network=policy)
    allowed, other = ports
    return {
        "inet": _errname(lambda: _sock(socket.AF_INET, socket.SOCK_STREAM)),
        "inet6": _errname(lambda: _sock(socket.AF_INET6, socket.SOCK_STREAM)),
        "unix": _errname(lambda: _sock(socket.AF_UNIX, socket.SOCK_STREAM)),
        "netlink": _errname(lambda: _sock(socket.AF_NETLINK, socket.SOCK_DGRAM)),
        "udp": _errname(lambda: _sock(socket.AF_INET, socket.SOCK_DGRAM)),
        "socketpair": _errname(_socketpair),
        "connect_allowed": _errname(lambda: _connect(allowed)),
        "connect_other": _errname(lambda: _connect(other)),
        "io_uring": _io_uring(),
        "inet_high_bits": _raw_socket(socket.AF_INET | HIGH, socket.SOCK_STREAM),
        "unix_high_bits": _raw_socket(socket.AF_UNIX | HIGH, socket.SOCK_STREAM | NONBLOCK_CLOEXEC),
        "stream_flags_high": _raw_socket(
            socket.AF_INET, socket.SOCK_STREAM | NONBLOCK_CLOEXEC | HIGH
        ),
        "dgram_high": _raw_socket(socket.AF_INET, socket.SOCK_DGRAM | HIGH),
    }


@pytest.mark.parametrize("user", USERS)
def test_none(in_child: InChild, user: str | None, listeners: tuple[int, int]) -> None:
    got = in_child(_probe_all, NetworkPolicy.none(), user, listeners)
    refused = "EAFNOSUPPORT"
    for key in ("inet", "inet6", "unix", "netlink", "udp", "connect_allowed", "unix_high_bits"):
        assert got[key] == refused, key
    assert got["inet_high_bits"] == refused
    assert got["socketpair"] == "ok"
    assert got["io_uring"] == "EPERM"


def _dgram_pair_reach(policy: NetworkPolicy, user: str | None, path: str) -> dict[str, str]:
    """From a socketpair, reach a named datagram socket (/dev/log, journald, notify)."""
    confine(user=user, network=policy)
    out = {}
    for name, kind in (("dgram", socket.SOCK_DGRAM), ("raw", socket.SOCK_RAW)):
        try:
            a, b = socket.socketpair(socket.AF_UNIX, kind)  # AF_UNIX: SOCK_RAW is SOCK_DGRAM
        except OSError as err:
            out[name] = errno.errorcode[err.errno or 0]
            continue
        with a, b:
            out[name] = _errname(lambda a=a: a.sendto(b"x", path))
            out[name + "_connect"] = _errname(lambda b=b: b.connect(path))
    out["seqpacket"] = _errname(lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET))
    return out


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("families", [(), ("AF_INET",)])
def test_no_unix_family_reaches_no_named_socket_through_a_pair(
    in_child: InChild, user: str | None, families: tuple[str, ...], tmp_path: Any
) -> None:
    os.chmod(tmp_path, 0o755)  # noqa: S103 -- nobody must reach the socket
    path = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as srv:
        srv.bind(path)
        os.chmod(path, 0o777)  # noqa: S103 -- nobody must be able to send
        got = in_child(_dgram_pair_reach, NetworkPolicy(families=families), user, path)
        srv.setblocking(False)  # noqa: FBT003
        with pytest.raises(BlockingIOError):
            srv.recv(16)
    assert got == {"dgram": "EAFNOSUPPORT", "raw": "EAFNOSUPPORT", "seqpacket": "ok"}


@pytest.mark.parametrize("user", USERS)
def test_unix(in_child: InChild, user: str | None, listeners: tuple[int, int]) -> None:
    got = in_child(_probe_all, NetworkPolicy.unix(), user, listeners)
    assert got["unix"] == "ok"
    assert got["unix_high_bits"] == "ok"  # the kernel reads AF_UNIX: so does the filter
    assert got["socketpair"] == "ok"
    for key in ("inet", "inet6", "netlink", "udp", "connect_allowed", "inet_high_bits"):
        assert got[key] == "EAFNOSUPPORT", key
    assert got["io_uring"] == "EPERM"


@pytest.mark.parametrize("user", USERS)
def test_tcp_connect_ports(in_child: InChild, user: str | None, listeners: tuple[int, int]) -> None:
    policy = NetworkPolicy.parse([f"connect={listeners[0]}"])
    got = in_child(_probe_all, policy, user, listeners)
    assert got["connect_allowed"] == "ok"
    assert got["connect_other"] == "EACCES"  # Landlock
    assert got["inet"] == got["inet6"] == got["unix"] == "ok"
    assert got["stream_flags_high"] == "ok"
    assert got["inet_high_bits"] == "ok"  # AF_INET as the kernel reads it
    assert got["udp"] == "EAFNOSUPPORT"
    assert got["dgram_high"] == "EAFNOSUPPORT"
    assert got["netlink"] == "EAFNOSUPPORT"
    assert got["io_uring"] == "EPERM"


@pytest.mark.parametrize("user", USERS)
def test_udp_switch_and_families(
    in_child: InChild, user: str | None, listeners: tuple[int, int]
) -> None:
    policy = NetworkPolicy(families=["AF_INET"], udp=True)
    got = in_child(_probe_all, policy, user, listeners)
    assert got["udp"] == "ok"
    assert got["dgram_high"] == "ok"
    assert got["connect_allowed"] == got["connect_other"] == "ok"  # no port rules asked
    assert got["inet6"] == got["unix"] == "EAFNOSUPPORT"


def _bind_probe(port: int, other: int, user: str | None) -> list[str]:
    confine(user=user, network=NetworkPolicy.parse([f"bind={port}"]))
    return [_errname(lambda: _bind(port)), _errname(lambda: _bind(other))]


@pytest.mark.parametrize("user", USERS)
def test_tcp_bind_ports(in_child: InChild, user: str | None) -> None:
    free = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free.append(s.getsockname()[1])
    assert in_child(_bind_probe, free[0], free[1], user) == ["ok", "EACCES"]


def _listen_unbound(family: int) -> str:
    """listen() on an unbound TCP socket: the kernel binds it to an ephemeral port."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.listen(1)
            return f"listening on {s.getsockname()[1]}"
    except OSError as err:
        return errno.errorcode[err.errno or 0]


def _listen_probe(policy: NetworkPolicy, user: str | None, port: int) -> list[str]:
    confine(user=user, network=policy)

    def bound_listen() -> None:
        with socket.socket() as s:
            s.bind((b"127.0.0.1", port))
            s.listen(1)

    out = [_listen_unbound(socket.AF_INET), _listen_unbound(socket.AF_INET6)]
    return [*out, _errname(bound_listen) if port else "-"]


@pytest.mark.parametrize("user", USERS)
def test_no_bind_port_means_no_listener_on_an_ephemeral_port(
    in_child: InChild, user: str | None
) -> None:
    policy = NetworkPolicy(families=["AF_INET", "AF_INET6"], bind=(), connect=[443])
    assert in_child(_listen_probe, policy, user, 0) == ["EACCES", "EACCES", "-"]
    # Allowed bind ports still listen (the autobind gap there is documented).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    policy = NetworkPolicy(families=["AF_INET"], bind=[free])
    assert in_child(_listen_probe, policy, user, free)[2] == "ok"


def _abstract_and_signal(name: bytes, scope: bool) -> list[str]:
    confine(network=NetworkPolicy(families=["AF_UNIX"], scope=scope))

    def conn() -> None:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(b"\0" + name)

    return [_errname(conn), _errname(lambda: os.kill(os.getppid(), 0))]


@pytest.mark.parametrize("scope", [True, False])
def test_abstract_unix_and_signal_scope(in_child: InChild, scope: bool) -> None:
    name = b"hardenkit-test-" + os.urandom(6).hex().encode()
    with socket.socket(socket.AF_UNIX) as srv:
        srv.bind(b"\0" + name)
        srv.listen(4)
        got = in_child(_abstract_and_signal, name, scope)
    assert got == (["EPERM", "EPERM"] if scope else ["ok", "ok"])


def test_call_sandboxed_and_run(listeners: tuple[int, int]) -> None:
    def probe(port: int) -> list[str]:
        return [_errname(lambda: _sock(socket.AF_INET, 1)), _errname(lambda: _connect(port))]

    assert call_sandboxed(probe, listeners[0], network=NetworkPolicy.unix()) == [
        "EAFNOSUPPORT",
        "EAFNOSUPPORT",
    ]
    code = "import socket; socket.socket()"
    r = run(["/usr/bin/python3", "-c", code], network=NetworkPolicy.none(), user="nobody")
    assert r.returncode == 1
    assert b"Address family not supported" in r.stderr
    r = run(
        ["/usr/bin/python3", "-c", "import socket; socket.socketpair()"],
        network=NetworkPolicy.none(),
    )
    assert r.returncode == 0, r.stderr


def test_cli_exec_net(listeners: tuple[int, int]) -> None:
    code = (
        "import socket, sys\n"
        "def t(port):\n"
        "    s = socket.socket(); s.settimeout(5)\n"
        "    try:\n        s.connect((b'127.0.0.1', port)); return 'ok'\n"
        "    except OSError as e:\n        return e.strerror\n"
        "print(t(int(sys.argv[1])), t(int(sys.argv[2])))\n"
    )
    a, b = listeners
    base = [sys.executable, "-m", "hardenkit", "exec", "--user", "nobody"]
    cmd = ["--", "/usr/bin/python3", "-c", code, str(a), str(b)]
    r = subprocess.run(
        [*base, "--net", f"connect={a}", *cmd], capture_output=True, text=True, check=False
    )
    assert r.stdout.strip() == "ok Permission denied", r.stderr
    r = subprocess.run([*base, "--net", "none", *cmd], capture_output=True, text=True, check=False)
    assert "Address family not supported" in r.stderr
    r = subprocess.run(
        [*base, "--net", "connect=443,5432", "--net", "bind=8080", "--print-profile"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "[network]" in r.stdout
    assert "connect = [443, 5432]" in r.stdout
    assert "bind = [8080]" in r.stdout


def test_old_kernel_refuses_ports_instead_of_ignoring_them() -> None:
    with pytest.raises(SandboxError, match="Landlock ABI 4"):
        NetworkPlan(NetworkPolicy.parse(["connect=443"]), abi=3)
    NetworkPlan(NetworkPolicy.none(), abi=3)  # no ports: seccomp alone enforces it


def test_policy_validation() -> None:
    with pytest.raises(PolicyError, match="TCP ports need"):
        NetworkPolicy(families=["AF_UNIX"], connect=[80])
    with pytest.raises(PolicyError, match="not a TCP port"):
        NetworkPolicy(families=["AF_INET"], bind=[0])
    with pytest.raises(PolicyError, match="udp"):
        NetworkPolicy(udp=True)
    with pytest.raises(PolicyError):
        NetworkPolicy.parse(["bogus"])
    assert NetworkPolicy(families=["local", "AF_INET6"]).families == ("AF_UNIX", "AF_INET6")


def test_profile_network_section() -> None:
    p = loads_profile("[network]\nconnect = [443]\nudp = true\n")
    assert p.network == NetworkPolicy(
        families=["AF_UNIX", "AF_INET", "AF_INET6"], connect=[443], udp=True
    )
    assert loads_profile('[network]\nmode = "none"\n').network == NetworkPolicy.none()
    with pytest.raises(ProfileError) as info:
        loads_profile('[network]\nmode = "none"\nports = [1]\n', source="n.toml")
    assert (info.value.line, info.value.key) == (3, "network.ports")
    with pytest.raises(ProfileError, match="network: TCP ports need"):
        loads_profile('[network]\nfamilies = ["AF_UNIX"]\nbind = [80]\n')
    from hardenkit.sandbox.profile import profile_to_toml  # noqa: PLC0415

    for text in ('[network]\nmode = "unix"\nscope = false\n', "[network]\nbind = [80, 8080]\n"):
        p = loads_profile(text)
        assert loads_profile(profile_to_toml(p)) == p


def _i386(code_hex: str) -> int:
    """Run i386 machine code through int 0x80 (the i386 ABI, from this x86_64 process)."""
    import mmap  # noqa: PLC0415

    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(bytes.fromhex(code_hex))
    fn = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
    return int(fn())


#: mov eax, 102 (socketcall); mov ebx, 1 (SYS_SOCKET); xor ecx, ecx; int 0x80; ret
_SOCKETCALL = "b866000000bb0100000031c9cd80c3"
#: mov eax, 359 (socket); mov ebx, 1 (AF_UNIX); mov ecx, 1; xor edx, edx; int 0x80; ret
_I386_SOCKET_UNIX = "b867010000bb01000000b90100000031d2cd80c3"


def _i386_child(network: NetworkPolicy | None) -> list[int]:
    from hardenkit.sandbox import SeccompPolicy  # noqa: PLC0415

    confine(network=network, seccomp=SeccompPolicy(default="allow", arches=["SCMP_ARCH_X86"]))
    return [_i386(_SOCKETCALL), _i386(_I386_SOCKET_UNIX)]


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="i386 ABI test for x86_64")
def test_i386_socketcall_is_killed(in_child: InChild) -> None:
    # Without a network policy the caller's x86 filter lets socketcall through (EFAULT:
    # the NULL argument pointer was read), so the i386 ABI is reachable here.
    assert in_child(_i386_child, None)[0] == -errno.EFAULT
    for policy in (NetworkPolicy.none(), NetworkPolicy.unix()):
        outcome = in_child.outcome(_i386_child, policy)
        assert outcome.signal == signal.SIGSYS, outcome.describe()


#: mov eax, 20 (getpid); int 0x80; ret
_I386_GETPID = "b814000000cd80c3"


def _i386_getpid_child(network: NetworkPolicy | None) -> int:
    from hardenkit.sandbox import FilesystemPolicy, SeccompPolicy  # noqa: PLC0415

    x86 = SeccompPolicy(default="allow", arches=["SCMP_ARCH_X86"])
    confine(network=network, seccomp=x86, filesystem=FilesystemPolicy(read=["/"], execute=["/"]))
    return _i386(_I386_GETPID)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="i386 ABI test for x86_64")
def test_other_abis_are_compiled_for_the_native_abi_only_under_a_network_policy(
    in_child: InChild,
) -> None:
    # The network filter kills every ABI but the native one, so the caller's filter and
    # the filesystem guard are compiled for the native ABI only: their i386 and x32
    # programs could never decide a call (hardenkit exec's cold start, benchmarks/).
    from hardenkit.sandbox import FilesystemPolicy, SeccompPolicy  # noqa: PLC0415
    from hardenkit.sandbox.confinement import prepare_confinement  # noqa: PLC0415
    from hardenkit.sandbox.seccomp import compile_policy  # noqa: PLC0415

    x86 = SeccompPolicy(default="allow", arches=["SCMP_ARCH_X86"])
    fs = FilesystemPolicy(read=["/usr"])
    with prepare_confinement(seccomp=x86, filesystem=fs, network=NetworkPolicy.none()) as plan:
        assert plan.seccomp_policy is not None
        assert plan.seccomp_policy.arches == ()
        assert plan.seccomp is not None
        assert plan.filesystem_guard is not None
        native = plan.seccomp.bpf, plan.filesystem_guard.bpf
    assert native[0] == compile_policy(SeccompPolicy(default="allow")).bpf
    with prepare_confinement(seccomp=x86, filesystem=fs) as plan:
        assert plan.seccomp_policy is not None
        assert plan.seccomp_policy.arches == ("SCMP_ARCH_X86",)
        assert plan.seccomp is not None
        assert plan.filesystem_guard is not None
        assert len(plan.seccomp.bpf) > len(native[0])
        assert len(plan.filesystem_guard.bpf) > len(native[1])
    # The kernel's answer is the same: i386 runs without a network policy, and is killed
    # with one (by every filter now, by the network filter before).
    assert in_child(_i386_getpid_child, None) > 0
    for policy in (NetworkPolicy.none(), NetworkPolicy.parse(["connect=443"])):
        outcome = in_child.outcome(_i386_getpid_child, policy)
        assert outcome.signal == signal.SIGSYS, outcome.describe()
