"""The exec helper's wire format, parsed on our side: malformed input is an error, never data."""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
import time
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings, strategies as st

from hardenkit._linux import exec_helper as xh

if TYPE_CHECKING:
    from collections.abc import Iterator


def test_script_encoding_is_what_the_helper_reads() -> None:
    script = xh.Script()
    assert script.add(xh.OP_RLIMIT, "setrlimit", 7, 64, 64) == 0
    assert script.add_groups("setgroups", [65534, 3]) == 1
    assert script.add(xh.OP_PROBE_OPEN, "probe", data=b"/") == 2
    raw = script.encode()
    assert raw[:4] == b"HKX1"
    (length,) = struct.unpack_from("<I", raw, 4)
    assert length == len(raw) - 8
    body = raw[8:]
    assert struct.unpack_from("<II3Q", body, 0) == (xh.OP_RLIMIT, 24, 7, 64, 64)
    assert struct.unpack_from("<II2I", body, 32) == (xh.OP_SETGROUPS, 8, 65534, 3)
    assert body[48:] == struct.pack("<II", xh.OP_PROBE_OPEN, 1) + b"/"
    assert script.ops == [xh.OP_RLIMIT, xh.OP_SETGROUPS, xh.OP_PROBE_OPEN]


def test_negative_numbers_wrap_like_the_kernel_expects() -> None:
    script = xh.Script()
    script.add(xh.OP_SETRESUID, "seteuid", xh.UNCHANGED, 0, -1)
    body = script.encode()[8:]
    assert struct.unpack_from("<3Q", body, 8) == (0xFFFFFFFF, 0, 2**64 - 1)


def test_oversized_scripts_are_refused_before_sending() -> None:
    script = xh.Script()
    script.add(xh.OP_STATUS, "big", data=bytes(xh.MAX_SCRIPT))
    with pytest.raises(ValueError, match="limit"):
        script.encode()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_parse_records_never_returns_garbage(payload: bytes) -> None:
    try:
        records = xh.parse_records(payload)
    except xh.HelperError:
        return
    # What parsed re-encodes to exactly the payload: nothing skipped, merged or invented.
    rebuilt = b"".join(struct.pack("<II", k, len(v)) + v for k, v in records.items())
    assert rebuilt == payload


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.binary(max_size=20)), max_size=8))
def test_parse_records_round_trips(pairs: list[tuple[int, bytes]]) -> None:
    payload = b"".join(struct.pack("<II", k, len(v)) + v for k, v in pairs)
    if len({k for k, _ in pairs}) < len(pairs):
        with pytest.raises(xh.HelperError, match="twice"):
            xh.parse_records(payload)
    else:
        assert xh.parse_records(payload) == dict(pairs)


def test_truncated_records_are_refused() -> None:
    with pytest.raises(xh.HelperError, match="truncated"):
        xh.parse_records(struct.pack("<II", 1, 10) + b"short")
    with pytest.raises(xh.HelperError, match="truncated"):
        xh.parse_records(b"\x01\x00")


@contextlib.contextmanager
def _pair_with(data: bytes, *, close: bool = True) -> Iterator[socket.socket]:
    """Our end of a socket pair whose other end sent ``data`` (then closed, or stays open)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(data)
        if close:
            theirs.shutdown(socket.SHUT_WR)
        yield ours


def test_frames_end_of_file_and_unknown_kinds() -> None:
    deadline = time.monotonic() + 5
    with _pair_with(b"") as sock:
        assert xh.read_frame(sock, deadline) is None
    with _pair_with(struct.pack("<II", xh.FRAME_REPORT, 2) + b"ok") as sock:
        assert xh.read_frame(sock, deadline) == (xh.FRAME_REPORT, b"ok")
    bad = [
        (struct.pack("<II", 77, 0), "unknown frame"),
        (struct.pack("<II", xh.FRAME_REPORT, 1 << 20), "unknown frame"),
        (struct.pack("<II", xh.FRAME_REPORT, 4) + b"ab", "mid-message"),
        (b"\x01\x00\x00", "mid-message"),
    ]
    for data, match in bad:
        with _pair_with(data) as sock, pytest.raises(xh.HelperError, match=match):
            xh.read_frame(sock, deadline)


def test_a_silent_helper_hits_the_deadline() -> None:
    with _pair_with(b"", close=False) as sock:
        start = time.monotonic()
        with pytest.raises(xh.HelperError, match="deadline"):
            xh.read_frame(sock, start + 0.2)
        assert time.monotonic() - start < 2


def test_failures_name_the_step() -> None:
    script = xh.Script()
    script.add(xh.OP_SETRESUID, "dropping: setresuid", 1, 1, 1)
    script.add(xh.OP_PRCTL_EXPECT, "this thread is not in seccomp filter mode", 21, 0, 2)
    with pytest.raises(xh.HelperError, match="dropping: setresuid failed: Operation not"):
        xh.raise_failure(xh.FRAME_FAILED, struct.pack("<Ii", 0, errno.EPERM), script)
    with pytest.raises(xh.HelperError, match=r"^this thread is not in seccomp filter mode$"):
        xh.raise_failure(xh.FRAME_FAILED, struct.pack("<Ii", 1, errno.EPROTO), script)
    with pytest.raises(xh.HelperError, match="step 9 failed"):
        xh.raise_failure(xh.FRAME_FAILED, struct.pack("<Ii", 9, errno.EIO), script)
    with pytest.raises(FileNotFoundError):
        xh.raise_failure(xh.FRAME_EXEC, struct.pack("<i", errno.ENOENT), script)
    with pytest.raises(xh.HelperError, match="unexpected frame"):
        xh.raise_failure(xh.FRAME_EXEC, b"", script)
