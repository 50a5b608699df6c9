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


@pytest.mark.exec_helper
def test_spawn_path_says_helper_when_the_helper_is_usable() -> None:
    f = features()
    assert (f.spawn_path, f.spawn_path_why, f.exec_helper) == ("helper", "", True)


@pytest.mark.linux
def test_spawn_path_says_python_and_why_when_the_helper_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hardenkit._features import features as probe  # noqa: PLC0415

    monkeypatch.setenv("HARDENKIT_SPAWN_HELPER", "0")
    f = probe.__wrapped__()  # a fresh probe, not the cached one
    assert (f.spawn_path, f.spawn_path_why, f.exec_helper) == (
        "python",
        "HARDENKIT_SPAWN_HELPER=0",
        False,
    )


@pytest.mark.linux
@pytest.mark.root
def test_first_confined_spawn_logs_its_path_and_why_at_info(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import hardenkit  # noqa: PLC0415
    from hardenkit.spawn import _run  # noqa: PLC0415

    monkeypatch.setenv("HARDENKIT_SPAWN_HELPER", "0")
    monkeypatch.setattr(_run, "FORCE_PATH", None)
    _run._log_path.cache_clear()
    policy = hardenkit.CommandPolicy(["true"])
    limits = hardenkit.ResourceLimits(open_files=64)
    with caplog.at_level("INFO", logger="hardenkit.spawn"):
        hardenkit.run(["true"], policy=policy, limits=limits)
        hardenkit.run(["true"], policy=policy, limits=limits)
    said = [r.getMessage() for r in caplog.records if "confining children" in r.getMessage()]
    assert said == [
        "confining children in Python between fork and exec (slower path): HARDENKIT_SPAWN_HELPER=0"
    ]
    assert all(r.levelname == "INFO" for r in caplog.records if "confining" in r.getMessage())
