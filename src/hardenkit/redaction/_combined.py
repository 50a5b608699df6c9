"""Registered values folded into the prefilter's database: one scan finds both.

``_combined`` (the levels it was built for, and its matcher) lives here and only here:
:func:`hardenkit.redaction._engine.redact` reads it as ``_combined._combined`` per call.
"""

from __future__ import annotations

import threading

from hardenkit.redaction import _prefilter, _registry
from hardenkit.redaction._hs import _hyperscan
from hardenkit.redaction._planner import _apply_hits
from hardenkit.redaction._prefilter import _expressions
from hardenkit.redaction._registry import _char_spans, _literal_spans, _mask_spans

# Not typing.TYPE_CHECKING: importing typing costs a first use several ms (the audit's
# environment check, `hardenkit audit`), and type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hardenkit.redaction._prefilter import _Hit
    from hardenkit.redaction._registry import _Level

# Once the registered values stop changing, they are folded into the prefilter's database:
# one scan a text finds the triggers and the registered values, where the levels' path
# scans twice (the second scan cost a line ~1.5 us, a third of a clean line's time). The
# database is compiled (~180 ms for 200 secrets, ~280 ms for 1,000) once the levels have
# served _COMBINE_CALLS calls or _COMBINE_BYTES bytes unchanged, so that registering
# values in bursts (load_env) never recompiles per value; until then, and whenever the
# compilation fails, the levels' path runs. The result is the same text (see
# :func:`_redact_combined`; tests/unit/test_redaction_combined.py compares the two paths).
_COMBINE_CALLS = 16384
_COMBINE_BYTES = 8 << 20
# Above this many registered forms, or this many bytes of them, the levels' path stays:
# the compilation (~150 ms for the triggers alone) grows by ~1.5 ms a KB of registered
# values, and the call that pays it waits (2.7 s for 9,900 values of 256 characters).
_COMBINE_MAX = 10000
_COMBINE_MAX_BYTES = 64 << 10
# Each database thrown away because a value was registered after it was built doubles the
# calls and bytes the next one waits for (at most 2**_BACKOFF_MAX times): registrations
# that keep coming (a Secret made from each client's token) cannot make the compile recur
# every 16,384 calls; the stalls grow exponentially rarer.
_BACKOFF_MAX = 6  # 64 times: the one-scan path stays reachable (1M calls or 512 MB)
_combine_backoff = [0]
_combine_lock = threading.Lock()
# (the levels counted, redact() calls, bytes) since the levels last changed.
_combine_count: list[Any] = [None, 0, 0]
# (levels, their combined matcher, or None when it could not be built).
_combined: tuple[Any, _Combined | None] = (None, None)


class _Combined:
    r"""The prefilter's triggers and the registered values in one hyperscan database.

    Ids below ``base`` are the triggers' (the same ids, expressions and flags as
    :func:`_build_scan`'s database); the others are registered values, each an exact byte
    string written as ``\xHH`` escapes. Hyperscan reports every end offset of every
    expression, so each expression's matches are those of the database it came from.
    """

    __slots__ = ("longs", "scan")

    def __init__(self, levels: tuple[_Level, ...]) -> None:
        hs = _hyperscan()
        if hs is None or any(level._pattern is not None for level in levels):  # noqa: SLF001
            raise RuntimeError("no hyperscan")
        if sum(len(level._short) for level in levels) > _COMBINE_MAX:  # noqa: SLF001
            raise RuntimeError("too many registered forms to compile at once")
        size = sum(
            len(value.encode("utf-8", "surrogatepass"))
            for level in levels
            for value in level._short  # noqa: SLF001
        )
        if size > _COMBINE_MAX_BYTES:
            raise RuntimeError("too many bytes of registered forms to compile at once")
        exprs, flags = _expressions(hs)
        base = len(exprs)
        blens = [0] * base
        longs: list[str] = []
        for level in levels:
            longs.extend(level._long)  # noqa: SLF001 -- found by str.find, as the level does
            for value in level._short:  # noqa: SLF001
                raw = value.encode("utf-8", "surrogatepass")
                exprs.append("".join(f"\\x{b:02x}" for b in raw).encode("ascii"))
                flags.append(0)
                blens.append(len(raw))
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
        local = threading.local()
        db_scan = db.scan
        new_scratch = hs.Scratch

        def on_hit(
            ident: int, _from: int, to: int, _flags: int, ctx: tuple[list[_Hit], list[_Hit]]
        ) -> None:
            if ident < base:
                ctx[0].append((to, ident))
            else:
                ctx[1].append((to - blens[ident], to))

        def scan(data: bytes, ctx: tuple[list[_Hit], list[_Hit]]) -> None:
            try:
                scratch = local.scratch
            except AttributeError:  # one scratch space per thread, as the prefilter's
                scratch = local.scratch = new_scratch(db)
            db_scan(data, on_hit, 0, ctx, scratch)

        self.scan = scan
        self.longs = tuple(longs)


def _note_levels(size: int) -> None:
    """Count a call on the levels' path; fold the levels into one database when due."""
    count = _combine_count
    levels = _registry._levels  # noqa: SLF001 -- read per call: it is rebound
    if count[0] is not levels:
        built = _combined
        if built[1] is not None and built[0] is count[0]:  # its database is thrown away
            _combine_backoff[0] = min(_combine_backoff[0] + 1, _BACKOFF_MAX)
        count[0], count[1], count[2] = levels, 0, 0
    count[1] += 1
    count[2] += size
    shift = _combine_backoff[0]
    if (
        (count[1] < _COMBINE_CALLS << shift and count[2] < _COMBINE_BYTES << shift)
        or _prefilter._scan is _prefilter._scan_stub  # noqa: SLF001 -- read per call: rebound
    ):
        return
    if _combined[0] is levels or not _combine_lock.acquire(blocking=False):
        return  # done already, or another thread is compiling it: the levels' path meanwhile
    try:
        _combine(levels)
    finally:
        _combine_lock.release()


def _combine(levels: tuple[_Level, ...]) -> None:
    global _combined  # noqa: PLW0603 -- swapped atomically, read without the lock
    try:
        built: _Combined | None = _Combined(levels)
    except Exception:  # noqa: BLE001 -- a set hyperscan refuses: the levels' path stays
        built = None
    _combined = (levels, built)


def _redact_combined(text: str, data: bytes, combined: _Combined) -> str:
    """:func:`redact` with the registered values and the triggers in one scan.

    The same text as the levels' path: the registered values' spans are the ones the
    levels report (every occurrence of each value, ``combined.longs`` by str.find as the
    levels find them), masked the same way; when none occurs, the trigger hits are the
    prefilter's on the same bytes; when one does, the masked text is scanned again and
    only its trigger hits are kept, as the levels' path scans the masked text with the
    prefilter alone.
    """
    hits: list[_Hit] = []
    spans: list[tuple[int, int]] = []
    combined.scan(data, (hits, spans))
    chars: list[tuple[int, int]] = []
    if combined.longs:
        _literal_spans(text, combined.longs, chars)
    if spans or chars:
        if spans and len(data) != len(text):
            spans = _char_spans(data, spans)
        spans.extend(chars)
        text = _mask_spans(text, spans)
        data = text.encode("utf-8", "surrogatepass")
        hits = []
        combined.scan(data, (hits, []))
    if not hits:
        return text
    return _apply_hits(text, data, hits)
