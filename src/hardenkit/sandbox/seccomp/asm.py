"""A tiny classic-BPF assembler with forward labels, and the constants both users share.

:mod:`.bpf` (the prefix) and :mod:`.fragments` (per-ABI table, low-word compares,
multiplexer guard) assemble with it; see :mod:`.bpf` for why each part is hand-written.
"""

from __future__ import annotations

import struct

# Classic BPF opcodes (linux/bpf_common.h).
LD_W_ABS = 0x20
JMP_JA = 0x05
JMP_JEQ_K = 0x15
JMP_JGT_K = 0x25
JMP_JGE_K = 0x35
JMP_JSET_K = 0x45
ALU_AND_K = 0x54
RET_K = 0x06

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
ENOSYS = 38
EPERM = 1

OFF_NR = 0
OFF_ARCH = 4
OFF_ARGS = 16
AUDIT_ARCH_LE = 0x40000000

#: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (Docker's mask), for clone.
CLONE_NS_MASK = 0x7E020000
#: The same plus CLONE_NEWTIME (only unshare and clone3 take it; in clone it is CSIGNAL).
UNSHARE_NS_MASK = CLONE_NS_MASK | 0x00000080
X32_SYSCALL_BIT = 0x40000000
#: ioctl(2) command that fakes terminal input (asm-generic; x86, arm, riscv, s390...).
TIOCSTI = 0x5412
MAX_JUMP = 0xFF  # conditional jump offsets are 8 bits
U32 = 0xFFFFFFFF
INSN = 8  # sizeof(struct sock_filter)


class Asm:
    """A tiny assembler with forward labels."""

    def __init__(self) -> None:
        self.code: list[tuple[int, str | int, str | int, int] | bytes] = []
        self.labels: dict[str, int] = {}
        self.pos = 0  # instructions so far (a raw program counts all of its own)
        self._n = 0

    def fresh(self, stem: str) -> str:
        """Return a label name not used before, starting with ``stem``."""
        self._n += 1
        return f"{stem}{self._n}"

    def label(self, name: str) -> None:
        """Put label ``name`` at the next instruction."""
        self.labels[name] = self.pos

    def op(self, code: int, k: int = 0, jt: str | int = 0, jf: str | int = 0) -> None:
        """Append one instruction; ``jt``/``jf`` are offsets or labels (``JA`` takes ``jt``)."""
        self.code.append((code, jt, jf, k))
        self.pos += 1

    def raw(self, program: bytes) -> None:
        """Append an already assembled program (its jumps are relative: position-free)."""
        if not program or len(program) % INSN:
            raise ValueError("a linked BPF program is a non-empty multiple of 8 bytes")
        self.code.append(program)
        self.pos += len(program) // INSN

    def assemble(self) -> bytes:
        """Return the program, every label resolved (ValueError when a jump cannot reach)."""
        out = bytearray()
        i = 0
        for insn in self.code:
            if isinstance(insn, bytes):
                out += insn
                i += len(insn) // INSN
                continue
            code, jt, jf, k = insn
            if code == JMP_JA:
                assert isinstance(jt, str)  # noqa: S101 -- internal invariant
                k = self.labels[jt] - i - 1
                jt_off = jf_off = 0
            else:
                jt_off = self.labels[jt] - i - 1 if isinstance(jt, str) else jt
                jf_off = self.labels[jf] - i - 1 if isinstance(jf, str) else jf
            if not (0 <= jt_off <= MAX_JUMP and 0 <= jf_off <= MAX_JUMP and k >= 0):
                raise ValueError("BPF prefix jump out of range")
            out += struct.pack("=HBBI", code, jt_off, jf_off, k & 0xFFFFFFFF)
            i += 1
        return bytes(out)
