"""What the checks produce (:class:`Outcome`), and the texts and helpers they share."""

from __future__ import annotations

import functools

from hardenkit.audit._model import Assessment, AuditFinding

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit.audit import _weights as w
    from hardenkit.audit._collect import ProcessFacts

NOBODY = 65534


_ID_ROLES = ("real", "effective", "saved", "filesystem")


_CONFINE = 'hardenkit.confine(user="app", ...)'


_SECCOMP = (
    'hardenkit.confine(seccomp=hardenkit.SeccompPolicy(default="kill", allow=("@system-service",)))'
)


class Outcome:
    """What the checks produced: findings, the scored rows, and the checks scored worst-case.

    A plain class, not a dataclass: internal and mutable (a dataclass costs ~1 ms at import).
    """

    __slots__ = ("assessments", "assumed", "findings")

    def __init__(self) -> None:
        self.findings: list[AuditFinding] = []
        self.assessments: list[Assessment] = []
        self.assumed: list[str] = []

    def find(self, id_: str, severity: str, title: str, detail: str, remediation: str) -> None:
        self.findings.append(_finding(id_, severity, title, detail, remediation))

    def score(self, assessor: w.Assessor, badness: int | None, evidence: str = "") -> None:
        self.assessments.append(_assessment(assessor, badness, evidence))


@functools.lru_cache(maxsize=1024)
def _finding(id_: str, severity: str, title: str, detail: str, remediation: str) -> AuditFinding:
    """Findings repeat from process to process too (frozen: built once, shared)."""
    return AuditFinding(
        id=id_, severity=severity, title=title, detail=detail, remediation=remediation
    )


@functools.lru_cache(maxsize=4096)
def _assessment(assessor: w.Assessor, badness: int | None, evidence: str) -> Assessment:
    """Rows repeat from process to process: build each distinct one once (they are frozen)."""
    return Assessment(
        name=assessor.name,
        weight=assessor.weight,
        range=assessor.range,
        badness=badness,
        source=assessor.source,
        evidence=evidence,
    )


def _which_threads(facts: ProcessFacts, tids: list[int]) -> str:
    if len(tids) == len(facts.statuses):
        return ""
    return f" (threads {', '.join(map(str, tids))})"
