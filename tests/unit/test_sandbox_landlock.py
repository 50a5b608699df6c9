"""FilesystemPolicy and LandlockPlan preparation (nothing is enforced here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from hardenkit.errors import SandboxError
from hardenkit.sandbox import FilesystemPolicy, landlock as ll

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.landlock]


def test_paths_are_normalised(tmp_path: Path) -> None:
    p = FilesystemPolicy(read=[tmp_path, str(tmp_path)], write=str(tmp_path / "x" / ".."))
    assert p.read == (str(tmp_path),)
    assert p.write == (str(tmp_path),)


def test_min_abi_bounds() -> None:
    with pytest.raises(ValueError, match="min_abi"):
        FilesystemPolicy(min_abi=8)


def test_rights_are_masked_by_abi_and_file_type(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    plan = ll.LandlockPlan(FilesystemPolicy(read=[tmp_path], write=[f]))
    try:
        assert plan.rights[str(f)] & ~ll.FILE_RIGHTS == 0
        assert plan.rights[str(f)] & ll.WRITE_FILE
        assert plan.rights[str(tmp_path)] & ll.READ_DIR
        assert plan.handled == ll._ABI_FS_RIGHTS[plan.abi]
    finally:
        plan.close()


def test_abi_below_the_minimum_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ll, "landlock_abi", lambda: 2)
    with pytest.raises(SandboxError, match="below the policy's minimum 3"):
        ll.LandlockPlan(FilesystemPolicy(read=[tmp_path]))
    plan = ll.LandlockPlan(FilesystemPolicy(read=[tmp_path], min_abi=2))
    try:
        assert not plan.handled & ll.TRUNCATE  # ABI 2 cannot handle truncate
    finally:
        plan.close()


def test_absent_landlock_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ll, "landlock_abi", lambda: 0)
    with pytest.raises(SandboxError, match="absent or disabled"):
        ll.LandlockPlan(FilesystemPolicy(min_abi=1))


def _is_open(fd: int) -> bool:
    import os  # noqa: PLC0415

    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_plan_descriptors_close_on_close_and_on_collection(tmp_path: Path) -> None:
    # weakref.finalize's job, done without importing weakref (hardenkit exec's start).
    import gc  # noqa: PLC0415

    plan = ll.LandlockPlan(FilesystemPolicy(read=[tmp_path]))
    fds = plan.descriptors()
    assert fds
    assert all(_is_open(fd) for fd in fds)
    plan.close()
    assert not any(_is_open(fd) for fd in fds)
    plan.close()  # twice is harmless
    plan = ll.LandlockPlan(FilesystemPolicy(read=[tmp_path]))
    fds = plan.descriptors()
    assert all(_is_open(fd) for fd in fds)
    held = len(ll._OPEN)
    del plan
    gc.collect()
    assert not any(_is_open(fd) for fd in fds)
    assert len(ll._OPEN) == held - 1
    plan = ll.LandlockPlan(FilesystemPolicy(read=[tmp_path]))
    fds = plan.descriptors()
    plan.cycle = plan  # type: ignore[attr-defined]  # collected by the cycle collector only
    del plan
    assert all(_is_open(fd) for fd in fds)
    gc.collect()
    assert not any(_is_open(fd) for fd in fds)
    shared = ll.LandlockPlan.isolation()
    shared.close()  # the shared isolation plan keeps its descriptors
    assert all(_is_open(fd) for fd in shared.descriptors())
