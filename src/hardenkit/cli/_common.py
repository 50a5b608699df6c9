"""What every command shares: exit statuses, output helpers.

The escaper for text the CLI does not control (paths, process names), the one-line error
and the quiet stop on a closed pipe. Imported by every command (and by ``hardenkit exec``'s
fast path), so it imports nothing beyond ``sys`` and ``os``.
"""

from __future__ import annotations

import os
import sys

__all__ = [
    "EXIT_CANNOT_EXEC",
    "EXIT_ERROR",
    "EXIT_FAIL",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "err",
    "escape",
    "pipe_closed",
]

EXIT_OK = 0
#: Findings (a check failed), or a command that failed.
EXIT_FAIL = 1
EXIT_USAGE = 2
#: Could not run: the audit or check could not be completed.
EXIT_ERROR = 3
#: ``run``: the command timed out (as timeout(1)).
EXIT_TIMEOUT = 124
#: The command exists but cannot be executed (as env(1)).
EXIT_CANNOT_EXEC = 126
#: The command was not found (as env(1)).
EXIT_NOT_FOUND = 127
#: 128 + SIGPIPE: what a shell reports for a tool whose reader went away.
EXIT_PIPE = 141


def err(message: str, *, redacted: bool = True) -> None:
    """Print ``hardenkit: message`` on stderr, through :func:`hardenkit.redaction.redact`.

    An error may quote what it refused (an option's value, a profile's line), and that
    may be a secret. ``redacted=False`` is for a message built only from what is never
    one (a path and an errno's text), where the redaction rules may be out of reach
    (after confining). Imported on use: the fast path of ``exec`` never loads them.
    """
    if redacted:
        try:
            from hardenkit.redaction import redact  # noqa: PLC0415 -- for import time
        except Exception:  # noqa: BLE001 -- confined: the standard library may be out of reach
            message = "(message withheld: it cannot be redacted here)"
        else:
            message = redact(message)
    print(f"hardenkit: {message}", file=sys.stderr)


def escape(text: str) -> str:
    r"""Escape control and other unprintable characters, so one name prints as one line.

    A file or process name may hold a newline (forging a line of the report), a terminal
    escape sequence or a bidi control character. A backslash is doubled, so that an
    escape shown is never a name's own text.

    Examples:
        >>> escape("a\nok    /etc")
        'a\\nok    /etc'
        >>> escape("/etc/app.key"), escape("a\\nb"), escape("x\u202ey")
        ('/etc/app.key', 'a\\\\nb', 'x\\u202ey')
    """
    if text.isprintable() and "\\" not in text:
        return text
    return "".join("\\\\" if c == "\\" else c if c.isprintable() else repr(c)[1:-1] for c in text)


def pipe_closed() -> int:
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
