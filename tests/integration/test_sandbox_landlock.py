"""Landlock restricts what the confined child can reach; applied only in children."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from hardenkit.errors import SandboxError
from hardenkit.sandbox import FilesystemPolicy, apply_landlock, landlock_abi

pytestmark = [pytest.mark.linux, pytest.mark.landlock]


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    for d in (inside, outside):
        d.mkdir()
        (d / "data.txt").write_text(f"{d.name}\n")
    return inside, outside


def _try_read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except PermissionError:
        return "EACCES"


def _outcome(action: Any) -> str:
    try:
        action()
    except PermissionError:
        return "EACCES"
    return "done"


def test_abi_is_probed_with_the_syscall() -> None:
    assert landlock_abi() >= 1


def test_read_inside_works_outside_fails(in_child: Any, tmp_path: Path) -> None:
    inside, outside = _tree(tmp_path)

    def child() -> dict[str, str]:
        apply_landlock(FilesystemPolicy(read=[inside]))
        return {
            "inside": _try_read(inside / "data.txt"),
            "outside": _try_read(outside / "data.txt"),
            "etc": _try_read(Path("/etc/hostname")),
        }

    assert in_child(child) == {"inside": "inside", "outside": "EACCES", "etc": "EACCES"}


def test_read_only_path_cannot_be_written_or_truncated(in_child: Any, tmp_path: Path) -> None:
    inside, _ = _tree(tmp_path)

    def child() -> list[str]:
        apply_landlock(FilesystemPolicy(read=[inside]))
        actions = (
            lambda: (inside / "data.txt").write_text("x"),
            lambda: os.truncate(inside / "data.txt", 0),
            (inside / "new").mkdir,
            (inside / "data.txt").unlink,
        )
        return [_outcome(action) for action in actions]

    assert in_child(child) == ["EACCES"] * 4
    assert (inside / "data.txt").read_text() == "inside\n"


def test_write_path_allows_creation(in_child: Any, tmp_path: Path) -> None:
    inside, outside = _tree(tmp_path)

    def child() -> list[str]:
        apply_landlock(FilesystemPolicy(read=[inside], write=[inside]))
        (inside / "new.txt").write_text("ok")
        try:
            (outside / "new.txt").write_text("no")
        except PermissionError:
            return ["inside ok", "outside EACCES"]
        return ["inside ok", "outside written"]

    assert in_child(child) == ["inside ok", "outside EACCES"]
    assert not (outside / "new.txt").exists()


def test_file_rule_gets_file_rights_only(in_child: Any, tmp_path: Path) -> None:
    inside, _ = _tree(tmp_path)
    target = inside / "data.txt"

    def child() -> list[str]:
        # write= on a file would include directory rights (the kernel rejects those on a
        # file with EINVAL); they must be masked off, and the file stays usable.
        apply_landlock(FilesystemPolicy(read=[target], write=[target]))
        target.write_text("changed\n")
        try:
            os.listdir(inside)
        except PermissionError:
            return [_try_read(target), "dir EACCES"]
        return [_try_read(target), "dir listed"]

    assert in_child(child) == ["changed", "dir EACCES"]


def test_exec_children_inherit_the_restriction(in_child: Any, tmp_path: Path) -> None:
    inside, outside = _tree(tmp_path)

    def child() -> int:
        apply_landlock(
            FilesystemPolicy(
                read=["/usr", "/lib", "/lib64", "/etc", "/bin", str(inside)],
                execute=["/usr", "/bin", "/lib", "/lib64"],
            )
        )
        cmd = ["/bin/cat", str(outside / "data.txt")]
        return subprocess.run(cmd, capture_output=True, check=False).returncode

    assert in_child(child) != 0


def test_execute_is_needed_to_exec(in_child: Any) -> None:
    def child() -> str:
        apply_landlock(FilesystemPolicy(read=["/usr", "/lib", "/lib64", "/bin", "/etc"]))
        try:
            subprocess.run(["/bin/true"], check=False)
        except PermissionError:
            return "EACCES"
        return "ran"

    assert in_child(child) == "EACCES"


def test_refused_with_live_threads(in_child: Any, tmp_path: Path) -> None:
    def child() -> str:
        stop = threading.Event()
        t = threading.Thread(target=stop.wait)
        t.start()
        try:
            apply_landlock(FilesystemPolicy(read=[tmp_path]))
        except SandboxError as err:
            return str(err)
        finally:
            stop.set()
            t.join()
        return "applied"

    assert "threads are running" in in_child(child)


def test_missing_path_is_an_error(in_child: Any, tmp_path: Path) -> None:
    def child() -> str:
        try:
            apply_landlock(FilesystemPolicy(read=[tmp_path / "missing"]))
        except SandboxError as err:
            return str(err)
        return "applied"

    assert "cannot be opened" in in_child(child)
