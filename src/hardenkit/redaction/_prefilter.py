"""The prefilter: one scan that names the detectors a text calls for, and where.

:data:`STEPS` lists every detector in order; their triggers (key-name hints, value shapes,
context words) form one hyperscan database, compiled once a process's warm-up is over
(:func:`_scan` is a stub until then: the literal prefilter :func:`_literal_scan` serves
the first small texts). ``_scan`` is rebound here and only here; other modules call it as
``_prefilter._scan`` so that they see the rebinding (and a test's replacement).
"""

from __future__ import annotations

import threading

from hardenkit.redaction._context_triggers import (
    CONTEXT_STEPS,
    CONTEXT_TRIGGERS,
    LEFT_KEY_PAIR,
    MULTILINE,
    context_literal_steps,
)
from hardenkit.redaction._hs import _hyperscan
from hardenkit.redaction._patterns import (
    PEM_LITERAL,
    PEM_TRIGGER,
    VALUE_LITERALS,
    VALUE_STEPS,
    VALUE_TRIGGERS,
    Sub,
    sub_pem,
)

# Not typing.TYPE_CHECKING: importing typing costs a first use several ms (the audit's
# environment check, `hardenkit audit`), and type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Every detector, in the order they apply; each is complete on its own (the prefilter
#: only skips work), so running all of them on the whole text gives the same text.
STEPS: tuple[tuple[str, Sub], ...] = (("pem", sub_pem), *VALUE_STEPS, *CONTEXT_STEPS)
_STEP_NAMES = tuple(name for name, _ in STEPS)
_STEP_SUBS = tuple(sub for _, sub in STEPS)
_STEP_INDEX = {name: i for i, name in enumerate(_STEP_NAMES)}
_KEY_VALUE = _STEP_INDEX["key_value"]
_MULTILINE = frozenset(_STEP_INDEX[name] for name in MULTILINE)

# (step, hyperscan expression, ASCII case-insensitive): the prefilter's database.
_TRIGGERS: tuple[tuple[str, str, bool], ...] = (
    ("pem", PEM_TRIGGER, False),
    *((name, expr, False) for name, expr in VALUE_TRIGGERS.items()),
    *CONTEXT_TRIGGERS,
)
# The key=value triggers: the last ends at a separator after a key holding a strong hint;
# the two before (a weak key and a value mixing letters and digits) end in the value.
_SEP_ID = len(_TRIGGERS) - 1
_WEAK_ID = _SEP_ID - 2  # the first of the weak ones
_WEAK_IDS = frozenset({_WEAK_ID, _WEAK_ID + 1})
assert all(_TRIGGERS[i][0] == "key_value" for i in (*_WEAK_IDS, _SEP_ID))  # noqa: S101
# After the triggers: pairs the trigger reports that the step certainly leaves, by their
# key (the match ends at the separator, see LEFT_KEY_PAIR). Those it leaves by their value
# (LEFT_VALUE_PAIR) are read in Python at the trigger's separators (_planner._unclaimed):
# in the database, that one expression cost a fifth of the scan and a callback per pair.
_CLAIMS = (LEFT_KEY_PAIR,)
_LEFT_KEY_ID = len(_TRIGGERS)

# Hyperscan match id (index in _TRIGGERS) -> step index.
_STEP_OF = (*(_STEP_INDEX[name] for name, _, _ in _TRIGGERS), *(-1 for _ in _CLAIMS))
# (step index, literals): a value detector runs only on a text holding one of them.
_LITERALS = tuple(
    (_STEP_INDEX[name], literals)
    for name, literals in (("pem", (PEM_LITERAL,)), *VALUE_LITERALS.items())
)
assert set(VALUE_LITERALS) == set(VALUE_TRIGGERS)  # noqa: S101 -- every value detector has some


# (end offset, trigger id) of a match.
_Hit = tuple[int, int]


def _on_hit(ident: int, _from: int, to: int, _flags: int, hits: list[_Hit]) -> None:
    hits.append((to, ident))


def _literal_scan(data: bytes, hits: list[_Hit]) -> None:
    """The prefilter without hyperscan: a hit (-1, -2 - step) for each step to run.

    A step is named when ``data`` holds a literal that every text it can change holds
    (:data:`VALUE_LITERALS`, :func:`context_literal_steps`); it then runs on the whole
    text. A superset of the steps the hyperscan scan names, at a few C-level searches.
    """
    text = data.decode("utf-8", "surrogatepass")  # str's "in" is ~10x faster than bytes'
    for step, literals in _LITERALS:
        for literal in literals:
            if literal in text:
                hits.append((-1, -2 - step))
                break
    hits.extend((-1, -2 - _STEP_INDEX[name]) for name in context_literal_steps(text))


def _literal_steps(hits: list[_Hit]) -> set[int]:
    return {-2 - ident for _, ident in hits}


def _expressions(hs: Any) -> tuple[list[bytes], list[int]]:
    """The triggers and claims (ids 0 to len - 1) and their hyperscan flags.

    The prefilter's database, and the first part of the combined one (_combined).
    """
    exprs = [expr.encode("ascii") for _, expr, _ in _TRIGGERS]
    exprs += [claim.encode("ascii") for claim in _CLAIMS]
    flags = [hs.HS_FLAG_CASELESS if caseless else 0 for _, _, caseless in _TRIGGERS]
    flags += [hs.HS_FLAG_MULTILINE] * len(_CLAIMS)  # "^" and "$": a line's start and end
    return exprs, flags


def _build_scan() -> Any:
    """Compile the prefilter's database (once) and return its scan function."""
    hs = _hyperscan()
    if hs is None:
        return _literal_scan
    exprs, flags = _expressions(hs)
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
    local = threading.local()
    db_scan = db.scan
    new_scratch = hs.Scratch

    def scan(data: bytes, hits: list[_Hit]) -> None:
        try:
            scratch = local.scratch
        except AttributeError:  # a scratch space serves one scan at a time: one per thread
            scratch = local.scratch = new_scratch(db)
        db_scan(data, _on_hit, 0, hits, scratch)  # positional: keywords cost ~0.8 us a call

    return scan


_scan_lock = threading.Lock()
# A process's first texts go through the literal prefilter instead (the same result, as
# the tests hold it): the database costs ~100 ms to compile, which a CLI that redacts a
# few lines (audit's environment check, exec warnings) would otherwise pay for nothing.
# The literal prefilter costs a few microseconds a line more than the database's scan.
# A text over _WARM_TEXT bytes (a block of lines) builds the database at once: on such a
# text the literal prefilter would run its detectors over the whole of it.
_WARM_CALLS = 256
_WARM_BYTES = 65536
_WARM_TEXT = 8192
_warm = [0, 0]  # calls, bytes so far


def _scan(data: bytes, hits: list[_Hit]) -> None:
    """Append (end offset, trigger id) of every trigger match in ``data`` to ``hits``.

    This stub builds the database once the warm-up is over, then rebinds the name to the
    real scan.
    """
    _warm[0] += 1
    _warm[1] += len(data)
    if _warm[0] <= _WARM_CALLS and _warm[1] <= _WARM_BYTES and len(data) <= _WARM_TEXT:
        _literal_scan(data, hits)
        return
    _built_scan()(data, hits)


def _built_scan() -> Any:
    """The real scan, its database compiled now if it was not yet."""
    global _scan  # noqa: PLW0603 -- replaced once by the real scan
    with _scan_lock:
        if _scan is _scan_stub:
            _scan = _build_scan()
        return _scan


_scan_stub = _scan


def _rescan(data: bytes, hits: list[_Hit]) -> None:
    """:func:`_scan` for a re-scan within one call: not counted as a call by the warm-up."""
    if _scan is _scan_stub:
        _literal_scan(data, hits)
    else:
        _scan(data, hits)
