"""Unit tests of hardenkit.audit: the score, the checks over synthetic facts, the report."""

from __future__ import annotations

import io
import json
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings, strategies as st

from hardenkit._linux.procfs import ProcStatus
from hardenkit.audit import (
    AuditFinding,
    AuditReport,
    _filter,
    _weights as w,
    audit_paths,
    audit_process,
)
from hardenkit.audit._checks import assess
from hardenkit.audit._collect import ProcessFacts
from hardenkit.audit._model import SEVERITIES, Assessment, exposure_of, level_of
from hardenkit.capabilities import ALL_MASK, Capability
from hardenkit.cli import main
from hardenkit.cli._common import escape as clean
from hardenkit.cli.audit import render
from hardenkit.errors import HardenkitError, PrivilegeError

pytestmark = pytest.mark.linux

ROOT_CAPS = ALL_MASK
_R = TypeVar("_R")


def _with(record: _R, **changes: Any) -> _R:
    """``dataclasses.replace`` for a record (hardenkit._record): ProcStatus, ProcessFacts."""
    kind: Any = type(record)
    new: _R = kind(**{name: getattr(record, name) for name in kind.__match_args__} | changes)
    return new


def _status(**changes: Any) -> ProcStatus:
    base = ProcStatus(
        pid=100,
        name="svc",
        uids=(0, 0, 0, 0),
        gids=(0, 0, 0, 0),
        groups=(),
        cap_inheritable=0,
        cap_permitted=ROOT_CAPS,
        cap_effective=ROOT_CAPS,
        cap_bounding=ROOT_CAPS,
        cap_ambient=0,
        no_new_privs=False,
        seccomp=0,
        seccomp_filters=0,
        umask=0o022,
        threads=1,
    )
    return _with(base, **changes)


def _facts(*statuses: ProcStatus, **changes: Any) -> ProcessFacts:
    base = ProcessFacts(
        pid=100,
        statuses=statuses or (_status(),),
        ns_shared={"user": True, "net": True, "pid": True},
        ns_reference="pid 1",
        dumpable=True,
        core_soft=0,
        core_hard=None,
        env_names=("HOME", "PATH"),
        env_dangerous=(),
        env_secret=(),
        cwd="/",
        cwd_mode=stat.S_IFDIR | 0o755,
        exe="/usr/bin/svc",
        exe_mode=stat.S_IFREG | 0o755,
        exe_dir_mode=stat.S_IFDIR | 0o755,
        exe_dir_checked=True,
        listening=(),
        filters=_filter.unreadable("not read"),
        root_shared=True,
        landlock="unknown",
    )
    return _with(base, **changes)


NOBODY = {"uids": (65534,) * 4, "gids": (65534,) * 4}
CONFINED = {
    **NOBODY,
    "cap_permitted": 0,
    "cap_effective": 0,
    "cap_bounding": 0,
    "no_new_privs": True,
    "seccomp": 2,
    "seccomp_filters": 1,
    "umask": 0o077,
}


def _report(facts: ProcessFacts) -> AuditReport:
    out = assess(facts)
    exposure = exposure_of(out.assessments)
    return AuditReport(
        pid=facts.pid,
        name=facts.main.name,
        findings=tuple(out.findings),
        exposure=exposure,
        level=level_of(exposure),
        assessments=tuple(out.assessments),
        assumed=tuple(out.assumed),
        threads=len(facts.statuses),
    )


def _by_id(report: AuditReport) -> dict[str, AuditFinding]:
    return {f.id: f for f in report.findings}


def _rows(report: AuditReport) -> dict[str, Assessment]:
    return {a.name: a for a in report.assessments}


# --- the score is systemd's ---------------------------------------------------------------


def _systemd(shared_data: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((shared_data / "systemd-security-assessors.json").read_text())
    return data


@pytest.mark.parametrize(
    ("column", "expected"),
    [("badness_unhardened_root_unit", "9.4 UNSAFE"), ("badness_hardened_example", "0.2 SAFE")],
)
def test_formula_reproduces_systemd_analyze(shared_data: Path, column: str, expected: str) -> None:
    rows = [
        Assessment(name=a["name"], weight=a["weight"], range=a["range"], badness=a[column])
        for a in _systemd(shared_data)["assessors"]
    ]
    exposure = exposure_of(rows)
    assert f"{exposure:.1f} {level_of(exposure)}" == expected
    assert expected in _systemd(shared_data)["overall_exposure"].values()


def _shipped_systemd_rows() -> list[w.Assessor]:
    rows = [a for a, _ in w.CAPABILITY_ASSESSORS]
    rows += [w.USER, w.SUPPLEMENTARY_GROUPS, w.AMBIENT, w.NO_NEW_PRIVILEGES]
    rows += [*w.SYSTEM_CALL_FILTERS, w.SYSTEM_CALL_ARCHITECTURES]
    rows += [w.PRIVATE_NETWORK, w.PRIVATE_USERS, w.UMASK]
    return rows


def test_shipped_weights_are_systemds(shared_data: Path) -> None:
    upstream = {a["name"]: (a["weight"], a["range"]) for a in _systemd(shared_data)["assessors"]}
    rows = _shipped_systemd_rows()
    assert len(rows) == 45
    for row in rows:
        assert row.source == "systemd"
        assert upstream[row.name] == (row.weight, row.range), row.name
    # Every CapabilityBoundingSet row upstream is used.
    cap_rows = {n for n in upstream if n.startswith("CapabilityBoundingSet=")}
    assert cap_rows == {a.name for a, _ in w.CAPABILITY_ASSESSORS}


def test_capability_groups_cover_every_named_capability() -> None:
    names = {c.short_name for c in Capability}
    assert names >= w.SYSTEMD_COVERED_CAPS
    assert names - w.SYSTEMD_COVERED_CAPS <= {"PERFMON", "CHECKPOINT_RESTORE"} | {
        c.short_name for c in Capability if c.value > 40
    }


@pytest.mark.parametrize(
    ("exposure", "level"),
    [
        (10.0, "DANGEROUS"),
        (9.9, "UNSAFE"),
        (9.0, "UNSAFE"),
        (8.9, "EXPOSED"),
        (7.5, "EXPOSED"),
        (7.4, "MEDIUM"),
        (5.0, "MEDIUM"),
        (4.9, "OK"),
        (1.0, "OK"),
        (0.9, "SAFE"),
        (0.1, "SAFE"),
        (0.0, "PERFECT"),
    ],
)
def test_levels(exposure: float, level: str) -> None:
    assert level_of(exposure) == level


def test_not_applicable_rows_count_nowhere() -> None:
    rows = [
        Assessment(name="A", weight=1000, range=1, badness=1),
        Assessment(name="B", weight=9000, range=1, badness=None),
    ]
    assert exposure_of(rows) == 10.0
    with pytest.raises(ValueError, match="no assessment applies"):
        exposure_of([rows[1]])


_rows_strategy = st.lists(
    st.tuples(st.integers(1, 3000), st.sampled_from([1, 2, 10]), st.integers(0, 10), st.booleans()),
    min_size=1,
    max_size=12,
)


def _build(raw: list[tuple[int, int, int, bool]]) -> list[Assessment]:
    return [
        Assessment(name=f"r{i}", weight=wt, range=rg, badness=min(b, rg))
        for i, (wt, rg, b, _) in enumerate(raw)
    ]


@settings(max_examples=60, deadline=None)
@given(_rows_strategy, st.data())
def test_exposure_is_bounded_and_monotonic(
    raw: list[tuple[int, int, int, bool]], data: st.DataObject
) -> None:
    rows = _build(raw)
    before = exposure_of(rows)
    assert 0.0 <= before <= 10.0
    i = data.draw(st.integers(0, len(rows) - 1))
    worse = replace(rows[i], badness=rows[i].range)
    assert exposure_of([*rows[:i], worse, *rows[i + 1 :]]) >= before


# --- the checks, over synthetic facts -----------------------------------------------------


def test_root_process_is_unsafe_with_every_privilege_finding() -> None:
    report = _report(_facts())
    assert report.level in ("UNSAFE", "DANGEROUS")
    found = _by_id(report)
    assert found["uid-root"].severity == "critical"
    assert found["capabilities-held"].severity == "critical"
    assert "ALL" in found["capabilities-held"].detail
    for fid in ("gid-root", "bounding-set", "no-new-privs", "seccomp", "core-raisable"):
        assert fid in found
    assert found["bounding-set"].title == "full capability bounding set"
    assert _rows(report)["SupplementaryGroups="].badness is None  # systemd: N/A for root
    for finding in report.findings:
        assert "hardenkit." in finding.remediation or "bubblewrap" in finding.remediation


def _judged(policy: Any) -> _filter.FilterRows:
    return _filter.judge((policy.to_bpf(),))


def test_confined_process_scores_lower_and_the_gains_are_itemised() -> None:
    from hardenkit.sandbox import SeccompPolicy  # noqa: PLC0415

    before = _report(_facts())
    after = _report(
        _facts(
            _status(**CONFINED),
            core_hard=0,
            dumpable=False,
            ns_shared=dict.fromkeys(("user", "net", "pid"), True),
            filters=_judged(SeccompPolicy(default="kill", allow=["@system-service"])),
        )
    )
    assert after.exposure < before.exposure
    assert after.level in ("OK", "MEDIUM")
    gone = before.ids - after.ids
    assert {"uid-root", "capabilities-held", "no-new-privs", "seccomp", "bounding-set"} <= gone
    assert {"uid-nobody", "seccomp-filter"} <= after.ids
    rows_before, rows_after = _rows(before), _rows(after)
    improved = {n for n in rows_before if rows_after[n].points < rows_before[n].points}
    assert {"User=/DynamicUser=", "NoNewPrivileges=", "CapabilityBoundingSet=~CAP_SYS_ADMIN"} <= (
        improved
    )
    assert rows_after["User=/DynamicUser="].badness == 9  # systemd's score for nobody
    # systemd's values for an @system-service allow list, derived from the program itself
    assert rows_after["SystemCallFilter=~@mount"].badness == 0
    assert rows_after["SystemCallFilter=~@privileged"].badness == 9
    assert rows_after["SystemCallArchitectures="].badness == 0
    assert rows_after["RestrictNamespaces=~user"].badness == 0


def test_a_filter_that_allows_everything_earns_no_filter_credit() -> None:
    from hardenkit.sandbox import SeccompPolicy  # noqa: PLC0415

    lax = _rows(
        _report(_facts(_status(**CONFINED), filters=_judged(SeccompPolicy(default="allow"))))
    )
    none = _rows(_report(_facts(_status(**{**CONFINED, "seccomp": 0, "seccomp_filters": 0}))))
    for group in _filter.GROUPS:
        assert lax[f"SystemCallFilter=~{group}"].badness == 10
        assert none[f"SystemCallFilter=~{group}"].badness == 10
    # ...but its namespace block is real, and credited
    assert lax["RestrictNamespaces=~user"].badness == 0
    assert none["RestrictNamespaces=~user"].badness == 1


def test_an_unreadable_filter_is_scored_as_none_and_named() -> None:
    report = _report(_facts(_status(**CONFINED), filters=_filter.unreadable("PTRACE_SEIZE: EPERM")))
    rows = _rows(report)
    assert rows["SystemCallFilter=~@mount"].badness == 10
    assert rows["SystemCallArchitectures="].badness == 10
    assert rows["RestrictNamespaces=~user"].badness == 1
    assert "EPERM" in rows["SystemCallFilter=~@mount"].evidence
    assert "seccomp-unreadable" in report.assumed
    assert "seccomp-unreadable" in report.ids


def test_a_dedicated_user_scores_zero_on_user() -> None:
    report = _report(_facts(_status(**{**CONFINED, "uids": (999,) * 4, "gids": (999,) * 4})))
    assert _rows(report)["User=/DynamicUser="].badness == 0
    assert "uid-nobody" not in report.ids


def test_one_unconfined_thread_makes_the_process_unconfined() -> None:
    main_thread = _status(**CONFINED)
    escaped = _with(main_thread, pid=101, seccomp=0, seccomp_filters=0, no_new_privs=False)
    report = _report(_facts(main_thread, escaped))
    found = _by_id(report)
    assert "101" in found["seccomp"].detail
    assert "101" in found["no-new-privs"].detail
    assert "101" in found["threads-differ"].detail
    assert _rows(report)["SystemCallFilter=~@mount"].badness == 10
    assert report.threads == 2


def test_a_thread_with_uid_0_counts() -> None:
    main_thread = _status(**CONFINED)
    report = _report(_facts(main_thread, _with(main_thread, pid=102, uids=(65534, 0, 0, 0))))
    assert "uid-root" in report.ids
    assert "effective" in _by_id(report)["uid-root"].detail


@pytest.mark.parametrize(
    ("caps", "severity"),
    [
        ({"SYS_ADMIN"}, "critical"),
        ({"NET_ADMIN"}, "high"),
        ({"NET_BIND_SERVICE"}, "medium"),
        ({"LEASE"}, "low"),
        ({"PERFMON"}, "low"),
    ],
)
def test_capability_severity_follows_systemd_weight(caps: set[str], severity: str) -> None:
    mask = 0
    for name in caps:
        mask |= 1 << Capability.parse(name).value
    caps_held = {"cap_permitted": mask, "cap_effective": mask, "cap_bounding": mask}
    facts = _facts(_status(**{**CONFINED, **caps_held}))
    report = _report(facts)
    assert _by_id(report)["capabilities-held"].severity == severity
    assert _by_id(report)["bounding-set"].severity == "low"  # NoNewPrivs is on


def test_ambient_and_bounding_without_nnp() -> None:
    bind = 1 << Capability.parse("NET_BIND_SERVICE").value
    report = _report(
        _facts(
            _status(
                **{**CONFINED, "cap_ambient": bind, "cap_bounding": bind, "no_new_privs": False}
            )
        )
    )
    found = _by_id(report)
    assert found["ambient-capabilities"].severity == "high"
    assert "NET_BIND_SERVICE" in found["ambient-capabilities"].detail
    assert found["bounding-set"].severity == "high"
    assert _rows(report)["AmbientCapabilities="].badness == 1
    assert _rows(report)["CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)"].badness == 1


@pytest.mark.parametrize(
    ("umask", "badness", "severity"),
    [
        (0o000, 10, "high"),
        (0o022, 5, "low"),
        (0o002, 5, "low"),
        (0o007, 2, "low"),
        (0o027, 1, "info"),
        (0o077, 0, None),
    ],
)
def test_umask_is_graded_like_systemd(umask: int, badness: int, severity: str | None) -> None:
    report = _report(_facts(_status(umask=umask)))
    assert _rows(report)["UMask="].badness == badness
    assert (_by_id(report)["umask"].severity if "umask" in report.ids else None) == severity


def test_unknown_namespaces_and_dumpable_are_scored_worst_and_said_so() -> None:
    report = _report(_facts(ns_shared={"user": None, "net": False, "pid": None}, dumpable=None))
    assert set(report.assumed) == {"userns-shared", "pidns-shared", "dumpable"}
    assert _rows(report)["PrivateUsers="].badness == 1
    assert _rows(report)["PrivateNetwork="].badness == 0
    assert "netns-shared" not in report.ids
    assert "scored as shared" in _by_id(report)["userns-shared"].detail


@pytest.mark.parametrize(
    ("soft", "hard", "badness", "fid"),
    [
        (None, None, 2, "core-unlimited"),
        (0, None, 1, "core-raisable"),
        (0, 0, 0, None),
        (4096, 4096, 0, None),
    ],
)
def test_core_limit(soft: int | None, hard: int | None, badness: int, fid: str | None) -> None:
    report = _report(_facts(core_soft=soft, core_hard=hard))
    assert _rows(report)["hardenkit:LimitCORE="].badness == badness
    assert {"core-unlimited", "core-raisable"} & report.ids == ({fid} if fid else set())


def test_files_sockets_and_environment() -> None:
    report = _report(
        _facts(
            cwd="/tmp/x",
            cwd_mode=stat.S_IFDIR | 0o777,
            exe_mode=stat.S_IFREG | 0o757,
            listening=("tcp 0.0.0.0:8080",),
            env_dangerous=("LD_PRELOAD",),
            env_secret=("API_TOKEN",),
        )
    )
    found = _by_id(report)
    assert found["cwd-world-writable"].severity == "high"
    assert found["exe-world-writable"].severity == "critical"
    assert "0.0.0.0:8080" in found["listening-all-interfaces"].detail
    assert "LD_PRELOAD" in found["env-dangerous"].detail
    assert "API_TOKEN" in found["env-secret"].detail
    sticky = _report(_facts(cwd_mode=stat.S_IFDIR | 0o1777, exe_dir_mode=stat.S_IFDIR | 0o777))
    assert _by_id(sticky)["cwd-world-writable"].severity == "medium"
    assert "directory" in _by_id(sticky)["exe-world-writable"].detail
    unseen = _report(_facts(exe_dir_mode=None, exe_dir_checked=False))
    assert "exe-dir" in unseen.assumed
    assert _by_id(unseen)["exe-dir-unverified"].severity == "low"
    assert _rows(unseen)["hardenkit:ExecStart=world-writable"].badness == 1


def test_non_root_supplementary_groups() -> None:
    report = _report(_facts(_status(**{**CONFINED, "groups": (27, 65534, 100)})))
    assert _by_id(report)["supplementary-groups"].detail == "groups 27, 100"
    assert _rows(report)["SupplementaryGroups="].badness == 1
    own_only = _report(_facts(_status(**{**CONFINED, "groups": (65534,)})))
    assert "supplementary-groups" not in own_only.ids
    assert _rows(own_only)["SupplementaryGroups="].badness == 0
    root_group = _report(_facts(_status(**{**CONFINED, "groups": (0,)})))
    assert "supplementary" in _by_id(root_group)["gid-root"].detail


# --- the report -------------------------------------------------------------------------


def test_report_validation() -> None:
    good = _report(_facts())
    with pytest.raises(ValueError, match="does not match exposure"):
        replace(good, level="SAFE")
    with pytest.raises(ValueError, match="outside"):
        replace(good, exposure=11.0, level="DANGEROUS")
    with pytest.raises(ValueError, match="computed from"):
        replace(good, exposure=0.5, level="SAFE")
    with pytest.raises(ValueError, match="severity"):
        AuditFinding(id="x", severity="bad", title="t", detail="", remediation="")
    data = good.to_dict()
    del data["findings"]
    with pytest.raises(ValueError, match="missing fields: findings"):
        AuditReport.from_dict(data)


def test_json_round_trip_of_a_real_report() -> None:
    report = audit_process()
    text = json.dumps(report.to_dict())
    assert AuditReport.from_dict(json.loads(text)) == report


@settings(max_examples=40, deadline=None)
@given(
    _rows_strategy,
    st.lists(st.tuples(st.sampled_from(SEVERITIES), st.text(min_size=1), st.text()), max_size=5),
)
def test_json_round_trip_property(
    raw: list[tuple[int, int, int, bool]], findings: list[tuple[str, str, str]]
) -> None:
    rows = tuple(
        replace(a, badness=None if na and i else a.badness)
        for i, (a, (_, _, _, na)) in enumerate(zip(_build(raw), raw, strict=True))
    )
    exposure = exposure_of(rows)
    report = AuditReport(
        pid=7,
        name="x",
        findings=tuple(
            AuditFinding(id=f"f{i}", severity=s, title=t, detail=d, remediation="hardenkit.x()")
            for i, (s, t, d) in enumerate(findings)
        ),
        exposure=exposure,
        level=level_of(exposure),
        assessments=rows,
    )
    assert AuditReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


# --- audit_process / audit_paths errors ---------------------------------------------------


def _pid_max() -> int:
    return int(Path("/proc/sys/kernel/pid_max").read_text())


def test_missing_pid_is_a_clear_error_not_a_report() -> None:
    with pytest.raises(HardenkitError, match="no such process") as info:
        audit_process(_pid_max() + 1)
    assert not isinstance(info.value, PrivilegeError)


@pytest.mark.parametrize("pid", [0, -1, True, "1"])
def test_bad_pid_argument(pid: Any) -> None:
    with pytest.raises(ValueError, match="positive int"):
        audit_process(pid)


def test_audit_paths(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("x")
    secret.chmod(0o644)
    (finding,) = audit_paths([secret, tmp_path / "missing"])[:1]
    assert finding.id == "path-insecure"
    assert str(secret) in finding.title
    assert "0644" in finding.detail
    assert len(audit_paths([secret, tmp_path / "missing"])) == 2
    secret.chmod(0o600)
    assert audit_paths([secret]) == ()
    assert audit_paths([secret], max_mode=0o400) != ()


def test_audit_process_folds_in_paths(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("x")
    secret.chmod(0o666)
    report = audit_process(paths=[secret])
    assert "path-insecure" in report.ids
    assert _rows(report)["hardenkit:Paths=insecure"].badness == 1
    assert "hardenkit:Paths=insecure" not in _rows(audit_process())


# --- the command line --------------------------------------------------------------------


def test_clean_escapes_terminal_control() -> None:
    assert clean("a\x1b[31mb\x07") == "a\\x1b[31mb\\x07"
    assert clean("plain text") == "plain text"


def test_render_groups_by_severity_and_colours_only_when_asked() -> None:
    report = _report(
        _facts(env_secret=("EVIL\x1b]0;owned\x07TOKEN",), env_dangerous=("LD_PRELOAD",))
    )
    plain, coloured = io.StringIO(), io.StringIO()
    render(report, plain, colour=False, fail_above=5.0)
    render(report, coloured, colour=True)
    text = plain.getvalue()
    assert "\x1b" not in text
    assert "\\x1b]0;owned" in text
    assert f"Exposure {report.exposure:.1f} {report.level}" in text
    order = [text.index(s.upper() + "\n") for s in ("critical", "high", "medium", "low")]
    assert order == sorted(order)
    assert "is above --fail-above 5.0" in text
    assert "\x1b[" in coloured.getvalue()
    assert "\x1b]0;owned" not in coloured.getvalue()


@pytest.mark.root
def test_cli_fail_above_sets_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--fail-above", "0"]) == 1  # a root process is never at 0.0
    assert main(["audit", "--fail-above", "10"]) == 0
    assert main(["audit"]) == 1  # without a threshold: any finding worse than info
    capsys.readouterr()


def test_cli_json_round_trips(capsys: pytest.CaptureFixture[str]) -> None:
    main(["audit", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["pid"] == os.getpid()
    assert AuditReport.from_dict(data).to_dict() == data


@pytest.mark.parametrize(
    "argv",
    [
        ["--pid", "0"],
        ["--pid", "x"],
        ["--fail-above", "11"],
        ["--fail-above", "nan"],
        ["--fail-above", "abc"],
        ["--max-mode", "9"],
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", *argv]) == 2
    assert "error" in capsys.readouterr().err


def test_cli_missing_pid_exits_3_could_not_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--pid", str(_pid_max() + 1)]) == 3
    captured = capsys.readouterr()
    assert "no such process" in captured.err
    assert captured.out == ""


def test_from_dict_refuses_malformed_input() -> None:
    good = _report(_facts()).to_dict()
    with pytest.raises(TypeError, match="JSON object"):
        AuditReport.from_dict({**good, "findings": ["not a finding"]})
    with pytest.raises(ValueError, match="severity"):
        AuditReport.from_dict(
            {**good, "findings": [{**good["findings"][0], "severity": "catastrophic"}]}
        )
    with pytest.raises(ValueError, match="badness"):
        AuditReport.from_dict({**good, "assessments": [{**good["assessments"][0], "badness": 99}]})


@pytest.mark.root
def test_kernel_thread_has_nothing_to_audit() -> None:
    with pytest.raises(HardenkitError, match="kernel thread"):
        audit_process(2)  # kthreadd


@pytest.mark.seccomp
def test_docker_profile_is_judged_from_its_program() -> None:
    from hardenkit.sandbox import SeccompPolicy  # noqa: PLC0415

    rows = _filter.judge((SeccompPolicy.docker_default(capabilities=()).to_bpf(),)).rows
    assert rows["SystemCallFilter=~@mount"][0] == 0  # mount needs CAP_SYS_ADMIN there
    assert rows["SystemCallFilter=~@privileged"][0] == 9  # allow list, chown etc. allowed
    assert rows["SystemCallArchitectures="][0] == 10  # x86_64, x32 and i386 all usable
    assert rows["RestrictNamespaces=~user"][0] == 0  # unshare/setns gated, clone flags masked
    assert rows["LockPersonality="][0] == 1  # personality(PER_LINUX32) is allowed


@pytest.mark.seccomp
def test_stacked_filters_refuse_what_any_of_them_refuses() -> None:
    from hardenkit.sandbox import SeccompPolicy  # noqa: PLC0415

    lax = SeccompPolicy(default="allow", block_namespaces=False).to_bpf()
    mount = SeccompPolicy(default="allow", deny=["@mount"], block_namespaces=False).to_bpf()
    alone = _filter.judge((lax,)).rows
    both = _filter.judge((mount, lax)).rows
    assert alone["SystemCallFilter=~@mount"][0] == 10
    assert both["SystemCallFilter=~@mount"][0] == 0
    assert alone["RestrictNamespaces=~user"][0] == both["RestrictNamespaces=~user"][0] == 1


def test_the_audits_capability_names_are_hardenkit_capabilities() -> None:
    from hardenkit.audit._checks import cap_table  # noqa: PLC0415

    assert cap_table() == tuple(c.short_name for c in Capability)


def test_a_single_pid_audit_does_not_load_the_sweep_or_capabilities(tmp_path: Path) -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "import sys, hardenkit.audit as a; a.audit_process(); "
        "print(' '.join(m for m in ('hardenkit.capabilities', 'hardenkit.audit._sweep', "
        "'hardenkit._linux.bpf') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.split() == []
    from hardenkit.audit import AuditSweep, audit_all  # noqa: PLC0415 -- loaded on demand

    assert isinstance(audit_all(), AuditSweep)


def test_environment_verdicts_are_shared_per_run_under_a_keyed_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hardenkit.audit import _collect  # noqa: PLC0415

    secret = "tok-" + "Zq9" * 12
    monkeypatch.setenv("SERVICE_API_TOKEN", secret)
    ctx = _collect.Context()
    first = _collect.collect(os.getpid(), context=ctx)
    judged = dict(ctx.env_verdicts)
    second = _collect.collect(os.getpid(), context=ctx)
    assert "SERVICE_API_TOKEN" in first.env_secret == second.env_secret
    assert ctx.env_verdicts == judged  # nothing judged twice
    assert all(isinstance(k, bytes) and len(k) == 16 for k in judged)
    assert secret.encode() not in b"".join(judged)
    other = _collect.Context()
    _collect.collect(os.getpid(), context=other)
    assert set(other.env_verdicts).isdisjoint(judged)  # a fresh random key per run


def test_an_environment_entry_without_equals_is_judged_never_shown() -> None:
    # Found by review: "DB_PASSWORD hunter2..." (no '=') became a *name*, printed as is;
    # and a bare AWS key was judged as an empty value.
    from hardenkit.audit._environ import _entries  # noqa: PLC0415

    block = (
        b"PATH=/usr/bin\0DB_PASSWORD hunter2SuperSecretPW\0AKIAIOSFODNN7EXAMPLE\0PATH=/x\0"
        b"c2VjcmV0dG9rZW4==\0BASH_FUNC_f%%=() { :; }\0EMPTY=\0"
    )
    entries, hidden = _entries(block)
    assert hidden == {k for k in entries if k.startswith("(entry ")}
    assert entries["PATH"] == "/usr/bin"  # the first of a name counts
    assert entries["BASH_FUNC_f%%"] == "() { :; }"  # an odd but real name stays a name
    assert entries["EMPTY"] == ""
    assert not any(bad in name for name in entries for bad in ("hunter2", "AKIA", "c2Vj"))
    assert sorted(entries[k] for k in hidden) == sorted(
        ["AKIAIOSFODNN7EXAMPLE", "DB_PASSWORD hunter2SuperSecretPW", "c2VjcmV0dG9rZW4=="]
    )


@pytest.mark.linux
def test_the_audit_of_a_hand_made_environment_shows_no_value() -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import time  # noqa: PLC0415

    code = (
        "import ctypes; libc = ctypes.CDLL(None)\n"
        "arr = lambda l: (ctypes.c_char_p * (len(l) + 1))(*l, None)\n"
        "libc.execve(b'/bin/sleep', arr([b'sleep', b'30']), arr([b'PATH=/usr/bin', "
        "b'DB_PASSWORD hunter2SuperSecretPW', b'AKIAIOSFODNN7EXAMPLE', "
        "b'TOKEN dGhpcyBpcyBhIHNlY3JldA==']))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(500):
            with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
                if f.read().startswith(b"sleep"):
                    break
            time.sleep(0.01)
        from hardenkit.audit import _collect  # noqa: PLC0415

        facts = _collect.collect(proc.pid, context=_collect.Context())
        assert sorted(facts.env_secret) == [
            "(entry 1: not a NAME=value)",
            "(entry 2: not a NAME=value)",
            "(entry 3: not a NAME=value)",
        ]
        text = json.dumps(audit_process(proc.pid).to_dict())
        assert "hunter2" not in text
        assert "AKIA" not in text
        assert "dGhp" not in text  # base64 cut at its padding: no name either
    finally:
        proc.kill()
        proc.wait()


def _fake_stat(pid: int, env_end: int) -> str:
    rest = ["S"] + ["0"] * 49  # fields 3..52 of /proc/<pid>/stat
    rest[48] = str(env_end)  # field 51
    return f"{pid} (svc) " + " ".join(rest) + "\n"


def test_an_environment_read_mid_exec_waits_for_the_new_one(tmp_path: Path) -> None:
    import threading  # noqa: PLC0415
    import time  # noqa: PLC0415

    from hardenkit.audit import _collect, _environ  # noqa: PLC0415

    pid = 4242
    proc = tmp_path / str(pid)
    proc.mkdir()
    (proc / "environ").write_bytes(b"")
    (proc / "stat").write_text(_fake_stat(pid, 0))  # the exec has not set env_end yet

    def finish_exec() -> None:
        time.sleep(0.02)
        (proc / "environ").write_bytes(b"LD_PRELOAD=/x.so\0PATH=/bin\0")
        (proc / "stat").write_text(_fake_stat(pid, 140000))

    done = threading.Thread(target=finish_exec)
    done.start()
    reader = _collect._Reader(pid, str(tmp_path))
    try:
        names, dangerous, _secret = _environ._environment(reader, {}, b"k" * 32)
    finally:
        reader.close()
        done.join()
    assert names == ("LD_PRELOAD", "PATH")
    assert dangerous == ("LD_PRELOAD",)
    # A process that really has an empty environment is reported as such, at once.
    (proc / "environ").write_bytes(b"")
    reader = _collect._Reader(pid, str(tmp_path))
    try:
        assert _environ._environment(reader, {}, b"k" * 32) == ((), (), ())
    finally:
        reader.close()
