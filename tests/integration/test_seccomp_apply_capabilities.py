"""apply_seccomp() decides a Docker profile's capability conditions for the caller.

A profile built by root (every capability in the bounding set) and applied with
apply_seccomp() after a privilege drop must not hand the dropped process the calls Docker
grants only with capabilities, as confine(), run() and call_sandboxed() already do not;
and a profile is decided again from its content as loaded, not from a dict edited since.
kcmp on itself is allowed by the kernel to anyone: a refusal is the filter's.
"""

from __future__ import annotations

import ctypes
import errno
import os
from typing import Any

import pytest

from hardenkit._linux.libc import libc
from hardenkit.privileges import drop_privileges
from hardenkit.sandbox import SeccompPolicy, apply_seccomp, confine

pytestmark = [pytest.mark.linux, pytest.mark.root, pytest.mark.seccomp]

NR_KCMP, NR_GET_MEMPOLICY, KCMP_VM = 312, 239, 1


def raw(nr: int, *args: int) -> int:
    """A raw syscall's errno (0 for success)."""
    fn = libc()["syscall"]
    fn.restype = ctypes.c_long
    ctypes.set_errno(0)
    rc = fn(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
    return 0 if rc >= 0 else ctypes.get_errno()


def probe() -> list[int]:
    pid = os.getpid()
    return [raw(NR_KCMP, pid, pid, KCMP_VM, 0, 0), raw(NR_GET_MEMPOLICY, 0, 0, 0, 0, 0)]


def test_apply_seccomp_decides_a_profile_for_the_callers_capabilities(in_child: Any) -> None:
    docker = SeccompPolicy.docker_default()  # decided by root: every capability

    def child(user: str | None, keep: tuple[str, ...], *, confined: bool) -> list[int]:
        if user is not None:
            drop_privileges(user, keep=keep)
        if confined:
            apply_seccomp(docker)
        return probe()

    assert in_child(child, "nobody", (), confined=False) == [
        0,
        0,
    ]  # control: the kernel allows both
    assert in_child(child, None, (), confined=True) == [0, 0]  # root keeps SYS_PTRACE and SYS_NICE
    assert in_child(child, "nobody", (), confined=True) == [errno.EPERM, errno.EPERM]
    assert in_child(child, "nobody", ("SYS_NICE",), confined=True) == [errno.EPERM, 0]


def test_a_profile_decided_again_ignores_later_edits_of_its_dict(in_child: Any) -> None:
    from hardenkit.sandbox.docker import bundled_default  # noqa: PLC0415

    for extra in ({}, {"note": object()}):  # plain JSON, and a dict that is not
        profile = {**bundled_default(), **extra}
        base = SeccompPolicy.from_docker_profile(profile)  # built by root, reviewed
        profile["defaultAction"] = "SCMP_ACT_ALLOW"  # the same dict edited for a variant
        profile["syscalls"] = []

        def child(policy: SeccompPolicy) -> list[int]:
            confine(user="nobody", seccomp=policy)
            return probe()

        assert base.for_capabilities([]).default == "errno"
        assert in_child(child, base) == [errno.EPERM, errno.EPERM]
