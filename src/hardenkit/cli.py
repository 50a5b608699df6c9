"""The ``hardenkit`` command line (also ``python -m hardenkit``).

Each subcommand lives in its own private module (``_cmd_<name>.py``) that provides
``add_parser(subparsers)``; the parser it adds sets ``handler`` to a function that takes
the parsed arguments and returns the exit code. Exit codes: 0 fine, 1 a finding or a
failed check, 2 a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import TYPE_CHECKING

from hardenkit.errors import HardenkitError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["build_parser", "main"]

_COMMAND_MODULES = ("_cmd_audit", "_cmd_perms", "_cmd_env", "_cmd_sandbox")

#: Commands whose start-up time matters (ENTRYPOINT wrappers) -> the only module they need.
_FAST = {"exec": ("_cmd_sandbox",), "run": ("_cmd_sandbox",)}

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


def build_parser(modules: Sequence[str] = _COMMAND_MODULES) -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand.

    Examples:
        >>> parser = build_parser()
        >>> parser.parse_args(["audit", "--json"]).json
        True
    """
    from hardenkit._version import __version__  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="hardenkit",
        description="Linux process-hardening checks and tools. "
        "Exit status: 0 fine, 1 a finding or failed check, 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"hardenkit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (to stderr)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
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
    # exec/run start services: import only their module, not every command's.
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
    try:
        return int(args.handler(args))
    except HardenkitError as exc:
        print(f"hardenkit: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130
