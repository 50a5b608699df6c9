"""Render the bundled JSON data (hardenkit/sandbox/data) as Python modules.

The systemd groups table and Docker's default profile are read by every confined
``hardenkit exec`` and every ``import hardenkit.sandbox``; as JSON they cost the
``json`` import (~3 ms: it compiles six regular expressions) and a parse. As Python
modules they come from their byte-compiled form. The JSON files stay the source: run
``python -m hardenkit.sandbox.seccomp._generate`` after changing one of them; a unit test
renders both modules again and compares (tests/unit/test_seccomp_fast_paths.py).
Nothing outside the package is read or written at run time.
"""

from __future__ import annotations

import hashlib
import json
import os
import pprint

_HERE = os.path.dirname(os.path.abspath(__file__))
_DATA = os.path.join(os.path.dirname(_HERE), "data")
#: Generated module file name -> its JSON source in hardenkit/sandbox/data.
MODULES = {
    "_groups_table.py": "systemd-syscall-groups.json",
    "_docker_profile.py": "docker-default-seccomp.json",
}

_HEADER = '''"""Generated from hardenkit/sandbox/data/{source} by _generate.py: do not edit."""

# ruff: noqa: E501, Q000
# fmt: off
from __future__ import annotations

'''
_TYPING = """TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

"""


def _read(source: str) -> bytes:
    with open(os.path.join(_DATA, source), "rb") as fh:
        return fh.read()


def render(module: str) -> str:
    """Return the text of ``module`` (a key of :data:`MODULES`) from its JSON source.

    Examples:
        >>> "GROUPS" in render("_groups_table.py")
        True
    """
    source = MODULES[module]
    raw = _read(source)
    text = _HEADER.format(source=source)
    if module == "_groups_table.py":
        groups = json.loads(raw)["groups"]
        table = {
            name: (tuple(entry.get("includes", ())), tuple(entry.get("syscalls", ())))
            for name, entry in groups.items()
        }
        body = pprint.pformat(table, width=100, sort_dicts=False)
        text += "#: Group name -> (includes, direct syscalls).\n"
        text += f"GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {body}\n"
    else:
        digest = hashlib.sha256(raw).hexdigest()
        text += _TYPING
        body = pprint.pformat(json.loads(raw), width=100, sort_dicts=False)
        text += "#: SHA-256 of the JSON file's bytes: the translation cache's key.\n"
        text += f'SHA256 = bytes.fromhex("{digest}")\n'
        text += "#: The profile, as json.loads returns it.\n"
        text += f"PROFILE: dict[str, Any] = {body}\n"
    return text


def main() -> None:
    """Write every module of :data:`MODULES` next to this file."""
    for module in MODULES:
        with open(os.path.join(_HERE, module), "w", encoding="utf-8") as fh:
            fh.write(render(module))


if __name__ == "__main__":
    main()
