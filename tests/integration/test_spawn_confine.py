"""A confined child: the kernel's view matches what run() was asked for."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from hardenkit.errors import PolicyError, PrivilegeError, SandboxError
from hardenkit.sandbox import FilesystemPolicy, ResourceLimits, SeccompPolicy
from hardenkit.spawn import CommandPolicy, _run as spawn_run, private_tmpdir, run

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]

POLICY = CommandPolicy(["id", "sh", "cat", "echo"])


@pytest.fixture(
    autouse=True, params=[pytest.param("helper", marks=pytest.mark.exec_helper), "fork"]
)
def confinement_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs through the exec helper and through the Python fork path."""
    path = str(request.param)
    monkeypatch.setattr(spawn_run, "FORCE_PATH", path)
    return path


def _status(text: str) -> dict[str, str]:
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def test_user_nobody_gets_nobody_groups_and_no_new_privs() -> None:
    assert run(["id", "-G"], policy=POLICY, user="nobody").stdout == b"65534\n"
    status = _status(
        run(["cat", "/proc/self/status"], policy=POLICY, user="nobody").stdout.decode()
    )
    assert status["NoNewPrivs"] == "1"
    assert status["Uid"].split() == ["65534"] * 4
    assert status["Gid"].split() == ["65534"] * 4
    assert status["Groups"].split() == ["65534"]
    assert int(status["CapEff"], 16) == 0
    assert int(status["CapBnd"], 16) == 0
    env = run(["sh", "-c", "echo $HOME $USER"], policy=POLICY, user="nobody").stdout
    assert env == b"/nonexistent nobody\n"


def test_limits_and_docker_profile_are_in_force(shared_data: Path) -> None:
    profile = SeccompPolicy.from_docker_profile(shared_data / "docker-default-seccomp.json")
    out = run(
        ["sh", "-c", "ulimit -n; ulimit -Hn; cat /proc/self/status"],
        policy=POLICY,
        user="nobody",
        limits=ResourceLimits(open_files=48),
        seccomp=profile,
    ).stdout.decode()
    soft, hard, rest = out.split("\n", 2)
    assert (soft, hard) == ("48", "48")
    status = _status(rest)
    assert status["Seccomp"] == "2"
    assert int(status["Seccomp_filters"]) >= 1
    assert status["NoNewPrivs"] == "1"


def test_namespace_creation_is_blocked_in_a_confined_child() -> None:
    result = run(
        ["sh", "-c", "unshare -U true; echo $?"], policy=CommandPolicy(["sh"]), user="nobody"
    )
    assert result.stdout.strip() not in (b"0", b"")


def test_confinement_failure_means_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises((PolicyError, PrivilegeError, SandboxError)):
        run(["sh", "-c", f"touch {marker}"], policy=POLICY, user="no-such-user-hk")
    with pytest.raises(SandboxError):  # above the hard limit: refused before anything runs
        run(["sh", "-c", f"touch {marker}"], policy=POLICY, limits=ResourceLimits(open_files=10**9))
    assert not marker.exists()


def test_scratch_dir_owned_by_the_dropped_user() -> None:
    with private_tmpdir(owner="nobody") as scratch:
        result = run(
            ["sh", "-c", 'echo data > "$TMPDIR/f" && cat "$TMPDIR/f" && echo x > "$HOME/h"'],
            policy=POLICY,
            user="nobody",
            env=scratch.env(),
            cwd=scratch.path,
        )
        assert result.stdout == b"data\n"
        assert (scratch.home / "h").stat().st_uid == 65534
    assert not scratch.path.exists()


def test_threads_spawning_confined_children_never_deadlock() -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(6):
                out = run(["id", "-u"], policy=POLICY, user="nobody", timeout=20).stdout
                assert out == b"65534\n", (n, i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a confined spawn is stuck (deadlock)"
    assert errors == []


def test_process_limit_for_root_is_refused_before_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess  # noqa: PLC0415

    forks: list[object] = []
    real_popen = subprocess.Popen

    def counting_popen(*args: object, **kwargs: object) -> object:
        forks.append(args)
        return real_popen(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "Popen", counting_popen)
    limits = ResourceLimits(processes=4)
    # Control: after a drop the kernel enforces RLIMIT_NPROC, so the limit is set.
    out = run(["cat", "/proc/self/limits"], policy=POLICY, user="nobody", limits=limits).stdout
    assert b"Max processes             4                    4" in out
    assert len(forks) == 1
    for options in ({}, {"user": "root"}, {"user": "nobody", "keep": ["CAP_SYS_RESOURCE"]}):
        with pytest.raises(SandboxError, match="would not be enforced") as info:
            run(["cat", "/proc/self/limits"], policy=POLICY, limits=limits, **options)
        assert "before exec" not in str(info.value)  # the parent said so, not the child
    assert len(forks) == 1  # nothing was forked for the refused runs


@pytest.mark.landlock
def test_landlock_confines_the_command(nobody_tmp: Path) -> None:
    secret = nobody_tmp / "secret"
    secret.write_text("hidden\n")
    secret.chmod(0o644)
    fs = FilesystemPolicy(read=["/etc"], execute=["/usr", "/bin", "/lib", "/lib64"])
    allowed = run(["cat", "/etc/hostname"], policy=POLICY, user="nobody", filesystem=fs)
    assert allowed.returncode == 0
    assert allowed.stdout
    refused = run(["cat", str(secret)], policy=POLICY, user="nobody", filesystem=fs)
    assert refused.returncode != 0
    assert refused.stdout == b""
    assert b"Permission denied" in refused.stderr
    # Root keeps its capabilities but not past Landlock: the same refusal without a drop.
    as_root = run(["cat", str(secret)], policy=POLICY, filesystem=fs)
    assert as_root.returncode != 0
    assert as_root.stdout == b""


@pytest.mark.landlock
def test_landlock_with_root_readable_keeps_writes_out(nobody_tmp: Path) -> None:
    # "/" readable: the check probes a mkdir in a world-writable directory instead.
    fs = FilesystemPolicy(read=["/"], execute=["/usr", "/bin", "/lib", "/lib64"])
    target = nobody_tmp / "made"
    result = run(["sh", "-c", f"mkdir {target}"], policy=POLICY, filesystem=fs)
    assert result.returncode != 0
    assert not target.exists()
