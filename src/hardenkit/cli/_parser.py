"""The argument parser: every subcommand's module adds its own parser to it."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from hardenkit.cli._common import EXIT_USAGE

# Not typing.TYPE_CHECKING, for import time: typing is ~5 ms of every argparse-path start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn

#: One module per command, in the order ``--help`` lists them.
COMMAND_MODULES = ("audit", "check_perms", "env", "exec", "run", "profile")


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
    """A parser whose errors quote no argument, and whose subcommands report their own usage.

    argparse hands a subcommand's leftover arguments up to the top-level parser, which
    then prints the top-level usage; here the subcommand's parser refuses them itself.
    argparse's messages quote arguments (``unrecognized arguments: -Xk9-hunter2``,
    ``invalid choice: '...'``, ``ambiguous option: --s=...``), and a stray or misplaced
    argument may be a value (``hardenkit env set API_PASSWORD -Xk9...``): every argument
    that is not one of the parser's option names or choices is withheld.
    """

    _words: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]  # the signature differs across 3.10-3.13
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._words = tuple(sys.argv[1:] if args is None else args)
        ns, extras = super().parse_known_args(args, namespace)
        if extras and self.prog != "hardenkit":
            self.error(
                f"unrecognized arguments ({len(extras)} withheld: an argument may be a value)"
            )
        return ns, extras

    def _withheld(self, message: str) -> str:
        """``message`` without the arguments it quotes, but option names and choices."""
        import re  # noqa: PLC0415 -- for import time: on error only

        known = set(self._option_string_actions)
        for action in self._actions:
            known.update(str(c) for c in action.choices or ())
        # What argparse may quote of an argument: all of it, what follows "=" (--opt=VALUE),
        # or the rest of a short-option cluster (-pVALUE: "ignored explicit argument").
        words: set[str] = set()
        for word in self._words:
            words.add(word)
            words.add(word.partition("=")[2])
            if word.startswith("-") and not word.startswith("--"):
                words.update(word[i:] for i in range(2, len(word)))
        for word in sorted(words - known, key=len, reverse=True):
            if not word:
                continue
            message = message.replace(repr(word), "<withheld>")
            message = re.sub(rf"(?<!\S){re.escape(word)}(?!\S)", "<withheld>", message)
        return message

    def error(self, message: str) -> NoReturn:
        """Print this (sub)command's usage and the message (arguments withheld), exit 2."""
        from hardenkit.redaction import redact  # noqa: PLC0415 -- for import time: on error

        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {redact(self._withheld(message))}\n")


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """Build the argument parser with the subcommands of ``modules`` (default: all).

    Examples:
        >>> parser = build_parser()
        >>> parser.parse_args(["audit", "--json"]).json
        True
    """
    from hardenkit._version import __version__  # noqa: PLC0415 -- for import time

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
        importlib.import_module(f"hardenkit.cli.{name}").add_parser(sub)
    return parser
