"""fileperms against the kernel: FIFOs, hostile umasks and an unprivileged caller (children)."""

from __future__ import annotations

import os
import stat
import time
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit.errors import InsecurePathError
from hardenkit.fileperms import check_path, make_private_dir, open_secure, tighten, write_secure

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]

NOBODY = 65534


def _open_fifo(path: str, mode: str) -> str:
    start = time.monotonic()
    try:
        with open_secure(path, mode):
            return "opened"
    except InsecurePathError as err:
        return f"{time.monotonic() - start:.3f} {err.problems[0]}"


@pytest.mark.parametrize("mode", ["rb", "r+b", "ab"])
def test_fifo_is_refused_at_once(tmp_path: Path, in_child: Any, mode: str) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    # In a child with a timeout: a blocking open() would hang forever with no writer.
    outcome = in_child.outcome(_open_fifo, str(fifo), mode, timeout=10)
    assert outcome.ok, outcome.describe()
    elapsed, problem = outcome.value.split(" ", 1)
    assert float(elapsed) < 1.0
    assert problem == f"{fifo} is a fifo, not a regular file"


def test_fifo_swapped_in_after_the_walk_is_refused_unopened(tmp_path: Path) -> None:
    # The walk saw a regular file; the name now holds a FIFO. The O_PATH descriptor shows
    # it before anything opens it, and the check on the opened descriptor would too.
    from hardenkit.fileperms import _io  # noqa: PLC0415

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    dir_fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(InsecurePathError, match="fifo \\(swapped in"):
            _io._open_leaf(dir_fd, "fifo", str(fifo), os.O_RDONLY)
    finally:
        os.close(dir_fd)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(InsecurePathError, match="fifo, not a regular file"):
            _io._verify_fd(fd, str(fifo), max_mode=0o600, owner=0, writing=False)
    finally:
        os.close(fd)


def _write_under_umask(directory: str, umask: int) -> dict[str, int]:
    os.umask(umask)  # this child only
    modes = {}
    for mode in (0o600, 0o640, 0o644, 0o400, 0o755):
        path = os.path.join(directory, f"f{mode:o}")
        write_secure(path, b"data", mode=mode)
        modes[f"{mode:o}"] = stat.S_IMODE(os.stat(path).st_mode)
    private = make_private_dir(os.path.join(directory, "a", "b"), mode=0o750)
    modes["dir-a"] = stat.S_IMODE(os.stat(private.parent).st_mode)
    modes["dir-b"] = stat.S_IMODE(os.stat(private).st_mode)
    return modes


@pytest.mark.parametrize("umask", [0o000, 0o077, 0o777])
def test_write_secure_gives_exactly_the_mode_whatever_the_umask(
    tmp_path: Path, in_child: Any, umask: int
) -> None:
    modes = in_child(_write_under_umask, str(tmp_path), umask)
    assert modes == {
        "600": 0o600, "640": 0o640, "644": 0o644, "400": 0o400, "755": 0o755,
        "dir-a": 0o750, "dir-b": 0o750,
    }  # fmt: skip
    assert os.umask(0o022) == 0o022  # the test process's umask was never touched
    os.umask(0o022)


def _as_nobody(directory: str) -> dict[str, str]:
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    results: dict[str, str] = {}

    def attempt(name: str, fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            value = fn(*args, **kwargs)
            results[name] = "ok" if value is None else f"ok {getattr(value, 'uid', '')}"
        except InsecurePathError as err:
            results[name] = "refused: " + " | ".join(err.problems)

    mine = os.path.join(directory, "mine")
    attempt("write-mine", write_secure, mine, b"x")
    attempt("check-mine", check_path, mine)  # owner defaults to the effective uid
    attempt("check-roots", check_path, os.path.join(directory, "roots"))
    attempt("check-others", check_path, os.path.join(directory, "others"))
    attempt("tighten-roots", tighten, os.path.join(directory, "roots-loose"), max_mode=0o600)
    attempt("open-unreadable", open_secure, os.path.join(directory, "roots-private"))
    return results


def test_semantics_for_an_unprivileged_caller(nobody_tmp: Path, in_child: Any) -> None:
    nobody_tmp.chmod(0o777)
    nobody_tmp.chmod(0o1777)  # sticky and root-owned: accepted like /tmp
    for name, uid, mode in (
        ("roots", 0, 0o600),
        ("others", 4242, 0o600),
        ("roots-loose", 0, 0o644),
        ("roots-private", 0, 0o600),
    ):
        (nobody_tmp / name).write_bytes(b"")
        (nobody_tmp / name).chmod(mode)
        os.chown(nobody_tmp / name, uid, uid)
    results = in_child(_as_nobody, str(nobody_tmp))
    assert results["write-mine"] == "ok"
    assert results["check-mine"] == f"ok {NOBODY}"
    assert results["check-roots"] == "ok 0"  # root is always an accepted owner
    assert (
        "owned by uid 4242 (no name), expected uid 65534 (nobody) or root"
        in results["check-others"]
    )
    assert "could not be changed: Operation not permitted" in results["tighten-roots"]
    assert "could not be opened: Permission denied" in results["open-unreadable"]
    assert stat.S_IMODE((nobody_tmp / "roots-loose").stat().st_mode) == 0o644
