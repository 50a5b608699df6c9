"""audit_tree (fileperms): planted problems are found, links are not followed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from hardenkit.errors import InsecurePathError
from hardenkit.fileperms import Finding, audit_tree

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]

UNNAMED = 4_000_017  # an id with no name in passwd or group


def _file(path: Path, mode: int = 0o644) -> Path:
    path.write_bytes(b"")
    path.chmod(mode)
    return path


def _kinds(findings: list[Finding], root: Path) -> set[tuple[str, str]]:
    return {(os.path.relpath(f.path, root), f.kind) for f in findings}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "a" / "b").mkdir(parents=True)
    (root / "clean").mkdir()
    for i in range(20):
        _file(root / "clean" / f"f{i}")
    _file(root / "a" / "ww", 0o666)
    _file(root / "a" / "b" / "suid", 0o4755)
    _file(root / "a" / "sgid", 0o2755)
    (root / "a" / "public").mkdir()
    (root / "a" / "public").chmod(0o777)
    (root / "a" / "tmp").mkdir()
    (root / "a" / "tmp").chmod(0o1777)
    (root / "a" / "shared").mkdir()
    (root / "a" / "shared").chmod(0o2775)  # setgid directory: normal, not a finding
    orphan = _file(root / "orphan")
    os.chown(orphan, UNNAMED, UNNAMED)
    return root


def test_every_unowned_file_is_reported_not_only_the_first(tmp_path: Path) -> None:
    for i in range(5):
        os.chown(_file(tmp_path / f"o{i}"), UNNAMED, 0)
    assert [os.path.basename(f.path) for f in audit_tree(tmp_path)] == [f"o{i}" for i in range(5)]


def test_planted_problems_are_found(tree: Path) -> None:
    findings = audit_tree(tree)
    assert _kinds(findings, tree) == {
        ("a/ww", "world-writable"),
        ("a/b/suid", "setuid"),
        ("a/sgid", "setgid"),
        ("a/public", "world-writable-dir"),
        ("orphan", "no-user"),
        ("orphan", "no-group"),
    }
    by_kind = {f.kind: f for f in findings}
    assert by_kind["setuid"].severity == "high"
    assert by_kind["setuid"].mode == 0o4755
    assert by_kind["no-user"].uid == UNNAMED
    assert "4755" in by_kind["setuid"].detail
    assert [f.path for f in findings] == sorted(f.path for f in findings)


def test_matches_find_with_the_same_predicates(tree: Path) -> None:
    find = subprocess.run(
        ["find", str(tree), "-xdev",
         "(", "!", "-type", "d", "!", "-type", "l", "-perm", "-0002", ")",
         "-o", "(", "-type", "d", "-perm", "-0002", "!", "-perm", "-1000", ")",
         "-o", "(", "!", "-type", "d", "-perm", "/6000", ")",
         "-o", "-nouser", "-o", "-nogroup"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert sorted(find) == sorted({f.path for f in audit_tree(tree)})


def test_symlinks_are_skipped_not_followed(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    _file(outside / "evil", 0o4777)
    (tree / "link-dir").symlink_to(outside)
    (tree / "link-file").symlink_to(outside / "evil")
    (tree / "dangling").symlink_to(tmp_path / "nowhere")
    findings = audit_tree(tree)
    assert len(findings) == 6
    rel = [os.path.relpath(f.path, tree) for f in findings]
    assert not any(r.startswith(("link", "dangling", "..")) for r in rel)


def test_follow_symlinks_enters_each_directory_once(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    _file(outside / "evil", 0o4755)
    (tree / "link-dir").symlink_to(outside)
    (outside / "loop").symlink_to(tree)
    findings = audit_tree(tree, follow_symlinks=True)
    assert (str(tree / "link-dir" / "evil"), "setuid") in {(f.path, f.kind) for f in findings}
    assert not any("/loop/" in f.path for f in findings)


def test_root_itself_is_audited(tmp_path: Path) -> None:
    target = _file(tmp_path / "single", 0o4777)
    assert {f.kind for f in audit_tree(target)} == {"setuid", "world-writable"}
    (tmp_path / "d").mkdir()
    (tmp_path / "d").chmod(0o777)
    assert [f.kind for f in audit_tree(tmp_path / "d")] == ["world-writable-dir"]


def test_symlink_root_is_refused_unless_followed(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "alias").symlink_to(tree)
    with pytest.raises(InsecurePathError, match="is a symlink"):
        audit_tree(tmp_path / "alias")
    assert len(audit_tree(tmp_path / "alias", follow_symlinks=True)) == 6


def test_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(InsecurePathError, match="could not be examined"):
        audit_tree(tmp_path / "nope")


def test_unreadable_directory_is_reported_not_skipped(nobody_tmp: Path, in_child: object) -> None:
    root = nobody_tmp / "t"
    (root / "locked").mkdir(parents=True)
    _file(root / "locked" / "hidden", 0o4755)
    (root / "locked").chmod(0o700)
    root.chmod(0o755)

    def as_nobody() -> list[list[str]]:
        os.setresgid(UNNAMED, UNNAMED, UNNAMED)
        os.setgroups([])
        os.setresuid(65534, 65534, 65534)
        return [[f.path, f.kind] for f in audit_tree(root)]

    result = in_child(as_nobody)  # type: ignore[operator]
    assert [str(root / "locked"), "unreadable"] in result
    assert not any("hidden" in path for path, _ in result)


def test_one_filesystem_does_not_descend_into_other_mounts(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "mnt").mkdir(parents=True)
    _file(root / "here", 0o4755)
    script = (
        "import sys, json; from hardenkit.fileperms import audit_tree; "
        "open(sys.argv[2] + '/there', 'w').close(); "
        "import os; os.chmod(sys.argv[2] + '/there', 0o4755); "
        "print(json.dumps([[f.path for f in audit_tree(sys.argv[1], one_filesystem=o)] "
        "for o in (True, False)]))"
    )
    # A private mount namespace: the tmpfs is never visible outside this one command.
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount -t tmpfs none "$2" && exec "$0" -c "$3" "$1" "$2"',
         sys.executable, str(root), str(root / "mnt"), script],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    same_fs, all_fs = json.loads(proc.stdout)
    assert same_fs == [str(root / "here")]
    assert all_fs == [str(root / "here"), str(root / "mnt" / "there")]
