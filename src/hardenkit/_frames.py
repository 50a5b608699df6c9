"""Clearing the finished frames an exception keeps, so no secret survives in their locals.

A traceback keeps every frame it passed through, and whatever renders it with locals
(``TracebackException(capture_locals=True)``, pytest ``-l``, Sentry, rich) prints
them: a private key, a decrypted value. Only the frames below the public call are
cleared: the caller's own exception (the one it was handling when it called us) and its
chain are the caller's, and stay as they were.

Plain functions, imported on an error path only.
"""

from __future__ import annotations

import traceback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType


def clear_below(exc: BaseException, outer: BaseException | None) -> None:
    """Clear the locals of the frames below the public call in ``exc`` and its chain.

    ``exc`` was caught in the public call's own frame: its traceback's first entry is
    that (executing) frame and is skipped. ``outer`` is the exception the caller was
    handling when it called (``sys.exception()`` on entry): the walk stops there, so the
    caller's earlier exceptions keep their frames. So it does at any cause or context
    that was not caught below the call (its traceback's first frame is none of those
    ``exc`` passed through): an exception the caller kept and raised ``from`` in a
    callback (an environ mapping's ``__setitem__``) is the caller's too.
    """
    tb = exc.__traceback__
    if tb is None:
        return
    below = {id(tb.tb_frame)}  # the public call's frame: what it caught is below it
    _clear(tb.tb_next, below)
    seen = {id(exc)}
    todo: list[BaseException | None] = [exc.__cause__, exc.__context__]
    while todo:
        err = todo.pop()
        if err is None or err is outer or id(err) in seen:
            continue
        seen.add(id(err))
        tb = err.__traceback__
        if tb is not None and id(tb.tb_frame) not in below:
            continue  # caught outside the call: raised before it, kept by the caller
        _clear(tb, below)
        todo += [err.__cause__, err.__context__]


def _clear(tb: TracebackType | None, below: set[int]) -> None:
    """Clear the frames of ``tb`` (finished ones: clear_frames skips an executing one)."""
    start = tb
    while tb is not None:
        below.add(id(tb.tb_frame))
        tb = tb.tb_next
    if start is not None:
        traceback.clear_frames(start)
