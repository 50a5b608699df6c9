"""Multiplexed calls (i386 ``socketcall``/``ipc``): argument rules cannot be bypassed.

On i386 (which ``docker_default()`` allows on x86_64 through its archMap) ``socketcall``
takes the socket call's arguments in memory, where a filter cannot read them, and
libseccomp turns "allow ``socket`` when the family is AF_UNIX" into "allow ``socketcall``
with call SYS_SOCKET", for every family. The filter must decide such a sub-call as the
policy decides the name without its arguments: refused when any argument rule refuses.
Checked from the kernel's side through ``int 0x80`` (confine, both spawn paths of run(),
call_sandboxed; root and nobody); tests/unit/test_sandbox_seccomp.py checks the program.
"""

from __future__ import annotations

import errno
import json
import platform
import socket
from typing import Any

import pytest

from hardenkit.sandbox import SeccompPolicy, call_sandboxed, confine
from hardenkit.sandbox.seccomp import ArgCondition, SyscallRule
from hardenkit.spawn import CommandPolicy, _run as spawn_run, run

pytestmark = [
    pytest.mark.linux,
    pytest.mark.root,
    pytest.mark.seccomp,
    pytest.mark.skipif(platform.machine() != "x86_64", reason="int 0x80 code is x86_64-only"),
]

PYTHON = "/usr/bin/python3"  # readable by nobody

#: A 64-bit process making an i386 syscall with ``int 0x80`` (rdi=nr, rsi, rdx: ebx, ecx);
#: and a buffer below 4 GiB (MAP_32BIT) for socketcall's argument array. The same source
#: runs in the test's children and, as text, in a command under run().
INT80_SOURCE = r"""
import ctypes, mmap, os, struct
_code = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
_code.write(bytes.fromhex("53 89f8 89f3 89d1 cd80 5b 4863c0 c3"))
_fn = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_long, ctypes.c_long, ctypes.c_long)(
    ctypes.addressof(ctypes.c_char.from_buffer(_code)))
_low = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x40)
_low_addr = ctypes.addressof(ctypes.c_char.from_buffer(_low))

def socketcall_socket(family, kind):
    '''i386 socketcall(SYS_SOCKET, {family, kind, 0}): 0 when made, else the errno.'''
    struct.pack_into("=III", _low, 0, family, kind, 0)
    rc = _fn(102, 1, _low_addr)
    if rc >= 0:
        os.close(rc)
        return 0
    return -rc
"""
_NS: dict[str, Any] = {}
exec(compile(INT80_SOURCE, "<int80>", "exec"), _NS)  # noqa: S102 -- the probe's own code


def socketcall_socket(family: int, kind: int = socket.SOCK_STREAM) -> int:
    value: int = _NS["socketcall_socket"](family, kind)
    return value


#: Only AF_UNIX sockets, by an argument condition; i386 asked for explicitly.
UNIX_ONLY = SeccompPolicy(
    default="allow",
    arches=["SCMP_ARCH_X86"],
    rules=[
        SyscallRule(
            names="socket",
            action="errno",
            args=(ArgCondition(index=0, op="ne", value=socket.AF_UNIX),),
        )
    ],
)
UNIX_ALLOW_LIST = SeccompPolicy(
    default="errno",
    allow=["@system-service"],
    arches=["SCMP_ARCH_X86"],
    rules=[
        SyscallRule(
            names="socket",
            action="allow",
            args=(ArgCondition(index=0, op="eq", value=socket.AF_UNIX),),
        )
    ],
)
VSOCK = 40  # refused by Docker's socket rules
#: The control: i386 allowed, sockets not restricted (run()/call_sandboxed always filter).
I386_OPEN = SeccompPolicy(default="allow", arches=["SCMP_ARCH_X86"])


@pytest.mark.parametrize("user", [None, "nobody"])
def test_socketcall_cannot_bypass_socket_argument_rules(in_child: Any, user: str | None) -> None:
    def child(policy: SeccompPolicy | None) -> list[int]:
        if policy is not None:
            confine(user=user, seccomp=policy)
        return [socketcall_socket(socket.AF_INET), socketcall_socket(VSOCK)]

    assert in_child(child, None) == [0, 0]  # control: the kernel makes both through i386
    assert in_child(child, UNIX_ALLOW_LIST) == [errno.EPERM, errno.EPERM]
    assert in_child(child, UNIX_ONLY) == [errno.EPERM, errno.EPERM]
    assert in_child(child, SeccompPolicy.docker_default()) == [errno.EPERM, errno.EPERM]


def test_socketcall_under_call_sandboxed() -> None:
    def attack() -> list[int]:
        return [socketcall_socket(socket.AF_INET), socketcall_socket(VSOCK)]

    assert call_sandboxed(attack, seccomp=I386_OPEN) == [0, 0]  # control
    assert call_sandboxed(attack, seccomp=UNIX_ALLOW_LIST) == [errno.EPERM, errno.EPERM]
    docker = SeccompPolicy.docker_default()
    assert call_sandboxed(attack, user="nobody", seccomp=docker) == [errno.EPERM] * 2


@pytest.fixture(params=[pytest.param("helper", marks=pytest.mark.exec_helper), "fork"])
def spawn_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    path = str(request.param)
    monkeypatch.setattr(spawn_run, "FORCE_PATH", path)
    return path


@pytest.mark.usefixtures("spawn_path")
@pytest.mark.parametrize("user", [None, "nobody"])
def test_socketcall_under_run(user: str | None) -> None:
    code = INT80_SOURCE + "\nprint(json.dumps([socketcall_socket(2, 1), socketcall_socket(40, 1)]))"
    code = "import json\n" + code

    def probe(seccomp: SeccompPolicy) -> list[int]:
        result = run(
            [PYTHON, "-c", code], policy=CommandPolicy([PYTHON]), user=user, seccomp=seccomp
        )
        assert result.returncode == 0, result.stderr
        value: list[int] = json.loads(result.stdout)
        return value

    assert probe(I386_OPEN) == [0, 0]  # control
    assert probe(UNIX_ALLOW_LIST) == [errno.EPERM, errno.EPERM]
    assert probe(SeccompPolicy.docker_default()) == [errno.EPERM, errno.EPERM]
