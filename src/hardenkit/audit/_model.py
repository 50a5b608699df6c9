"""The audit's results: findings, scored assessments, and the report that holds them."""

from __future__ import annotations

from hardenkit._dataclass import dataclass, field
from hardenkit.audit._weights import LEVELS

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Severities, worst first.
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
SOURCES = frozenset({"systemd", "hardenkit"})
#: Field names in to_dict order (the JSON ``hardenkit audit --json`` prints).
_FINDING_FIELDS = ("id", "severity", "title", "detail", "remediation")
_ASSESSMENT_FIELDS = ("name", "weight", "range", "badness", "source", "evidence")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditFinding:
    """One problem the audit found, and the hardenkit call that fixes it.

    ``detail`` names variables, paths and capabilities, never an environment value.

    Examples:
        >>> f = AuditFinding(id="no-new-privs", severity="high", title="no_new_privs is off",
        ...                  detail="NoNewPrivs: 0", remediation="hardenkit.set_no_new_privs()")
        >>> AuditFinding.from_dict(f.to_dict()) == f
        True
    """

    id: str
    severity: str
    title: str
    detail: str
    remediation: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")
        for name in _FINDING_FIELDS:
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"AuditFinding.{name} must be a str")
        if not self.id or not self.title:
            raise ValueError("AuditFinding needs a non-empty id and title")

    def to_dict(self) -> dict[str, str]:
        """Return the finding as JSON-ready data."""
        return _as_dict(self, _FINDING_FIELDS)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditFinding:
        """Rebuild a finding from :meth:`to_dict` output (validated)."""
        return cls(**_pick(data, _FINDING_FIELDS))


@dataclass(frozen=True, slots=True, kw_only=True)
class Assessment:
    """One scored item: systemd's assessor (or ours), its weight, range and badness.

    ``badness`` is None when the item does not apply (systemd's N/A), and then it counts
    neither in the badness sum nor in the weight sum.

    Examples:
        >>> Assessment(name="NoNewPrivileges=", weight=1000, range=1, badness=1).points
        1000
    """

    name: str
    weight: int
    range: int
    badness: int | None
    source: str = "systemd"
    evidence: str = ""

    def __post_init__(self) -> None:
        if self.weight <= 0 or self.range <= 0:
            raise ValueError(f"{self.name}: weight and range must be positive")
        if self.badness is not None and not 0 <= self.badness <= self.range:
            raise ValueError(f"{self.name}: badness {self.badness} outside 0..{self.range}")
        if self.source not in SOURCES:
            raise ValueError(f"{self.name}: source must be one of {sorted(SOURCES)}")

    @property
    def points(self) -> int:
        """This item's share of the badness sum: ceil(badness * weight / range)."""
        if self.badness is None:
            return 0
        return -(-self.badness * self.weight // self.range)

    def to_dict(self) -> dict[str, Any]:
        """Return the assessment as JSON-ready data."""
        return _as_dict(self, _ASSESSMENT_FIELDS)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Assessment:
        """Rebuild an assessment from :meth:`to_dict` output (validated)."""
        fields = _pick(data, _ASSESSMENT_FIELDS[:-1])  # evidence is optional
        return cls(**fields, evidence=str(data.get("evidence", "")))


@dataclass(frozen=True, slots=True, kw_only=True)
class Unobservable:
    """A systemd row a running process does not show, and why; it is not scored.

    Examples:
        >>> u = Unobservable(name="ProtectHome=", weight=1000, reason="a mount setting")
        >>> Unobservable.from_dict(u.to_dict()) == u
        True
    """

    name: str
    weight: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return the row as JSON-ready data."""
        return {
            "name": self.name,
            "weight": self.weight,
            "verdict": "not observable from a process",
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unobservable:
        """Rebuild a row from :meth:`to_dict` output."""
        fields = _pick(data, ("name", "weight", "reason"))
        return cls(
            name=str(fields["name"]), weight=int(fields["weight"]), reason=str(fields["reason"])
        )


def exposure_of(assessments: tuple[Assessment, ...] | list[Assessment]) -> float:
    """Score assessments the way systemd-analyze security does, on 0.0 (best) to 10.0.

    exposure = ceil(100 * sum(ceil(badness * weight / range)) / sum(weight)) / 10, over the
    items that apply (analyze-security.c).

    Examples:
        >>> exposure_of([Assessment(name="A", weight=1000, range=1, badness=1),
        ...              Assessment(name="B", weight=3000, range=10, badness=0)])
        2.5
    """
    weight_sum = badness_sum = 0
    for a in assessments:
        if a.badness is not None:
            weight_sum += a.weight
            badness_sum += -(-a.badness * a.weight // a.range)
    if weight_sum == 0:
        raise ValueError("no assessment applies: the exposure cannot be computed")
    # Integer ceil, as systemd's DIV_ROUND_UP (and no math module: a shared library to load).
    return -(-badness_sum * 100 // weight_sum) / 10 if badness_sum else 0.0


def level_of(exposure: float) -> str:
    """Return systemd's level name for an exposure.

    Examples:
        >>> level_of(9.4), level_of(5.0), level_of(0.2), level_of(0.0)
        ('UNSAFE', 'MEDIUM', 'SAFE', 'PERFECT')
    """
    tenths = round(exposure * 10)
    for threshold, name in LEVELS:
        if tenths >= threshold:
            return name
    return LEVELS[-1][1]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditReport:
    """The posture of one process, as the kernel showed it.

    ``exposure`` is on systemd-analyze security's scale (0.0 best, 10.0 worst) and ``level``
    is its name for that range. ``assumed`` lists checks that could not be read and were
    scored as the worst case (so the report never looks better than the truth).

    Examples:
        >>> import json
        >>> from hardenkit.audit import audit_process
        >>> report = audit_process()
        >>> AuditReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
        True
    """

    pid: int
    name: str
    findings: tuple[AuditFinding, ...]
    exposure: float
    level: str
    assessments: tuple[Assessment, ...] = ()
    assumed: tuple[str, ...] = ()
    threads: int = field(default=1)
    unobservable: tuple[Unobservable, ...] = ()
    landlock: str = "unknown"
    uid: int = -1

    def __post_init__(self) -> None:
        _require_tuple_of(self.findings, AuditFinding, "findings")
        _require_tuple_of(self.assessments, Assessment, "assessments")
        _require_tuple_of(self.unobservable, Unobservable, "unobservable")
        if not isinstance(self.assumed, tuple):
            raise TypeError("AuditReport.assumed must be a tuple of check ids")
        if not 0.0 <= self.exposure <= 10.0:  # noqa: PLR2004 -- systemd's scale
            raise ValueError(f"exposure {self.exposure} is outside 0.0..10.0")
        if self.level != level_of(self.exposure):
            raise ValueError(f"level {self.level!r} does not match exposure {self.exposure}")
        if self.assessments and exposure_of(self.assessments) != self.exposure:
            raise ValueError("exposure does not match the assessments it is computed from")
        if self.pid <= 0 or self.threads <= 0:
            raise ValueError(f"pid and threads must be positive, not {self.pid}, {self.threads}")

    @property
    def ids(self) -> frozenset[str]:
        """The ids of every finding (handy to compare two reports)."""
        return frozenset(f.id for f in self.findings)

    def worst(self) -> str | None:
        """Return the worst severity among the findings, or None when there are none.

        Examples:
            >>> from hardenkit.audit import audit_process
            >>> audit_process().worst() in (*SEVERITIES, None)
            True
        """
        present = {f.severity for f in self.findings}
        return next((s for s in SEVERITIES if s in present), None)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (what ``hardenkit audit --json`` prints)."""
        return {
            "pid": self.pid,
            "name": self.name,
            "exposure": self.exposure,
            "level": self.level,
            "threads": self.threads,
            "findings": [f.to_dict() for f in self.findings],
            "assessments": [a.to_dict() for a in self.assessments],
            "assumed": list(self.assumed),
            "unobservable": [u.to_dict() for u in self.unobservable],
            "landlock": self.landlock,
            "uid": self.uid,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditReport:
        """Rebuild a report from :meth:`to_dict` output; every field is validated again."""
        if not isinstance(data, dict):
            raise TypeError("an AuditReport is rebuilt from a dict")
        fields = _pick(
            data, ("pid", "name", "exposure", "level", "threads", "findings", "assessments")
        )
        return cls(
            pid=int(fields["pid"]),
            name=str(fields["name"]),
            exposure=float(fields["exposure"]),
            level=str(fields["level"]),
            threads=int(fields["threads"]),
            findings=tuple(AuditFinding.from_dict(f) for f in fields["findings"]),
            assessments=tuple(Assessment.from_dict(a) for a in fields["assessments"]),
            assumed=tuple(str(x) for x in data.get("assumed", ())),
            unobservable=tuple(Unobservable.from_dict(u) for u in data.get("unobservable", ())),
            landlock=str(data.get("landlock", "unknown")),
            uid=int(data.get("uid", -1)),
        )


def _pick(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, not {type(data).__name__}")
    missing = [n for n in names if n not in data]
    if missing:
        raise ValueError(f"missing fields: {', '.join(missing)}")
    return {n: data[n] for n in names}


def _as_dict(obj: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names}


def _require_tuple_of(value: object, kind: type, what: str) -> None:
    if not isinstance(value, tuple) or not all(isinstance(v, kind) for v in value):
        raise TypeError(f"AuditReport.{what} must be a tuple of {kind.__name__}")
