"""``hardenkit exec``: confine this process, verify, then become the command.

It confines itself with the plan :func:`~hardenkit.confine` uses, verifies it from the
kernel's side, then replaces itself with the command (``os.execve`` of a resolved
absolute path), so PID, signals and exit status are the command's own, as with setpriv or
minijail0: an ENTRYPOINT or ExecStart= wrapper.

Exit status: the command's own once it runs; before that 1 when confining failed, 2 on
usage or profile errors, 126 when the command cannot be executed, 127 when it is not found
(as env(1)).

Start-up time is the point of a wrapper, so the plain form ``exec [OPTIONS] -- CMD...``
is parsed without argparse (:func:`parse_fast`); anything else (``--help``, an unknown or
abbreviated option, a missing value, an option given twice...) goes to argparse, so help
and errors read exactly as argparse writes them.
"""

from __future__ import annotations

import os
import sys

from hardenkit.cli._common import EXIT_CANNOT_EXEC, EXIT_NOT_FOUND, err as _err
from hardenkit.cli._confine import add_options, dry_run, enter, prepare

# Not typing.TYPE_CHECKING, for import time (``hardenkit exec`` starts without typing).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from typing import Any
else:
    import _signal  # not signal, for import time: its enums (Signals, Handlers...) ~1 ms

#: The confinement options (cli._confine.add_options) by kind, with argparse's defaults.
_SINGLE = ("profile", "preset", "user", "group", "groups", "umask", "cwd", "seccomp")
_APPEND = ("keep", "env_set", "limit", "read", "write", "execute")  # default []
_APPEND_NONE = ("env_allow", "net")  # default None
_FLAGS = ("allow_namespaces", "print_profile", "dry_run")


class _Args:
    """The parsed arguments, as argparse's Namespace would hold them."""

    #: main() shows records through :func:`start_logging`, without :mod:`logging` (a class
    #: attribute: not one of the parsed values).
    start_logging: Any = None

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        """The values, ``--env-set`` ones masked (NAME=*** : a value may be a secret)."""
        shown = dict(vars(self))
        if shown.get("env_set"):
            shown["env_set"] = [f"{item.partition('=')[0]}=***" for item in shown["env_set"]]
        return f"_Args({', '.join(f'{k}={v!r}' for k, v in sorted(shown.items()))})"


def parse_fast(words: list[str]) -> _Args | None:  # noqa: C901, PLR0911, PLR0912 -- one pass
    """Parse ``[OPTIONS] -- CMD [ARGS]`` (the words after ``exec``) without argparse.

    Returns None for anything but that plain form, for argparse to parse (and report).

    Examples:
        >>> a = parse_fast(["--user", "nobody", "--read=/usr", "--net", "none", "--", "id"])
        >>> a.user, a.read, a.net, a.argv, a.dry_run
        ('nobody', ['/usr'], ['none'], ['--', 'id'], False)
        >>> parse_fast(["--help"]), parse_fast(["--us", "nobody", "--", "id"])
        (None, None)
    """
    values: dict[str, Any] = dict.fromkeys(_SINGLE)
    values.update({name: [] for name in _APPEND})
    values.update(dict.fromkeys(_APPEND_NONE))
    values.update(dict.fromkeys(_FLAGS, False))
    seen: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            if i + 1 == len(words):
                return None
            values["argv"] = words[i:]  # with the "--", as argparse's REMAINDER keeps it
            break
        if not word.startswith("--"):
            return None  # a positional word or a short option: argparse's rules
        name, eq, value = word[2:].partition("=")
        dest = name.replace("-", "_")
        if "_" in name or (dest in seen and dest not in _APPEND + _APPEND_NONE):
            return None  # not an option's spelling, or given twice (argparse decides)
        seen.add(dest)
        if dest in _FLAGS:
            if eq:
                return None
            values[dest] = True
            i += 1
            continue
        if dest not in _SINGLE + _APPEND + _APPEND_NONE:
            return None
        if not eq:
            if i + 1 == len(words):
                return None
            value = words[i + 1]
            i += 1
        if value.startswith("-"):
            return None  # an option, a negative number or "--": argparse's rules
        i += 1
        if dest in _SINGLE:
            values[dest] = value
        else:
            values[dest] = [*(values[dest] or ()), value]
    else:
        return None  # no "--": argparse's REMAINDER rules
    if values["profile"] is not None and values["preset"] is not None:
        return None  # mutually exclusive: argparse reports it
    return _Args(**values, verbose=0, command="exec", handler=_exec_main)


#: Records (by message format) ``exec``'s fast path logs at debug level, not as warnings:
#: expected on every start of a wrapper and nothing its user can act on. ``hardenkit -v
#: exec`` (logging's way) shows them. Showing this one would also cost every start the
#: import of logging and of the redaction rules (~10 ms).
_DEBUG_ONLY = frozenset(
    {"seccomp: the local libseccomp does not know %d syscall name(s), skipped: %s"}
)
_LEVEL_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}
_WARNING = 30


def _show(_name: str, level: int, msg: object, args: tuple[object, ...]) -> None:
    """Print a hardenkit record as main()'s logging setup would: warnings and up, redacted."""
    if level < _WARNING or (isinstance(msg, str) and msg in _DEBUG_ONLY):
        return
    try:
        text = str(msg) % args if args else str(msg)
    except Exception:  # noqa: BLE001 -- a bad format string must not leak the arguments
        text = f"{msg} (arguments withheld: the message did not format)"
    try:
        from hardenkit.redaction import redact  # noqa: PLC0415 -- for import time: on use

        text = redact(text)
    except Exception:  # noqa: BLE001 -- confined: the standard library may be out of reach
        text = "(message withheld: it cannot be redacted once confined)"
    level_name = _LEVEL_NAMES.get(level, f"Level {level}")
    sys.stderr.write(f"hardenkit: {level_name}: {text}\n")


def start_logging() -> None:
    """Show hardenkit's warnings on stderr, redacted, without importing :mod:`logging`.

    What main() does with logging.basicConfig and install_redaction for every other
    command, minus ~7 ms of imports (logging, traceback, string, threading) and the
    redaction module until a record needs it.
    """
    from hardenkit._log import set_sink  # noqa: PLC0415 -- only for the fast path

    set_sink(_show)


_Args.start_logging = staticmethod(start_logging)


def add_parser(sub: Any) -> None:
    """Add ``exec`` to the CLI."""
    import argparse  # noqa: PLC0415 -- for import time: the fast path parses without it

    p = sub.add_parser(
        "exec",
        help="confine this process, verify, then become the command",
        description="Confine, verify from the kernel's side, then exec CMD in place "
        "(PID, signals and exit status pass through). For ENTRYPOINT and ExecStart=.",
    )
    add_options(p)
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS]")
    p.set_defaults(handler=_exec_main)


def _exec_main(args: Any) -> int:
    prepared = prepare(args)
    if isinstance(prepared, int):
        return prepared
    profile, argv, exe, env = prepared
    if args.dry_run:
        return dry_run(profile, exe)
    enter(profile)  # raises (exit 1) when a step fails or does not verify
    sys.stdout.flush()
    sys.stderr.flush()
    # Python ignores SIGPIPE and SIGXFSZ; an ignored signal stays ignored across exec, so
    # give the command the default actions (as subprocess's restore_signals does).
    for name in ("SIGPIPE", "SIGXFSZ"):
        sig = getattr(_signal, name, None)
        if sig is not None:
            _signal.signal(sig, _signal.SIG_DFL)
    try:
        os.execve(exe, argv, env)  # noqa: S606 -- an absolute path, no shell
    except OSError as err:
        _err(f"cannot execute {exe}: {err.strerror}", redacted=False)  # confined: no redaction
        return EXIT_NOT_FOUND if isinstance(err, FileNotFoundError) else EXIT_CANNOT_EXEC
