from __future__ import annotations

import os

import pytest

from hardenkit import features


@pytest.mark.linux
def test_probe_agrees_with_the_kernel() -> None:
    f = features()
    assert f.root == (os.geteuid() == 0)
    with open("/proc/sys/kernel/cap_last_cap") as fh:
        assert f.cap_last_cap == int(fh.read())
    assert "kill_process" in f.seccomp_actions


@pytest.mark.landlock
def test_landlock_abi_is_probed() -> None:
    assert features().landlock_abi >= 1


def test_frozen() -> None:
    with pytest.raises(AttributeError):
        features().root = False  # type: ignore[misc]
