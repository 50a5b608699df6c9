"""Test harness: feature markers, the no-silent-skip rule, and the ``in_child`` fixture.

Markers ``linux``, ``root``, ``seccomp``, ``landlock``, ``caps``, ``interop`` and
``exec_helper`` skip with a reason when the machine lacks the feature. With
``HARDENKIT_REQUIRE_ALL_TESTS=1`` (set by ``.ci/run``) every skip, from a marker or
anywhere else, is turned into a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit._child import ChildOutcome, fork_call
from hardenkit._features import features

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

REQUIRE_ALL = os.environ.get("HARDENKIT_REQUIRE_ALL_TESTS") == "1"
ROOT = Path(__file__).resolve().parents[1]
#: The project's reference data, kept in the repository (tests/data/README.md names the sources).
SHARED_DATA = ROOT / "tests" / "data"
#: Node packages for the interop tests (installed by scripts/setup).
INTEROP_DIR = ROOT / "tests" / "interop"


def _dotenvx() -> str | None:
    local = INTEROP_DIR / "node_modules" / ".bin" / "dotenvx"
    if local.exists():
        return str(local)
    return shutil.which("dotenvx")


def _missing(marker: str) -> str | None:
    """Return why the machine lacks what ``marker`` needs, or None when it has it."""
    f = features()
    reasons: dict[str, Callable[[], str | None]] = {
        "linux": lambda: None if f.linux else "needs Linux",
        "root": lambda: None if f.root else "needs euid 0",
        "seccomp": lambda: None if f.seccomp else "needs seccomp and libseccomp",
        "landlock": lambda: None if f.landlock_abi > 0 else "needs Landlock (ABI probe gave 0)",
        "caps": lambda: (
            None
            if importlib.util.find_spec("prctl") is not None
            else "needs python-prctl, a test oracle in the dev group: scripts/setup"
        ),
        "interop": lambda: None if _dotenvx() else "needs dotenvx: run scripts/setup",
        "exec_helper": lambda: (
            None
            if f.exec_helper
            else "needs the compiled spawn helper: reinstall with gcc and libc6-dev"
        ),
    }
    return reasons[marker]()


_FEATURE_MARKERS = ("linux", "root", "seccomp", "landlock", "caps", "interop", "exec_helper")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name in _FEATURE_MARKERS:
        if item.get_closest_marker(name) is None:
            continue
        reason = _missing(name)
        if reason is None:
            continue
        if REQUIRE_ALL:
            pytest.fail(f"HARDENKIT_REQUIRE_ALL_TESTS=1 and this test {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under HARDENKIT_REQUIRE_ALL_TESTS=1: {report.longrepr}"
    del item, call


@pytest.fixture
def shared_data() -> Path:
    """The reference data folder; a test that needs it fails (not skips) when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


class InChild:
    """Run a function in a forked child; irreversible effects never touch the test process."""

    def __call__(
        self, fn: Callable[..., Any], *args: Any, timeout: float = 60.0, **kwargs: Any
    ) -> Any:
        """Return ``fn``'s value; fail the test with how the child ended otherwise."""
        outcome = self.outcome(fn, *args, timeout=timeout, **kwargs)
        if not outcome.ok:
            pytest.fail(f"child {outcome.describe()}", pytrace=False)
        return outcome.value

    def outcome(
        self, fn: Callable[..., Any], *args: Any, timeout: float = 60.0, **kwargs: Any
    ) -> ChildOutcome:
        """Return the full outcome (value, exception, signal or timeout)."""
        return fork_call(fn, args, kwargs, timeout=timeout)


@pytest.fixture
def in_child() -> InChild:
    """Run a function in a forked child and return its JSON-able result."""
    return InChild()


@pytest.fixture
def nobody_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh directory under /tmp that ``nobody`` can enter (tests for dropped children)."""
    path = tmp_path_factory.mktemp("nobody")
    for parent in [path, *path.parents]:
        if parent == Path("/tmp"):
            break
        parent.chmod(parent.stat().st_mode | 0o755)
    return path


@pytest.fixture
def no_registered_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run with no value registered: the redaction registry is process-wide, and a value
    an earlier test registered (``decrypt_env_file`` registers what it decrypts: "prod-value")
    would mask text that ``full_scan``, the detectors' oracle, leaves."""
    from hardenkit.redaction import _registry  # noqa: PLC0415 -- only the tests that ask

    monkeypatch.setattr(_registry, "_known", set())
    monkeypatch.setattr(_registry, "_pending", [])
    monkeypatch.setattr(_registry, "_levels", ())
