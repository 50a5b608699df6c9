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

from hardenkit.redaction import _combined, _prefilter, _registry
from hardenkit.redaction._combined import _note_levels, _redact_combined
from hardenkit.redaction._names import MASK
from hardenkit.redaction._planner import _MAX_PASSES, _apply_hits, _steps_of
from hardenkit.redaction._prefilter import (
    _STEP_INDEX,
    _STEP_NAMES,
    _STEP_SUBS,
    STEPS,
    _built_scan,
)
from hardenkit.redaction._registry import (
    MIN_SECRET_LENGTH,
    _char_spans,
    _literal_spans,
    _mask_spans,
    _registered_spans,
    register_secret,
)

# Not typing.TYPE_CHECKING: importing typing costs a first use several ms (the audit's
# environment check, `hardenkit audit`), and type checkers treat any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from hardenkit.redaction._prefilter import _Hit

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

_NO_EXTRA: tuple[()] = ()
#: What :func:`redact` returns when it cannot run (fail closed: never the text unredacted).
REDACTION_FAILED = "[redaction failed: text withheld]"


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
        if extra is not _NO_EXTRA or _registry._pending:  # noqa: SLF001 -- its one home
            return _redact(text, data, extra)
        if _registry._levels:  # noqa: SLF001 -- registered secrets, the matchers up to date
            combined = _combined._combined  # noqa: SLF001 -- one read: another thread may swap it
            if combined[0] is _registry._levels and combined[1] is not None:  # noqa: SLF001
                return _redact_combined(text, data, combined[1])
            _note_levels(len(data))
            text, data = _mask_levels(text, data)
        hits: list[_Hit] = []
        _prefilter._scan(data, hits)  # noqa: SLF001 -- read per call: it is rebound
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
    _prefilter._scan(data, hits)  # noqa: SLF001 -- read per call: it is rebound
    if not hits:
        return text
    return _apply_hits(text, data, hits)


def _mask_levels(text: str, data: bytes) -> tuple[str, bytes]:
    """``text`` and ``data`` with the registered values masked (no pending registration)."""
    spans: list[tuple[int, int]] = []
    chars: list[tuple[int, int]] = []
    for level in _registry._levels:  # noqa: SLF001 -- read per call: it is rebound
        level.spans(text, data, spans, chars)
    if not spans and not chars:
        return text, data
    if spans and len(data) != len(text):
        spans = _char_spans(data, spans)
    spans.extend(chars)
    text = _mask_spans(text, spans)
    return text, text.encode("utf-8", "surrogatepass")


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
