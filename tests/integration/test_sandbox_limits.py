"""Resource limits bite, and only ever go down; every limit is applied in a child."""

from __future__ import annotations

import os
import resource
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit.errors import SandboxError
from hardenkit.sandbox import ResourceLimits, apply_limits

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux]


def test_open_files_limit_bites(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        apply_limits(ResourceLimits(open_files=16))
        fds: list[int] = []
        try:
            while len(fds) < 100:
                fds.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as err:
            return {"errno": err.errno, "opened": len(fds), "limit": resource.getrlimit(7)}
        return {"errno": 0, "opened": len(fds)}

    out = in_child(child)
    assert out["errno"] == 24  # EMFILE
    assert out["opened"] < 16
    assert out["limit"] == [16, 16]


def test_data_limit_bites(in_child: Any) -> None:
    def child() -> str:
        apply_limits(ResourceLimits(data_bytes=256 * 1024 * 1024))
        try:
            block = bytearray(512 * 1024 * 1024)
        except MemoryError:
            return "MemoryError"
        return f"allocated {len(block)}"

    assert in_child(child) == "MemoryError"


def test_address_space_limit_bites(in_child: Any) -> None:
    def child() -> str:
        apply_limits(ResourceLimits(memory_bytes=1024 * 1024 * 1024))
        try:
            block = bytearray(2 * 1024 * 1024 * 1024)
        except MemoryError:
            return "MemoryError"
        return f"allocated {len(block)}"

    assert in_child(child) == "MemoryError"


def test_file_size_limit_bites_in_exec_children(in_child: Any, tmp_path: Path) -> None:
    target = tmp_path / "big"

    def child() -> int:
        apply_limits(ResourceLimits(file_size_bytes=4096))
        cmd = ["/bin/dd", "if=/dev/zero", f"of={target}", "bs=1024", "count=64"]
        return subprocess.run(cmd, capture_output=True, check=False).returncode

    assert in_child(child) != 0
    assert target.stat().st_size <= 4096


def test_limits_cannot_be_raised_back(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        apply_limits(ResourceLimits(open_files=64))
        try:
            apply_limits(ResourceLimits(open_files=128))
        except SandboxError as err:
            return {"error": str(err), "limit": list(resource.getrlimit(resource.RLIMIT_NOFILE))}
        return {"error": None}

    out = in_child(child)
    assert "RLIMIT_NOFILE" in out["error"]
    assert out["limit"] == [64, 64]


def test_nothing_changes_when_one_value_is_too_high(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        apply_limits(ResourceLimits(open_files=64, core_bytes=None))
        before = resource.getrlimit(resource.RLIMIT_CPU)
        try:
            apply_limits(ResourceLimits(cpu_seconds=5, open_files=1_000_000))
        except SandboxError:
            return {"cpu": list(resource.getrlimit(resource.RLIMIT_CPU)), "before": list(before)}
        return {}

    out = in_child(child)
    assert out["cpu"] == out["before"]


def test_core_dumps_are_off_by_default(in_child: Any) -> None:
    def child() -> list[int]:
        apply_limits(ResourceLimits())
        return list(resource.getrlimit(resource.RLIMIT_CORE))

    assert in_child(child) == [0, 0]


def test_raising_above_the_hard_limit_is_a_sandbox_error_not_value_error(in_child: Any) -> None:
    def child() -> str:
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
        try:
            apply_limits(ResourceLimits(open_files=33))
        except SandboxError as err:
            return type(err).__name__ + ":" + str(isinstance(err, ValueError))
        return "no error"

    assert in_child(child) == "SandboxError:False"
