"""check_path, the mode rule and the result types (fileperms)."""

from __future__ import annotations

import os
import stat
import struct
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from tests._helpers import make_file

import hardenkit
from hardenkit.errors import InsecurePathError
from hardenkit.fileperms import Finding, PathStatus, check_path, excess_bits
from hardenkit.fileperms._acl import GROUP, GROUP_OBJ, MASK, OTHER, USER, USER_OBJ, parse_acl
from hardenkit.fileperms._rules import dir_problems

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]

NOBODY = 65534
modes = st.integers(min_value=0, max_value=0o7777)


def _acl(*entries: tuple[int, int, int]) -> bytes:
    raw = struct.pack("<I", 2)
    for tag, perm, ident in entries:
        raw += struct.pack("<HHI", tag, perm, ident)
    return raw


def _problems(path: Path | str, **kwargs: object) -> tuple[str, ...]:
    with pytest.raises(InsecurePathError) as info:
        check_path(path, **kwargs)  # type: ignore[arg-type]
    assert info.value.path is not None
    return info.value.problems


# -- the bitwise mode rule ------------------------------------------------------------------


@given(mode=modes, max_mode=modes)
def test_excess_bits_is_exactly_the_bits_outside(mode: int, max_mode: int) -> None:
    extra = excess_bits(mode, max_mode)
    assert extra & max_mode == 0
    assert extra | (mode & max_mode) == mode
    assert (extra == 0) == (mode | max_mode == max_mode)


@given(mode=modes, a=modes, b=modes)
def test_mode_rule_is_monotonic_in_the_limit(mode: int, a: int, b: int) -> None:
    if excess_bits(mode, a) == 0:
        assert excess_bits(mode, a | b) == 0
    assert excess_bits(mode, a & b) == excess_bits(mode, a) | excess_bits(mode, b)


@given(mode=modes)
def test_every_mode_fits_itself_and_nothing_fits_zero_but_zero(mode: int) -> None:
    assert excess_bits(mode, mode) == 0
    assert excess_bits(mode, 0o7777) == 0
    assert (excess_bits(mode, 0) == 0) == (mode == 0)


def test_rule_is_not_numeric() -> None:
    numeric_limit = 0o600
    assert numeric_limit > 0o077  # a numeric comparison would pass it
    assert excess_bits(0o077, 0o600) == 0o077
    assert excess_bits(0o4700, 0o700) == 0o4000


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mode=modes, max_mode=modes)
def test_check_path_applies_the_rule_to_real_files(
    tmp_path: Path, mode: int, max_mode: int
) -> None:
    target = tmp_path / "secret"
    if not target.exists():
        make_file(target)
    os.chmod(target, mode)
    if mode & ~max_mode:
        problems = _problems(target, max_mode=max_mode)
        assert len(problems) == 1
        assert f"mode {mode:04o}" in problems[0]
        assert f"bits {mode & ~max_mode:04o}" in problems[0]
    else:
        assert check_path(target, max_mode=max_mode).mode == mode


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(dir_mode=st.integers(min_value=0o700, max_value=0o1777))
def test_parent_rule_for_every_directory_mode(tmp_path: Path, dir_mode: int) -> None:
    parent = tmp_path / "p"
    if not parent.exists():
        parent.mkdir()
        make_file(parent / "f")
    os.chmod(parent, dir_mode)
    try:
        unsafe = bool(dir_mode & 0o022) and not dir_mode & stat.S_ISVTX
        if unsafe:
            assert any(
                str(parent) in p and "without the sticky bit" in p for p in _problems(parent / "f")
            )
        else:
            check_path(parent / "f")
    finally:
        os.chmod(parent, 0o700)


# -- check_path on real paths ---------------------------------------------------------------


def test_safe_file_returns_a_status(tmp_path: Path) -> None:
    target = make_file(tmp_path / "k", 0o600, b"12345")
    status = check_path(target)
    assert isinstance(status, PathStatus)
    assert (status.path, status.kind, status.mode, status.uid, status.size) == (
        str(target),
        "file",
        0o600,
        0,
        5,
    )
    assert status.user == "root"
    assert status.parents[0] == "/"
    assert str(tmp_path) in status.parents
    assert not status.acl
    assert hardenkit.check_path is check_path


def test_mode_077_fails_a_600_limit(tmp_path: Path) -> None:
    target = make_file(tmp_path / "k", 0o077)
    (problem,) = _problems(target, max_mode=0o600)
    assert "mode 0077" in problem
    assert "at most 0600" in problem


def test_setuid_bit_is_outside_0755(tmp_path: Path) -> None:
    target = make_file(tmp_path / "bin", 0o4755)
    assert "bits 4000" in _problems(target, max_mode=0o755)[0]
    assert check_path(target, max_mode=0o4755).mode == 0o4755


def test_every_problem_is_listed_not_just_the_first(tmp_path: Path) -> None:
    parent = tmp_path / "shared"
    parent.mkdir()
    target = make_file(parent / "k", 0o666)
    os.chown(target, NOBODY, NOBODY)
    parent.chmod(0o777)
    problems = _problems(target)
    assert len(problems) == 3
    assert any("mode 0666" in p for p in problems)
    assert any("owned by uid 65534 (nobody)" in p for p in problems)
    assert any(f"parent directory {parent} is writable" in p for p in problems)


def test_world_writable_non_sticky_parent_is_named(tmp_path: Path) -> None:
    parent = tmp_path / "ww"
    parent.mkdir()
    target = make_file(parent / "k")
    parent.chmod(0o777)
    (problem,) = _problems(target)
    assert problem.startswith(f"parent directory {parent} ")
    assert "writable by group and others (mode 0777) without the sticky bit" in problem


def test_group_writable_parent_is_named(tmp_path: Path) -> None:
    parent = tmp_path / "gw"
    parent.mkdir()
    target = make_file(parent / "k")
    parent.chmod(0o770)
    (problem,) = _problems(target)
    assert f"parent directory {parent} is writable by group " in problem


def test_parent_owned_by_another_user_is_named(tmp_path: Path) -> None:
    parent = tmp_path / "theirs"
    parent.mkdir(mode=0o755)
    target = make_file(parent / "k")
    os.chown(parent, NOBODY, NOBODY)
    (problem,) = _problems(target)
    assert f"parent directory {parent} is owned by uid 65534 (nobody)" in problem
    # ...unless that user is the expected owner (then the file must be theirs or root's).
    assert check_path(target, owner="nobody").uid == 0
    assert check_path(target, owner=NOBODY).parents[-1] == str(parent)


def test_grandparent_problems_are_found_too(tmp_path: Path) -> None:
    top = tmp_path / "a"
    (top / "b" / "c").mkdir(parents=True)
    target = make_file(top / "b" / "c" / "k")
    top.chmod(0o777)
    (problem,) = _problems(target)
    assert f"parent directory {top} " in problem
    assert check_path(target, parents=False).mode == 0o600


def test_sticky_world_writable_parent_owned_by_root_is_accepted(tmp_path: Path) -> None:
    parent = tmp_path / "sticky"
    parent.mkdir()
    target = make_file(parent / "k")
    parent.chmod(0o1777)
    assert str(parent) in check_path(target).parents


def test_sticky_parent_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "sticky"
    parent.mkdir()
    target = make_file(parent / "k")
    parent.chmod(0o1777)
    os.chown(parent, NOBODY, NOBODY)
    (problem,) = _problems(target)
    assert "owned by uid 65534" in problem


def test_file_of_another_user_in_a_sticky_dir_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "sticky"
    parent.mkdir()
    parent.chmod(0o1777)
    target = make_file(parent / "k")
    os.chown(target, NOBODY, NOBODY)
    assert "owned by uid 65534" in _problems(target)[0]


def test_root_is_always_an_accepted_owner(tmp_path: Path) -> None:
    target = make_file(tmp_path / "k")
    assert check_path(target, owner=NOBODY, parents=False).uid == 0


def test_owner_mismatch(tmp_path: Path) -> None:
    target = make_file(tmp_path / "k")
    os.chown(target, NOBODY, NOBODY)
    (problem,) = _problems(target, owner=0)
    assert "owned by uid 65534 (nobody), expected root" in problem
    assert check_path(target, owner="nobody", parents=False).uid == NOBODY


def test_symlink_leaf_is_refused_and_allowed_on_request(tmp_path: Path) -> None:
    target = make_file(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(target)
    (problem,) = _problems(link)
    assert f"{link} is a symlink (to {target})" in problem
    assert check_path(link, allow_symlinks=True).path == str(target)


def test_symlinked_parent_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    make_file(real / "k")
    (tmp_path / "alias").symlink_to(real)
    (problem,) = _problems(tmp_path / "alias" / "k")
    assert f"{tmp_path / 'alias'} is a symlink" in problem
    assert check_path(tmp_path / "alias" / "k", allow_symlinks=True).path == str(real / "k")


def test_problems_behind_a_refused_symlink_are_reported_too(tmp_path: Path) -> None:
    target = make_file(tmp_path / "real", 0o644)
    (tmp_path / "link").symlink_to(target)
    problems = _problems(tmp_path / "link")
    assert len(problems) == 2
    assert "is a symlink" in problems[0]
    assert "mode 0644" in problems[1]


def test_followed_link_in_an_unsafe_directory_is_refused(tmp_path: Path) -> None:
    safe = tmp_path / "safe"
    safe.mkdir()
    target = make_file(safe / "k")
    unsafe = tmp_path / "unsafe"
    unsafe.mkdir()
    (unsafe / "link").symlink_to(target)
    unsafe.chmod(0o777)
    problems = _problems(unsafe / "link", allow_symlinks=True)
    assert any(f"parent directory {unsafe} is writable" in p for p in problems)


def test_symlink_loop_is_an_error_not_a_hang(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    problems = _problems(tmp_path / "a", allow_symlinks=True)
    assert any("too many levels of symbolic links" in p for p in problems)


def test_merged_usr_bin_is_a_symlink_resolve_first() -> None:
    sh = "/bin/sh"
    real = os.path.realpath(sh)
    if os.path.islink("/bin"):
        assert any("/bin is a symlink" in p for p in _problems(sh, max_mode=0o755, owner=0))
    status = check_path(os.path.realpath(real), max_mode=0o755, owner=0)
    assert status.uid == 0
    assert status.kind == "file"


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(InsecurePathError) as info:
        check_path(tmp_path / "nope")
    assert info.value.problems == (f"{tmp_path / 'nope'} does not exist",)
    assert isinstance(info.value.__cause__, FileNotFoundError)
    (problem,) = _problems(tmp_path / "nope" / "deeper")
    assert "nope does not exist" in problem


def test_component_that_is_a_file_raises(tmp_path: Path) -> None:
    make_file(tmp_path / "f")
    assert "is not a directory" in _problems(tmp_path / "f" / "x")[0]


def test_relative_path_and_dotdot_are_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d").mkdir()
    target = make_file(tmp_path / "k")
    monkeypatch.chdir(tmp_path / "d")
    status = check_path("../k")
    assert status.path == str(target)
    assert status.ino == target.stat().st_ino


def test_a_directory_can_be_checked(tmp_path: Path) -> None:
    d = tmp_path / "dir"
    d.mkdir(mode=0o700)
    assert check_path(d, max_mode=0o700).kind == "directory"
    assert "mode 0700" in _problems(d, max_mode=0o600)[0]


def test_root_directory_itself() -> None:
    status = check_path("/", max_mode=0o755, owner=0)
    assert (status.path, status.kind, status.parents) == ("/", "directory", ())


def test_fifo_is_checked_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    assert check_path(fifo).kind == "fifo"  # no reader/writer: an open would block


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_mode"):
        check_path("/", max_mode=0o10000)
    with pytest.raises(ValueError, match="no user named"):
        check_path("/", owner="no-such-user-hk")
    with pytest.raises(ValueError, match="empty"):
        check_path("")
    with pytest.raises(ValueError, match="NUL"):
        check_path("/etc/\0x")


# -- POSIX ACLs -----------------------------------------------------------------------------


def test_acl_granting_a_named_user_is_a_problem(tmp_path: Path) -> None:
    target = make_file(tmp_path / "k", 0o600)
    acl = _acl((USER_OBJ, 6, 0), (USER, 4, 1000), (GROUP_OBJ, 0, 0), (MASK, 4, 0), (OTHER, 0, 0))
    os.setxattr(target, "system.posix_acl_access", acl)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the mask shows as group bits
    problems = _problems(target, max_mode=0o640)
    assert len(problems) == 1
    assert "POSIX ACL granting user 1000 r--" in problems[0]


def test_masked_out_acl_is_only_a_notice(tmp_path: Path) -> None:
    target = make_file(tmp_path / "k", 0o600)
    acl = _acl((USER_OBJ, 6, 0), (GROUP_OBJ, 0, 0), (GROUP, 7, 27), (MASK, 0, 0), (OTHER, 0, 0))
    os.setxattr(target, "system.posix_acl_access", acl)
    status = check_path(target)
    assert status.acl
    assert "masked out" in status.notices[0]


def test_acl_letting_someone_write_a_parent_is_a_problem(tmp_path: Path) -> None:
    parent = tmp_path / "p"
    parent.mkdir(mode=0o700)
    target = make_file(parent / "k")
    acl = _acl((USER_OBJ, 7, 0), (USER, 3, 1000), (GROUP_OBJ, 0, 0), (MASK, 3, 0), (OTHER, 0, 0))
    os.setxattr(parent, "system.posix_acl_access", acl)
    problems = _problems(target)
    assert any(
        f"parent directory {parent} has a POSIX ACL letting user 1000 -w-" in p for p in problems
    )


def test_acl_parser_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="not a POSIX ACL"):
        parse_acl(b"\x02\x00\x00\x00\x01")


# -- result types ---------------------------------------------------------------------------


def test_path_status_is_frozen_and_validated() -> None:
    status = PathStatus(path="/x", kind="file", mode=0o600, uid=0, gid=0)
    with pytest.raises(AttributeError):
        status.mode = 0o777  # type: ignore[misc]
    assert "mode=0o600" in repr(status)
    with pytest.raises(ValueError, match="mode"):
        PathStatus(path="/x", kind="file", mode=0o10000, uid=0, gid=0)
    with pytest.raises(ValueError, match="uid"):
        PathStatus(path="/x", kind="file", mode=0, uid=-1, gid=0)


def test_finding_is_validated() -> None:
    with pytest.raises(ValueError, match="kind"):
        Finding(path="/x", kind="bad", severity="high", detail="")
    with pytest.raises(ValueError, match="severity"):
        Finding(path="/x", kind="setuid", severity="urgent", detail="")


def test_dir_rule_messages_are_specific() -> None:
    group_writable = os.stat_result((0o40775, 0, 0, 2, 0, 0, 0, 0, 0, 0))
    assert (
        "writable by group (mode 0775)" in dir_problems("/d", group_writable, owner=0, acl=None)[0]
    )
    theirs = os.stat_result((0o40755, 0, 0, 2, NOBODY, 0, 0, 0, 0, 0))
    (problem,) = dir_problems("/d", theirs, owner=1000, acl=None)
    assert "not by root or uid 1000" in problem


def test_errors_never_contain_file_content(tmp_path: Path) -> None:
    target = make_file(tmp_path / "k", 0o644, b"TOPSECRETVALUE")
    with pytest.raises(InsecurePathError) as info:
        check_path(target)
    assert "TOPSECRETVALUE" not in str(info.value)
    assert "TOPSECRETVALUE" not in repr(info.value.problems)


@pytest.mark.linux
def test_procfs_magic_links_are_not_followed_by_their_text(tmp_path: Path) -> None:
    # /proc/PID/root reads "/" but leads into that process's mount namespace; fd/N of a
    # deleted file reads "... (deleted)". Judging the text judged another file.
    key = tmp_path / "k"
    key.write_bytes(b"x")
    key.chmod(0o600)
    with key.open("rb") as handle:
        for path in (f"/proc/self/root{key}", f"/proc/self/fd/{handle.fileno()}"):
            problems = _problems(path, allow_symlinks=True)
            assert any("procfs link" in p for p in problems), path
    # Plain procfs links (/proc/self, /proc/mounts -> self/mounts) are still followed.
    assert check_path("/proc/mounts", allow_symlinks=True, max_mode=0o444).kind == "file"
