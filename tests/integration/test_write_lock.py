"""The writers' lock and staging names against other users: no stall, no planted name."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import stat
from typing import TYPE_CHECKING

import pytest

from hardenkit.errors import InsecurePathError
from hardenkit.fileperms import _io, _lock, locked_for_update, write_secure

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tests.conftest import InChild

pytestmark = [pytest.mark.linux, pytest.mark.root]

NOBODY = 65534
LOCK = ".hardenkit.lock"  # spelled out: the name is part of the documented behaviour
OTHER = 4242  # a second unprivileged user, the writer in a shared directory


def _become(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


@contextlib.contextmanager
def _holder(job: Callable[[], bytes], *, hold_for: float = 60.0) -> Iterator[bytes]:
    """Run ``job`` in a child that then waits; yield what it reported; release it at exit.

    The child exits by itself after ``hold_for`` seconds.
    """
    report_r, report_w = os.pipe()
    release_r, release_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.close(report_r)
            os.close(release_w)
            os.write(report_w, job())
            select.select([release_r], [], [], hold_for)  # until the parent closes its end
            code = 0
        finally:
            os._exit(code)
    os.close(report_w)
    os.close(release_r)
    try:
        yield os.read(report_r, 256)
    finally:
        os.close(release_w)
        os.close(report_r)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0


def _nobody_takes_the_lock(d: Path) -> Callable[[], bytes]:
    def job() -> bytes:
        _become(NOBODY)
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the directory itself: harmless now
        try:
            os.open(d / LOCK, os.O_RDONLY | os.O_NONBLOCK)
        except PermissionError:
            return b"denied"
        except FileNotFoundError:
            return b"absent"
        return b"opened"

    return job


def test_nobody_cannot_stall_root_writes_in_a_0755_directory(
    nobody_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = nobody_tmp / "etc-like"
    d.mkdir(mode=0o755)
    d.chmod(0o755)
    write_secure(d / "secret", b"old")  # creates the lock file
    monkeypatch.setattr(_lock, "LOCK_TIMEOUT", 2.0)
    with _holder(_nobody_takes_the_lock(d)) as report:
        write_secure(d / "secret", b"new")  # proceeds at once, whatever nobody holds
        with locked_for_update(d / "secret"):
            pass
        assert report == b"denied"  # nobody cannot open (so cannot lock) the lock file
    assert (d / "secret").read_bytes() == b"new"
    st = os.stat(d / LOCK)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_size) == (0o600, 0, 0)


def test_lock_timeout_is_read_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "secret"

    def hold() -> bytes:
        # Another writer holding the lock until released (or 5 s: the old code's writer,
        # which ignored the changed timeout, would then get the lock and succeed).
        held.enter_context(locked_for_update(target))  # kept open: the child exits holding it
        return b"held"

    held = contextlib.ExitStack()

    monkeypatch.setattr(_lock, "LOCK_TIMEOUT", 0.2)
    with _holder(hold, hold_for=5.0) as report:
        assert report == b"held"
        with pytest.raises(InsecurePathError, match="held its write lock"):
            write_secure(target, b"blocked")
    assert not target.exists()
    write_secure(target, b"free")  # released with its holder
    assert target.read_bytes() == b"free"


def _plant(kind: str, lock: Path) -> Callable[[], object]:
    def job() -> object:
        if kind == "root-0644":
            fd = os.open(lock, os.O_CREAT | os.O_WRONLY, 0o644)
            os.fchmod(fd, 0o644)
            os.close(fd)
            return None
        _become(NOBODY)
        if kind == "nobody-file":
            os.close(os.open(lock, os.O_CREAT | os.O_WRONLY, 0o600))
        elif kind == "nobody-symlink":
            os.symlink("/etc/shadow", lock)
        return None

    return job


@pytest.mark.parametrize("kind", ["nobody-file", "nobody-symlink", "root-0644"])
def test_a_foreign_lock_file_is_refused(nobody_tmp: Path, in_child: InChild, kind: str) -> None:
    shared = nobody_tmp / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    in_child(_plant(kind, shared / LOCK))
    with pytest.raises(InsecurePathError, match=r"\.hardenkit\.lock"):
        write_secure(shared / "secret", b"data")
    assert not (shared / "secret").exists()
    assert os.stat("/etc/shadow").st_uid == 0  # the symlink was not followed anywhere


def test_a_staging_name_planted_by_another_user_does_not_break_the_write(
    nobody_tmp: Path, in_child: InChild
) -> None:
    shared = nobody_tmp / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    prefix = _io._staging_prefix("secret")
    planted = [f"{prefix[:-1]}.new", f"{prefix}{'0' * 16}.new"]  # the old fixed name, a new one

    def plant() -> None:
        _become(NOBODY)
        for name in planted:
            os.close(os.open(shared / name, os.O_CREAT | os.O_WRONLY, 0o644))

    def write() -> int:
        _become(OTHER)
        write_secure(shared / "secret", b"data")
        write_secure(shared / "secret", b"again")
        return os.stat(shared / "secret").st_uid

    in_child(plant)
    assert in_child(write) == OTHER
    assert (shared / "secret").read_bytes() == b"again"
    # Another user's files are left alone; nothing of the writer's is left behind.
    assert sorted(os.listdir(shared)) == sorted([*planted, LOCK, "secret"])


def test_a_writer_cleans_only_its_own_stale_staging_names(tmp_path: Path) -> None:
    prefix = _io._staging_prefix("secret")
    (tmp_path / f"{prefix}{'1' * 16}.new").write_bytes(b"crashed copy")
    (tmp_path / f"{prefix}{'2' * 16}.new").write_bytes(b"someone else's")
    os.chown(tmp_path / f"{prefix}{'2' * 16}.new", NOBODY, NOBODY)
    write_secure(tmp_path / "secret", b"data")
    assert sorted(os.listdir(tmp_path)) == sorted([f"{prefix}{'2' * 16}.new", LOCK, "secret"])


def test_lock_file_open_errors_are_reported_not_raised_raw(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    os.mkdir(d / LOCK)  # a directory where the lock file goes
    with pytest.raises(InsecurePathError, match="cannot be opened") as info:
        write_secure(d / "secret", b"data")
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.EISDIR


def test_root_gives_the_lock_file_it_creates_to_the_directory_owner(
    nobody_tmp: Path, in_child: InChild
) -> None:
    """Root writing once in a user's directory must not lock that user out of it."""
    home = nobody_tmp / "home"
    home.mkdir(mode=0o700)
    os.chown(home, OTHER, OTHER)
    with locked_for_update(home / "config"):
        pass
    st = os.stat(home / LOCK, follow_symlinks=False)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (OTHER, 0o600)

    def write() -> str:
        _become(OTHER)
        write_secure(home / "config", b"mine")
        return (home / "config").read_text()

    assert in_child(write) == "mine"
    with locked_for_update(home / "config"):  # root still takes it (the owner's file)
        assert (home / "config").read_bytes() == b"mine"


def test_a_user_that_cannot_write_in_the_directory_needs_no_lock_there(
    nobody_tmp: Path, in_child: InChild
) -> None:
    d = nobody_tmp / "ro"
    d.mkdir(mode=0o755)
    d.chmod(0o755)

    def update() -> str:
        _become(NOBODY)
        with locked_for_update(d / "x"):
            pass
        try:
            write_secure(d / "x", b"data")
        except (InsecurePathError, PermissionError) as err:
            return type(err).__name__
        return "written"

    assert in_child(update) in ("InsecurePathError", "PermissionError")
    assert os.listdir(d) == []
