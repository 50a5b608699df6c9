"""Audit a running process's posture and score it on systemd-analyze security's scale.

``systemd-analyze security`` scores unit files; :func:`audit_process` scores any running
process from what the kernel shows in ``/proc`` (ids, capability sets of every thread,
no_new_privs, seccomp, namespaces compared with pid 1, core limit, umask, dumpable,
environment names, working directory, executable, listening sockets), with systemd's weights
and formula where a check maps to one of its assessors and documented weights of our own for
the rest (docs/audit.md lists every one). Same 0.0-10.0 exposure and the same levels, so the
numbers compare.

Examples:
    >>> import hardenkit
    >>> report = hardenkit.audit_process()
    >>> 0.0 <= report.exposure <= 10.0
    True
    >>> report.level in ("PERFECT", "SAFE", "OK", "MEDIUM", "EXPOSED", "UNSAFE", "DANGEROUS")
    True
"""

from __future__ import annotations

import functools
import os

from hardenkit._linux import require_linux
from hardenkit._linux.procfs import self_pid
from hardenkit.audit import _weights
from hardenkit.audit._checks import assess
from hardenkit.audit._collect import Context, collect
from hardenkit.audit._model import (
    SEVERITIES,
    Assessment,
    AuditFinding,
    AuditReport,
    Unobservable,
    exposure_of,
    level_of,
)
from hardenkit.errors import InsecurePathError

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from hardenkit.audit._sweep import AuditSkip, AuditSweep, audit_all

__all__ = [
    "AuditFinding",
    "AuditReport",
    "AuditSkip",
    "AuditSweep",
    "audit_all",
    "audit_paths",
    "audit_process",
]


def audit_process(
    pid: int | None = None,
    *,
    paths: Iterable[str | os.PathLike[str]] = (),
    max_mode: int = 0o600,
) -> AuditReport:
    """Audit process ``pid`` (default: this one) and score its exposure from 0.0 to 10.0.

    Every check either reads what it needs or the call raises; nothing is reported as fine
    because it could not be read. Two facts an auditor may legitimately be unable to see
    (pid 1's namespaces when not root; the dumpable flag of another root process) are
    scored as the worst case and named in ``report.assumed``. ``paths`` are checked with
    :func:`audit_paths` against the process's effective uid and folded in.

    Examples:
        >>> report = audit_process()
        >>> report.pid == os.getpid()
        True
        >>> all(f.severity in SEVERITIES for f in report.findings)
        True
        >>> audit_process(2**22 + 1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        hardenkit.errors.HardenkitError: no such process: pid 4194305 does not exist

    Raises:
        HardenkitError: the pid does not exist, is a kernel thread, or exited meanwhile.
        PrivilegeError: the process's files cannot be read (another user's process; audit
            it as root).
        UnsupportedPlatform: not Linux.
    """
    require_linux("process audit")
    if pid is None:
        pid = self_pid()  # not os.getpid(): inside a PID namespace /proc is still the host's
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise ValueError(f"pid must be a positive int, not {pid!r}")
    return _audit(pid, paths=paths, max_mode=max_mode, context=None)


def _audit(
    pid: int,
    *,
    paths: Iterable[str | os.PathLike[str]],
    max_mode: int,
    context: Context | None,
) -> AuditReport:
    facts = collect(pid, context=context)
    outcome = assess(facts)
    path_list = list(paths)
    if path_list:
        path_findings = audit_paths(path_list, max_mode=max_mode, owner=facts.main.uids[1])
        outcome.findings.extend(path_findings)
        outcome.assessments.append(
            Assessment(
                name=_weights.PATHS.name,
                weight=_weights.PATHS.weight,
                range=_weights.PATHS.range,
                badness=1 if path_findings else 0,
                source=_weights.PATHS.source,
                evidence=f"{len(path_findings)} of {len(path_list)} paths not private",
            )
        )
    exposure = exposure_of(outcome.assessments)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings = sorted(outcome.findings, key=lambda f: order[f.severity])
    return AuditReport(
        pid=pid,
        name=facts.main.name,
        findings=tuple(findings),
        exposure=exposure,
        level=level_of(exposure),
        assessments=tuple(outcome.assessments),
        assumed=tuple(outcome.assumed),
        threads=len(facts.statuses),
        unobservable=_unobservable(),
        landlock=facts.landlock,
        uid=facts.main.uids[1],
    )


@functools.cache
def _unobservable() -> tuple[Unobservable, ...]:
    return tuple(
        Unobservable(name=name, weight=weight, reason=reason)
        for name, weight, reason in _weights.UNOBSERVABLE
    )


def __getattr__(name: str) -> Any:
    """Load the every-process sweep only when it is asked for (it costs imports)."""
    if name in ("AuditSkip", "AuditSweep", "audit_all"):
        from hardenkit.audit import _sweep  # noqa: PLC0415 -- import time: the sweep only for audit_all

        return getattr(_sweep, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def audit_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    max_mode: int = 0o600,
    owner: int | str | None = None,
) -> tuple[AuditFinding, ...]:
    """Check secret files with :func:`hardenkit.check_path`; one finding per failing path.

    Each finding lists every problem ``check_path`` found (mode, owner, writable parents,
    symlinks, a missing file). An empty tuple means every path passed.

    Examples:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> with open(os.path.join(d, "token"), "w") as fh:
        ...     _ = fh.write("x")
        >>> os.chmod(os.path.join(d, "token"), 0o644)
        >>> [f.id for f in audit_paths([os.path.join(d, "token")])]
        ['path-insecure']
        >>> os.chmod(os.path.join(d, "token"), 0o600)
        >>> audit_paths([os.path.join(d, "token")])
        ()
        >>> import shutil; shutil.rmtree(d)

    Raises:
        ValueError: ``max_mode`` is not a mode or ``owner`` names no user.
    """
    from hardenkit.fileperms import check_path  # noqa: PLC0415 -- import time: fileperms only for paths

    findings = []
    for path in paths:
        try:
            check_path(path, max_mode=max_mode, owner=owner)
        except InsecurePathError as err:  # noqa: PERF203 -- every path gets its own verdict
            where = err.path or os.fspath(path)
            findings.append(
                AuditFinding(
                    id="path-insecure",
                    severity="high",
                    title=f"{where} is not private",
                    detail="; ".join(err.problems) or str(err),
                    remediation=f"chmod {max_mode:o} and chown it to the service user; "
                    "write it with hardenkit.write_secure() and read it with "
                    "hardenkit.open_secure()",
                )
            )
    return tuple(findings)
