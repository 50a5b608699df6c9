"""A process's environment as the audit sees it: names, and verdicts on values never kept.

Each distinct name=value is judged once per run (dangerous for the dynamic loader or a
shell, or a secret by name or by look) and remembered under a keyed hash only.
"""

from __future__ import annotations

import os
import time

from hardenkit._linux import procfs
from hardenkit._linux.procfs import self_pid
from hardenkit.errors import HardenkitError, PrivilegeError

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit.audit._collect import _Reader

__all__ = ["_environment"]


def _digest(data: bytes, key: bytes) -> bytes:
    """A keyed 16-byte blake2b of ``data``.

    Taken from the C module hashlib takes it from: ``import hashlib`` loads OpenSSL, ~3 ms
    of a fresh ``hardenkit audit``.
    """
    try:
        from _blake2 import blake2b  # noqa: PLC0415 -- import time: see the docstring
    except ImportError:  # pragma: no cover -- a Python built without it
        from hashlib import blake2b  # noqa: PLC0415 -- import time: see the docstring
    return blake2b(data, key=key, digest_size=16).digest()


def _environment(
    reader: _Reader, verdicts: dict[bytes, tuple[bool, bool]], key: bytes
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Return (names, dangerous names, secret names); values are looked at, never kept.

    Most processes inherit the same variables: each distinct name=value is judged once per
    run, remembered under a keyed hash (``key`` is random per run, so nothing derived from a
    value outlives the run in a form that could be checked against a guess).
    """
    from hardenkit.env import is_dangerous, is_secret_name, looks_secret  # noqa: PLC0415 -- import time: env loads redaction

    myself = reader.pid == self_pid()
    try:
        block = reader.read("environ")
    except PrivilegeError:
        if not myself:
            raise
        # A process that changed uid is not dumpable, and its environ file is then root's,
        # mode 0400, even for itself; only root can read that block, so os.environ (what its
        # children get) is the exposure that remains.
        block = b""
    if not block and not myself:
        block = _environ_after_exec(reader)
    entries, hidden = _entries(block)
    if myself:
        # Children inherit os.environ, which may have changed since exec.
        for name, value in os.environ.items():
            entries.setdefault(name, value)
    names = tuple(sorted(entries))
    judged = []
    for name in names:
        value = entries[name]
        digest = _digest(f"{name}={value}".encode("utf-8", "surrogateescape"), key)
        verdict = verdicts.get(digest)
        if verdict is None:
            verdict = (
                is_dangerous(name, value),
                is_secret_name(name)
                or looks_secret(value)
                or (name in hidden and _names_a_secret(value)),
            )
            verdicts[digest] = verdict
        judged.append((name, verdict))
    entries.clear()
    dangerous = tuple(n for n, (bad, _secret) in judged if bad)
    secret = tuple(n for n, (_bad, is_secret) in judged if is_secret)
    return names, dangerous, secret


def _entries(block: bytes) -> tuple[dict[str, str], frozenset[str]]:
    """Name -> value of an environ block, and the labels of entries that are no NAME=value.

    The first of a name counts, as getenv reads it; a label's value is the entry's text.
    """
    entries: dict[str, str] = {}
    malformed: list[str] = []
    for raw in block.split(b"\0"):
        if raw:
            text = raw.decode("utf-8", "surrogateescape")
            name, eq, value = text.partition("=")
            if eq and _plausible_name(name) and not (value and value.strip("=") == ""):
                entries.setdefault(name, value)
            else:
                # No variable: no '=', a "name" no shell would write (a title written over
                # the environment, an execve made by hand), or base64 cut at its padding.
                # Its text may be a secret: judged as a value, never shown as a name.
                malformed.append(text)
    labels = []
    for i, text in enumerate(malformed, 1):
        label = f"(entry {i}: not a NAME=value)"
        entries[label] = text
        labels.append(label)
    return entries, frozenset(labels)


def _plausible_name(name: str) -> bool:
    """Printable ASCII without blanks: any name a program can set (``BASH_FUNC_f%%`` too)."""
    return 0 < len(name) <= _NAME_MAX and name.isascii() and name.isprintable() and " " not in name


_NAME_MAX = 128


def _names_a_secret(text: str) -> bool:
    """For an entry that is no NAME=value: whether a word of it is a secret's name."""
    from hardenkit.env import is_secret_name  # noqa: PLC0415 -- import time, as above

    return any(is_secret_name(word) for word in text.replace(":", " ").split()[:4])


def _environ_after_exec(reader: _Reader) -> bytes:
    """Re-read an empty environ once the exec in progress (if any) has set it up.

    Mid-exec, the new memory map has no environment yet (``env_end`` in ``/proc/<pid>/stat``
    is 0): wait for it, briefly, rather than report a clean environment.
    """
    for _ in range(100):
        fields = procfs.stat_fields(reader.read("stat"))
        if len(fields) < 49 or int(fields[48]) != 0:  # noqa: PLR2004 -- env_end, field 51
            return reader.read("environ")  # set up (or a kernel too old to show it)
        time.sleep(0.002)
    raise HardenkitError(f"pid {reader.pid} stayed in the middle of an exec; audit it again")
