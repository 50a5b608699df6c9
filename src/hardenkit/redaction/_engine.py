"""The redaction engine: :func:`redact`, :func:`register_secret` and the prefilter.

A log line seldom holds a secret, so :func:`redact` first asks one question of the whole
text: one hyperscan scan of a database holding every detector's trigger (its key-name
hints, value shapes and context words, see :data:`STEPS`). No match, and the text comes
back as it is; otherwise the matches name the detectors to run and, by their offsets, the
lines to run them on (a 64 KiB block is scanned once, and only its lines with a match go
through Python). Registered secrets are literals in their own hyperscan databases.

Linear time by construction: hyperscan runs in time linear in the text, and each Python
regex after it runs on one line (for the two detectors whose matches may span lines, PEM
blocks and XML elements, on the stretch of lines their match can reach) and is written so
that it never backtracks over a run more than once (tests/unit/test_redaction_linear.py
holds each to it). A process's first few small texts go through a cheaper prefilter
instead, literals that every match of a detector holds (:func:`_literal_scan`), which
gives the same text (tests/unit/test_redaction_prefilter.py holds the two to it) without
paying for the database's compilation (~100 ms) in a process that redacts a few lines,
nor compiling the Python regexes of detectors that its texts never call for.
"""

from __future__ import annotations

import re
import threading

from hardenkit.errors import SecretTooShortError
from hardenkit.redaction._context import (
    CONTEXT_STEPS,
    CONTEXT_TRIGGERS,
    LEFT_KEY_PAIR,
    LEFT_VALUE_PAIR,
    MULTILINE,
    context_literal_steps,
    pair_left,
    xml_reach,
)
from hardenkit.redaction._names import MASK
from hardenkit.redaction._patterns import (
    PEM_LITERAL,
    PEM_TRIGGER,
    VALUE_LITERALS,
    VALUE_STEPS,
    VALUE_TRIGGERS,
    Sub,
    pem_reach,
    sub_pem,
)

# Not typing.TYPE_CHECKING: importing typing costs a first use several ms (the audit's
# environment check, `hardenkit audit`), and type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable
    from typing import Any

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "REDACTION_FAILED",
    "STEPS",
    "apply_rules",
    "full_scan",
    "redact",
    "register_secret",
    "triggers",
]

#: Registered values shorter than this are refused (:func:`register_secret` raises): masking
#: every "true" or "8080" in every log line would make logs useless.
MIN_SECRET_LENGTH = 6
# Passes until the text stops changing: one masking can expose another match.
_MAX_PASSES = 4
_NO_EXTRA: tuple[()] = ()
# Registered values longer than this (characters) are found by str.find, not compiled:
# hyperscan refuses a literal over ~16,000 bytes and a long trie nests deep.
_LONG_LITERAL = 256
#: What :func:`redact` returns when it cannot run (fail closed: never the text unredacted).
REDACTION_FAILED = "[redaction failed: text withheld]"

_lock = threading.Lock()
# Registration only appends to _pending (O(1)); the next redact() folds it into _levels, a
# log-structured set of literal matchers: a new level is merged with the last while the
# last is at most twice its size, so n registrations cost O(n log n) building in all however
# they interleave with redact(), and a scan runs O(log n) matchers.
_known: set[str] = set()
_pending: list[str] = []
_levels: tuple[_Level, ...] = ()


class _Level:
    """One immutable matcher for a set of literals: every (overlapping) occurrence."""

    __slots__ = ("_blens", "_db", "_local", "_long", "_pattern", "_short", "values")

    def __init__(self, values: tuple[str, ...]) -> None:
        self.values = values
        self._local = threading.local()
        self._pattern: re.Pattern[str] | None = None
        self._db: Any = None
        self._short: tuple[str, ...] = ()  # the values in _db
        # Values a literal matcher cannot take (long ones, ones holding NUL, which hyperscan
        # cuts at): found by str.find, linear in the text for each.
        self._long = tuple(v for v in values if len(v) > _LONG_LITERAL or "\0" in v)
        short = tuple(v for v in values if len(v) <= _LONG_LITERAL and "\0" not in v)
        if not short:
            return
        hs = _hyperscan()
        if hs is not None:
            data = [v.encode("utf-8", "surrogatepass") for v in short]
            try:
                db = hs.Database(mode=hs.HS_MODE_BLOCK)
                db.compile(expressions=data, ids=list(range(len(data))), elements=len(data),
                           flags=0, literal=True)  # fmt: skip
            except Exception:  # noqa: BLE001 -- a set hyperscan refuses: found by str.find
                self._long = values
                return
            self._blens = [len(d) for d in data]
            self._db = db
            self._short = short
        else:  # no hyperscan wheel for this machine: re, correct but slower
            try:
                self._pattern = re.compile("(?=(" + _trie(short) + "))", re.DOTALL)
            except Exception:  # noqa: BLE001 -- a set re refuses: found by str.find
                self._long = values

    def spans(
        self,
        text: str,
        data: bytes | None,
        out: list[tuple[int, int]],
        chars: list[tuple[int, int]] | None = None,
    ) -> None:
        """Append the (start, end) of every occurrence.

        Hyperscan's, byte offsets in ``data``, go to ``out``; the others, str offsets, to
        ``chars`` (default: ``out``).
        """
        if chars is None:
            chars = out
        if self._long:
            _literal_spans(text, self._long, chars)
        if self._pattern is not None:
            chars.extend(
                (m.start(), m.start() + len(m.group(1))) for m in self._pattern.finditer(text)
            )
            return
        if self._db is None:
            return
        try:
            scratch = self._local.scratch
        except AttributeError:  # a scratch space serves one scan at a time: one per thread
            scratch = self._local.scratch = _hyperscan().Scratch(self._db)
        self._db.scan(data, _on_literal, 0, (out, self._blens), scratch)


def _on_literal(
    ident: int, _from: int, to: int, _flags: int, ctx: tuple[list[tuple[int, int]], list[int]]
) -> None:
    ctx[0].append((to - ctx[1][ident], to))


_HS: list[Any] = []


def _hyperscan() -> Any:
    """The hyperscan module (literal sets at ~1 GB/s), or None where it has no wheel."""
    if not _HS:
        try:
            import hyperscan  # noqa: PLC0415 -- only once a secret is registered

            _HS.append(hyperscan)
        except (ImportError, OSError):  # OSError: confined (Landlock) before the import
            _HS.append(None)
    return _HS[0]


def _trie(values: Iterable[str]) -> str:
    """One regex matching any of ``values``, longest first at each branch (the fallback)."""
    root: dict[str, dict[str, object]] = {}
    for value in values:
        node = root
        for ch in value:
            node = node.setdefault(ch, {})  # type: ignore[assignment]
        node[""] = {}

    # Post-order, without recursion (a value's length would be the recursion's depth).
    done: dict[int, str] = {}
    stack: list[tuple[dict[str, Any], bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for ch, child in node.items() if ch)
            continue
        alts = [re.escape(ch) + done.pop(id(child)) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            alts.append("")
        done[id(node)] = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
    return done[id(root)]


# Characters that no encoding below changes: such a value is its only form.
_PLAIN = re.compile(r"[A-Za-z0-9_.~\-]*")


def _variants(value: str) -> set[str]:
    """The value and the forms it is printed in: URL-, JSON- and repr-escaped."""
    if _PLAIN.fullmatch(value):
        return {value}
    import json  # noqa: PLC0415 -- only when registering
    from urllib.parse import quote, quote_plus  # noqa: PLC0415

    # A lone surrogate has no UTF-8: its percent-encoded forms use the bytes redact() scans
    # with ("surrogatepass"), where strict UTF-8 would raise out of Secret() and load_env.
    out = {
        value,
        quote(value, safe="", errors="surrogatepass"),
        quote(value, errors="surrogatepass"),  # quote()'s default keeps "/"
        quote_plus(value, safe="", errors="surrogatepass"),
        quote_plus(value, errors="surrogatepass"),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
    }
    # Percent-encoding with lower-case hex digits (%2f), as some clients write it.
    out |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), v) for v in list(out) if "%" in v}
    return {v for v in out if v}


def register_secret(value: str, *, strict: bool = True) -> bool:
    """Mask ``value`` (and its URL-, JSON- and repr-escaped forms) wherever :func:`redact` sees it.

    Registration is process-wide, cannot be undone, and costs O(1): the matcher is brought
    up to date by the next :func:`redact`. Any value of at least :data:`MIN_SECRET_LENGTH`
    characters is taken, one holding ``***`` included; where registered values overlap in
    a text, the union of their occurrences is masked. A shorter value is refused: it raises
    (``strict=False``: returns False instead, for callers such as ``load_env`` that register
    every value they decrypt). Returns True when the value is registered.

    Examples:
        >>> register_secret("correct-horse-battery-staple")
        True
        >>> redact("login with correct-horse-battery-staple failed")
        'login with *** failed'
        >>> register_secret("abc")
        Traceback (most recent call last):
        ...
        hardenkit.errors.SecretTooShortError: a registered secret needs at least 6 characters, got 3

    Raises:
        TypeError: ``value`` is not a str.
        SecretTooShortError: ``value`` is shorter than MIN_SECRET_LENGTH (a ValueError).
    """
    if not isinstance(value, str):
        raise TypeError(f"register_secret() takes a str, not {type(value).__name__}")
    if len(value) < MIN_SECRET_LENGTH:
        if not strict:
            return False
        raise SecretTooShortError(
            f"a registered secret needs at least {MIN_SECRET_LENGTH} characters, got {len(value)}"
        )
    new = _variants(value)
    with _lock:
        fresh = new - _known
        _known.update(fresh)
        _pending.extend(fresh)
    return True


def _current_levels() -> tuple[_Level, ...]:
    """The matchers, with every pending registration folded in."""
    global _levels  # noqa: PLW0603 -- one process-wide registry, swapped atomically
    if not _pending:
        return _levels
    with _lock:
        if _pending:
            levels = list(_levels)
            batch = tuple(_pending)
            while levels and len(levels[-1].values) <= 2 * len(batch):
                batch = levels.pop().values + batch
            levels.append(_Level(batch))
            _levels = tuple(levels)
            _pending.clear()
        return _levels


def _registered_spans(text: str, data: bytes) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    chars: list[tuple[int, int]] = []
    levels = _current_levels()
    if not levels:
        return spans
    for level in levels:
        level.spans(text, data, spans, chars)
    if spans and len(data) != len(text):
        spans = _char_spans(data, spans)
    spans.extend(chars)
    return spans


def _char_spans(data: bytes, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Byte offsets to str offsets, decoding each stretch between offsets once."""
    offsets = sorted({o for span in spans for o in span})
    to_char: dict[int, int] = {}
    pos = chars = 0
    for off in offsets:
        chars += len(data[pos:off].decode("utf-8", "surrogatepass"))
        to_char[off] = chars
        pos = off
    return [(to_char[a], to_char[b]) for a, b in spans]


def _literal_spans(text: str, literals: Iterable[str], out: list[tuple[int, int]]) -> None:
    for literal in literals:
        at = text.find(literal)
        while at >= 0:
            out.append((at, at + len(literal)))
            at = text.find(literal, at + 1)


def _mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace the union of ``spans`` with one mask per connected stretch."""
    spans.sort()
    out: list[str] = []
    last = 0
    cur_start, cur_end = spans[0]
    for start, end in spans[1:]:
        if start <= cur_end:
            cur_end = max(cur_end, end)
            continue
        out.append(text[last:cur_start])
        out.append(MASK)
        last = cur_end
        cur_start, cur_end = start, end
    out.append(text[last:cur_start])
    out.append(MASK)
    out.append(text[cur_end:])
    return "".join(out)


def _mask_patterns(text: str, patterns: Iterable[re.Pattern[str]]) -> str:
    for pattern in patterns:
        group = "secret" if "secret" in pattern.groupindex else 0

        def repl(m: re.Match[str], group: str | int = group) -> str:
            start, end = m.span(group)
            if start < 0 or start == end:
                return m.group(0)
            base = m.start()
            whole = m.group(0)
            return whole[: start - base] + MASK + whole[end - base :]

        text = pattern.sub(repl, text)
    return text


# --------------------------------------------------------------------------- detectors

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
# the one before (a weak key and a value mixing letters and digits) ends in the value.
_SEP_ID = len(_TRIGGERS) - 1
_WEAK_ID = _SEP_ID - 1
assert _TRIGGERS[_SEP_ID][0] == _TRIGGERS[_WEAK_ID][0] == "key_value"  # noqa: S101
# After the triggers: pairs the trigger reports that the step certainly leaves.
_LEFT_VALUE_ID = len(_TRIGGERS)  # the match ends after the value (see LEFT_VALUE_PAIR)
_LEFT_KEY_ID = _LEFT_VALUE_ID + 1  # the match ends at the separator (see LEFT_KEY_PAIR)
_WEAK_REACH = 512
# The weak key=value trigger's key and separator (ASCII text): where a weak key's pair
# can be masked. Read within _WEAK_REACH characters only (its retries are bounded there).
_WEAK_SEP = re.compile(r"(?:auth|sess|sig|sid)[\w.\-]*[\"']?[ \t]*[=:]", re.ASCII | re.IGNORECASE)
# _WEAK_SEP after its hint (see _weak_seps).
_WEAK_WORDS = ("auth", "sess", "sig", "sid")
_WEAK_TAIL = re.compile(r"[\w.\-]*[\"']?[ \t]*[=:]", re.ASCII)

# Where a match of a multi-line detector whose trigger ends at ``end`` can end.
_REACH = {_STEP_INDEX["pem"]: pem_reach, _STEP_INDEX["xml"]: xml_reach}
# Hyperscan match id (index in _TRIGGERS) -> step index.
_STEP_OF = (*(_STEP_INDEX[name] for name, _, _ in _TRIGGERS), -1, -1)
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


def _build_scan() -> Any:
    """Compile the prefilter's database (once) and return its scan function."""
    hs = _hyperscan()
    if hs is None:
        return _literal_scan
    exprs = [expr.encode("ascii") for _, expr, _ in _TRIGGERS]
    exprs += [LEFT_VALUE_PAIR.encode("ascii"), LEFT_KEY_PAIR.encode("ascii")]
    flags = [hs.HS_FLAG_CASELESS if caseless else 0 for _, _, caseless in _TRIGGERS]
    flags += [hs.HS_FLAG_MULTILINE] * 2  # "^" and "$": a line's start and end
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


def _steps_of(text: str, scan: Any = None, *, key_value: bool = True) -> set[int] | frozenset[int]:
    """The steps the prefilter calls for on ``text`` (``key_value=False``: all but that one)."""
    hits: list[_Hit] = []
    data = text.encode("utf-8", "surrogatepass")
    (scan or _scan)(data, hits)
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
    hits, left = _unclaimed(data, hits)
    if not hits:
        return frozenset()
    return _plan(hits, 0, text if len(data) == len(text) else None, left)


def triggers(text: str) -> set[str]:
    """Names of the detectors the prefilter runs on ``text`` (none for most log lines).

    A superset: a detector left out cannot change the text.

    Examples:
        >>> sorted(triggers("GET /health 200 in 30 s"))
        []
        >>> sorted(triggers("ci: GITHUB_TOKEN=ghs_" + "x" * 36))
        ['github', 'key_value']
    """
    return {_STEP_NAMES[i] for i in _steps_of(text, _built_scan())}


def apply_rules(text: str, found: Collection[str] | None = None) -> str:
    """One pass of the detectors named in ``found`` (default: :func:`triggers`), in order.

    Examples:
        >>> apply_rules("card 4242 4242 4242 4242 declined")
        'card *** declined'
    """
    steps = _steps_of(text) if found is None else {_STEP_INDEX[name] for name in found}
    for i in sorted(steps):
        text = _STEP_SUBS[i](text)
    return text


def _run(text: str, steps: Collection[int]) -> str:
    """The detectors ``steps`` until the text stops changing.

    The prefilter is asked again after each pass: a masking can expose a match of
    another detector. The next pass skips the detectors that ran after the last one
    that changed the text, and that one: a detector leaves its own output as it is
    (each skips a value that is a mask already), so on the same text they would change
    nothing (tests/unit/test_redaction_prefilter.py holds the result to full_scan's).
    """
    for _ in range(_MAX_PASSES):
        last = -1  # the last step that changed the text
        ran = sorted(steps)
        for i in ran:
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


def full_scan(text: str) -> str:
    """Every detector on the whole text, until it stops changing: the prefilter's oracle."""
    for _ in range(_MAX_PASSES):
        new = text
        for sub in _STEP_SUBS:
            new = sub(new)
        if new == text:
            break
        text = new
    return text


# How far back from a LEFT_VALUE_PAIR match's end its separator is looked for (a farther
# one: no claim, the pair is read).
_VALUE_REACH = 256


def _unclaimed(data: bytes, hits: list[_Hit]) -> tuple[list[_Hit], set[int]]:
    """The hits without the pairs the scan showed to be left, and those separators.

    A separator is left when LEFT_KEY_PAIR matched there (the match ends at it) or a
    LEFT_VALUE_PAIR match ends after it: such a value holds no "=" nor ":", so its
    separator is the last one before the match's end. Offsets are the scan's (bytes);
    the trigger's matches at those separators are dropped.
    """
    left: set[int] = set()
    rest: list[_Hit] = []
    rfind = data.rfind
    keep = rest.append
    claim = left.add
    first_claim = _LEFT_VALUE_ID  # the two claims' ids are the highest (after the triggers)
    for hit in hits:
        ident = hit[1]
        if ident < first_claim:
            keep(hit)
        elif ident == _LEFT_KEY_ID:
            claim(hit[0] - 1)
        else:  # _LEFT_VALUE_ID
            end = hit[0]
            lo = max(end - _VALUE_REACH, 0)
            claim(max(rfind(b"=", lo, end), rfind(b":", lo, end)))
    if left:
        rest = [hit for hit in rest if hit[1] != _SEP_ID or hit[0] - 1 not in left]
    return rest, left


def _plan(hits: list[_Hit], base: int, text: str | None, left: set[int]) -> set[int]:
    """The steps a region's hits call for (``base``: the region's offset in the scan).

    Key=value runs only when at one of the separators the trigger found (each after a
    key holding a hint) the pair is one that step would mask; it then reads the whole
    region, since a value left unmasked still hides the pairs inside it. ``hits`` holds
    only the separators the scan did not show to be left (:func:`_unclaimed`; ``left``:
    those, scan offsets); :func:`pair_left` asks about the others, for that pair alone.
    ``text``: the region when its offsets are str offsets (ASCII), else None (key=value
    then runs on any separator left to read).
    """
    steps: set[int] = set()
    seps: list[int] = []
    weak_end = -1
    for end, ident in hits:
        if ident == _SEP_ID:
            seps.append(end - base - 1)
        elif ident == _WEAK_ID:
            weak_end = max(weak_end, end - base)
        else:
            steps.add(_STEP_OF[ident])
    if text is None:
        if seps or weak_end >= 0:
            steps.add(_KEY_VALUE)
        return steps
    if weak_end >= 0:
        # A weak key's match ends in its value, not at its separator: within the first
        # _WEAK_REACH characters of a line every weak key's separator before it is read.
        if weak_end > _WEAK_REACH:
            steps.add(_KEY_VALUE)
            return steps
        seps.extend(p for p in _weak_seps(text, weak_end) if p + base not in left)
    if not all(pair_left(text, p) for p in seps):
        steps.add(_KEY_VALUE)
    return steps


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
    hits, left = _unclaimed(data, hits)
    if not hits:
        return text
    same = len(data) == len(text)  # ASCII: byte offsets are str offsets
    if "\n" not in text:
        steps = _plan(hits, 0, text if same else None, left)
        return _run(text, steps) if steps else text
    if not same and any(_STEP_OF[i] in _MULTILINE for _, i in hits):
        return _run(text, _plan(hits, 0, None, left))
    return _by_region(text, data, hits, left, same=same)


_KEY_VALUE_ONLY = frozenset({_KEY_VALUE})


def _line_end(data: bytes, at: int) -> int:
    stop = data.find(b"\n", at)
    return len(data) if stop < 0 else stop


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
        if only_seps:
            # A line with only the key=value trigger's separators (ASCII): _plan's answer,
            # read on the whole text. pair_left reads one line (a key, its blanks and value
            # never cross a newline), so on the text it answers as on the line, or False
            # (unsure) where the line's key reaches its 256-character window: the step
            # then runs, which changes only what it would change anyway.
            if all(pair_left(text, end - 1) for end, _ in hits[first:i]):
                continue
            region = text[start:stop]
            steps: set[int] | frozenset[int] = _KEY_VALUE_ONLY
        else:
            region = text[start:stop] if same else data[start:stop].decode("utf-8", "surrogatepass")
            steps = _plan(hits[first:i], start, region if same else None, left)
            if not steps:
                continue
        new = _run(region, steps)
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


def redact(text: str, *, extra: Iterable[str | re.Pattern[str]] = _NO_EXTRA) -> str:
    """Return ``text`` with every secret it holds replaced by ``***``, context kept.

    ``extra`` adds literal values or compiled patterns for this call (a pattern with a
    group named ``secret`` masks that group only; patterns run on Python's ``re``, so their
    running time is the caller's). Ordinary text (UUIDs, git SHAs, timestamps, versions)
    comes back unchanged, and so does text that was already redacted:
    ``redact(redact(s)) == redact(s)``. Time is linear in the length of ``text``. Should
    the redactor itself fail, it fails closed: it returns :data:`REDACTION_FAILED`, never
    the text.

    Examples:
        >>> redact("connecting to postgres://app:s3cr3t-pw@db:5432/main")
        'connecting to postgres://app:***@db:5432/main'
        >>> redact('{"user": "ann", "api_key": "abc123def456"}')
        '{"user": "ann", "api_key": "***"}'
        >>> redact("GET /login?user=ann&password=hunter22&next=/ 302")
        'GET /login?user=ann&password=***&next=/ 302'
        >>> redact("pulled sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        'pulled sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
        >>> redact("tenant acme-7 ready", extra=["acme-7"])
        'tenant *** ready'

    Raises:
        TypeError: ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"redact() takes a str, not {type(text).__name__}")
    try:
        # _redact's body, inlined: most lines end at "if not hits" (one call less each).
        data = text.encode("utf-8", "surrogatepass")
        if extra is not _NO_EXTRA or _pending:
            return _redact(text, data, extra)
        if _levels:  # registered secrets, the matchers up to date
            combined = _combined  # one read: another thread may swap it
            if combined[0] is _levels and combined[1] is not None:
                return _redact_combined(text, data, combined[1])
            _note_levels(len(data))
            text, data = _mask_levels(text, data)
        hits: list[_Hit] = []
        _scan(data, hits)
        if not hits:
            return text
        return _apply_hits(text, data, hits)
    except TypeError:  # a bad extra= item: the caller's error, raised as documented
        if extra is _NO_EXTRA:
            return REDACTION_FAILED
        raise
    except Exception:  # noqa: BLE001 -- fail closed: a redactor that breaks withholds the text
        return REDACTION_FAILED


def _redact(text: str, data: bytes, extra: Iterable[str | re.Pattern[str]]) -> str:
    """:func:`redact` with registered or ``extra`` values (``data``: ``text`` in UTF-8)."""
    masked = _mask_registered(text, data, extra)
    if masked is not text:
        text = masked
        data = text.encode("utf-8", "surrogatepass")
    hits: list[_Hit] = []
    _scan(data, hits)
    if not hits:
        return text
    return _apply_hits(text, data, hits)


def _mask_levels(text: str, data: bytes) -> tuple[str, bytes]:
    """``text`` and ``data`` with the registered values masked (no pending registration)."""
    spans: list[tuple[int, int]] = []
    chars: list[tuple[int, int]] = []
    for level in _levels:
        level.spans(text, data, spans, chars)
    if not spans and not chars:
        return text, data
    if spans and len(data) != len(text):
        spans = _char_spans(data, spans)
    spans.extend(chars)
    text = _mask_spans(text, spans)
    return text, text.encode("utf-8", "surrogatepass")


# ------------------------------------------------------------- registered values in one scan

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
# Above this many registered forms the levels' path stays: the compilation grows with the
# set (~280 ms for 2,500 forms) and would stall the call that pays it for seconds.
_COMBINE_MAX = 10000
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
        base = len(_TRIGGERS) + 2
        exprs = [expr.encode("ascii") for _, expr, _ in _TRIGGERS]
        exprs += [LEFT_VALUE_PAIR.encode("ascii"), LEFT_KEY_PAIR.encode("ascii")]
        flags = [hs.HS_FLAG_CASELESS if caseless else 0 for _, _, caseless in _TRIGGERS]
        flags += [hs.HS_FLAG_MULTILINE] * 2
        assert len(exprs) == base  # noqa: S101
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
    levels = _levels
    if count[0] is not levels:
        count[0], count[1], count[2] = levels, 0, 0
    count[1] += 1
    count[2] += size
    if (count[1] < _COMBINE_CALLS and count[2] < _COMBINE_BYTES) or _scan is _scan_stub:
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


def _mask_registered(text: str, data: bytes, extra: Iterable[str | re.Pattern[str]]) -> str:
    """``text`` with registered and ``extra`` values masked (``text`` itself if none)."""
    spans = _registered_spans(text, data)
    patterns: list[re.Pattern[str]] = []
    if extra is not _NO_EXTRA:
        literals, patterns = _split_extra(extra)
        _literal_spans(text, literals, spans)
    if spans:
        text = _mask_spans(text, spans)
    if patterns:
        text = _mask_patterns(text, patterns)
    return text


def _split_extra(extra: Iterable[str | re.Pattern[str]]) -> tuple[list[str], list[re.Pattern[str]]]:
    literals: list[str] = []
    patterns: list[re.Pattern[str]] = []
    for item in extra:
        if isinstance(item, re.Pattern):
            patterns.append(item)
        elif isinstance(item, str):
            if item:
                literals.append(item)
        else:
            raise TypeError(f"extra= takes str or compiled patterns, not {type(item).__name__}")
    return literals, patterns
