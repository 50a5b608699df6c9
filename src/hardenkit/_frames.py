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


def clear_below(exc: BaseException, outer: BaseException | None) -> None:
    """Clear the locals of the frames below the public call in ``exc`` and its chain.

    ``exc`` was caught in the public call's own frame: its traceback's first entry is
    that (executing) frame and is skipped. ``outer`` is the exception the caller was
    handling when it called (``sys.exception()`` on entry): the walk stops there, so the
    caller's earlier exceptions keep their frames.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or err is outer or id(err) in seen:
            continue
        seen.add(id(err))
        tb = err.__traceback__
        if tb is not None:
            traceback.clear_frames(tb.tb_next if err is exc else tb)
        todo += [err.__cause__, err.__context__]
