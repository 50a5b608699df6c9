"""Helpers shared by several test files (one copy each; fixtures stay in conftest.py).

Independent of hardenkit where they judge it: /proc is parsed here by hand, not through
``hardenkit._linux.procfs``, so a bug there cannot hide itself in a test's oracle.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import select
import signal
import socket
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit._linux.libc import PR_SET_PDEATHSIG, libc, prctl

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# --- raw syscalls and io_uring ------------------------------------------------------------


def raw_syscall(
    nr: int, *args: int | bytes | ctypes.Array[ctypes.c_char] | None
) -> tuple[int, int]:
    """A raw syscall: (return value, errno). Integer arguments are passed as full words."""
    fn = libc()["syscall"]
    fn.restype = ctypes.c_long
    cargs = [ctypes.c_ulong(a & 0xFFFFFFFFFFFFFFFF) if isinstance(a, int) else a for a in args]
    ctypes.set_errno(0)
    rc = fn(ctypes.c_long(nr), *cargs)
    return int(rc), ctypes.get_errno()


# io_uring (linux/io_uring.h): enough of the ABI to submit one IORING_OP_SOCKET.
NR_IO_URING_SETUP, NR_IO_URING_ENTER = 425, 426
IORING_OP_SOCKET, IORING_ENTER_GETEVENTS = 45, 1
IORING_OFF_SQ_RING, IORING_OFF_CQ_RING, IORING_OFF_SQES = 0, 0x8000000, 0x10000000
URING_PARAMS_SIZE, _SQE_SIZE, _CQE_SIZE = 120, 64, 16


def uring_socket() -> list[Any]:
    """Create a TCP socket through io_uring; ``["socket", kind]`` or the failing stage."""
    params = ctypes.create_string_buffer(URING_PARAMS_SIZE)
    fd, err = raw_syscall(NR_IO_URING_SETUP, 4, params)
    if fd < 0:
        return ["setup", err]
    sq_entries, cq_entries = struct.unpack_from("=II", params.raw, 0)
    _h, sq_tail, sq_mask, _n, _f, _d, sq_array = struct.unpack_from("=7I", params.raw, 40)
    cq_head, _t, cq_mask, _n, _o, cqes = struct.unpack_from("=6I", params.raw, 80)
    sq = mmap.mmap(fd, sq_array + sq_entries * 4, offset=IORING_OFF_SQ_RING)
    cq = mmap.mmap(fd, cqes + cq_entries * _CQE_SIZE, offset=IORING_OFF_CQ_RING)
    sqes = mmap.mmap(fd, sq_entries * _SQE_SIZE, offset=IORING_OFF_SQES)
    # The SQE's fields in order; for a socket: fd is the domain, off the type, len the protocol.
    sqe = struct.pack("=BBHiQQII", IORING_OP_SOCKET, 0, 0, socket.AF_INET, 1, 0, 0, 0)
    sqes[0:_SQE_SIZE] = sqe.ljust(_SQE_SIZE, b"\0")
    tail = struct.unpack_from("=I", sq, sq_tail)[0]
    slot = tail & struct.unpack_from("=I", sq, sq_mask)[0]
    struct.pack_into("=I", sq, sq_array + slot * 4, 0)
    struct.pack_into("=I", sq, sq_tail, tail + 1)
    rc, err = raw_syscall(NR_IO_URING_ENTER, fd, 1, 1, IORING_ENTER_GETEVENTS, None, 0)
    if rc < 0:
        return ["enter", err]
    head = struct.unpack_from("=I", cq, cq_head)[0]
    index = head & struct.unpack_from("=I", cq, cq_mask)[0]
    _user_data, res, _flags = struct.unpack_from("=QiI", cq, cqes + index * _CQE_SIZE)
    if res < 0:
        return ["op", -res]
    return ["socket", os.readlink(f"/proc/self/fd/{res}").split(":")[0]]


# --- /proc, read by hand ---------------------------------------------------------------------


def proc_alive(pid: int) -> bool:
    """True while ``pid`` runs or sleeps; a zombie (or a dead task) is not alive.

    Only a vanished process counts as dead: any other read failure raises, so a test that
    asserts a process is gone cannot pass because /proc could not be read.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def host_pid() -> int:
    """This process's pid as /proc numbers it (the host's /proc, even inside a PID
    namespace, where ``os.getpid()`` differs)."""
    with open("/proc/self/stat", "rb") as fh:
        return int(fh.read().split()[0])


def status_fields(text: str | None = None) -> dict[str, str]:
    """Parse /proc/self/status (or ``text``) into name -> value, independently of hardenkit."""
    if text is None:
        text = Path("/proc/self/status").read_text()
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


# --- processes ----------------------------------------------------------------------------


@contextlib.contextmanager
def no_pid_namespace() -> Iterator[None]:
    """As if the kernel refused the namespace (no CAP_SYS_ADMIN, seccomp in the caller)."""
    import hardenkit._linux.spawn as linux_spawn  # noqa: PLC0415 -- patched only here

    @contextlib.contextmanager
    def refused() -> Iterator[bool]:
        yield False

    real = linux_spawn.pid_namespace_for_children
    linux_spawn.pid_namespace_for_children = refused
    try:
        yield
    finally:
        linux_spawn.pid_namespace_for_children = real


@contextlib.contextmanager
def paused_child(
    setup: Callable[[], object] = lambda: None, *, umask: int | None = None
) -> Iterator[int]:
    """Fork a child that sets ``umask`` (if given), runs ``setup``, then blocks on a pipe
    until the block ends; yields its pid. A failing setup fails the test with its message."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 0
        try:
            os.close(ready_r)
            os.close(go_w)
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if umask is not None:
                os.umask(umask)
            setup()
            os.write(ready_w, b"ok")
            os.read(go_r, 1)  # EOF when the parent is done
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(ready_w, f"{type(exc).__name__}: {exc}".encode()[:4000])
            code = 1
        os._exit(code)
    os.close(ready_w)
    os.close(go_r)
    try:
        readable, _, _ = select.select([ready_r], [], [], 20)
        message = os.read(ready_r, 4096) if readable else b"timed out"
        if message != b"ok":
            pytest.fail(f"child setup failed: {message.decode(errors='replace')}")
        yield pid
    finally:
        os.close(go_w)
        os.close(ready_r)
        for _ in range(200):
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                break
            time.sleep(0.01)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


# --- files --------------------------------------------------------------------------------


def make_file(path: Path, mode: int = 0o600, data: bytes = b"x") -> Path:
    """Write ``data`` to ``path`` and set exactly ``mode`` (the umask does not apply)."""
    path.write_bytes(data)
    path.chmod(mode)
    return path


def sabotage_helper_steps(
    monkeypatch: pytest.MonkeyPatch,
    match: str,
    replace: Callable[[bytes], bytes] | None = None,
) -> list[str]:
    """Make the exec helper's script neutralise every step whose label contains ``match``.

    The step becomes a harmless prctl(PR_GET_DUMPABLE) (or ``replace(step)``); returns the
    labels hit, filled in when a script is built.
    """
    from hardenkit._linux import exec_helper as xh  # noqa: PLC0415 -- only these tests need it
    from hardenkit.spawn import _helper  # noqa: PLC0415

    harmless = struct.pack("<II", xh.OP_PRCTL_GET, 16) + struct.pack("<QQ", 3, 0)  # DUMPABLE
    real = _helper.build_script
    hit: list[str] = []

    def build(plan: Any, **kwargs: Any) -> Any:
        script, rep = real(plan, **kwargs)
        for i, label in enumerate(script.labels):
            if match in label:
                script._parts[i] = replace(script._parts[i]) if replace else harmless
                hit.append(label)
        return script, rep

    monkeypatch.setattr(_helper, "build_script", build)
    return hit


def load_benchmark(name: str) -> Any:
    """Import ``benchmarks/<name>.py`` (not a package) so a test can reuse its generators."""
    import importlib.util  # noqa: PLC0415 -- only the tests that read a benchmark need it

    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def argparse_result(command: str, words: list[str]) -> dict[str, object] | None:
    """What the CLI's argparse parser makes of ``command words`` (None: it refused them).

    The oracle for the argparse-free fast paths (``exec``, ``audit``): what they accept,
    argparse must accept with the same values.
    """
    import contextlib  # noqa: PLC0415 -- only the CLI tests need these
    import io  # noqa: PLC0415

    from hardenkit.cli import build_parser  # noqa: PLC0415

    parser = build_parser((command,))
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            ns = parser.parse_args([command, *words])
    except SystemExit:
        return None
    return vars(ns)


def random_option_words(
    rng: Any, options: list[str], values: list[str], *, most: int, eq: float, value: float
) -> list[str]:
    """Up to ``most`` - 1 options, a share ``eq`` as ``--opt=value``, others followed by a
    value with probability ``value``: input for the fast paths' agreement tests."""
    words: list[str] = []
    for _ in range(rng.randrange(0, most)):
        option = rng.choice(options)
        if rng.random() < eq:
            words.append(f"{option}={rng.choice(values)}")
        else:
            words.append(option)
            if rng.random() < value:
                words.append(rng.choice(values))
    return words


def fast_path_agreements(
    parse_fast: Any, command: str, words_of: Any, *, seed: int, rounds: int = 3000
) -> int:
    """Check that every argument list ``parse_fast`` accepts, argparse parses alike.

    Returns how many it accepted (a test pins that the fast path is not a dead branch).
    The handler is compared by identity; the other values by equality.
    """
    import random  # noqa: PLC0415 -- only the CLI tests need it

    rng = random.Random(seed)  # noqa: S311 -- reproducible test input
    taken = 0
    for _ in range(rounds):
        words = words_of(rng)
        fast = parse_fast(words)
        if fast is None:
            continue
        taken += 1
        expected = argparse_result(command, words)
        assert expected is not None, f"fast path accepted what argparse refuses: {words}"
        got = vars(fast)
        assert got.pop("handler", None) is expected.pop("handler", None), words
        assert got == expected, words
    return taken


@contextlib.contextmanager
def redaction_scan_path(path: str) -> Iterator[None]:
    """Run the block's redact() calls on one prefilter path: "warm-up" (the literal
    prefilter of a process's first texts) or "hyperscan" (the database)."""
    from hardenkit.redaction import _prefilter  # noqa: PLC0415 -- only the tests that ask

    old = _prefilter._scan
    _prefilter._scan = _prefilter._literal_scan if path == "warm-up" else _prefilter._built_scan()
    try:
        yield
    finally:
        _prefilter._scan = old
