"""``hardenkit audit``: the posture of a running process (owned by the audit module)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from hardenkit._linux.procfs import read_status

if TYPE_CHECKING:
    import argparse


def add_parser(sub: Any) -> None:
    """Register ``audit`` on the subparsers object ``sub``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "audit", help="show a process's identity, capabilities and confinement"
    )
    p.add_argument("--pid", type=int, default=None, help="process to audit (default: this one)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the audit and return the exit status."""
    st = read_status(args.pid)
    data = {
        "pid": st.pid,
        "uids": list(st.uids[:3]),
        "gids": list(st.gids[:3]),
        "groups": list(st.groups),
        "cap_effective": f"{st.cap_effective:#x}",
        "cap_permitted": f"{st.cap_permitted:#x}",
        "cap_bounding": f"{st.cap_bounding:#x}",
        "cap_ambient": f"{st.cap_ambient:#x}",
        "no_new_privs": st.no_new_privs,
        "seccomp": st.seccomp,
        "umask": None if st.umask is None else f"{st.umask:04o}",
    }
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for key, value in data.items():
            print(f"{key:>14}: {value}")
    return 0
