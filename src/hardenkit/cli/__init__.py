"""The ``hardenkit`` command line (also ``python -m hardenkit``).

One module per command (``audit``, ``check_perms``, ``env``, ``exec``, ``run``,
``profile``), each providing ``add_parser(subparsers)``; the parser it adds sets
``handler`` to a function that takes the parsed arguments and returns the exit code.
Exit statuses and output helpers are shared in :mod:`hardenkit.cli._common`.

Exit statuses (``audit`` and ``check-perms``): 0 fine; 1 findings (a check failed);
2 usage error; 3 could not run (the audit or check could not be completed: a process
vanished, a read was refused...). ``env`` subcommands: 0 done, 1 failed, 2 usage error;
``env run`` returns the command's status. Any command whose output pipe is closed early
(``hardenkit audit | head -3``) stops quietly with 141 (128 + SIGPIPE), as a shell tool.
"""

from __future__ import annotations

import gc
import sys

from hardenkit._log import current_sink, set_sink
from hardenkit.cli._common import EXIT_FAIL, err, pipe_closed
from hardenkit.errors import HardenkitError

# Not typing.TYPE_CHECKING, for import time (``hardenkit exec`` starts without typing).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

__all__ = ["build_parser", "main"]

#: First word -> the only command modules it needs: a fresh process imports just those
#: (start-up time matters for ENTRYPOINT wrappers and for ``hardenkit audit`` in scripts).
#: Anything else (``--help``, ``-v``, a typo) builds the whole parser.
_FAST: dict[str, tuple[str, ...]] = {
    "exec": ("exec",),
    "run": ("run",),
    "profile": ("profile",),
    "audit": ("audit",),
    "check-perms": ("check_perms",),
    "env": ("env",),
    "--version": (),
}


def build_parser(modules: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand (or those of ``modules``).

    Examples:
        >>> parser = build_parser()
        >>> parser.parse_args(["audit", "--json"]).json
        True
    """
    from hardenkit.cli import _parser  # noqa: PLC0415 -- for import time: argparse

    return _parser.build_parser(_parser.COMMAND_MODULES if modules is None else modules)


def _parse(words: list[str]) -> Any:
    """The parsed arguments, or the exit status argparse asked for (usage error, --help)."""
    if words and words[0] == "exec":
        from hardenkit.cli.exec import parse_fast  # noqa: PLC0415 -- only for exec

        fast = parse_fast(words[1:])
        if fast is not None:
            return fast
    if words and words[0] == "audit":
        from hardenkit.cli import audit  # noqa: PLC0415 -- only for audit

        fast_audit = audit.parse_fast(words[1:])
        if fast_audit is not None:
            return fast_audit
    parser = build_parser(_FAST.get(words[0]) if words else None)
    try:
        return parser.parse_args(words)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)


#: Commands whose output is a report for people, not data (``profile show`` writes TOML).
_REPORTS = frozenset({"audit", "check-perms"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status.

    Examples:
        >>> main(["--version"])
        hardenkit ...
        0
    """
    words = sys.argv[1:] if argv is None else list(argv)
    # ``exec`` replaces this process with the command, which frees the whole heap: the
    # cyclic garbage made while confining is never worth a collection (13-23 of them,
    # ~2.5-4.5 ms of its cold start). Turned back on when main returns (in-process use,
    # an error before the exec).
    pause_gc = words[:1] == ["exec"] and gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        args = _parse(words)
        if isinstance(args, int):
            return args
        sink = current_sink()
        try:
            return _main(args)
        finally:
            set_sink(sink)  # the fast paths' sink is for this command (main may run in-process)
    finally:
        if pause_gc:
            gc.enable()


def _main(args: Any) -> int:
    command = getattr(args, "command", None)  # (env run's own "command" is its argv)
    _start_logging(args)
    if not (isinstance(command, str) and command in _REPORTS):
        return _run(args)
    # A name or path a report quotes may not fit the terminal's encoding (an ASCII locale,
    # PYTHONIOENCODING=ascii): write it escaped rather than fail mid-report. Only reports
    # (data such as env decrypt's must not change), and only while the command runs (main
    # may be called in a program's own process).
    restore = []
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            restore.append((reconfigure, stream.errors))
            reconfigure(errors="backslashreplace")
    try:
        return _run(args)
    finally:
        for reconfigure, errors in restore:
            reconfigure(errors=errors)


def _start_logging(args: Any) -> None:
    """Show hardenkit's warnings on stderr, redacted."""
    start_logging = getattr(args, "start_logging", None)
    if start_logging is not None:
        start_logging()  # the fast paths: the same output without importing logging
        return
    import logging  # noqa: PLC0415 -- for import time: not for --help nor a usage error

    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="hardenkit: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    from hardenkit.redaction import install_redaction  # noqa: PLC0415 -- import time

    install_redaction()  # logs never leak a secret


def _run(args: Any) -> int:
    """Run the command's handler; map what it raises to the command's exit status."""
    error_status = int(getattr(args, "error_status", EXIT_FAIL))
    try:
        status = int(args.handler(args))
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        return pipe_closed()
    except HardenkitError as exc:
        err(f"{type(exc).__name__}: {exc}")  # redacted: a message may quote a value
        return error_status
    except OSError as exc:
        if error_status == EXIT_FAIL:
            raise  # commands without a "could not run" status report their own
        where = f": {exc.filename}" if exc.filename else ""
        print(f"hardenkit: {exc.strerror or type(exc).__name__}{where}", file=sys.stderr)
        return error_status
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if error_status == EXIT_FAIL:
            raise
        # A command whose exit 1 means "findings" must not say so when it failed: its
        # "could not run" status, with the type only (a message may quote a value).
        err(f"internal error ({type(exc).__name__}); nothing was reported", redacted=False)
        return error_status
    return status
