"""The planner: which detectors run, on which lines, until the text stops changing.

From the prefilter's hits: the pairs the scan showed to be left (:func:`_unclaimed`),
the steps a region calls for (:func:`_plan`), each line or region of lines run on its
own (:func:`_by_region`), and the passes until nothing changes (:func:`_run`).
"""

from __future__ import annotations

import re

from hardenkit.redaction import _prefilter
from hardenkit.redaction._context import xml_reach
from hardenkit.redaction._context_triggers import LEFT_AT, LEFT_FRAME_KEY_ENDS
from hardenkit.redaction._keys import _NO_PAIR, _key_at, pair_read, spliced
from hardenkit.redaction._patterns import pem_reach
from hardenkit.redaction._prefilter import (
    _KEY_VALUE,
    _LEFT_KEY_ID,
    _MULTILINE,
    _SEP_ID,
    _STEP_INDEX,
    _STEP_OF,
    _STEP_SUBS,
    _WEAK_ID,
    _WEAK_IDS,
    _literal_steps,
    _rescan,
)

# Not typing.TYPE_CHECKING: importing typing costs a first use several ms (the audit's
# environment check, `hardenkit audit`), and type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection
    from typing import Any

    from hardenkit.redaction._prefilter import _Hit

# Passes until the text stops changing: one masking can expose another match.
_MAX_PASSES = 4
_WEAK_REACH = 512
# The weak key=value trigger's key and separator (ASCII text): where a weak key's pair
# can be masked. Read within _WEAK_REACH characters only (its retries are bounded there).
_WEAK_SEP = re.compile(
    r"(?:auth|sess|sig|sid)[\w.\-]*\]?(?:\[\])*(?:\\*[\"'])?[ \t]*[=:]",
    re.ASCII | re.IGNORECASE,
)
# _WEAK_SEP after its hint (see _weak_seps).
_WEAK_WORDS = ("auth", "sess", "sig", "sid")
_WEAK_TAIL = re.compile(r"[\w.\-]*\]?(?:\[\])*(?:\\*[\"'])?[ \t]*[=:]", re.ASCII)

# Where a match of a multi-line detector whose trigger ends at ``end`` can end.
_REACH = {_STEP_INDEX["pem"]: pem_reach, _STEP_INDEX["xml"]: xml_reach}


def _steps_of(text: str, scan: Any = None, *, key_value: bool = True) -> set[int] | frozenset[int]:
    """The steps the prefilter calls for on ``text`` (``key_value=False``: all but that one)."""
    hits: list[_Hit] = []
    data = text.encode("utf-8", "surrogatepass")
    (scan or _prefilter._scan)(data, hits)  # noqa: SLF001 -- read per call: it is rebound
    if not hits:
        return frozenset()
    if hits[0][0] < 0:  # the literal prefilter's
        steps = _literal_steps(hits)
        if not key_value:
            steps.discard(_KEY_VALUE)
        return steps
    if not key_value:
        # What the path below gives without the key=value triggers: the claims only
        # cancel those (see _unclaimed), and _plan adds key=value only for them.
        return {_STEP_OF[ident] for _, ident in hits if ident < _WEAK_ID}
    same = len(data) == len(text)  # ASCII: byte offsets are str offsets
    hits, left = _unclaimed(data, hits, text if same else None)
    if not hits:
        return frozenset()
    return _plan(hits, 0, text if same else None, left)[0]


def _run(text: str, steps: Collection[int], masks: _Masks | None = None) -> str:
    """The detectors ``steps`` until the text stops changing.

    The prefilter is asked again after each pass: a masking can expose a match of
    another detector. The next pass skips the detectors that ran after the last one
    that changed the text, and that one: a detector leaves its own output as it is
    (each skips a value that is a mask already), so on the same text they would change
    nothing (tests/unit/test_redaction_prefilter.py holds the result to full_scan's).
    ``masks``: the key=value rule's masks on ``text`` (:func:`_masks`), applied in place
    of the rule while no step has changed the text. (Reused after a step that changed
    it, they were wrong where the step's mask changed how a pair before it reads:
    ``Cookie: a=sid=q;token="xyz123``, and costly to check on a long line.)
    """
    original = text
    for _ in range(_MAX_PASSES):
        last = -1  # the last step that changed the text
        ran = sorted(steps)
        for i in ran:
            if i == _KEY_VALUE and masks is not None and text is original:
                new = spliced(text, masks)
            else:
                new = _STEP_SUBS[i](text)
            if new != text:
                text = new
                last = i
        if last < 0:
            break
        again = _steps_of(text, _rescan, key_value=last > _KEY_VALUE or _KEY_VALUE not in ran)
        steps = [i for i in again if i < last or i not in ran]
        if not steps:
            break
    return text


# LEFT_AT's match method, compiled on first use (~1.6 ms, which a process that never scans
# with the database does not pay).
_LEFT_AT: list[Any] = []


def _left_at() -> Any:
    if not _LEFT_AT:
        _LEFT_AT.append(re.compile(LEFT_AT.encode("ascii"), re.MULTILINE).match)
    return _LEFT_AT[0]


_FRAME_KEY_ENDS = tuple(end.encode("ascii") for end in LEFT_FRAME_KEY_ENDS)

_BACKSLASH = ord("\\")


def _frame_key(data: bytes, sep: int) -> bool:
    """The key before the separator at ``sep`` ends with a source file's extension."""
    end = sep
    while end and data[end - 1] in b" \t":  # runs of blanks before separators are disjoint
        end -= 1
    if end and data[end - 1] in b"\"'":
        end -= 1
        while end and data[end - 1] == _BACKSLASH:  # the quote's escapes, as _SEP_HEAD reads
            end -= 1
    return data.endswith(_FRAME_KEY_ENDS, 0, end)


def _unclaimed(
    data: bytes, hits: list[_Hit], text: str | None = None
) -> tuple[list[_Hit], set[int]]:
    """The hits without the pairs the scan showed to be left, and those separators.

    A separator is left when LEFT_KEY_PAIR matched there (the match ends at it), or when
    the key=value trigger found it and the value after it is one LEFT_VALUE_PAIR names:
    LEFT_AT matches at it (its group "frame": after a source file's name). The trigger's
    key part is LEFT_VALUE_PAIR's own, so these are the separators of LEFT_VALUE_PAIR's
    matches (tests/unit/test_redaction_prefilter.py compares the two). With ``text``
    (``data`` decoded, ASCII: the same offsets), also where the value is digits only (its
    group "digits", or "frame") and the key as the rule reads it (_key_at) is a weak name
    or none: a count under a plural (active_tokens=243), which the rule leaves.
    Offsets are the scan's (bytes); the trigger's matches at those separators are dropped
    (its others come last, in the scan's order). Each match reads the value after its
    separator only, up to the next "=" or ":" at most, and a key its 256 characters
    before at most: the text is read a bounded number of times.
    """
    left: set[int] = set()
    rest: list[_Hit] = []
    seps: list[int] = []
    keep = rest.append
    sep = seps.append
    sep_id, left_key_id = _SEP_ID, _LEFT_KEY_ID
    for hit in hits:
        ident = hit[1]
        if ident == sep_id:
            sep(hit[0])
        elif ident == left_key_id:
            left.add(hit[0] - 1)
        else:
            keep(hit)
    if seps:
        left_at = _LEFT_AT[0] if _LEFT_AT else _left_at()
        for end in seps:
            at = end - 1
            if at in left:
                continue
            m = left_at(data, at)
            if m is not None and (
                m.lastgroup is None
                or (m.lastgroup == "frame" and _frame_key(data, at))
                or (text is not None and _weak_or_none(text, at))
            ):
                left.add(at)
            else:
                keep((end, sep_id))
    return rest, left


def _weak_or_none(text: str, sep: int) -> bool:
    """The key before ``sep`` is a weak name or no secret name, as the rule reads it."""
    key_start, _, strength = _key_at(text, sep)
    return key_start == -1 or (key_start >= 0 and strength == 1)


def _plan(
    hits: list[_Hit], base: int, text: str | None, left: set[int]
) -> tuple[set[int], _Masks | None]:
    """The steps a region's hits call for (``base``: the region's offset in the scan).

    Key=value runs only when at one of the separators the trigger found (each after a
    key holding a hint) the pair is one that step would mask; it then reads the whole
    region. ``hits`` holds only the separators the scan did not show to be left
    (:func:`_unclaimed`; ``left``: those, scan offsets); :func:`pair_read` reads the
    others, and what it read is the rule's masks (:func:`_masks`), returned beside the
    steps. ``text``: the region when its offsets are str offsets (ASCII), else None
    (key=value then runs on any separator left to read, and no masks are read).
    """
    steps: set[int] = set()
    seps: list[int] = []
    weak_end = -1
    for end, ident in hits:
        if ident == _SEP_ID:
            seps.append(end - base - 1)
        elif ident in _WEAK_IDS:
            weak_end = max(weak_end, end - base)
        else:
            steps.add(_STEP_OF[ident])
    if text is None:
        if seps or weak_end >= 0:
            steps.add(_KEY_VALUE)
        return steps, None
    if weak_end >= 0:
        # A weak key's match ends in its value, not at its separator: within the first
        # _WEAK_REACH characters of a line every weak key's separator before it is read.
        if weak_end > _WEAK_REACH:
            steps.add(_KEY_VALUE)
            return steps, None
        seps.extend(p for p in _weak_seps(text, weak_end) if p + base not in left)
    masks = _masks(text, seps)
    if masks is None or masks:
        steps.add(_KEY_VALUE)
    return steps, masks


# (value start, value end, masked form) of the values the key=value rule masks on a
# text, in text order.
_Masks = list[tuple[int, int, str]]


def _masks(text: str, seps: list[int]) -> _Masks | None:
    """The key=value rule's masks on ``text``, from the pairs at ``seps``; None if unsure.

    ``seps`` holds every separator at which the rule could mask (the trigger's, less the
    pairs the scan showed to be left): read in text order as :func:`_sub_key_value` reads
    its candidates, skipping those whose value would start inside a value already read,
    they give the rule's own output without reading the text again (tests/unit/
    test_redaction_prefilter.py holds the two to it). Each value is read once.
    """
    masks: _Masks = []
    taken = 0
    for sep in sorted(set(seps)) if len(seps) > 1 else seps:
        found = pair_read(text, sep, taken)
        if found is None:
            return None
        if found is _NO_PAIR:
            continue
        start, end, masked = found
        taken = end
        if masked is not None:
            masks.append((start, end, masked))
    return masks


def _weak_seps(text: str, end: int) -> list[int]:
    """The separators after a key holding a weak hint in ``text[:end]`` (ASCII).

    _WEAK_SEP.finditer's matches, found as it finds them: the hints' occurrences (str.find
    in the lowered text, which keeps an ASCII text's offsets) in text order, each one
    not inside the previous match tried with the rest of the pattern. The same
    separators, at a few C-level searches where finditer tries the pattern at every
    character.
    """
    low = text[:end].lower()
    starts: list[tuple[int, int]] = []
    for hint in _WEAK_WORDS:
        at = low.find(hint)
        while at >= 0:
            starts.append((at, len(hint)))
            at = low.find(hint, at + 1)
    starts.sort()
    seps: list[int] = []
    tail = _WEAK_TAIL.match
    done = 0  # the end of the last match: finditer resumes there
    for at, size in starts:
        if at < done:
            continue
        m = tail(text, at + size, end)
        if m is not None:
            done = m.end()
            seps.append(done - 1)
    return seps


def _apply_hits(text: str, data: bytes, hits: list[_Hit]) -> str:
    """Run the detectors the hits name: on a line, or only on the lines holding a hit."""
    if hits[0][0] < 0:  # the literal prefilter's: its steps on the whole text
        return _run(text, _literal_steps(hits))
    same = len(data) == len(text)  # ASCII: byte offsets are str offsets
    hits, left = _unclaimed(data, hits, text if same else None)
    if not hits:
        return text
    if "\n" not in text:
        steps, masks = _plan(hits, 0, text if same else None, left)
        return _run(text, steps, masks) if steps else text
    if not same and any(_STEP_OF[i] in _MULTILINE for _, i in hits):
        return _run(text, _plan(hits, 0, None, left)[0])
    return _by_region(text, data, hits, left, same=same)


_KEY_VALUE_ONLY = frozenset({_KEY_VALUE})


def _line_end(data: bytes, at: int) -> int:
    stop = data.find(b"\n", at)
    return len(data) if stop < 0 else stop


def _line_masks(text: str, hits: list[_Hit], start: int) -> _Masks | None:
    """The masks on the line at ``start`` whose hits are the key=value trigger's only.

    _plan's answer, read on the whole text (ASCII), with offsets in the line. pair_read
    reads one line (a key, its blanks and value never cross a newline), so on the text
    it answers as on the line, or None (unsure) where the line's key reaches its
    256-character window: the step then runs, which changes only what it would anyway.
    """
    masks = _masks(text, [end - 1 for end, _ in hits])
    if not masks:
        return masks
    return [(a - start, b - start, m) for a, b, m in masks]


def _by_region(text: str, data: bytes, hits: list[_Hit], left: set[int], *, same: bool) -> str:
    """Run each line's detectors on that line alone (a region of lines for PEM and XML).

    A trigger match never ends with a newline, and every detector but PEM and XML matches
    within one line: a line runs the detectors of the hits ending on it. A PEM or XML hit
    stretches its region to the line where that detector's match can end (computed only
    past the region so far, so the text is read a bounded number of times).
    """
    hits.sort()
    out: list[str] = []
    last = 0
    lows: dict[int, int] = {}  # step -> where its previous hit ended
    i, n = 0, len(hits)
    while i < n:
        first = i
        start = data.rfind(b"\n", 0, hits[i][0]) + 1
        stop = _line_end(data, hits[i][0])
        reached: dict[int, int] = {}  # step -> where its match can end (each its own)
        only_seps = same
        while i < n and hits[i][0] <= stop:
            end, ident = hits[i]
            if ident == _SEP_ID:
                i += 1
                continue
            only_seps = False
            step = _STEP_OF[ident]
            if step in _MULTILINE and end > reached.get(step, 0):
                reached[step] = _REACH[step](text, lows.get(step, 0), end)
                lows[step] = end
                stop = max(stop, _line_end(data, reached[step]))
            i += 1
        steps: set[int] | frozenset[int]
        if only_seps:
            masks = _line_masks(text, hits[first:i], start)
            if masks is not None and not masks:
                continue
            region = text[start:stop]
            steps = _KEY_VALUE_ONLY
        else:
            region = text[start:stop] if same else data[start:stop].decode("utf-8", "surrogatepass")
            steps, masks = _plan(hits[first:i], start, region if same else None, left)
            if not steps:
                continue
        new = _run(region, steps, masks)
        if new != region:
            out.append(
                text[last:start] if same else data[last:start].decode("utf-8", "surrogatepass")
            )
            out.append(new)
            last = stop
    if not out:
        return text
    out.append(text[last:] if same else data[last:].decode("utf-8", "surrogatepass"))
    return "".join(out)
