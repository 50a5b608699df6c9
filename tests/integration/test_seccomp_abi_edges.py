"""From the kernel's side: i386's 16-bit setuid, syscall(-1) and ptrace's truncated pid.

Each attack runs in a forked child, with an unconfined control showing the kernel does
what the attack needs. The BPF-level checks of the same fixes (and of those the kernel
here cannot run: x32) are in tests/unit/test_seccomp_abi_edges.py.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import signal
import time
from typing import Any

import pytest
from tests._helpers import raw_syscall

from hardenkit.sandbox import SeccompPolicy
from hardenkit.sandbox.seccomp import ArgCondition, SyscallRule
from hardenkit.sandbox.seccomp.apply import apply_seccomp

pytestmark = [pytest.mark.linux, pytest.mark.root, pytest.mark.seccomp]

NR_PTRACE, PTRACE_SEIZE = 101, 0x4206
I386_SETUID = 23  # sys_setuid16: reads old_uid_t, the low 16 bits

# x86_64 machine code: long f(long nr, ulong a, ulong b, ulong c) doing `int 0x80`
# (the i386 ABI) with ebx=a, ecx=b, edx=c; returns eax sign-extended.
_INT80 = bytes.fromhex(
    "53"  # push rbx
    "4889f8"  # mov rax, rdi
    "4889f3"  # mov rbx, rsi
    "4989c8"  # mov r8, rcx
    "4889d1"  # mov rcx, rdx
    "4c89c2"  # mov rdx, r8
    "cd80"  # int 0x80
    "4863c0"  # movsxd rax, eax
    "5b"  # pop rbx
    "c3"  # ret
)


def int80(nr: int, a: int = 0, b: int = 0, c: int = 0) -> int:
    """One i386 syscall from this x86_64 process: the raw return value (-errno on error)."""
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(_INT80)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
    proto = ctypes.CFUNCTYPE(
        ctypes.c_long, ctypes.c_long, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong
    )
    return int(proto(addr)(nr, a, b, c))


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="int 0x80 from x86_64")
def test_i386_setuid16_high_half_does_not_regain_root(in_child: Any) -> None:
    """setuid(0x10000) through int 0x80 is setuid16(0): root, past "lt 1000" on 32 bits."""
    rule = SyscallRule(
        names=["setuid", "setuid32"],
        action="errno",
        errno=errno.EHOSTDOWN,
        args=(ArgCondition(index=0, op="lt", value=1000),),
    )
    policy = SeccompPolicy(default="allow", rules=[rule], arches=("SCMP_ARCH_X86",))

    def child(confined: bool) -> list[int]:
        os.setresuid(1000, 1000, 0)
        if confined:
            apply_seccomp(policy)
        return [int80(I386_SETUID, 0x10000), os.geteuid()]

    assert in_child(child, confined=False) == [0, 0]  # control: the kernel made it root
    assert in_child(child, confined=True) == [-errno.EHOSTDOWN, 1000]


def test_syscall_minus_one_gets_enosys_not_sigsys(in_child: Any) -> None:
    policy = SeccompPolicy(default="allow", deny=["mount"])

    def child(confined: bool) -> list[int]:
        if confined:
            apply_seccomp(policy)
        return list(raw_syscall(-1))

    assert in_child(child, confined=False) == [-1, errno.ENOSYS]
    assert in_child(child, confined=True) == [-1, errno.ENOSYS]


def test_ptrace_pid_with_high_bits_matches_the_rule(in_child: Any) -> None:
    """ptrace reads its pid as pid_t: PID | 1 << 32 is PID."""

    def child(confined: bool) -> int:
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        try:
            if confined:
                cond = ArgCondition(index=1, op="eq", value=pid)
                rule = SyscallRule(
                    names="ptrace", action="errno", errno=errno.EHOSTDOWN, args=(cond,)
                )
                apply_seccomp(SeccompPolicy(default="allow", rules=[rule]))
            rc, err = raw_syscall(NR_PTRACE, PTRACE_SEIZE, 1 << 32 | pid, 0, 0)
            return 0 if rc == 0 else err
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)

    assert in_child(child, confined=False) == 0  # control: the kernel attached
    assert in_child(child, confined=True) == errno.EHOSTDOWN
