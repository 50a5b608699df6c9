"""ResourceLimits validation and the pre-checks of apply_limits (no limit is changed here)."""

from __future__ import annotations

import resource

import pytest
from hypothesis import given, settings, strategies as st

from hardenkit.errors import SandboxError
from hardenkit.sandbox import ResourceLimits
from hardenkit.sandbox.limits import check_limits


def test_defaults_only_turn_core_dumps_off() -> None:
    assert ResourceLimits().as_rlimits() == ((resource.RLIMIT_CORE, 0),)


@pytest.mark.parametrize("value", [-1, 1.5, "10", True])
def test_bad_values_are_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="open_files"):
        ResourceLimits(open_files=value)  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=2**40))
def test_check_refuses_anything_above_the_hard_limit(value: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = ResourceLimits(open_files=value, core_bytes=None)
    if value > hard:
        with pytest.raises(SandboxError, match="RLIMIT_NOFILE"):
            check_limits(limits)
    else:
        assert check_limits(limits) == ((resource.RLIMIT_NOFILE, value),)
