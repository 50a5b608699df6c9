"""The compiled exec helper: the parent's check has teeth, and nothing runs without "go".

Each sabotage test replaces one step of the helper's script with a harmless report step
(same index, so every other answer stays where the parent looks for it), runs a command
that would leave a marker, and expects an error and no marker: the kernel's answers,
judged in the parent or by the helper's own prctl checks, are what stop it.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import struct
import subprocess
import time
from typing import TYPE_CHECKING, Any

import pytest
from tests._helpers import sabotage_helper_steps

from hardenkit._linux import exec_helper as xh
from hardenkit._linux.libc import PR_SET_KEEPCAPS
from hardenkit.errors import SandboxError
from hardenkit.sandbox import FilesystemPolicy, ResourceLimits, SeccompPolicy
from hardenkit.sandbox.confinement import prepare_confinement
from hardenkit.spawn import CommandPolicy, _helper, _locate, _run as spawn_run, run

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root, pytest.mark.exec_helper]

SH = CommandPolicy(["sh"])


@pytest.fixture(autouse=True)
def _helper_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spawn_run, "FORCE_PATH", "helper")


def _helper_binary() -> str:
    path, why = _locate.locate()
    assert path is not None, f"the exec helper is not usable here: {why}"
    return path


def test_the_helper_is_built_and_trusted() -> None:
    path = _helper_binary()
    st = os.stat(path)
    assert st.st_mode & 0o7777 == 0o755
    assert st.st_uid == 0
    with open(path, "rb") as f:
        assert f.read(4) == b"\x7fELF"


@pytest.mark.parametrize(
    ("step", "options", "reason"),
    [
        ("PR_CAPBSET_DROP", {"user": "nobody"}, "CapBnd"),
        ("setgroups", {"user": "nobody"}, "groups are"),
        # isolate=False: else Landlock, which needs no_new_privs after the drop, fails first.
        ("PR_SET_NO_NEW_PRIVS", {"user": "nobody", "isolate": False}, "NoNewPrivs"),
        ("PR_SET_NO_NEW_PRIVS", {"limits": ResourceLimits(core_bytes=0)}, "no_new_privs is not"),
        ("setrlimit", {"limits": ResourceLimits(open_files=33)}, "RLIMIT_NOFILE"),
        (
            "SECCOMP_SET_MODE_FILTER",
            {"user": "nobody", "seccomp": SeccompPolicy(default="allow", deny=["mount"])},
            "seccomp filter mode",
        ),
        ("landlock_restrict_self", {"filesystem": FilesystemPolicy(read="/usr")}, "Landlock"),
    ],
)
def test_a_skipped_step_is_caught(
    step: str,
    options: dict[str, Any],
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
    nobody_tmp: Path,
) -> None:
    marker = nobody_tmp / "ran"
    hit = sabotage_helper_steps(monkeypatch, step)
    with pytest.raises(SandboxError, match=reason):
        run(["sh", "-c", f"touch {marker}"], policy=SH, **options)
    assert hit, f"no step matched {step!r}"
    assert not marker.exists()


def test_capabilities_kept_through_setuid_are_caught(
    monkeypatch: pytest.MonkeyPatch, nobody_tmp: Path
) -> None:
    # Keep-caps on instead of the bounding drop, and no capset: root's permitted set
    # would survive the setresuid. The status report shows it.
    keepcaps = struct.pack("<II", xh.OP_PRCTL, 40) + struct.pack("<5Q", PR_SET_KEEPCAPS, 1, 0, 0, 0)
    sabotage_helper_steps(monkeypatch, "PR_CAPBSET_DROP", lambda _part: keepcaps)
    hit = sabotage_helper_steps(monkeypatch, ": capset")
    marker = nobody_tmp / "ran"
    with pytest.raises(SandboxError, match="CapPrm"):
        run(["sh", "-c", f"touch {marker}"], policy=SH, user="nobody")
    assert hit
    assert not marker.exists()


def test_a_failing_step_is_named_and_nothing_runs(
    monkeypatch: pytest.MonkeyPatch, nobody_tmp: Path
) -> None:
    # More supplementary groups than the helper takes: EINVAL from the helper.
    bad = struct.pack("<II", xh.OP_SETGROUPS, 4 * 300) + struct.pack("<300I", *range(300))
    sabotage_helper_steps(monkeypatch, ": setgroups", lambda _part: bad)
    marker = nobody_tmp / "ran"
    with pytest.raises(SandboxError, match="setgroups failed: Invalid argument"):
        run(["sh", "-c", f"touch {marker}"], policy=SH, user="nobody")
    assert not marker.exists()


def _start_helper(
    tmp: Path, script: bytes | None, *, argv: list[str] | None = None
) -> tuple[subprocess.Popen[bytes], socket.socket, Path]:
    marker = tmp / "ran"
    ours, theirs = socket.socketpair()
    args = argv or ["/bin/sh", "sh", "-c", f"touch {marker}"]
    proc = subprocess.Popen(
        [_helper_binary(), str(theirs.fileno()), *args],
        pass_fds=(theirs.fileno(),),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    theirs.close()
    if script is not None:
        ours.sendall(script)
    return proc, ours, marker


def _frames(sock: socket.socket) -> list[tuple[int, bytes]]:
    out = []
    deadline = time.monotonic() + 10
    while (frame := xh.read_frame(sock, deadline)) is not None:
        out.append(frame)
    return out


def _sync_script() -> bytes:
    script = xh.Script()
    script.add(xh.OP_STATUS, "status")
    script.add(xh.OP_SYNC, "sync")
    return script.encode()


@pytest.mark.parametrize("answer", [b"N", b"g", b""])
def test_no_exec_without_go(answer: bytes, tmp_path: Path) -> None:
    proc, ours, marker = _start_helper(tmp_path, _sync_script())
    with ours:
        frame = xh.read_frame(ours, time.monotonic() + 10)
        assert frame is not None
        assert frame[0] == xh.FRAME_REPORT
        if answer:
            ours.sendall(answer)
        else:
            ours.shutdown(socket.SHUT_WR)  # the parent went away
        assert _frames(ours) == []
    assert proc.wait(10) == 126
    assert not marker.exists()


def test_go_execs_and_the_socket_is_closed_by_exec(tmp_path: Path) -> None:
    proc, ours, marker = _start_helper(tmp_path, _sync_script())
    with ours:
        assert xh.read_frame(ours, time.monotonic() + 10) is not None
        ours.sendall(b"G")
        assert _frames(ours) == []  # end-of-file: close-on-exec did it
    assert proc.wait(10) == 0
    assert marker.exists()


@pytest.mark.parametrize(
    "script",
    [
        b"",  # end-of-file before the magic
        b"HKX2" + struct.pack("<I", 0),  # wrong magic
        b"HKX1" + struct.pack("<I", 100) + b"short",  # shorter than announced
        b"HKX1" + struct.pack("<I", 1 << 21),  # over the helper's buffer
    ],
)
def test_malformed_scripts_never_exec(script: bytes, tmp_path: Path) -> None:
    proc, ours, marker = _start_helper(tmp_path, script)
    ours.shutdown(socket.SHUT_WR)
    with ours:
        assert _frames(ours) == []
    assert proc.wait(10) == 127
    assert not marker.exists()


@pytest.mark.parametrize(
    ("step", "err"),
    [
        (struct.pack("<II", 99, 0), errno.ENOSYS),  # unknown op
        (struct.pack("<II", xh.OP_SETRESUID, 8) + bytes(8), errno.EINVAL),  # wrong size
        (struct.pack("<II", xh.OP_PROBE_OPEN, 3) + b"a\0b", errno.EINVAL),  # NUL in a path
        (struct.pack("<II", xh.OP_RLIMIT, 100), errno.EINVAL),  # size past the end
    ],
)
def test_bad_steps_are_reported_and_never_exec(step: bytes, err: int, tmp_path: Path) -> None:
    script = b"HKX1" + struct.pack("<I", len(step)) + step
    proc, ours, marker = _start_helper(tmp_path, script)
    with ours:
        frames = _frames(ours)
    assert frames == [(xh.FRAME_FAILED, struct.pack("<Ii", 0, err))]
    assert proc.wait(10) == 127
    assert not marker.exists()


@pytest.mark.parametrize("args", [[], ["x"], ["2", "/bin/true", "true"], ["3z", "/bin/true", "t"]])
def test_bad_arguments_exit_127(args: list[str]) -> None:
    assert subprocess.run([_helper_binary(), *args], check=False, timeout=10).returncode == 127


def test_exec_failure_is_an_oserror_like_subprocess(nobody_tmp: Path) -> None:
    # Root-owned, mode 0700: it passes the trusted-binary checks, but nobody cannot run it.
    private = nobody_tmp / "bin"
    private.mkdir(mode=0o755)
    tool = private / "tool"
    shutil.copy("/bin/true", tool)
    tool.chmod(0o700)
    for path in ("helper", "fork"):
        spawn_run.FORCE_PATH = path
        with pytest.raises(PermissionError):
            run([str(tool)], user="nobody")
    spawn_run.FORCE_PATH = "helper"
    assert run([str(tool)]).returncode == 0  # root may


def test_pinned_binary_descriptor_is_not_inherited() -> None:
    import hashlib  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    digest = hashlib.sha256(Path("/bin/ls").read_bytes()).hexdigest()
    policy = CommandPolicy(["ls"], sha256={"ls": digest})
    out = run(["ls", "/proc/self/fd"], policy=policy, user="nobody").stdout.split()
    assert sorted(out) == [b"0", b"1", b"2", b"3"]  # 3: ls's own directory handle


def test_an_untrusted_helper_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    copy = tmp_path / "hardenkit-exec"
    shutil.copy(_helper_binary(), copy)
    copy.chmod(0o775)  # group-writable: anyone in the group could replace what runs as root
    _locate._checked.cache_clear()
    monkeypatch.setattr(_locate, "_candidate", lambda: str(copy))
    try:
        path, why = _locate.locate()
        assert path is None
        assert "hardenkit-exec" in why
        plan = prepare_confinement(user="nobody")
        assert _helper.why_not(plan) == why
        monkeypatch.setattr(spawn_run, "FORCE_PATH", None)  # let run() choose: Python path
        assert run(["/usr/bin/id", "-u"], user="nobody").stdout == b"65534\n"
        monkeypatch.setattr(spawn_run, "FORCE_PATH", "helper")
        with pytest.raises(SandboxError, match="not usable"):
            run(["/usr/bin/id", "-u"], user="nobody")
    finally:
        _locate._checked.cache_clear()


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(xh.DISABLE_ENV, "0")
    assert _locate.locate() == (None, f"{xh.DISABLE_ENV}=0")


def test_run_chooses_the_helper_when_it_can(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spawn_run, "FORCE_PATH", None)
    started: list[str] = []
    real = subprocess.Popen

    def spy(args: Any, *a: Any, **kw: Any) -> Any:
        started.append(os.path.basename(args[0]))
        return real(args, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", spy)
    assert run(["/usr/bin/id", "-u"], user="nobody").stdout == b"65534\n"
    assert started == [xh.NAME]


def test_not_used_when_exec_would_lose_the_capabilities_a_drop_needs(in_child: Any) -> None:
    def child() -> list[str | None]:
        from hardenkit._linux import caps as _caps  # noqa: PLC0415

        plan = prepare_confinement(user="nobody")
        as_root = _helper.why_not(plan)
        _caps.set_keepcaps(flag=True)
        os.setresuid(1000, 1000, 1000)  # permitted caps survive, but not across an exec
        return [as_root, _helper.why_not(plan)]

    as_root, as_user = in_child(child)
    assert as_root is None
    assert as_user is not None
    assert "exec would drop capabilities" in as_user
