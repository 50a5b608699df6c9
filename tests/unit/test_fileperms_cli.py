"""``hardenkit check-perms`` (fileperms command line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from hardenkit.cli import main

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]


def _file(path: Path, mode: int) -> Path:
    path.write_bytes(b"SECRET-CONTENT")
    path.chmod(mode)
    return path


def test_safe_paths_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _file(tmp_path / "a", 0o600)
    b = _file(tmp_path / "b", 0o400)
    assert main(["check-perms", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert f"ok    {a} (file 0600 root)" in out
    assert f"ok    {b} (file 0400 root)" in out


def test_a_problem_exits_1_and_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _file(tmp_path / "good", 0o600)
    bad = _file(tmp_path / "bad", 0o666)
    os.chown(bad, 65534, 65534)
    assert main(["check-perms", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  {bad}" in out
    assert "mode 0666, at most 0600" in out
    assert "owned by uid 65534 (nobody)" in out
    assert "SECRET-CONTENT" not in out


def test_max_mode_and_owner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _file(tmp_path / "f", 0o644)
    os.chown(f, 65534, 65534)
    assert main(["check-perms", "--max-mode", "644", "--owner", "nobody", str(f)]) == 0
    assert main(["check-perms", "--max-mode", "0644", "--owner", "65534", str(f)]) == 0
    assert main(["check-perms", "--max-mode", "640", "--owner", "nobody", str(f)]) == 1
    capsys.readouterr()


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _file(tmp_path / "good", 0o600)
    missing = tmp_path / "missing"
    assert main(["check-perms", "--json", str(good), str(missing)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert data["max_mode"] == "0600"
    first, second = data["paths"]
    assert first["ok"] is True
    assert first["status"]["mode"] == "0600"
    assert first["status"]["parents"][0] == "/"
    assert second == {
        "path": str(missing),
        "ok": False,
        "problems": [f"{missing} does not exist"],
        "status": None,
    }


def test_symlinks_and_parents_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sub = tmp_path / "ww"
    sub.mkdir()
    f = _file(sub / "f", 0o600)
    sub.chmod(0o777)
    (tmp_path / "link").symlink_to(f)
    assert main(["check-perms", str(f)]) == 1
    assert main(["check-perms", "--no-parents", str(f)]) == 0
    assert main(["check-perms", "--no-parents", str(tmp_path / "link")]) == 1
    assert main(["check-perms", "--no-parents", "--allow-symlinks", str(tmp_path / "link")]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv",
    [
        ["check-perms"],
        ["check-perms", "--max-mode", "9", "/"],
        ["check-perms", "--max-mode", "17777", "/"],
        ["check-perms", "--owner", "no-such-user-hk", "/"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_python_m_hardenkit_check_perms(tmp_path: Path) -> None:
    bad = _file(tmp_path / "bad", 0o640)
    proc = subprocess.run(
        [sys.executable, "-m", "hardenkit", "check-perms", "--json", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["paths"][0]["problems"][0].startswith(f"{bad} is mode 0640")


def test_a_newline_in_a_file_name_cannot_forge_an_ok_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = _file(tmp_path / "x\nok    forged (file 0600 root)", 0o644)
    assert main(["check-perms", str(forged)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert not [line for line in lines if line.startswith("ok")]
    assert lines[0] == f"FAIL  {tmp_path}/x\\nok    forged (file 0600 root)"
    assert all(line.startswith("      ") for line in lines[1:])


def test_suggested_commands_are_shell_quoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spaced = _file(tmp_path / "a b;rm -rf x", 0o644)
    assert main(["check-perms", str(spaced)]) == 1
    out = capsys.readouterr().out
    assert f"chmod 0600 '{spaced}' or pass --max-mode MODE" in out


def test_advice_names_the_flags_never_the_python_keywords(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _file(tmp_path / "f", 0o644)
    os.chown(f, 65534, 65534)
    d = tmp_path / "d"
    d.mkdir(mode=0o755)
    d.chmod(0o755)
    assert main(["check-perms", str(f), str(d)]) == 1
    out = capsys.readouterr().out
    assert "--max-mode" in out
    assert "--owner USER" in out
    assert "max_mode=" not in out
    assert "owner=" not in out


def test_directory_advice_keeps_x_and_never_touches_a_sticky_shared_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "conf"
    d.mkdir()
    d.chmod(0o755)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    assert main(["check-perms", "--no-parents", str(d), str(shared), "/tmp"]) == 1
    out = capsys.readouterr().out.split("FAIL  ")
    assert f"chmod 0700 {d} and pass --max-mode 700 (a directory needs x" in out[1]
    for text in out[2:]:
        assert "chmod" not in text
        assert "shared sticky directory" in text
    # With the advice followed, the directory passes.
    d.chmod(0o700)
    assert main(["check-perms", "--no-parents", "--max-mode", "0700", str(d)]) == 0
    capsys.readouterr()


def test_a_closed_pipe_ends_quietly_with_141(tmp_path: Path) -> None:
    good = _file(tmp_path / "good", 0o600)
    # Far more output than a pipe buffer holds: the writes must meet the closed pipe.
    argv = [sys.executable, "-m", "hardenkit", "check-perms", *[str(good)] * 2000]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.readline().startswith(b"ok    ")
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 141
    assert err == b""


def test_an_unexpected_os_error_exits_3_could_not_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import hardenkit.fileperms  # noqa: PLC0415

    def broken(*_a: object, **_k: object) -> None:
        raise OSError(5, "Input/output error", "/x")

    monkeypatch.setattr(hardenkit.fileperms, "check_path", broken)
    assert main(["check-perms", "/x"]) == 3
    assert capsys.readouterr().err == "hardenkit: Input/output error: /x\n"


def test_names_cannot_forge_lines_or_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = _file(tmp_path / "x\nok    key (file 0600 root)", 0o644)
    escape = _file(tmp_path / "b\x1b[2Jc", 0o600)
    spaced = _file(tmp_path / "a b;touch pwned", 0o644)
    assert main(["check-perms", str(forged), str(escape), str(spaced)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert not any(line.startswith("ok    key") for line in lines)  # no forged ok line
    assert "\x1b" not in out
    assert f"ok    {tmp_path}/b\\x1b[2Jc (file 0600" in out
    assert f"FAIL  {tmp_path}/x\\nok    key" in out
    assert f"chmod 0600 '{tmp_path}/a b;touch pwned' or" in out  # one shell word
