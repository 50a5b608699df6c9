"""The compiled exec helper (``hardenkit-exec``): where it is and how to talk to it.

The helper is a small static C program built with the package (see its source,
``hardenkit/_libexec/hardenkit-exec.c``). The spawn path starts it with vfork + exec
instead of running Python between fork and exec; it makes the syscalls of a
:class:`Script` in order, reports what the kernel says, waits for the parent's go and
execs the command. It knows no policy: building the script and judging the report
happen here, in Python.
"""

from __future__ import annotations

import errno
import os
import struct
import time

from hardenkit._log import get_logger

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Iterable

_log = get_logger("hardenkit.spawn")

NAME = "hardenkit-exec"
#: Set to "0" to never use the helper (the spawn path then forks and confines in Python).
DISABLE_ENV = "HARDENKIT_SPAWN_HELPER"

OP_PRCTL = 1
OP_BOUNDING = 2
OP_SETGROUPS = 3
OP_SETRESGID = 4
OP_SETRESUID = 5
OP_CAPSET = 6
OP_AMBIENT = 7
OP_RLIMIT = 8
OP_SECCOMP = 9
OP_LANDLOCK = 10
OP_CLOEXEC = 11
OP_PRCTL_EXPECT = 12
OP_STATUS = 20
OP_PRCTL_GET = 21
OP_GETRLIMIT = 22
OP_GETGROUPS = 23
OP_PROBE_OPEN = 24
OP_PROBE_MKDIR = 25
OP_PROBE_MKNOD = 26
OP_PROBE_SOCKET = 27
OP_PROBE_SIGNAL = 28
OP_ABSTRACT_LISTEN = 29
OP_SYNC = 30

FRAME_REPORT = 1
FRAME_FAILED = 2
FRAME_EXEC = 3

#: uid_t/gid_t -1: "leave unchanged".
UNCHANGED = 0xFFFFFFFF
_MAGIC = b"HKX1"
_HEAD = struct.Struct("<II")  # a frame's kind and size; a record's step and size
_FAILED = struct.Struct("<Ii")  # step index, errno
_EXEC = struct.Struct("<i")  # errno
_U64 = 0xFFFFFFFFFFFFFFFF
#: Steps past this many bytes are refused here (the helper's buffer is 1 MiB).
MAX_SCRIPT = 1 << 20


class HelperError(Exception):
    """The helper failed a step, or its messages made no sense (internal; see spawn)."""

    def __init__(self, message: str, *, step: str | None = None, errno: int = 0) -> None:
        super().__init__(message)
        self.step = step
        self.errno = errno


class Script:
    """Steps for the helper, each labelled for error messages.

    Examples:
        >>> s = Script()
        >>> s.add(OP_SETRESUID, "setresuid", 65534, 65534, 65534)
        0
        >>> s.add(OP_STATUS, "read status")
        1
        >>> len(s.encode()), s.labels
        (48, ['setresuid', 'read status'])
    """

    __slots__ = ("_parts", "labels", "ops")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.labels: list[str] = []
        self.ops: list[int] = []

    def add(self, op: int, label: str, *numbers: int, data: bytes = b"") -> int:
        """Append one step (u64 ``numbers`` then ``data``); return its index.

        A number outside -2**63..2**64-1 is refused (masking it would encode another
        value: 2**64 would become 0); a negative one is its two's complement.
        """
        for n in numbers:
            if not -(2**63) <= n <= _U64:
                raise ValueError(f"{label}: {n} does not fit the helper's 64-bit argument")
        payload = struct.pack(f"<{len(numbers)}Q", *(n & _U64 for n in numbers)) + data
        self._parts.append(struct.pack("<II", op, len(payload)) + payload)
        self.labels.append(label)
        self.ops.append(op)
        return len(self.labels) - 1

    def add_groups(self, label: str, gids: Iterable[int]) -> int:
        """Append a setgroups step (u32 gids)."""
        ids = list(gids)
        payload = struct.pack(f"<{len(ids)}I", *ids)
        self._parts.append(struct.pack("<II", OP_SETGROUPS, len(payload)) + payload)
        self.labels.append(label)
        self.ops.append(OP_SETGROUPS)
        return len(self.labels) - 1

    def encode(self) -> bytes:
        """The message the helper reads first: magic, length, steps."""
        body = b"".join(self._parts)
        if len(body) > MAX_SCRIPT:
            raise ValueError(f"the helper script is {len(body)} bytes (limit {MAX_SCRIPT})")
        return _MAGIC + struct.pack("<I", len(body)) + body


def parse_records(payload: bytes) -> dict[int, bytes]:
    """Split a REPORT frame into ``{step index: bytes}``.

    Examples:
        >>> parse_records(struct.pack("<II", 3, 2) + b"ok")
        {3: b'ok'}
    """
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(payload):
        if len(payload) - pos < _HEAD.size:
            raise HelperError("the exec helper sent a truncated report")
        index, size = _HEAD.unpack_from(payload, pos)
        pos += _HEAD.size
        if size > len(payload) - pos:
            raise HelperError("the exec helper sent a truncated report")
        if index in out:
            raise HelperError(f"the exec helper answered step {index} twice")
        out[index] = payload[pos : pos + size]
        pos += size
    return out


def _recv_exact(sock: socket.socket, size: int, deadline: float) -> bytes | None:
    """Read ``size`` bytes; None on end-of-file before the first byte."""
    chunks: list[bytes] = []
    got = 0
    while got < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HelperError("the exec helper did not answer before the deadline")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(size - got)
        except TimeoutError as err:
            raise HelperError("the exec helper did not answer before the deadline") from err
        if not chunk:
            if got == 0:
                return None
            raise HelperError("the exec helper closed its socket mid-message")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket, deadline: float) -> tuple[int, bytes] | None:
    """Read one frame ``(kind, payload)``; None on end-of-file (the exec happened)."""
    head = _recv_exact(sock, _HEAD.size, deadline)
    if head is None:
        return None
    kind, size = _HEAD.unpack(head)
    if kind not in (FRAME_REPORT, FRAME_FAILED, FRAME_EXEC) or size > 1 << 17:
        raise HelperError(f"the exec helper sent an unknown frame ({kind}, {size} bytes)")
    payload = _recv_exact(sock, size, deadline) if size else b""
    if payload is None:
        raise HelperError("the exec helper closed its socket mid-message")
    return kind, payload


def raise_failure(kind: int, payload: bytes, script: Script) -> None:
    """Turn a FAILED or EXEC frame into HelperError (OSError for a failed execve).

    A failed :data:`OP_PRCTL_EXPECT` step's label is the whole message (it says what
    does not hold).
    """
    if kind == FRAME_FAILED and len(payload) == _FAILED.size:
        index, err = _FAILED.unpack(payload)
        if index >= len(script.labels):
            raise HelperError(f"step {index} failed: {os.strerror(err)}", errno=err)
        label = script.labels[index]
        if script.ops[index] == OP_PRCTL_EXPECT and err == errno.EPROTO:
            raise HelperError(label, step=label, errno=err)
        raise HelperError(f"{label} failed: {os.strerror(err)}", step=label, errno=err)
    if kind == FRAME_EXEC and len(payload) == _EXEC.size:
        (err,) = _EXEC.unpack(payload)
        raise OSError(err, os.strerror(err))
    raise HelperError(f"the exec helper sent an unexpected frame (kind {kind})")
