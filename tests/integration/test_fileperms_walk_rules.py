"""check_path, make_private_dir and write_secure: every directory walked through is judged."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from hardenkit.errors import InsecurePathError
from hardenkit.fileperms import check_path, make_private_dir, write_secure

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.linux

NOBODY = 65534


@pytest.fixture
def base(tmp_path: Path) -> Path:
    tmp_path.chmod(0o700)
    return tmp_path


@pytest.mark.root
def test_symlink_owned_by_another_user_in_a_sticky_directory_is_refused(base: Path) -> None:
    shared = base / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    safe = base / "safe"
    safe.mkdir(mode=0o700)
    write_secure(safe / "key", b"k")
    link = shared / "link"
    link.symlink_to(safe / "key")
    os.lchown(link, 0, 0)
    check_path(link, allow_symlinks=True)  # root's link: fine (raises otherwise)
    os.lchown(link, NOBODY, NOBODY)  # nobody may delete and re-point its own link
    with pytest.raises(InsecurePathError, match=r"symlink owned by .* sticky directory") as info:
        check_path(link, allow_symlinks=True)
    assert any("re-point" in p for p in info.value.problems)


def test_dotdot_judges_every_directory_walked_through(base: Path) -> None:
    open777 = base / "open777"
    (open777 / "sub").mkdir(parents=True)
    open777.chmod(0o777)
    safe = base / "safe"
    safe.mkdir(mode=0o700)
    write_secure(safe / "key", b"k")
    check_path(safe / "key")  # raises if unsafe
    with pytest.raises(InsecurePathError, match="open777 is writable by group and others"):
        check_path(f"{open777}/sub/../../safe/key")


def test_make_private_dir_creates_nothing_in_an_unsafe_directory(base: Path) -> None:
    open777 = base / "open777"
    open777.mkdir()
    open777.chmod(0o777)
    with pytest.raises(InsecurePathError, match="writable by group and others"):
        make_private_dir(open777 / "a" / "b")
    assert os.listdir(open777) == []


def test_make_private_dir_refuses_dotdot_after_a_missing_directory(base: Path) -> None:
    with pytest.raises(InsecurePathError, match=r"'\.\.' follows it"):
        make_private_dir(base / "new" / ".." / "other")
    assert os.listdir(base) == []


def test_longest_names_are_handled(base: Path) -> None:
    name = "n" * 252
    write_secure(base / name, b"secret")
    check_path(base / name)
    made = make_private_dir(base / ("d" * 255))
    write_secure(made / ("f" * 255), b"x")
    check_path(made / ("f" * 255))
    assert sorted(os.listdir(made)) == [".hardenkit.lock", "f" * 255]
