"""``hardenkit run``: run a command confined and supervised through :func:`hardenkit.run`.

Unlike ``exec`` it stays the parent: a timeout, an output cap, and every process the
command started gone when it returns. Exit status: the command's own (128 + N when a
signal N ended it), 124 on timeout, 1 when confining failed, 2 on usage or profile errors,
127 when the command is not found.
"""

from __future__ import annotations

import argparse
import os
import sys

from hardenkit.cli._common import EXIT_TIMEOUT, err as _err
from hardenkit.cli._confine import add_options, dry_run, prepare
from hardenkit.errors import CommandTimeout

# Not typing.TYPE_CHECKING, for import time (typing is ~5 ms of a CLI start).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def add_parser(sub: Any) -> None:
    """Add ``run`` to the CLI."""
    p = sub.add_parser(
        "run",
        help="run a command confined and supervised (timeout, output cap)",
        description="Run CMD confined through hardenkit.run(): timeout, bounded output, "
        "every process it started gone when it returns.",
    )
    add_options(p)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    p.add_argument("--max-output", type=int, default=None, metavar="BYTES", help="per stream cap")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS]")
    p.set_defaults(handler=_run_main)


def _run_main(args: argparse.Namespace) -> int:
    from hardenkit.spawn import run  # noqa: PLC0415 -- for import time

    prepared = prepare(args)
    if isinstance(prepared, int):
        return prepared
    profile, argv, exe, env = prepared
    if args.dry_run:
        return dry_run(profile, exe)
    if profile.umask is not None:
        os.umask(profile.umask)  # inherited by the child
    # Always confined, with exec's confinement: confinement= confines even when no
    # option asks for more than the defaults (keywords alone would then run it bare).
    kw: dict[str, Any] = {
        "timeout": args.timeout,
        "env": env,
        "cwd": profile.cwd,
        "confinement": profile.confinement,
    }
    if args.max_output is not None:
        kw["max_output"] = args.max_output
    try:
        result = run([exe, *argv[1:]], **kw)
    except CommandTimeout as err:
        _err(f"timed out after {args.timeout} s")
        partial = err.result
        if partial is not None:
            sys.stdout.buffer.write(partial.stdout)
            sys.stderr.buffer.write(partial.stderr)
        return EXIT_TIMEOUT
    sys.stdout.buffer.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.buffer.write(result.stderr)
    sys.stderr.flush()
    code = int(result.returncode)
    return 128 - code if code < 0 else code
