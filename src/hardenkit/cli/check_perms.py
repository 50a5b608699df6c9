"""``hardenkit check-perms PATH...``: check secret files and their parent directories.

Exit status: 0 all fine, 1 a problem found, 2 usage error, 3 could not run. Paths are
printed with control characters escaped (a file name holding a newline cannot forge an
``ok`` line), and the advice names this command's flags, not the Python keywords.
"""

from __future__ import annotations

import argparse
import json
import re

from hardenkit.cli._common import EXIT_ERROR, EXIT_FAIL, EXIT_OK, escape
from hardenkit.errors import InsecurePathError

# Not typing.TYPE_CHECKING, for import time (typing is ~5 ms of a CLI start).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: check_path's advice names its keywords; on the command line they are these flags.
_FLAGS = (
    (re.compile(r"\bmax_mode=(0o|0)?([0-7]+)"), r"--max-mode \2"),
    (re.compile(r"\bmax_mode="), "--max-mode MODE"),
    (re.compile(r"\bowner="), "--owner USER"),
)


def advice(problem: str) -> str:
    """A problem as the command line shows it: its flags for check_path's keywords, escaped.

    Examples:
        >>> advice("/k is mode 0644 ...: chmod 0600 /k or pass max_mode=")
        '/k is mode 0644 ...: chmod 0600 /k or pass --max-mode MODE'
        >>> advice("... and pass max_mode=0o700 (a directory needs x)")
        '... and pass --max-mode 700 (a directory needs x)'
    """
    for pattern, flag in _FLAGS:
        problem = pattern.sub(flag, problem)
    return escape(problem)


def _octal_mode(text: str) -> int:
    try:
        value = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an octal mode like 600") from None
    if not 0 <= value <= 0o7777:  # noqa: PLR2004 -- the largest permission mode
        raise argparse.ArgumentTypeError(f"{text!r} is outside 0..7777")
    return value


def _owner(text: str) -> int:
    from hardenkit.fileperms._model import resolve_owner  # noqa: PLC0415 -- for import time

    try:
        return resolve_owner(int(text) if text.isdigit() else text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_parser(sub: Any) -> None:
    """Register ``check-perms`` on the subparsers object ``sub``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "check-perms",
        help="check that files and their parent directories are safe (exit 1 if not)",
        description="Check each PATH like hardenkit.check_path: mode bits inside --max-mode, "
        "owned by --owner or root, no ACL granting others, every parent directory owned by "
        "root or the owner and not writable by others unless sticky, no symlinks. "
        "Exit status: 0 all fine, 1 a problem found, 2 usage error, 3 could not run.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories to check")
    p.add_argument(
        "--max-mode",
        type=_octal_mode,
        default=0o600,
        metavar="MODE",
        help="most permissive mode allowed, octal, compared bit by bit (default 600)",
    )
    p.add_argument(
        "--owner",
        type=_owner,
        default=None,
        metavar="USER",
        help="expected owner, name or uid (default: the effective user); root always passes",
    )
    p.add_argument("--no-parents", action="store_true", help="do not check the parent directories")
    p.add_argument(
        "--allow-symlinks", action="store_true", help="follow symlinks instead of refusing them"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run, error_status=EXIT_ERROR)


def _check(path: str, args: argparse.Namespace) -> dict[str, Any]:
    from hardenkit.fileperms import check_path  # noqa: PLC0415 -- for import time

    try:
        st = check_path(
            path,
            max_mode=args.max_mode,
            owner=args.owner,
            parents=not args.no_parents,
            allow_symlinks=args.allow_symlinks,
        )
    except InsecurePathError as err:
        return {"path": path, "ok": False, "problems": list(err.problems), "status": None}
    status = {
        "path": st.path,
        "kind": st.kind,
        "mode": st.mode_text,
        "uid": st.uid,
        "gid": st.gid,
        "user": st.user,
        "group": st.group,
        "acl": st.acl,
        "parents": list(st.parents),
        "notices": list(st.notices),
    }
    return {"path": path, "ok": True, "problems": [], "status": status}


def run(args: argparse.Namespace) -> int:
    """Check every path, print the results, return 1 when any path has a problem."""
    results = [_check(path, args) for path in args.paths]
    ok = all(r["ok"] for r in results)
    if args.json:
        print(json.dumps({"ok": ok, "max_mode": f"{args.max_mode:04o}", "paths": results}))
    else:
        for r in results:
            if r["ok"]:
                st = r["status"]
                owner = st["user"] if st["user"] is not None else st["uid"]
                owner = escape(str(owner))
                print(f"ok    {escape(r['path'])} ({st['kind']} {st['mode']} {owner})")
                for notice in st["notices"]:
                    print(f"      note: {advice(notice)}")
            else:
                print(f"FAIL  {escape(r['path'])}")
                for problem in r["problems"]:
                    print(f"      - {advice(problem)}")
    return EXIT_OK if ok else EXIT_FAIL
