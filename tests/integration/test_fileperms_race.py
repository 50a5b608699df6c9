"""Adversarial: paths flipped between benign files and symlinks to a root-only secret.

A thread swaps names with rename(2) (atomic) while the opener runs, thousands of times.
``sys.setswitchinterval`` is lowered so the two threads interleave as finely as the GIL
allows (the syscalls themselves release it). The secret's content must never come back.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from hardenkit.errors import InsecurePathError
from hardenkit.fileperms import open_secure, write_secure

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]

ROUNDS = 4000
SECONDS = 1.5
#: On a loaded machine the flipper may not interleave within SECONDS; the race goes on until
#: every outcome that proves it live has been seen, up to this bound.
MAX_SECONDS = 20.0


@pytest.fixture
def secret(tmp_path: Path) -> tuple[Path, bytes]:
    vault = tmp_path / "vault"
    vault.mkdir(mode=0o700)
    value = b"ROOT-ONLY-" + secrets.token_hex(16).encode()
    path = vault / "config"
    path.write_bytes(value)
    path.chmod(0o600)
    return path, value


@pytest.fixture
def fine_switching() -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _race(
    flip: Callable[[], None], attempt: Callable[[], str], live: tuple[str, ...] = ()
) -> Counter[str]:
    """Run ``flip`` in a thread while calling ``attempt`` repeatedly; count the outcomes.

    Runs ``ROUNDS`` attempts or ``SECONDS``, then on until each outcome in ``live`` was seen
    (at most ``MAX_SECONDS``), so that a slow machine still exercises the race.
    """
    stop = threading.Event()
    errors: list[BaseException] = []

    def flipper() -> None:
        try:
            while not stop.is_set():
                flip()
        except BaseException as exc:  # surfaced below: a broken flipper proves nothing
            errors.append(exc)

    outcomes: Counter[str] = Counter()
    thread = threading.Thread(target=flipper, daemon=True)
    thread.start()
    start = time.monotonic()
    rounds = 0
    try:
        while True:
            outcomes[attempt()] += 1
            rounds += 1
            elapsed = time.monotonic() - start
            if elapsed > MAX_SECONDS:
                break
            if (rounds >= ROUNDS or elapsed > SECONDS) and all(outcomes[k] for k in live):
                break
    finally:
        stop.set()
        thread.join(5)
    assert not errors, errors
    return outcomes


def _read(path: Path, secret_value: bytes) -> str:
    message = ""
    try:
        with open_secure(path) as f:
            data = f.read()
    except InsecurePathError as err:
        message = str(err)
    if message:
        assert secret_value.decode() not in message
        return "symlink" if "symlink" in message else "refused"
    assert data != secret_value, "open_secure returned the root-only secret"
    assert data == b"benign", data
    return "benign"


@pytest.mark.usefixtures("fine_switching")
def test_leaf_flipped_to_a_symlink_never_yields_the_secret(
    tmp_path: Path, secret: tuple[Path, bytes]
) -> None:
    secret_path, value = secret
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    benign = work / ".benign"
    benign.write_bytes(b"benign")
    benign.chmod(0o600)
    target = work / "config"
    os.link(benign, target)

    def flip() -> None:
        os.symlink(secret_path, work / ".link")
        os.replace(work / ".link", target)  # target is now a symlink to the secret
        os.link(benign, work / ".file")
        os.replace(work / ".file", target)  # and a regular file again

    outcomes = _race(flip, lambda: _read(target, value), live=("benign", "symlink"))
    assert outcomes["benign"] > 0, outcomes
    assert outcomes["symlink"] > 0, outcomes  # the race was live: links were seen


@pytest.mark.usefixtures("fine_switching")
def test_parent_flipped_to_a_symlink_never_yields_the_secret(
    tmp_path: Path, secret: tuple[Path, bytes]
) -> None:
    secret_path, value = secret
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    real = work / "dir"
    real.mkdir(mode=0o700)
    (real / "config").write_bytes(b"benign")
    (real / "config").chmod(0o600)
    aside = work / ".aside"

    def flip() -> None:
        os.rename(real, aside)
        os.symlink(secret_path.parent, real)  # work/dir -> vault, which holds "config"
        time.sleep(0)
        os.unlink(real)
        os.rename(aside, real)

    outcomes = _race(flip, lambda: _read(real / "config", value), live=("benign", "symlink"))
    assert outcomes["benign"] > 0, outcomes
    assert outcomes["symlink"] > 0, outcomes


@pytest.mark.usefixtures("fine_switching")
def test_write_secure_never_writes_through_a_flipped_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    victim.chmod(0o600)
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    target = work / "out"

    def flip() -> None:
        os.symlink(victim, work / ".link")
        os.replace(work / ".link", target)
        time.sleep(0)
        os.unlink(target)  # gone, then write_secure may create it as a regular file

    def attempt() -> str:
        try:
            write_secure(target, b"payload")
        except InsecurePathError:
            return "refused"
        return "written"

    outcomes = _race(flip, attempt, live=("refused",))
    assert victim.read_bytes() == b"untouched"
    assert victim.stat().st_mode & 0o777 == 0o600
    assert outcomes["refused"] > 0, outcomes
    assert not [n for n in os.listdir(work) if n.endswith(".tmp")]


def test_a_fifo_swapped_in_after_the_walk_is_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the walk (a regular file) and the open, the name becomes a FIFO.

    A reader is blocked opening that FIFO: if open_secure opened it for writing, even
    non-blocking and refused afterwards, the reader would wake. The O_PATH open first
    means the FIFO is never opened.
    """
    from hardenkit.fileperms import _io  # noqa: PLC0415

    target = tmp_path / "secret"
    write_secure(target, b"x")
    real_open_leaf = _io._open_leaf

    def swap_then_open(dir_fd: int, name: str, path: str, flags: int) -> int:
        os.unlink(name, dir_fd=dir_fd)
        os.mkfifo(name, 0o600, dir_fd=dir_fd)
        woke.clear()
        reader.start()
        time.sleep(0.2)  # the reader is now blocked in open(O_RDONLY)
        return real_open_leaf(dir_fd, name, path, flags)

    woke = threading.Event()

    def read_side() -> None:
        fd = os.open(target, os.O_RDONLY)  # blocks until a writer opens the FIFO
        woke.set()
        os.close(fd)

    reader = threading.Thread(target=read_side, daemon=True)
    monkeypatch.setattr(_io, "_open_leaf", swap_then_open)
    with pytest.raises(InsecurePathError, match="fifo"):
        open_secure(target, "ab")
    assert not woke.wait(0.3), "the FIFO was opened for writing: its reader woke up"
    # Release the reader ourselves (and prove the test could see a wake-up).
    fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
    os.close(fd)
    assert woke.wait(5)
    reader.join(5)
