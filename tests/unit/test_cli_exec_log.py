"""``hardenkit exec``'s fast path shows hardenkit's warnings without importing logging.

What main()'s logging.basicConfig and install_redaction give every other command: warnings
and up on stderr as ``hardenkit: LEVEL: message``, redacted.
"""

from __future__ import annotations

import pytest

from hardenkit._log import set_sink
from hardenkit.cli import exec as cli_exec
from hardenkit.sandbox.seccomp import SeccompPolicy, compile_policy

TOKEN = "ghp_" + "a1B2" * 9  # a GitHub token shape the detectors know


def test_warnings_show_redacted_debug_and_info_do_not(capsys: pytest.CaptureFixture[str]) -> None:
    cli_exec._show("hardenkit.x", 30, "retrying with %s", (f"token={TOKEN}",))
    cli_exec._show("hardenkit.x", 40, "plain", ())
    cli_exec._show("hardenkit.x", 20, "info %s", (TOKEN,))
    cli_exec._show("hardenkit.x", 10, "debug", ())
    cli_exec._show("hardenkit.x", 35, "odd level", ())
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert err.splitlines() == [
        "hardenkit: WARNING: retrying with token=***",
        "hardenkit: ERROR: plain",
        "hardenkit: Level 35: odd level",
    ]


def test_a_message_that_does_not_format_withholds_its_arguments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli_exec._show("hardenkit.x", 30, "%d items", (TOKEN,))
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert "arguments withheld" in err


@pytest.mark.linux
@pytest.mark.seccomp
def test_the_libseccomp_note_is_debug_only_on_the_fast_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[tuple[object, tuple[object, ...]]] = []
    set_sink(lambda _name, _level, msg, args: seen.append((msg, args)))
    try:
        # mseal (Linux 6.10) is past libseccomp 2.5's table: skipped, and noted.
        compiled = compile_policy(SeccompPolicy(default="allow", deny=["mseal", "acct"]))
    finally:
        set_sink(None)
    assert bool(compiled.skipped) == bool(seen)
    for msg, args in seen:  # the very format string compile_policy logs
        assert msg in cli_exec._DEBUG_ONLY
        cli_exec._show("hardenkit.sandbox", 30, msg, args)
    assert capsys.readouterr().err == ""
