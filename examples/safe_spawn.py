"""Run helper commands safely: an allowlist, a pinned binary, a timeout, a confined child.

Run as root: ``.venv/bin/python examples/safe_spawn.py``.
"""

from __future__ import annotations

import hashlib
import os

from hardenkit.errors import CommandNotAllowed, CommandTimeout
from hardenkit.spawn import ArgRules, CommandPolicy, private_tmpdir, run


def main() -> int:
    """Show each guarantee once and exit 0."""
    with open(os.path.realpath("/usr/bin/id"), "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    policy = CommandPolicy(
        ["id", "sh", "echo"],
        sha256={"id": digest},
        args={"echo": ArgRules(options=frozenset({"-n"}), separator=True)},
    )
    print("pinned id as nobody:", run(["id"], policy=policy, user="nobody").stdout.decode().strip())
    print("argv after rules:", run(["echo", "-n", "x", "-rf"], policy=policy).argv)
    try:
        run(["rm", "-rf", "/nonexistent/nothing"], policy=policy)
    except CommandNotAllowed as err:
        print("refused:", err)
    try:
        run(["sh", "-c", "sleep 60 & sleep 60"], policy=policy, timeout=0.5)
    except CommandTimeout as err:
        print(f"timed out after {err.result.duration:.2f}s, everything killed")
    with private_tmpdir(owner="nobody") as scratch:
        out = run(
            ["sh", "-c", 'echo scratch > "$TMPDIR/f"; cat "$TMPDIR/f"'],
            policy=policy,
            user="nobody",
            env=scratch.env(),
            cwd=scratch.path,
        )
        print("scratch dir:", out.stdout.decode().strip())
    print("scratch removed:", not scratch.path.exists())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
