"""Registered secrets that a literal matcher cannot take, and redaction that fails closed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from hardenkit.redaction import (
    _engine as RR,  # noqa: N812
    _logging as RL,  # noqa: N812
    _prefilter as PF,  # noqa: N812
)

if TYPE_CHECKING:
    from pathlib import Path

_NO_HS = "from hardenkit.redaction import _hs as HS; HS._HS[:] = [None]\n"


def _run(code: str, *, without_hyperscan: bool = False) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter (registrations are process-wide)."""
    prefix = _NO_HS if without_hyperscan else ""
    return subprocess.run(
        [sys.executable, "-c", prefix + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("without_hyperscan", [False, True])
def test_secret_holding_nul_is_masked_whole(without_hyperscan: bool) -> None:
    # hyperscan's literal compile cut each literal at NUL: the secret came out twice.
    done = _run(
        """
        from hardenkit import redact, register_secret
        register_secret("Pw\\x00Tail-Secret-99")
        print(repr(redact("db login Pw\\x00Tail-Secret-99 failed")))
        print(repr(redact("café Pw\\x00Tail-Secret-99")))
        print(repr(redact("Pwned Pw")))
        """,
        without_hyperscan=without_hyperscan,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["'db login *** failed'", "'café ***'", "'Pwned Pw'"]


@pytest.mark.parametrize("without_hyperscan", [False, True])
@pytest.mark.parametrize("length", [600, 20_000])
def test_long_secret_is_masked_and_redaction_keeps_working(
    length: int, without_hyperscan: bool
) -> None:
    # hyperscan refused a literal over 16,000 bytes and the re trie recursed once per
    # character: every later redact() raised.
    done = _run(
        f"""
        from hardenkit import redact, register_secret
        secret = "s" + "x/é" * ({length} // 3)
        register_secret(secret)
        register_secret("other-secret-42")
        print(repr(redact("pw " + secret + " end")))
        from urllib.parse import quote
        print(repr(redact("pw " + quote(secret, safe="") + " end")))
        print(repr(redact("hello password=hunter22 other-secret-42")))
        """,
        without_hyperscan=without_hyperscan,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "'pw *** end'",
        "'pw *** end'",
        "'hello password=*** ***'",
    ]


def test_redact_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> str:
        raise RecursionError("matcher")

    # Every path: the scan (each text), the registered and extra= values' path.
    monkeypatch.setattr(PF, "_scan", broken)
    assert RR.redact("token=ghp_" + "a1" * 18) == RR.REDACTION_FAILED
    monkeypatch.undo()
    monkeypatch.setattr(RR, "_redact", broken)
    assert RR.redact("token=ghp_" + "a1" * 18, extra=["a1a1"]) == RR.REDACTION_FAILED
    monkeypatch.undo()
    RR.register_secret("failclosed-registered-Qx7")
    RR.redact("warm")  # folds the registration in: the next call takes the levels' path
    monkeypatch.setattr(RR, "_mask_levels", broken)
    assert RR.redact("x failclosed-registered-Qx7 y") == RR.REDACTION_FAILED
    with pytest.raises(TypeError):
        RR.redact(b"bytes")  # type: ignore[arg-type]


def test_hooks_withhold_when_redaction_raises() -> None:
    # The excepthook printed "Error in sys.excepthook" and then the original traceback
    # in clear; logging lost the record.
    done = _run(
        """
        import io, logging, sys, warnings
        from hardenkit import install_redaction
        from hardenkit.redaction import _logging as L

        def broken(text): raise RecursionError("matcher")
        stream = io.StringIO()
        logging.basicConfig(level=logging.INFO, stream=stream)
        install_redaction(excepthook=True, warnings=True)
        L.redact = broken
        logging.getLogger("app").info("password=%s", "Hunter2-Secret-Value")
        print(stream.getvalue().strip())
        warnings.warn("password=Hunter2-Secret-Value")
        raise ConnectionError("postgres://app:Hunter2-Secret-Value@db/main")
        """
    )
    assert "Hunter2-Secret-Value" not in done.stdout + done.stderr
    assert "Error in sys.excepthook" not in done.stderr
    assert "INFO:app:(withheld: the text could not be redacted)" in done.stdout
    assert done.stderr.count("(withheld: the text could not be redacted)") == 2


def test_record_withheld_when_redaction_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging  # noqa: PLC0415

    def broken(_text: str) -> str:
        raise RecursionError("matcher")

    monkeypatch.setattr(RL, "redact", broken)
    record = logging.LogRecord("x", logging.INFO, "x", 0, "pw %s", ("Hunter2-Secret",), None)
    record.blob = {"k": "Hunter2-Secret"}
    RL.RedactingFilter().filter(record)
    assert "Hunter2-Secret" not in record.getMessage() + repr(vars(record))


@pytest.mark.linux
@pytest.mark.landlock
@pytest.mark.parametrize("registered", [False, True])
def test_logging_once_confined_before_hyperscan_was_imported(
    registered: bool, tmp_path: Path
) -> None:
    # _hyperscan() caught only ImportError; confined, importing it raised PermissionError
    # and the exec log sink crashed the logging call.
    done = _run(
        f"""
        import sys
        from hardenkit.cli.exec import start_logging
        from hardenkit._log import get_logger
        from hardenkit.sandbox import FilesystemPolicy, confine
        start_logging()
        if {registered!r}:
            from hardenkit import register_secret
            register_secret("DecryptedDbPassw0rd")
        confine(filesystem=FilesystemPolicy(read=[{str(tmp_path)!r}]))
        get_logger("hardenkit.test").warning(
            "db failed for postgres://app:DecryptedDbPassw0rd@db/x token=%s", "ghp_" + "a1" * 18
        )
        print("after warning")
        """
    )
    assert done.returncode == 0, done.stderr
    assert "after warning" in done.stdout
    assert "DecryptedDbPassw0rd" not in done.stderr
    assert "a1a1a1" not in done.stderr
    if registered:
        assert "postgres://app:***@db/x token=***" in done.stderr
