from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given, strategies as st

from hardenkit._linux.procfs import cap_last_cap, parse_status, read_status, task_ids

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
