"""The main job: audit a root process, then the same process after confine(), side by side.

Two children are forked. The first stays as it was born (root, every capability, no
filters); the second calls ``hardenkit.confine()`` (user nobody, a seccomp allow list,
rlimits). Each then waits on a pipe while this process audits it with
``hardenkit.audit_process(pid)``, the same audit ``hardenkit audit --pid N`` prints.
Run as root: ``.venv/bin/python examples/audit_before_after.py``.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from typing import TYPE_CHECKING

import hardenkit
from hardenkit.sandbox import ResourceLimits, SeccompPolicy, confine

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def confine_like_a_service() -> None:
    """What a service does at start-up, once it has opened what it needs as root."""
    confine(
        user="nobody",
        limits=ResourceLimits(core_bytes=0, open_files=256),
        seccomp=SeccompPolicy(default="kill", allow=("@system-service",)),
    )


@contextlib.contextmanager
def paused_child(setup: Callable[[], None] | None = None) -> Iterator[int]:
    """Fork a child that runs ``setup``, says so, then blocks until we are done with it.

    After ``setup`` the child only writes one pipe, reads another and exits: all of it
    allowed by ``@system-service``, so a seccomp filter does not get in the way.
    """
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        try:
            if setup is not None:
                setup()
            os.write(ready_w, b"ok")
            os.read(go_r, 1)  # EOF once the parent closes its end (or dies)
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001 -- reported to the parent, then exit
            os.write(ready_w, f"{type(exc).__name__}: {exc}".encode()[:4096])
            os._exit(1)
    os.close(ready_w)
    os.close(go_r)
    try:
        ready, _, _ = select.select([ready_r], [], [], 30)
        message = os.read(ready_r, 4096) if ready else b"no answer within 30 s"
        if message != b"ok":
            raise RuntimeError(f"child {pid} could not be prepared: {message.decode()}")
        yield pid
    finally:
        os.close(go_w)
        os.close(ready_r)
        with contextlib.suppress(ProcessLookupError):
            if os.waitpid(pid, os.WNOHANG) == (0, 0):
                select.select([], [], [], 0.05)
                if os.waitpid(pid, os.WNOHANG) == (0, 0):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)


def identity(pid: int) -> str:
    """The ids and capability count, from /proc, for the table."""
    ident = hardenkit.current_identity(pid)
    caps = hardenkit.get_capabilities(pid)
    return f"uid {ident.euid} gid {ident.egid}, {len(caps.effective)} caps"


def row(label: str, before: str, after: str) -> str:
    return f"  {label:<22}{before:<34}{after}"


def main() -> int:
    if os.geteuid() != 0:
        print("this example starts root children and confines one: run it as root")
        return 0
    with paused_child() as pid:
        before = hardenkit.audit_process(pid)
        before_id = identity(pid)
    with paused_child(confine_like_a_service) as pid:
        after = hardenkit.audit_process(pid)
        after_id = identity(pid)

    print("hardenkit audit of a root child, before and after hardenkit.confine()\n")
    print(row("", "before (as started)", "after confine()"))
    print(
        row(
            "exposure (0-10)",
            f"{before.exposure:.1f} {before.level}",
            f"{after.exposure:.1f} {after.level}",
        )
    )
    print(row("identity", before_id, after_id))
    print(row("findings", str(len(before.findings)), str(len(after.findings))))
    worst_before, worst_after = before.worst() or "none", after.worst() or "none"
    print(row("worst severity", worst_before, worst_after))

    gone = [f for f in before.findings if f.id not in after.ids]
    kept = [f for f in after.findings if f.id in before.ids]
    new = [f for f in after.findings if f.id not in before.ids]
    print(f"\nFindings that went away ({len(gone)}):")
    for f in gone:
        print(f"  - [{f.severity}] {f.title} ({f.id})")
    print(f"\nFindings that remain ({len(kept)}):")
    for f in kept:
        print(f"  - [{f.severity}] {f.title} ({f.id})")
    print(f"\nNew after confining ({len(new)}):")
    for f in new:
        print(f"  - [{f.severity}] {f.title} ({f.id}): {f.detail}")

    # Rows of one family (CapabilityBoundingSet=~..., SystemCallFilter=~...) are summed.
    print("\nScore rows that improved (systemd-analyze security's weights and formula):")
    after_rows = {a.name: a for a in after.assessments}
    families: dict[str, list[int]] = {}
    for a in before.assessments:
        b = after_rows[a.name]
        if b.points < a.points:
            family = a.name.split("=~")[0] + "=~..." if "=~" in a.name else a.name
            rows, was, now, weight = families.setdefault(family, [0, 0, 0, 0])
            families[family] = [rows + 1, was + a.points, now + b.points, weight + a.weight]
    for family, (rows, was, now, weight) in families.items():
        label = f"{family} ({rows} rows)" if rows > 1 else family
        print(f"  {label:<44} {was:>6} -> {now:<6} points of {weight}")
    print(f"\nExposure {before.exposure:.1f} -> {after.exposure:.1f} (0.0 best, 10.0 worst)")
    if after.exposure >= before.exposure:
        print("\nconfine() did not lower the exposure: that is a bug, please report it")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
