"""Text the command line prints about things it does not control (paths, process names).

One escaper for every command: a file or process name may hold a newline (forging a line of
the report), a terminal escape sequence or a bidi control character.
"""

from __future__ import annotations

__all__ = ["escape"]


def escape(text: str) -> str:
    r"""Escape control and other unprintable characters, so one name prints as one line.

    A backslash is doubled, so that an escape shown is never a name's own text.

    Examples:
        >>> escape("a\nok    /etc")
        'a\\nok    /etc'
        >>> escape("/etc/app.key"), escape("a\\nb"), escape("x\u202ey")
        ('/etc/app.key', 'a\\\\nb', 'x\\u202ey')
    """
    if text.isprintable() and "\\" not in text:
        return text
    return "".join("\\\\" if c == "\\" else c if c.isprintable() else repr(c)[1:-1] for c in text)
