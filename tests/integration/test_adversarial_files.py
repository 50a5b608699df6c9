"""Adversarial review: secret files are checked and opened with no window in between.

The swaps happen exactly between two steps of the code under test: the step is wrapped
(monkeypatch) so that an "attacker" acts right before it runs. That makes every race
deterministic: the outcome is what the kernel does with the descriptors we hold.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit.envcrypt import generate_keypair, load_env, set_env_value
from hardenkit.errors import DecryptionError, InsecurePathError
from hardenkit.fileperms import _io, _walk, audit_tree, make_private_dir, open_secure, write_secure

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]

NOBODY = 65534
SECRET = b"Zx81-root-only-secret-content"
PLAIN = "Zx81-decrypted-plaintext-value"


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    """A private directory holding a secret file (0600) and, outside it, a decoy."""
    d = tmp_path / "vault"
    d.mkdir(mode=0o700)
    write_secure(d / "secret", SECRET)
    return d


def _wrap(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, before: Callable[[], None]
) -> list[int]:
    """Make ``before`` run right before ``module.name``; return a list counting the calls."""
    real = getattr(module, name)
    calls: list[int] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not calls:
            before()
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


# --------------------------------------------------------------------------- .env.keys


def _env_with_keys(d: Path) -> tuple[Path, str]:
    d.mkdir(mode=0o700, exist_ok=True)
    env = d / ".env"
    pair = set_env_value(env, "API_TOKEN", PLAIN)
    assert pair is not None
    return env, pair.private_key


def _make_symlink(keys: Path, d: Path) -> None:
    real = d / "real.keys"
    keys.rename(real)
    keys.symlink_to(real)


def _make_fifo(keys: Path, _d: Path) -> None:
    keys.unlink()
    os.mkfifo(keys, 0o600)


def _make_other_owner(keys: Path, _d: Path) -> None:
    os.chown(keys, NOBODY, NOBODY)


def _make_world_writable_parent(_keys: Path, d: Path) -> None:
    d.chmod(0o777)


def _make_parent_of_other_owner(_keys: Path, d: Path) -> None:
    os.chown(d, NOBODY, NOBODY)


def _make_group_readable(keys: Path, _d: Path) -> None:
    keys.chmod(0o640)


def _make_directory(keys: Path, _d: Path) -> None:
    keys.unlink()
    keys.mkdir(mode=0o700)


def _make_symlinked_parent(_keys: Path, d: Path) -> None:
    real = d.parent / "real-dir"
    d.rename(real)
    d.symlink_to(real)


KEYS_ATTACKS: dict[str, Callable[[Path, Path], None]] = {
    "symlink": _make_symlink,
    "fifo": _make_fifo,
    "other-owner": _make_other_owner,
    "world-writable-parent": _make_world_writable_parent,
    "parent-owned-by-other": _make_parent_of_other_owner,
    "group-readable": _make_group_readable,
    "directory": _make_directory,
    "symlinked-parent": _make_symlinked_parent,
}


@pytest.mark.parametrize("attack", list(KEYS_ATTACKS), ids=list(KEYS_ATTACKS))
def test_unsafe_keys_file_is_refused_without_loading(
    tmp_path: Path, in_child: Any, attack: str
) -> None:
    d = tmp_path / "app"
    env, private_key = _env_with_keys(d)
    KEYS_ATTACKS[attack](d / ".env.keys", d)

    def load() -> dict[str, Any]:
        target: dict[str, str] = {}
        try:
            load_env(str(env), environ=target)
        except (InsecurePathError, DecryptionError) as exc:
            return {"error": type(exc).__name__, "text": f"{exc!s} {exc!r}", "target": target}
        return {"error": None, "text": "", "target": target}

    result = in_child(load, timeout=20)  # a FIFO must not make it hang
    assert result["error"] == "InsecurePathError", result
    assert result["target"] == {}
    assert private_key not in result["text"]
    assert PLAIN not in result["text"]


def test_hard_linked_keys_file_is_read_but_never_written_through(tmp_path: Path) -> None:
    d = tmp_path / "app"
    env, private_key = _env_with_keys(d)
    elsewhere = tmp_path / "elsewhere.keys"
    os.link(d / ".env.keys", elsewhere)
    assert load_env(env, environ={})["API_TOKEN"] == PLAIN
    before = elsewhere.read_bytes()
    set_env_value(d / ".env.staging", "OTHER", PLAIN)  # adds a key to .env.keys
    assert elsewhere.read_bytes() == before  # the other name kept the old inode
    assert os.stat(d / ".env.keys").st_nlink == 1
    assert private_key in (d / ".env.keys").read_text()


def test_keys_file_swapped_between_check_and_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "app"
    env, _ = _env_with_keys(d)
    decoy = tmp_path / "decoy.keys"
    decoy.write_text(f"DOTENV_PRIVATE_KEY={generate_keypair().private_key}\n")
    decoy.chmod(0o644)

    def swap() -> None:
        os.replace(decoy, d / ".env.keys")  # world-readable now, after check_path passed

    calls = _wrap(monkeypatch, _io, "_open_leaf", swap)
    target: dict[str, str] = {}
    with pytest.raises(InsecurePathError, match="0644"):
        load_env(env, environ=target)
    assert calls
    assert target == {}


# --------------------------------------------------------------------------- open_secure


def _to_symlink(path: Path, outside: Path) -> None:
    path.unlink()
    path.symlink_to(outside)


def _to_loose_mode(path: Path, _outside: Path) -> None:
    path.chmod(0o644)


def _to_other_owner(path: Path, _outside: Path) -> None:
    os.chown(path, NOBODY, NOBODY)


def _to_fifo(path: Path, _outside: Path) -> None:
    path.unlink()
    os.mkfifo(path, 0o600)


def _to_hard_link(path: Path, _outside: Path) -> None:
    os.link(path, path.with_name("second-name"))


def _to_directory(path: Path, _outside: Path) -> None:
    path.unlink()
    path.mkdir(mode=0o700)


OPEN_SWAPS: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "symlink": (_to_symlink, "rb"),
    "loose-mode": (_to_loose_mode, "rb"),
    "other-owner": (_to_other_owner, "rb"),
    "fifo-read": (_to_fifo, "rb"),
    "fifo-append": (_to_fifo, "ab"),
    "hard-link-write": (_to_hard_link, "r+b"),
    "directory": (_to_directory, "rb"),
}


@pytest.mark.parametrize("swap", list(OPEN_SWAPS), ids=list(OPEN_SWAPS))
def test_open_secure_checks_the_descriptor_not_the_walk(
    vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swap: str
) -> None:
    change, mode = OPEN_SWAPS[swap]
    path = vault / "secret"
    outside = tmp_path / "outside"
    outside.write_bytes(b"outside-" + SECRET)
    outside.chmod(0o600)
    calls = _wrap(monkeypatch, _io, "_open_leaf", lambda: change(path, outside))
    with pytest.raises(InsecurePathError) as info, open_secure(path, mode) as fh:
        pytest.fail(f"opened {fh!r}")
    assert calls
    assert SECRET.decode() not in str(info.value)
    assert outside.read_bytes() == b"outside-" + SECRET


@pytest.mark.parametrize("mode", ["wb", "ab", "xb", "w+b", "w"])
def test_open_secure_create_race_never_follows_a_planted_symlink(
    vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    path = vault / "new-file"
    target = tmp_path / "victim"
    calls = _wrap(monkeypatch, _io, "_create_leaf", lambda: path.symlink_to(target))
    with pytest.raises(InsecurePathError, match="appeared"):
        open_secure(path, mode)
    assert calls
    assert not target.exists()
    assert path.is_symlink()


def test_open_secure_create_gives_an_exact_private_mode_under_a_hostile_umask(vault: Path) -> None:
    old = os.umask(0o000)
    try:
        with open_secure(vault / "created", "xb", max_mode=0o644) as fh:
            fh.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(vault / "created").st_mode) == 0o600


# --------------------------------------------------------------------------- write_secure


def test_write_secure_target_swapped_for_a_symlink_mid_write(
    vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = vault / "secret"
    victim = tmp_path / "victim"
    victim.write_bytes(b"victim")
    calls = _wrap(monkeypatch, _io, "_anonymous_file", lambda: _to_symlink(path, victim))
    write_secure(path, b"new content")
    assert calls
    assert victim.read_bytes() == b"victim"  # rename replaced the link, not its target
    assert not path.is_symlink()
    assert path.read_bytes() == b"new content"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_secure_parent_swapped_for_a_symlink_mid_write(
    vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    moved = tmp_path / "moved-vault"

    def swap() -> None:
        vault.rename(moved)
        vault.symlink_to(elsewhere)

    _wrap(monkeypatch, _io, "_anonymous_file", swap)
    write_secure(vault / "secret", b"new content")
    assert os.listdir(elsewhere) == []  # nothing went where the new link points
    assert (moved / "secret").read_bytes() == b"new content"  # the checked directory got it


def test_write_secure_planted_staging_name_is_refused(
    vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victim"
    drawn: list[str] = []
    real_name = _io._staging_name

    def record(name: str) -> str:
        drawn.append(real_name(name))
        return drawn[-1]

    def plant(step: str) -> None:
        if step == "synced":  # after the stale-name cleanup, right before the link
            (vault / drawn[-1]).symlink_to(victim)

    monkeypatch.setattr(_io, "_staging_name", record)
    monkeypatch.setattr(_io, "_step_hook", plant)
    with pytest.raises(InsecurePathError, match="appeared"):
        write_secure(vault / "secret", b"new content")
    assert not victim.exists()
    assert (vault / "secret").read_bytes() == SECRET


def test_write_secure_removes_a_stale_staging_name_without_following_it(
    vault: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"victim")
    (vault / f"{_io._staging_prefix('secret')}{'0' * 16}.new").symlink_to(victim)
    write_secure(vault / "secret", b"new content")
    assert victim.read_bytes() == b"victim"
    assert sorted(os.listdir(vault)) == [".hardenkit.lock", "secret"]


def test_write_secure_replaced_right_after_the_rename_is_reported(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def replace_then_swap(*args: Any, **kwargs: Any) -> None:
        real_replace(*args, **kwargs)
        (vault / "intruder").write_bytes(b"intruder")
        real_replace(vault / "intruder", vault / "secret")

    monkeypatch.setattr(os, "replace", replace_then_swap)
    with pytest.raises(InsecurePathError, match="replaced by someone else"):
        write_secure(vault / "secret", b"new content")


# --------------------------------------------------------------------------- make_private_dir


def test_make_private_dir_never_chmods_through_a_swapped_in_symlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "base"
    base.mkdir(mode=0o700)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    target = base / "private"

    def swap() -> None:
        target.rmdir()
        target.symlink_to(shared)

    calls = _wrap(monkeypatch, _walk, "set_exact_dir_mode", swap)
    with pytest.raises(InsecurePathError):
        make_private_dir(target)
    assert calls
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755


def test_make_private_dir_refuses_a_directory_another_user_made_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "base"
    base.mkdir(mode=0o700)
    real_mkdir = os.mkdir

    def squat(path: Any, _mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        real_mkdir(path, 0o777, dir_fd=dir_fd)
        os.chown(path, NOBODY, NOBODY, dir_fd=dir_fd)
        raise FileExistsError(errno.EEXIST, "exists", path)

    monkeypatch.setattr(os, "mkdir", squat)
    with pytest.raises(InsecurePathError, match=r"nobody|65534"):
        make_private_dir(base / "a" / "b")


# --------------------------------------------------------------------------- odd paths


def test_odd_paths(vault: Path) -> None:
    secret = vault / "secret"
    with open_secure(f"{vault}/./secret") as fh:
        assert fh.read() == SECRET
    with pytest.raises(InsecurePathError, match="does not exist"):
        open_secure(f"{vault}/missing/../secret")  # as the kernel: the component must exist
    (vault / "sub").mkdir(mode=0o700)
    with open_secure(f"{vault}/sub/../secret") as fh:
        assert fh.read() == SECRET
    with open_secure(os.fsencode(secret)) as fh:  # type: ignore[call-overload]
        assert fh.read() == SECRET
    for bad in ("", "\0", f"{secret}\0"):
        with pytest.raises(ValueError, match="path must not"):
            open_secure(bad)
    # A trailing slash names a directory, as the kernel reads it.
    for call in (
        lambda: open_secure(f"{secret}/"),
        lambda: open_secure(f"{vault}/fresh/", "wb"),
        lambda: write_secure(f"{vault}/fresh/", b"x"),
        lambda: write_secure(f"{secret}/", b"x"),
    ):
        with pytest.raises(InsecurePathError, match="ends with a slash"):
            call()
    assert not (vault / "fresh").exists()
    assert secret.read_bytes() == SECRET
    assert make_private_dir(f"{vault}/dir/") == vault / "dir"
    # Too long a name is a refusal, not an OSError.
    with pytest.raises(InsecurePathError, match="could not be checked"):
        open_secure(vault / ("x" * 300))
    # A path longer than PATH_MAX is walked one component at a time.
    name = "d" * 250
    fd = os.open(vault, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(20):
            os.mkdir(name, 0o700, dir_fd=fd)
            next_fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    finally:
        os.close(fd)
    deep = f"{vault}/" + "/".join([name] * 20)
    assert len(deep) > 4096
    write_secure(f"{deep}/key", b"deep")
    with open_secure(f"{deep}/key") as fh:
        assert fh.read() == b"deep"
    shutil.rmtree(vault / name)  # fd-based: works below PATH_MAX's reach


# --------------------------------------------------------------------------- audit_tree


def test_audit_tree_on_a_tree_being_mutated(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "suid").write_bytes(b"x")
    (outside / "suid").chmod(0o4755)
    for i in range(30):
        (root / f"d{i}" / "e").mkdir(parents=True)
        (root / f"d{i}" / "e" / "f").write_bytes(b"x")
    stop = threading.Event()

    def mutate() -> None:
        n = 0
        while not stop.is_set():
            i = n % 30
            d = root / f"d{i}"
            aside = root / f"aside{i}"
            try:
                d.rename(aside)
                d.symlink_to(outside)  # a directory swapped for a link out of the tree
                d.unlink()
                aside.rename(d)
            except OSError:
                pass
            n += 1

    thread = threading.Thread(target=mutate)
    thread.start()
    try:
        for _ in range(20):
            findings = audit_tree(root)
            assert not any(str(outside) in f.path or f.kind == "setuid" for f in findings)
            assert all(f.path.startswith(str(root)) for f in findings)
    finally:
        stop.set()
        thread.join()


def test_audit_tree_says_so_when_a_directory_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "suid").write_bytes(b"x")
    (hidden / "suid").chmod(0o4755)
    real_open = os.open

    def swap_then_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if path == "sub" and not (root / "sub-old").exists():
            (root / "sub").rename(root / "sub-old")
            hidden.rename(root / "sub")  # another directory, not yet audited
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", swap_then_open)
    findings = audit_tree(root)
    assert [(f.path, f.kind) for f in findings] == [(f"{root}/sub", "unreadable")]
    assert "replaced" in findings[0].detail


# --------------------------------------------------------------------------- audit CLI


@pytest.fixture
def child_with_secrets() -> Iterator[int]:
    env = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_TOKEN": "ghp_" + "Zx81" * 9,
        "DATABASE_URL": "postgres://app:Zx81-db-password@db/main",
        "APP_SETTING": "Zx81-secret-looking-" + "A1b2C3d4" * 4,
        "LD_PRELOAD": "/tmp/Zx81-evil.so",
        "BASH_FUNC_x%%": "() { echo Zx81-function-body; }",
    }
    proc = subprocess.Popen(["sleep", "60"], env=env)
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_audit_of_another_process_shows_names_never_values(child_with_secrets: int) -> None:
    for extra in (["--json"], []):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "hardenkit",
                "-vv",
                "audit",
                "--pid",
                str(child_with_secrets),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr
        assert "Zx81" not in proc.stdout + proc.stderr
        assert "GITHUB_TOKEN" in proc.stdout
        assert "LD_PRELOAD" in proc.stdout
        if extra:
            ids = {f["id"] for f in json.loads(proc.stdout)["findings"]}
            assert {"env-secret", "env-dangerous"} <= ids


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path) -> Iterator[None]:
    yield
    for p in tmp_path.rglob("*"):  # hand everything back to root so cleanup works
        try:
            if p.is_symlink():
                continue
            os.chown(p, 0, 0)
            if p.is_dir():
                p.chmod(0o700)
        except OSError:
            pass
    shutil.rmtree(tmp_path, ignore_errors=True)
