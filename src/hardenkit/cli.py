"""The ``hardenkit`` command line (also ``python -m hardenkit``).

Each subcommand lives in its own private module (``_cmd_<name>.py``) that provides
``add_parser(subparsers)``; the parser it adds sets ``handler`` to a function that takes
the parsed arguments and returns the exit code.

Exit statuses (``audit`` and ``check-perms``): 0 fine; 1 findings (a check failed);
2 usage error; 3 could not run (the audit or check could not be completed: a process
vanished, a read was refused...). ``env`` subcommands: 0 done, 1 failed, 2 usage error;
``env run`` returns the command's status. Any command whose output pipe is closed early
(``hardenkit audit | head -3``) stops quietly with 141 (128 + SIGPIPE), as a shell tool.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from hardenkit.errors import HardenkitError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "main"]

_COMMAND_MODULES = ("_cmd_audit", "_cmd_perms", "_cmd_env", "_cmd_sandbox")

#: First word -> the only command modules it needs: a fresh process imports just those
#: (start-up time matters for ENTRYPOINT wrappers and for ``hardenkit audit`` in scripts).
#: Anything else (``--help``, ``-v``, a typo) builds the whole parser.
_FAST: dict[str, tuple[str, ...]] = {
    "exec": ("_cmd_sandbox",),
    "run": ("_cmd_sandbox",),
    "profile": ("_cmd_sandbox",),
    "audit": ("_cmd_audit",),
    "check-perms": ("_cmd_perms",),
    "env": ("_cmd_env",),
    "--version": (),
}

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
#: 128 + SIGPIPE: what a shell reports for a tool whose reader went away.
EXIT_PIPE = 141


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter with a width from ``COLUMNS`` (default 100), not the terminal.

    argparse builds a formatter for every ``add_argument``, and asking the terminal for its
    size imports ``shutil`` (~4 ms of every CLI start, help or not).
    """

    def __init__(self, prog: str) -> None:
        try:
            width = int(os.environ.get("COLUMNS", "100"))
        except ValueError:
            width = 100
        super().__init__(prog, width=max(width - 2, 40))


class _Parser(argparse.ArgumentParser):
    """A parser whose subcommands report their own usage on unknown arguments.

    argparse hands a subcommand's leftover arguments up to the top-level parser, which
    then prints the top-level usage; here the subcommand's parser refuses them itself.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]  # the signature differs across 3.10-3.13
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        ns, extras = super().parse_known_args(args, namespace)
        if extras and self.prog != "hardenkit":
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns, extras

    def error(self, message: str) -> NoReturn:
        """Print this (sub)command's usage and the message, exit 2."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser(modules: Sequence[str] = _COMMAND_MODULES) -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand.

    Examples:
        >>> parser = build_parser()
        >>> parser.parse_args(["audit", "--json"]).json
        True
    """
    from hardenkit._version import __version__  # noqa: PLC0415

    parser = _Parser(
        prog="hardenkit",
        description="Linux process-hardening checks and tools. Exit status: 0 fine, "
        "1 findings (a check failed), 2 usage error, 3 could not run; env run: the "
        "command's; 141 when the output pipe was closed early.",
    )
    parser.add_argument("--version", action="version", version=f"hardenkit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (to stderr)")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    for name in modules:
        importlib.import_module(f"hardenkit.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status.

    Examples:
        >>> main(["--version"])
        hardenkit ...
        0
    """
    words = sys.argv[1:] if argv is None else list(argv)
    # Import only the module the subcommand needs, not every command's.
    parser = build_parser(_FAST.get(words[0], _COMMAND_MODULES) if words else _COMMAND_MODULES)
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="hardenkit: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    from hardenkit.redaction import install_redaction  # noqa: PLC0415 -- logs never leak

    install_redaction()
    error_status = int(getattr(args, "error_status", EXIT_FAIL))
    try:
        status = int(args.handler(args))
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        return _pipe_closed()
    except HardenkitError as exc:
        print(f"hardenkit: {type(exc).__name__}: {exc}", file=sys.stderr)
        return error_status
    except OSError as exc:
        if error_status == EXIT_FAIL:
            raise  # commands without a "could not run" status report their own
        where = f": {exc.filename}" if exc.filename else ""
        print(f"hardenkit: {exc.strerror or type(exc).__name__}{where}", file=sys.stderr)
        return error_status
    except KeyboardInterrupt:
        return 130
    return status


def _pipe_closed() -> int:
    """Stop quietly when the reader of stdout went away (``hardenkit audit | head``)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return EXIT_PIPE  # not a real file (a test's capture): nothing left to flush
    # What is still buffered must not be written again at exit: point stdout at /dev/null.
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    return EXIT_PIPE
