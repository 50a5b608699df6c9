"""Load a precompiled classic BPF program with one seccomp(2) call.

Everything is prepared when the program object is built, so :meth:`BpfProgram.load`
does no import, allocation of consequence or name lookup: it is safe in a freshly forked
child right before exec.
"""

from __future__ import annotations

import ctypes
import os

from hardenkit import _applied
from hardenkit._linux.libc import libc, syscall_number

SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
#: The kernel's limit on one filter program (BPF_MAXINSNS).
BPF_MAXINSNS = 4096
_INSN_SIZE = 8


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


class BpfProgram:
    """A classic BPF seccomp program, ready to load.

    Examples:
        >>> allow_all = bytes([6, 0, 0, 0, 0, 0, 0xFF, 0x7F])  # RET ALLOW
        >>> BpfProgram(allow_all).instructions
        1
    """

    __slots__ = ("_args", "_buf", "_fn", "_fprog", "instructions")

    def __init__(self, program: bytes) -> None:
        if not program or len(program) % _INSN_SIZE:
            raise ValueError("a BPF program is a non-empty multiple of 8 bytes")
        self.instructions = len(program) // _INSN_SIZE
        if self.instructions > BPF_MAXINSNS:
            raise ValueError(f"{self.instructions} BPF instructions exceed {BPF_MAXINSNS}")
        self._buf = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(self.instructions, ctypes.addressof(self._buf))
        self._fn = libc()["syscall"]  # a fresh function object: no shared argtypes state
        self._fn.restype = ctypes.c_long
        self._args = (
            ctypes.c_long(syscall_number("seccomp")),
            ctypes.c_long(SECCOMP_SET_MODE_FILTER),
        )

    def load(self, *, tsync: bool = True) -> None:
        """Install the program on the calling thread (every thread with ``tsync``).

        Raises OSError with the kernel's errno; with ``tsync``, a thread that cannot be
        synchronised makes the call fail (ESRCH-like, reported as EBUSY) and nothing is
        installed anywhere.
        """
        flags = ctypes.c_long(SECCOMP_FILTER_FLAG_TSYNC if tsync else 0)
        rc = self._fn(self._args[0], self._args[1], flags, ctypes.byref(self._fprog))
        if rc == 0:
            _applied.SECCOMP.append((self._buf.raw, tsync))
            return
        if rc > 0:  # TSYNC: the id of a thread that could not be synchronised
            raise OSError(16, f"thread {rc} could not be synchronised (TSYNC)")
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
