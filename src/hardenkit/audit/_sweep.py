"""Every process on the host: :func:`audit_all` and its results (loaded only when used)."""

from __future__ import annotations

import os

from hardenkit._dataclass import dataclass
from hardenkit._linux import procfs, require_linux
from hardenkit._linux.procfs import PROC_ROOT
from hardenkit.audit import _audit
from hardenkit.audit._collect import Context
from hardenkit.audit._model import AuditReport  # noqa: TC001 -- a dataclass field type
from hardenkit.errors import HardenkitError

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditSkip:
    """A process :func:`audit_all` could not audit, and why (it vanished, or is unreadable).

    Examples:
        >>> AuditSkip(pid=7, name="x", reason="vanished").to_dict()["reason"]
        'vanished'
    """

    pid: int
    name: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return the skip as JSON-ready data."""
        return {"pid": self.pid, "name": self.name, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditSweep:
    """Every process on the host: reports worst first, and the ones not audited.

    ``skipped`` says why each could not be; kernel threads (no user-space posture) are
    only counted.
    """

    reports: tuple[AuditReport, ...]
    skipped: tuple[AuditSkip, ...]
    kernel_threads: int

    def to_dict(self) -> dict[str, Any]:
        """Return the sweep as JSON-ready data (what ``hardenkit audit --all --json`` prints)."""
        return {
            "reports": [r.to_dict() for r in self.reports],
            "skipped": [s.to_dict() for s in self.skipped],
            "kernel_threads": self.kernel_threads,
        }


def audit_all(*, proc_root: str = PROC_ROOT) -> AuditSweep:
    """Audit every process on the host, like ``systemd-analyze security`` lists every unit.

    What every audit shares (pid 1's namespaces, the socket tables) is read once. A process
    that exits meanwhile or whose files cannot be read is listed in ``skipped`` with the
    reason; it never stops the sweep. Reports are sorted worst first.

    Examples:
        >>> sweep = audit_all()
        >>> any(r.pid == os.getpid() for r in sweep.reports)
        True
        >>> [r.exposure for r in sweep.reports] == sorted(
        ...     (r.exposure for r in sweep.reports), reverse=True)
        True
    """
    require_linux("process audit")
    context = Context(proc_root)
    reports: list[AuditReport] = []
    skipped: list[AuditSkip] = []
    kernel_threads = 0
    for pid in procfs.pids(proc_root=proc_root):
        try:
            os.readlink(f"{proc_root}/{pid}/exe")
        except FileNotFoundError:
            if os.path.isdir(f"{proc_root}/{pid}"):
                kernel_threads += 1  # or a zombie: no user-space posture either way
            continue
        except PermissionError:
            skipped.append(AuditSkip(pid=pid, name=_comm(proc_root, pid), reason=_UNREADABLE))
            continue
        except OSError:
            continue  # gone before it could be looked at
        try:
            reports.append(_audit(pid, paths=(), max_mode=0o600, context=context))
        except HardenkitError as err:  # PrivilegeError included: unreadable
            skipped.append(AuditSkip(pid=pid, name=_comm(proc_root, pid), reason=str(err)))
    reports.sort(key=lambda r: (-r.exposure, r.pid))
    return AuditSweep(reports=tuple(reports), skipped=tuple(skipped), kernel_threads=kernel_threads)


_UNREADABLE = (
    "unreadable: /proc/<pid>/exe permission denied (another user's process needs root with "
    "CAP_SYS_PTRACE, and some hosts deny even that)"
)


def _comm(proc_root: str, pid: int) -> str:
    try:
        with open(f"{proc_root}/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return "?"
