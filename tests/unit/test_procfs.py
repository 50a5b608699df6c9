from __future__ import annotations

import contextlib
import os
import threading
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, strategies as st

from hardenkit._linux import procfs
from hardenkit._linux.procfs import cap_last_cap, parse_status, read_status, task_ids

if TYPE_CHECKING:
    from pathlib import Path

SAMPLE = """Name:\tpython3
Umask:\t0027
Pid:\t42
Uid:\t1000\t1001\t1002\t1003
Gid:\t100\t101\t102\t103
Groups:\t4 27 100
Threads:\t3
CapInh:\t0000000000000000
CapPrm:\t0000000000000400
CapEff:\t0000000000000400
CapBnd:\t000001ffffffffff
CapAmb:\t0000000000000400
NoNewPrivs:\t1
Seccomp:\t2
Seccomp_filters:\t1
"""


def test_parse_sample() -> None:
    st_ = parse_status(SAMPLE)
    assert st_.pid == 42
    assert st_.uids == (1000, 1001, 1002, 1003)
    assert st_.gids[:3] == (100, 101, 102)
    assert st_.groups == (4, 27, 100)
    assert st_.cap_effective == 1 << 10
    assert st_.cap_ambient == 1 << 10
    assert st_.no_new_privs is True
    assert st_.seccomp == 2
    assert st_.umask == 0o027
    assert st_.threads == 3


def test_missing_field_is_an_error_not_a_default() -> None:
    with pytest.raises(ValueError, match="unexpected format"):
        parse_status(SAMPLE.replace("CapEff:\t0000000000000400\n", ""))


@given(st.text())
def test_parse_never_raises_anything_but_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_status(text)


@pytest.mark.linux
def test_read_self_matches_the_kernel() -> None:
    st_ = read_status()
    assert st_.uids[:3] == os.getresuid()
    assert st_.gids[:3] == os.getresgid()
    assert set(st_.groups) == set(os.getgroups())
    assert os.getpid() in task_ids()
    assert cap_last_cap() >= 40


@pytest.mark.linux
def test_unknown_pid_is_process_lookup_error() -> None:
    with pytest.raises(ProcessLookupError):
        read_status(2**22 + 12345)


def _fake_proc(root: Path, pid: int, tids: list[int], *, status_of: list[int]) -> None:
    """A fixture /proc with ``tids`` listed under task/ and a status file for ``status_of``."""
    for tid in tids:
        (root / str(pid) / "task" / str(tid)).mkdir(parents=True)
    for tid in status_of:
        (root / str(pid) / "task" / str(tid) / "status").write_text(
            SAMPLE.replace("Pid:\t42", f"Pid:\t{tid}")
        )


def test_task_statuses_skip_a_thread_that_exited_after_the_listing(tmp_path: Path) -> None:
    # Thread 12 is listed but its status is gone (it exited): left out, not an error.
    _fake_proc(tmp_path, 10, [10, 11, 12], status_of=[10, 11])
    statuses = procfs.task_statuses(10, proc_root=str(tmp_path))
    assert [s.pid for s in statuses] == [10, 11]
    assert procfs.thread_count(10, proc_root=str(tmp_path)) == 3
    assert [s.pid for s in procfs.task_statuses(10, proc_root=str(tmp_path), skip=10)] == [11]


def test_task_statuses_relative_to_a_directory_descriptor(tmp_path: Path) -> None:
    _fake_proc(tmp_path, 10, [10, 11], status_of=[10, 11])
    fd = os.open(tmp_path / "10", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert [s.pid for s in procfs.task_statuses(dir_fd=fd)] == [10, 11]
    finally:
        os.close(fd)


def test_task_statuses_raise_on_a_status_that_exists_but_cannot_be_read(tmp_path: Path) -> None:
    _fake_proc(tmp_path, 10, [10, 11], status_of=[10])
    (tmp_path / "10" / "task" / "11" / "status").mkdir()  # EISDIR: not "gone"
    with pytest.raises(IsADirectoryError):
        procfs.task_statuses(10, proc_root=str(tmp_path))
    (tmp_path / "10" / "task" / "11" / "status").rmdir()
    (tmp_path / "10" / "task" / "11" / "status").write_text("Name:\tbroken\n")
    with pytest.raises(ValueError, match="unexpected format"):
        procfs.task_statuses(10, proc_root=str(tmp_path))


def test_thread_count_sees_a_live_thread() -> None:
    started, release = threading.Event(), threading.Event()

    def wait() -> None:
        started.set()
        release.wait()

    before = procfs.thread_count()
    thread = threading.Thread(target=wait)
    thread.start()
    try:
        started.wait()
        assert procfs.thread_count() == before + 1
        assert thread.native_id in {s.pid for s in procfs.task_statuses()}
    finally:
        release.set()
        thread.join()


def test_stat_fields_split_after_the_last_parenthesis() -> None:
    data = b"42 (evil) S 1 2 3) R 7 42 42 0 -1"
    assert procfs.stat_fields(data)[:4] == [b"R", b"7", b"42", b"42"]
    assert procfs.read_stat(os.getpid())[2] == str(os.getpgrp()).encode()


def test_pids_lists_only_numbered_entries(tmp_path: Path) -> None:
    for name in ("1", "20", "3", "self", "sys"):
        (tmp_path / name).mkdir()
    assert procfs.pids(proc_root=str(tmp_path)) == [1, 3, 20]
