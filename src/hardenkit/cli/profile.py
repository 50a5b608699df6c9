"""``hardenkit profile``: check, show and list sandbox profiles.

``profile check FILE`` (or ``--preset NAME``) validates the profile, confines a forked
child with it and prints that child's audit exposure (0 best, 10 worst); ``show`` prints a
preset or file as normalised TOML; ``list`` names the shipped presets. Exit status: 0 done,
1 the profile could not be applied, 2 on usage or profile errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys

from hardenkit.cli._common import EXIT_USAGE, err as _err
from hardenkit.cli._confine import _Usage, enter
from hardenkit.errors import SandboxError
from hardenkit.sandbox.profile import load_profile, preset, preset_names, profile_to_toml

# Not typing.TYPE_CHECKING, for import time (typing is ~5 ms of a CLI start).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from hardenkit.audit import AuditReport
    from hardenkit.sandbox.profile import Profile


def add_parser(sub: Any) -> None:
    """Add ``profile`` and its actions to the CLI."""
    p = sub.add_parser("profile", help="check and list sandbox profiles")
    psub = p.add_subparsers(dest="profile_command", metavar="ACTION", required=True)
    c = psub.add_parser(
        "check",
        help="validate a profile and print its audit score once applied",
        description="Validate FILE (or --preset NAME), confine a forked child with it and "
        "print that child's audit exposure (0 best, 10 worst).",
    )
    c.add_argument("file", nargs="?", metavar="FILE")
    c.add_argument("--preset", metavar="NAME")
    c.add_argument("--json", action="store_true", help="print the audit as JSON")
    c.set_defaults(handler=_check_main)
    s = psub.add_parser("show", help="print a preset or profile file as normalised TOML")
    s.add_argument("name", metavar="NAME|FILE")
    s.set_defaults(handler=_show_main)
    ls = psub.add_parser("list", help="list the shipped presets")
    ls.set_defaults(handler=_list_main)


def _load(name: str | None, preset_name: str | None) -> Profile:
    if (name is None) == (preset_name is None):
        raise _Usage("give a profile FILE or --preset NAME")
    return preset(preset_name) if preset_name else load_profile(name)  # type: ignore[arg-type]


def _check_main(args: argparse.Namespace) -> int:
    try:
        profile = _load(args.file, args.preset)
    except (_Usage, ValueError) as err:
        _err(str(err))
        return EXIT_USAGE
    report = audit_confined(profile)
    what = args.file or f"preset {args.preset}"
    if args.json:
        print(json.dumps({"profile": what, "valid": True, "audit": report.to_dict()}))
    else:
        print(f"{what}: valid; once applied: exposure {report.exposure:.1f} {report.level}")
    return 0


def audit_confined(profile: Profile) -> AuditReport:
    """Confine a forked child with ``profile`` and audit it from here (the parent).

    Raises:
        SandboxError: the child could not be confined.
    """
    from hardenkit.audit import audit_process  # noqa: PLC0415 -- for import time

    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(ready_r)
            os.close(go_w)
            enter(profile)
            os.write(ready_w, b"1")
            os.read(go_r, 1)
        except BaseException as exc:  # noqa: BLE001 -- reported as a byte, then exit
            with contextlib.suppress(BaseException):
                name = type(exc).__name__.encode()[:64]
                os.write(ready_w, b"0" + name + b": " + str(exc).encode(errors="replace")[:400])
            code = 1
        os._exit(code)
    os.close(ready_w)
    os.close(go_r)
    try:
        got = os.read(ready_r, 512)
        if got[:1] != b"1":
            detail = got[1:].decode(errors="replace") or "it exited"
            raise SandboxError(f"the profile could not be applied: {detail}")
        return audit_process(pid)
    finally:
        os.close(go_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def _show_main(args: argparse.Namespace) -> int:
    try:
        named = args.name in preset_names()
        profile = _load(None, args.name) if named else _load(args.name, None)
    except (_Usage, ValueError) as err:
        _err(str(err))
        return EXIT_USAGE
    sys.stdout.write(profile_to_toml(profile))
    return 0


def _list_main(args: argparse.Namespace) -> int:  # noqa: ARG001
    for name in preset_names():
        print(name)
    return 0
