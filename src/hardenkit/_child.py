"""Run a function in a forked child and bring its result back as data.

The one implementation behind :func:`hardenkit.call_sandboxed` and the test suite's
``in_child`` fixture. The result crosses the pipe as JSON, never as a pickle: a child
that was compromised while running untrusted input cannot make the parent execute code.
Irreversible steps (``before``: privilege drops, seccomp, rlimits, Landlock) run in the
child only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import sys
import time

from hardenkit._dataclass import dataclass, field, replace
from hardenkit._linux import require_linux

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from typing import Any

#: Results larger than this are refused (the child could otherwise exhaust our memory).
MAX_RESULT_BYTES = 64 * 1024 * 1024
#: Results holding more JSON values than this are refused before they are decoded: each
#: decoded value costs up to ~130 bytes of our memory however few bytes encode it (``{}``
#: is 2 bytes on the pipe, 64 as a dict), so bytes alone do not bound what we allocate;
#: this bounds it to ~35 MiB beyond the bytes themselves.
MAX_RESULT_VALUES = 1 << 18
_CHUNK = 65536


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildOutcome:
    """How a forked child ended.

    ``ok`` is True only when the function returned and its value arrived intact. Otherwise
    exactly one of ``exc_type`` (it raised), ``signal`` (it was killed) or ``timed_out``
    explains why; ``exit_code`` is set when it exited without reporting. ``pid`` is the
    child's process id as the parent forked it (never a value the child reported).
    """

    ok: bool
    value: Any = None
    exc_type: str | None = None
    exc_message: str | None = None
    signal: int | None = None
    exit_code: int | None = None
    timed_out: bool = False
    duration: float = 0.0
    pid: int | None = field(default=None, compare=False)
    #: True when the child was pid 1 of a PID namespace of its own (``pid_namespace=``).
    pid_namespace: bool = field(default=False, compare=False)
    #: Why a report that arrived was refused undecoded (too many values, too deep).
    refused: str | None = None

    def describe(self) -> str:
        """Say in one line how the child ended.

        Examples:
            >>> ChildOutcome(ok=False, signal=9).describe()
            'killed by signal SIGKILL'
        """
        if self.ok:
            return "returned normally"
        if self.timed_out:
            return "timed out and was killed"
        if self.exc_type is not None:
            return f"raised {self.exc_type}: {self.exc_message}"
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = str(self.signal)
            return f"killed by signal {name}"
        if self.refused is not None:
            return f"sent a result that was refused: {self.refused}"
        return f"exited with status {self.exit_code} without a result"


def _child_main(
    write_fd: int,
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    before: Callable[[], object] | None,
    *,
    only_fds: Sequence[int] | None = None,
) -> None:  # pragma: no cover - runs in the forked child, reported through the pipe
    try:
        # Imported by fork_call before the fork: nothing is imported in the child.
        from hardenkit._linux.libc import PR_SET_PDEATHSIG, prctl  # noqa: PLC0415 -- loaded already

        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if only_fds is not None:
            close_other_fds((write_fd, *only_fds))
        if before is not None:
            before()
        value = fn(*args, **kwargs)
        payload = json.dumps({"ok": True, "value": value})
    except BaseException as exc:  # noqa: BLE001 -- every failure is reported as data
        payload = json.dumps({"ok": False, "type": type(exc).__name__, "message": str(exc)})
    code = 0
    try:
        data = payload.encode()
        view = memoryview(data)
        while view:
            written = os.write(write_fd, view)
            view = view[written:]
    except OSError:
        code = 70
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def close_other_fds(keep: Sequence[int]) -> None:
    """Close every descriptor above 2 except ``keep``; stdin becomes /dev/null.

    What a forked child inherits is whatever its parent had open: sockets, database
    connections, /dev/kmsg, secret files. Close-on-exec does nothing for a child that
    never execs, so a sandboxed function gets its result channel and nothing else.

    Examples:
        >>> def child():
        ...     return sorted(int(n) for n in os.listdir("/proc/self/fd"))
        >>> extra = os.open(os.devnull, os.O_RDONLY)
        >>> len(fork_call(child, only_fds=()).value)  # 0-2, the result pipe, the listing
        5
        >>> os.close(extra)
    """
    low = 3
    for fd in sorted({fd for fd in keep if fd >= low}):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 30)
    null = os.open(os.devnull, os.O_RDONLY)
    if null != 0:
        os.dup2(null, 0)
        os.close(null)


def fork_call(
    fn: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    timeout: float | None = None,
    before: Callable[[], object] | None = None,
    pid_namespace: bool = False,
    before_reap: Callable[[int, bool], object] | None = None,
    only_fds: Sequence[int] | None = None,
) -> ChildOutcome:
    """Fork, run ``before()`` then ``fn(*args, **kwargs)`` in the child, return how it ended.

    The value must be JSON-serialisable (it travels as JSON). On timeout the child is
    killed with SIGKILL and reaped before this returns. The child dies with the parent
    (PR_SET_PDEATHSIG: the kernel sends it from outside the child's PID namespace, so it
    is delivered even to a namespace's pid 1).

    With ``pid_namespace`` the child is forked as pid 1 of a new PID namespace when the
    kernel allows it (see :func:`hardenkit._linux.spawn.pid_namespace_for_children`;
    ``ChildOutcome.pid_namespace`` says whether it did): when it exits, the kernel kills
    everything it started, ``setsid()`` escapees included, before it can be reaped.
    ``before_reap(pid, in_namespace)`` runs once the child has exited (or was killed on
    timeout) and before it is reaped, while its pid cannot be reused: the place to kill
    what it left behind when no namespace contained it.

    With ``only_fds`` the child closes every descriptor above 2 but its result channel
    and those listed (and reads stdin from /dev/null) before ``before()`` runs.
    Results with more than :data:`MAX_RESULT_BYTES` bytes or :data:`MAX_RESULT_VALUES`
    values, or nested deeper than the interpreter's recursion limit, are refused
    (``ChildOutcome.refused``) without being decoded.

    Examples:
        >>> fork_call(pow, (2, 10)).value
        1024
        >>> fork_call(int, ("x",)).exc_type
        'ValueError'
        >>> fork_call(os.kill, (0, 0)).ok  # the child may do anything to itself
        True
    """
    require_linux("forked calls")
    # The child's first step needs libc (ctypes); load it here, not in a forked child
    # (for import time it is not loaded at module import, nor ctypes with it).
    from hardenkit._linux.libc import prctl_function  # noqa: PLC0415

    prctl_function()

    kwargs = dict(kwargs or {})
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    start = time.monotonic()
    pid = -1
    try:
        with _namespace(enabled=pid_namespace) as contained:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                os.close(read_fd)
                _child_main(write_fd, fn, args, kwargs, before, only_fds=only_fds)
    except BaseException:
        os.close(read_fd)
        if pid > 0:  # forked, but restoring our PID namespace failed: take the child back
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    finally:
        os.close(write_fd)
    try:
        data, timed_out = _collect(read_fd, pid, timeout, start)
    finally:
        os.close(read_fd)
    if timed_out:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        if before_reap is not None:
            before_reap(pid, contained)
    finally:
        _, status = os.waitpid(pid, 0)
    duration = time.monotonic() - start
    if timed_out:
        outcome = ChildOutcome(ok=False, timed_out=True, duration=duration)
    else:
        outcome = _outcome(data, status, duration)
    return replace(outcome, pid=pid, pid_namespace=contained)


@contextlib.contextmanager
def _namespace(*, enabled: bool) -> Iterator[bool]:
    """Make the next fork of this thread pid 1 of a new PID namespace, if asked and allowed."""
    if not enabled:
        yield False
        return
    from hardenkit._linux.spawn import pid_namespace_for_children  # noqa: PLC0415 -- for import time: _linux.spawn loads libc (ctypes)

    with pid_namespace_for_children() as active:
        yield active


def _collect(read_fd: int, pid: int, timeout: float | None, start: float) -> tuple[bytearray, bool]:
    """Read the child's report until it exits; True when the time ran out first.

    EOF on the pipe does not end the wait: a child that closed its descriptors and
    carried on is still bound by the timeout. Never more than MAX_RESULT_BYTES are kept.
    """
    chunks = bytearray()  # grown in place: no second copy when it is complete
    size = 0
    pidfd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(read_fd, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        reading = True
        while True:
            remaining = None if timeout is None else timeout - (time.monotonic() - start)
            if remaining is not None and remaining <= 0:
                return chunks, True
            # poll() takes a C int of milliseconds: wait in slices (a timeout of 25 days
            # or more raised OverflowError and left the child running).
            wait = None if remaining is None else max(1, int(min(remaining, 3600.0) * 1000))
            events = dict(poller.poll(wait))
            if reading and read_fd in events:
                chunk = os.read(read_fd, _CHUNK)
                if not chunk:
                    reading = False  # EOF; the child itself may still be running
                    poller.unregister(read_fd)
                    continue
                size += len(chunk)
                if size > MAX_RESULT_BYTES:
                    os.kill(pid, signal.SIGKILL)
                    return bytearray(), False
                chunks += chunk
            elif pidfd in events:
                if reading:
                    # Exited; a grandchild may still hold the pipe: drain without blocking.
                    os.set_blocking(read_fd, False)
                    with contextlib.suppress(BlockingIOError):
                        while size <= MAX_RESULT_BYTES and (chunk := os.read(read_fd, _CHUNK)):
                            size += len(chunk)
                            chunks += chunk
                    if size > MAX_RESULT_BYTES:
                        return bytearray(), False
                break
    finally:
        os.close(pidfd)
    return chunks, False


def _string_end(data: bytes | bytearray, pos: int) -> int:
    """Index of the quote closing the JSON string whose content starts at ``pos``, or -1."""
    end = data.find(b'"', pos)
    while end != -1:
        run = end
        while run > pos and data[run - 1] == _BACKSLASH:  # backslashes right before it
            run -= 1
        if (end - run) % 2 == 0:
            return end  # not escaped
        end = data.find(b'"', end + 1)
    return -1


def _values_bound(data: bytes | bytearray) -> int:
    r"""An upper bound on the number of JSON values in ``data``, capped past the limit.

    Every value but the first follows ``[``, ``,`` or ``:`` (an empty ``[]`` holds none).
    Counting those bytes is cheap; those inside strings only make the bound larger, so
    when it is over it is recounted outside strings, in one linear pass that stops as soon
    as the limit is passed (a regular expression over strings backtracks quadratically on
    ``"\"\"...`` and builds a piece per string: a hostile child could hang its caller).
    """
    bound = 1 + data.count(b"[") - data.count(b"[]") + data.count(b",") + data.count(b":")
    if bound <= MAX_RESULT_VALUES:
        return bound
    limit = MAX_RESULT_VALUES
    values, strings, pos = 1, 0, 0
    while values <= limit:
        match = _JSON_TOKEN.search(data, pos)
        if match is None:
            break
        pos = match.end()
        if data[match.start()] != _QUOTE:  # '[', ',' or ':'
            values += data[match.start() : pos + 1] != b"[]"
            continue
        strings += 1  # a value or a key: in valid JSON at most 2 per separator, plus 1
        if strings > 2 * limit + 1:
            return strings
        pos = _string_end(data, pos) + 1
        if pos == 0:
            break  # unterminated: the decoder stops here
    return values


_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_JSON_TOKEN = re.compile(rb'["\[,:]')


def _decode(data: bytes | bytearray) -> tuple[Any, str | None]:
    """Decode the child's report within bounds: (report, None) or (None, why refused)."""
    if not data:
        return None, None
    values = _values_bound(data)
    if values > MAX_RESULT_VALUES:
        return None, f"more than {MAX_RESULT_VALUES} JSON values"
    try:
        return json.loads(data), None
    except RecursionError:
        return None, "nested too deeply"
    except ValueError:
        return None, None


def _outcome(data: bytes | bytearray, status: int, duration: float) -> ChildOutcome:
    if os.WIFSIGNALED(status):
        return ChildOutcome(ok=False, signal=os.WTERMSIG(status), duration=duration)
    code = os.waitstatus_to_exitcode(status)
    report, refused = _decode(data)
    if refused is not None:
        return ChildOutcome(ok=False, exit_code=code, refused=refused, duration=duration)
    if not isinstance(report, dict) or code != 0:
        return ChildOutcome(ok=False, exit_code=code, duration=duration)
    if report.get("ok") is True:
        return ChildOutcome(ok=True, value=report.get("value"), exit_code=0, duration=duration)
    return ChildOutcome(
        ok=False,
        exc_type=str(report.get("type")),
        exc_message=str(report.get("message")),
        exit_code=0,
        duration=duration,
    )
