"""Seccomp at the edges, from the kernel's side: io_uring under an allow default, 32-bit
arguments with high bits set, and Docker profiles' capability conditions decided for the
confined process. Every attack runs in a child (``in_child``, ``confine``, ``run`` through
the exec helper and through the Python fork path, ``call_sandboxed``), as root and as
nobody. Each assertion on a confined child is paired with an unconfined control.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import socket
from typing import Any

import pytest
from tests._helpers import raw_syscall, uring_socket

from hardenkit.privileges import drop_privileges
from hardenkit.sandbox import SeccompPolicy, call_sandboxed, confine
from hardenkit.sandbox.seccomp import ArgCondition, SyscallRule
from hardenkit.spawn import CommandPolicy, _run as spawn_run, run

pytestmark = [pytest.mark.linux, pytest.mark.root, pytest.mark.seccomp]

PYTHON = "/usr/bin/python3"  # readable by nobody (the pyenv interpreters are not)
NR_SOCKET, NR_IOCTL, NR_KCMP, NR_GET_MEMPOLICY = 41, 16, 312, 239
NR_IO_URING_SETUP, NR_IO_URING_ENTER = 425, 426
IORING_OP_SOCKET, IORING_ENTER_GETEVENTS = 45, 1
IORING_OFF_SQ_RING, IORING_OFF_CQ_RING, IORING_OFF_SQES = 0, 0x8000000, 0x10000000
_PARAMS_SIZE, _SQE_SIZE, _CQE_SIZE = 120, 64, 16
AF_ALG_HIGH = 0xFFFFFFFF00000026  # passes Docker's own "family > 40" rule; the kernel reads 38
TIOCSTI = 0x5412
KCMP_VM = 1


def socket_errno(family: int, kind: int = socket.SOCK_STREAM) -> int:
    """socket() with a raw 64-bit family; 0 when a socket was made (and closed)."""
    fd, err = raw_syscall(NR_SOCKET, family, kind, 0)
    if fd >= 0:
        os.close(fd)
        return 0
    return err


#: Probes run by a confined command (one JSON line: name -> errno, 0 for success).
PROBE = r"""
import ctypes, json, os, sys
fn = ctypes.CDLL(None, use_errno=True)["syscall"]
fn.restype = ctypes.c_long
def call(nr, *args):
    ctypes.set_errno(0)
    rc = fn(ctypes.c_long(nr), *[a if isinstance(a, ctypes.Array) else ctypes.c_ulong(a)
                                 for a in args])
    if rc >= 0 and nr in (41, 425):
        os.close(rc)
    return 0 if rc >= 0 else ctypes.get_errno()
pid = os.getpid()
print(json.dumps({
    "kcmp": call(312, pid, pid, 1, 0, 0),
    "get_mempolicy": call(239, 0, 0, 0, 0, 0),
    "uring": call(425, 4, ctypes.create_string_buffer(120)),
    "socket_high": call(41, 0xFFFFFFFF00000026, 5, 0),
    "socket_inet_high": call(41, (1 << 32) | 2, 1, 0),
}))
"""


@pytest.fixture(params=[pytest.param("helper", marks=pytest.mark.exec_helper), "fork"])
def spawn_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test through the exec helper and through the Python fork path."""
    path = str(request.param)
    monkeypatch.setattr(spawn_run, "FORCE_PATH", path)
    return path


def probe(**confinement: Any) -> dict[str, int]:
    result = run([PYTHON, "-c", PROBE], policy=CommandPolicy([PYTHON]), **confinement)
    assert result.returncode == 0, result.stderr
    value: dict[str, int] = json.loads(result.stdout)
    return value


# --- 1: io_uring under an allow/log default ----------------------------------------------

NETWORK_DENIED = SeccompPolicy(default="allow", deny=["@network-io"])


@pytest.mark.parametrize("user", [None, "nobody"])
def test_io_uring_socket_refused_under_an_allow_default(in_child: Any, user: str | None) -> None:
    def child(policy: SeccompPolicy | None) -> list[Any]:
        if policy is not None:
            confine(user=user, seccomp=policy)
        return [socket_errno(socket.AF_INET), uring_socket()]

    assert in_child(child, None) == [0, ["socket", "socket"]]  # control: io_uring makes one
    assert in_child(child, NETWORK_DENIED) == [errno.EPERM, ["setup", errno.EPERM]]
    logged = SeccompPolicy(default="log", deny=["socket"], errno=errno.EACCES)
    assert in_child(child, logged) == [errno.EACCES, ["setup", errno.EACCES]]
    named = SeccompPolicy(
        default="allow", allow=["io_uring_setup", "io_uring_enter"], deny=["@network-io"]
    )
    assert in_child(child, named) == [errno.EPERM, ["socket", "socket"]]  # asked for by name


def test_io_uring_refused_when_the_caller_is_unprivileged(in_child: Any) -> None:
    def child() -> list[Any]:
        drop_privileges("nobody")
        confine(seccomp=NETWORK_DENIED)
        return uring_socket()

    assert in_child(child) == ["setup", errno.EPERM]


@pytest.mark.usefixtures("spawn_path")
@pytest.mark.parametrize("user", [None, "nobody"])
def test_io_uring_refused_in_run(user: str | None) -> None:
    assert probe(user=user)["uring"] == 0  # control: unconfined, a ring is made
    assert probe(user=user, seccomp=NETWORK_DENIED)["uring"] == errno.EPERM


# --- 2: 32-bit arguments with high bits set ----------------------------------------------


def _deny(name: str, index: int, value: int) -> SeccompPolicy:
    cond = ArgCondition(index=index, op="eq", value=value)
    return SeccompPolicy(
        default="allow",
        rules=[SyscallRule(names=name, action="errno", errno=errno.EHOSTDOWN, args=(cond,))],
    )


@pytest.mark.parametrize("user", [None, "nobody"])
def test_socket_family_with_high_bits_matches_the_rule(in_child: Any, user: str | None) -> None:
    def child(policy: SeccompPolicy | None) -> list[int]:
        if policy is not None:
            confine(user=user, seccomp=policy)
        return [socket_errno(socket.AF_INET), socket_errno(1 << 32 | socket.AF_INET)]

    assert in_child(child, None) == [0, 0]  # control: the kernel makes an AF_INET socket
    assert in_child(child, _deny("socket", 0, socket.AF_INET)) == [errno.EHOSTDOWN] * 2


def test_tiocsti_with_high_bits_matches_the_rule(in_child: Any) -> None:
    def child(confined: bool) -> int:
        leader, follower = os.openpty()
        del leader
        if confined:
            confine(seccomp=_deny("ioctl", 1, TIOCSTI))
        byte = ctypes.create_string_buffer(b"x")
        return raw_syscall(NR_IOCTL, follower, 1 << 32 | TIOCSTI, byte)[1]

    assert in_child(child, confined=False) != errno.EHOSTDOWN  # control: the kernel ran TIOCSTI
    assert in_child(child, confined=True) == errno.EHOSTDOWN


@pytest.mark.parametrize("user", [None, "nobody"])
def test_docker_socket_rule_sees_the_family_the_kernel_reads(
    in_child: Any, user: str | None
) -> None:
    def child(confined: bool) -> list[int]:
        if confined:
            confine(user=user, seccomp=SeccompPolicy.docker_default())
        return [socket_errno(AF_ALG_HIGH, socket.SOCK_SEQPACKET), socket_errno(socket.AF_INET)]

    unconfined = in_child(child, confined=False)
    assert unconfined[0] != errno.EPERM  # the kernel reads AF_ALG (38): made, or no module
    assert in_child(child, confined=True) == [errno.EPERM, 0]


@pytest.mark.usefixtures("spawn_path")
@pytest.mark.parametrize("user", [None, "nobody"])
def test_docker_socket_rule_in_run(user: str | None) -> None:
    control = probe(user=user)
    assert control["socket_high"] != errno.EPERM
    assert control["socket_inet_high"] == 0
    confined = probe(user=user, seccomp=SeccompPolicy.docker_default())
    assert confined["socket_high"] == errno.EPERM
    assert confined["socket_inet_high"] == 0  # AF_INET is what Docker allows


# --- 8: capability conditions decided for the confined process ----------------------------


@pytest.mark.usefixtures("spawn_path")
def test_docker_profile_for_nobody_in_run() -> None:
    docker = SeccompPolicy.docker_default()  # built by root: every capability held
    as_root = probe(seccomp=docker)
    assert as_root["kcmp"] == 0  # control: root keeps CAP_SYS_PTRACE, Docker allows kcmp
    assert as_root["get_mempolicy"] == 0
    as_nobody = probe(user="nobody", seccomp=docker)
    assert as_nobody["kcmp"] == errno.EPERM
    assert as_nobody["get_mempolicy"] == errno.EPERM
    unconfined = probe(user="nobody")
    assert unconfined["kcmp"] == 0  # the kernel lets nobody compare itself: the filter said no
    kept = probe(user="nobody", keep={"SYS_NICE"}, seccomp=docker)
    assert kept["get_mempolicy"] == 0  # CAP_SYS_NICE kept: Docker's rule applies
    assert kept["kcmp"] == errno.EPERM


def _kcmp_self() -> int:
    pid = os.getpid()
    return raw_syscall(NR_KCMP, pid, pid, KCMP_VM, 0, 0)[1]


def test_docker_profile_for_nobody_in_confine_and_call_sandboxed(in_child: Any) -> None:
    docker = SeccompPolicy.docker_default()

    def child(user: str | None) -> int:
        confine(user=user, seccomp=docker)
        return _kcmp_self()

    assert in_child(child, None) == 0  # control: root holds CAP_SYS_PTRACE
    assert in_child(child, "nobody") == errno.EPERM
    assert call_sandboxed(_kcmp_self, seccomp=docker) == 0
    assert call_sandboxed(_kcmp_self, user="nobody", seccomp=docker) == errno.EPERM


def test_docker_profile_for_an_unprivileged_caller(in_child: Any) -> None:
    docker = SeccompPolicy.docker_default()  # decided by root, applied by nobody

    def child(confined: bool) -> int:
        drop_privileges("nobody")
        if confined:
            confine(seccomp=docker)
        return _kcmp_self()

    assert in_child(child, confined=False) == 0
    assert in_child(child, confined=True) == errno.EPERM


@pytest.mark.usefixtures("spawn_path")
def test_docker_profile_in_run_by_an_unprivileged_caller(in_child: Any) -> None:
    docker = SeccompPolicy.docker_default()  # decided by root, used by nobody

    def child(confined: bool) -> dict[str, int]:
        drop_privileges("nobody")
        return probe(seccomp=docker) if confined else probe()

    assert in_child(child, confined=False)["kcmp"] == 0
    confined = in_child(child, confined=True)
    assert confined["kcmp"] == errno.EPERM
    assert confined["socket_high"] == errno.EPERM
