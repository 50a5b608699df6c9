"""Supervision: pump the started command's I/O, kill and sweep what must die, reap it."""

from __future__ import annotations

import contextlib
import os
import signal
import time

from hardenkit._linux import sweep as _sweep
from hardenkit._log import get_logger
from hardenkit.errors import CommandFailed, CommandTimeout
from hardenkit.spawn._pump import _LINUX, GRACE, Stream, drain, pump
from hardenkit.spawn._result import Cancelled, RunResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

__all__ = ["supervise"]

_log = get_logger("hardenkit.spawn")


def _finish(
    proc: subprocess.Popen[bytes],
    streams: list[Stream],
    *,
    in_namespace: bool,
    kill: bool,
) -> None:
    """Kill what must die, read the rest of the output, reap the child."""
    pipes = _sweep.pipe_names(*(s.fd for s in streams))
    if kill:
        with contextlib.suppress(ProcessLookupError):
            # In a PID namespace, killing its init kills every process in it.
            proc.send_signal(signal.SIGKILL)
    if not in_namespace:
        if kill:
            _sweep.sweep(proc.pid, pipes)
        else:
            _sweep.kill_group(proc.pid)
    drain(streams, time.monotonic() + GRACE)
    if any(s.open for s in streams) and _LINUX:
        # Someone we could not attribute still holds a pipe: find it by the pipe itself.
        killed = _sweep.sweep(proc.pid, pipes)
        _log.warning("killed %d process(es) still holding the output pipes", killed)
        drain(streams, time.monotonic() + GRACE)
    proc.wait()


def supervise(  # noqa: PLR0917 -- private, called once
    proc: subprocess.Popen[bytes],
    args: tuple[str, ...],
    start: float,
    seconds: float,
    data: bytes | None,
    max_output: int,
    in_namespace: bool,
    check: bool,
    cancel_fd: int | None,
) -> RunResult:
    assert proc.stdout is not None  # noqa: S101 -- created with PIPE above
    assert proc.stderr is not None  # noqa: S101
    streams = [Stream(proc.stdout.fileno(), max_output, bytearray())]
    streams.append(Stream(proc.stderr.fileno(), max_output, bytearray()))
    for s in streams:
        os.set_blocking(s.fd, False)
    stdin = None
    if proc.stdin is not None and data is not None:
        in_fd = os.dup(proc.stdin.fileno())
        proc.stdin.close()
        os.set_blocking(in_fd, False)
        stdin = (in_fd, memoryview(bytes(data)))
    outcome = "cancel"
    try:
        outcome = pump(proc, streams, stdin, start + seconds, cancel_fd)
    finally:
        _finish(proc, streams, in_namespace=in_namespace, kill=outcome != "done")
        proc.stdout.close()
        proc.stderr.close()
    result = RunResult(
        argv=args,
        returncode=proc.returncode,
        stdout=bytes(streams[0].data),
        stderr=bytes(streams[1].data),
        truncated=any(s.truncated for s in streams),
        duration=time.monotonic() - start,
    )
    if outcome == "timeout":
        raise CommandTimeout(
            f"{args[0]} ran past its {seconds:g} s timeout; its processes were killed",
            timeout=seconds,
            result=result,
        )
    if outcome == "cancel":
        raise Cancelled
    if check and result.returncode != 0:
        raise CommandFailed(f"{args[0]} exited with status {result.returncode}", result=result)
    return result
