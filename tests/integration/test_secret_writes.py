"""Writers of secret files under concurrency and crashes: real processes, real SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hardenkit.envcrypt import decrypt_env_file, set_env_value
from hardenkit.fileperms import _io, locked_for_update, write_secure
from hardenkit.fileperms._lock import LOCK_NAME

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.linux

TRIALS = 100


def _names(d: Path) -> list[str]:
    """The names in ``d`` but the writers' lock file (kept on purpose, it holds no data)."""
    return sorted(n for n in os.listdir(d) if n != LOCK_NAME)


class _Workers:
    """One forked process per job, kept for every trial, all released at once per trial."""

    def __init__(self, *jobs: Callable[[int], object]) -> None:
        self.pids: list[int] = []
        self.go: list[int] = []
        self.done: list[int] = []
        for job in jobs:
            go_r, go_w = os.pipe()
            done_r, done_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                code = 1
                try:
                    os.close(go_w)
                    os.close(done_r)
                    while data := os.read(go_r, 4):
                        job(int.from_bytes(data, "big"))
                        os.write(done_w, b"+")
                    code = 0
                finally:
                    os._exit(code)
            os.close(go_r)
            os.close(done_w)
            self.pids.append(pid)
            self.go.append(go_w)
            self.done.append(done_r)

    def trial(self, n: int) -> None:
        for fd in self.go:
            os.write(fd, n.to_bytes(4, "big"))
        for fd in self.done:
            assert os.read(fd, 1) == b"+", "a writer failed"

    def close(self) -> None:
        for fd in self.go + self.done:
            os.close(fd)
        for pid in self.pids:
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0


def _race(*jobs: Callable[[], object]) -> None:
    workers = _Workers(*(lambda _n, job=job: job() for job in jobs))
    try:
        workers.trial(0)
    finally:
        workers.close()


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A private directory on tmpfs where there is one: fsync costs nothing there."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        yield tmp_path
        return
    d = Path(tempfile.mkdtemp(dir=shm))
    try:
        yield d
    finally:
        shutil.rmtree(d)


def test_racing_writers_lose_no_private_key_and_no_update(fast_dir: Path) -> None:
    """Per trial, four processes at once in one directory.

    Two create key pairs for different files (both private keys must land in the shared
    .env.keys) and two set different names in one existing file (both must be kept).
    """
    tmp_path = fast_dir

    def env(n: int, name: str) -> Path:
        return tmp_path / str(n) / name

    workers = _Workers(
        lambda n: set_env_value(env(n, ".env.alpha"), "A", "one"),
        lambda n: set_env_value(env(n, ".env.beta"), "B", "two"),
        lambda n: set_env_value(env(n, ".env.gamma"), "C", "1"),
        lambda n: set_env_value(env(n, ".env.gamma"), "D", "2", encrypt=False),
    )
    try:
        for trial in range(TRIALS):
            (tmp_path / str(trial)).mkdir(mode=0o700)
            set_env_value(env(trial, ".env.gamma"), "FIRST", "0")
            workers.trial(trial)
            # Each file decrypts only if its private key survived in the shared .env.keys.
            assert decrypt_env_file(env(trial, ".env.alpha"))["A"] == "one", trial
            assert decrypt_env_file(env(trial, ".env.beta"))["B"] == "two", trial
            values = decrypt_env_file(env(trial, ".env.gamma"))
            assert (values["FIRST"], values["C"], values["D"]) == ("0", "1", "2"), trial
    finally:
        workers.close()


def test_locked_for_update_serialises_read_modify_write(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    write_secure(counter, b"0")

    def bump() -> None:
        for _ in range(20):
            with locked_for_update(counter):
                n = int(counter.read_bytes())
                write_secure(counter, str(n + 1))

    _race(bump, bump, bump)
    assert counter.read_bytes() == b"60"


STEPS = ("created", "written", "synced", "linked", "renamed", "dir-synced")


def _crash_at(step: str, target: Path, data: bytes, *, tmpfile: bool = True) -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child

        def hook(name: str) -> None:
            if name == step:
                os.kill(os.getpid(), signal.SIGKILL)

        try:
            _io._step_hook = hook
            if not tmpfile:
                _io._anonymous_file = lambda *_a: None
            write_secure(target, data)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status), f"the child was not killed at {step}"
    assert os.WTERMSIG(status) == signal.SIGKILL


@pytest.mark.parametrize(
    ("step", "tmpfile"),
    [(s, True) for s in STEPS] + [(s, False) for s in STEPS if s != "linked"],
)
def test_kill_9_at_every_step_leaves_no_copy_of_the_secret(
    tmp_path: Path, step: str, tmpfile: bool
) -> None:
    d = tmp_path / "d"
    d.mkdir(mode=0o700)
    target = d / ".env.keys"
    write_secure(target, b"OLD-KEY")
    _crash_at(step, target, b"NEW-KEY", tmpfile=tmpfile)
    names = _names(d)
    # The target holds the old content or the new one, whole.
    assert target.read_bytes() in (b"OLD-KEY", b"NEW-KEY")
    named_window = step == "linked" or (not tmpfile and step in ("created", "written", "synced"))
    if named_window:
        # The only named copy: a staging name, removed by the next writer.
        assert len(names) == 2
        write_secure(target, b"NEWER-KEY")
    assert _names(d) == [".env.keys"]
    assert target.read_bytes() in (b"OLD-KEY", b"NEW-KEY", b"NEWER-KEY")


def test_write_secure_writes_a_255_byte_name(tmp_path: Path) -> None:
    for length in (252, 255):
        target = tmp_path / ("k" * length)
        write_secure(target, b"secret")
        assert target.read_bytes() == b"secret"
        write_secure(target, b"again")
        assert target.read_bytes() == b"again"
    assert len(_names(tmp_path)) == 2


@pytest.mark.parametrize("write", [1, 2], ids=["keys-file", "env-file"])
@pytest.mark.parametrize("step", STEPS)
def test_kill_9_while_creating_a_key_pair_never_loses_the_key(
    tmp_path: Path, step: str, write: int
) -> None:
    """set_env_value on a new file writes .env.keys, then .env; kill it at every step."""
    env = tmp_path / ".env"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        seen = {"n": 0}

        def hook(name: str) -> None:
            if name == "created":
                seen["n"] += 1
            if name == step and seen["n"] == write:
                os.kill(os.getpid(), signal.SIGKILL)

        try:
            _io._step_hook = hook
            set_env_value(env, "TOKEN", "i17-crash-probe")
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    if env.exists():  # the .env refers to a key: that key must be on disk
        assert decrypt_env_file(env)["TOKEN"] == "i17-crash-probe"  # noqa: S105
    set_env_value(env, "OTHER", "x")  # the next writer cleans up and carries on
    assert _names(tmp_path) == [".env", ".env.keys"]
    assert decrypt_env_file(env)["OTHER"] == "x"
