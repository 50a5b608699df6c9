"""Keep a secret file safe: private directory, exact-mode atomic write, checked reads.

Runs in a fresh temporary directory and removes it; prints what each step saw.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import hardenkit
from hardenkit.fileperms import tighten


def main() -> int:
    """Walk through the fileperms calls an application makes at start-up."""
    base = tempfile.mkdtemp(prefix="hk-example-")
    try:
        state = hardenkit.make_private_dir(os.path.join(base, "app", "secrets"))
        print(f"private directory: {state} (mode 0700, parents too)")

        key = state / "api.key"
        hardenkit.write_secure(key, b"example-not-a-real-key", mode=0o600)
        status = hardenkit.check_path(key)
        print(f"check_path: {status.kind} {status.mode_text} owned by {status.user}")
        print(f"  parents verified: {', '.join(status.parents)}")

        with hardenkit.open_secure(key) as f:
            print(f"open_secure read {len(f.read())} bytes (content not shown)")

        # An attacker-style symlink next to it is refused, and nothing is written through it.
        decoy = state / "decoy"
        decoy.symlink_to(key)
        try:
            hardenkit.write_secure(decoy, b"overwrite")
        except hardenkit.InsecurePathError as err:
            print(f"write_secure refused: {err.problems[0]}")

        # A loose mode is reported with every problem, then fixed through a descriptor.
        os.chmod(key, 0o644)
        try:
            hardenkit.check_path(key)
        except hardenkit.InsecurePathError as err:
            print(f"check_path found {len(err.problems)} problem(s): {err.problems[0]}")
        print(f"tighten -> {tighten(key, max_mode=0o600).mode_text}")

        findings = hardenkit.audit_tree(base)
        print(f"audit_tree({base}): {len(findings)} finding(s)")
        return 0 if not findings else 1
    finally:
        shutil.rmtree(base)


if __name__ == "__main__":
    raise SystemExit(main())
