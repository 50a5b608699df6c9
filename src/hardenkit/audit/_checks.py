"""Turn :class:`ProcessFacts` into findings and scored assessments (no I/O here).

Every check looks at every thread and keeps the worst: capabilities, no_new_privs and
seccomp are per-thread, and one unconfined thread is an unconfined process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from hardenkit._linux.capnames import SHORT_NAMES
from hardenkit._linux.procfs import cap_last_cap
from hardenkit.audit import _filter, _weights as w
from hardenkit.audit._collect import sticky, world_writable
from hardenkit.audit._model import Assessment, AuditFinding

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit._linux.procfs import ProcStatus
    from hardenkit.audit._collect import ProcessFacts

NOBODY = 65534
_ID_ROLES = ("real", "effective", "saved", "filesystem")
_CONFINE = 'hardenkit.confine(user="app", ...)'
_SECCOMP = (
    'hardenkit.confine(seccomp=hardenkit.SeccompPolicy(default="kill", allow=("@system-service",)))'
)


@dataclass
class Outcome:
    """What the checks produced: findings, the scored rows, and the checks scored worst-case."""

    findings: list[AuditFinding] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)
    assumed: list[str] = field(default_factory=list)

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


def assess(facts: ProcessFacts) -> Outcome:
    """Run every check over the facts.

    Examples:
        >>> from hardenkit.audit._collect import collect
        >>> import os
        >>> out = assess(collect(os.getpid()))
        >>> len(out.assessments) > 40
        True
    """
    out = Outcome()
    _identity(facts, out)
    _capabilities(facts, out)
    _no_new_privs(facts, out)
    _seccomp(facts, out)
    _namespaces(facts, out)
    _root(facts, out)
    _dumpable(facts, out)
    _core(facts, out)
    _umask(facts, out)
    _environment(facts, out)
    _files(facts, out)
    _listening(facts, out)
    _threads(facts, out)
    return out


#: Capability names by number, as ``Capability.short_name`` writes them (data only: the
#: audit does not import hardenkit.capabilities, which loads ctypes and libc).
_CAP_NAMES = SHORT_NAMES


@functools.cache
def cap_table() -> tuple[str, ...]:
    """Every capability the running kernel knows, by number (``CAP_<n>`` past the names)."""
    last = cap_last_cap()
    return tuple(_CAP_NAMES[n] if n < len(_CAP_NAMES) else str(n) for n in range(last + 1))


def _every_cap() -> frozenset[str]:
    return frozenset(cap_table())


def _all_mask() -> int:
    return (1 << len(cap_table())) - 1


@functools.lru_cache(maxsize=256)
def _names(caps: frozenset[str]) -> str:
    """List capabilities; a nearly full set is written as what it lacks."""
    every = _every_cap()
    if not caps:
        return "none"
    if caps >= every:
        return "ALL"
    missing = every - caps
    if len(missing) <= 4 and len(caps) > 8:  # noqa: PLR2004 -- short enough to read
        return f"ALL except {', '.join(sorted(missing))}"
    return ", ".join(sorted(caps))


@functools.lru_cache(maxsize=256)
def _cap_names(mask: int) -> frozenset[str]:
    table = cap_table()
    return frozenset(name for n, name in enumerate(table) if mask >> n & 1) | frozenset(
        str(n) for n in range(len(table), 64) if mask >> n & 1
    )


def _union(statuses: tuple[ProcStatus, ...], attr: str) -> frozenset[str]:
    mask = 0
    for st in statuses:
        mask |= getattr(st, attr)
    return _cap_names(mask)


def _roles(statuses: tuple[ProcStatus, ...], attr: str) -> list[str]:
    """Which of real/effective/saved/filesystem are 0 in any thread, in that order."""
    zero = {i for st in statuses for i, v in enumerate(getattr(st, attr)) if v == 0}
    return [role for i, role in enumerate(_ID_ROLES) if i in zero]


def _identity(facts: ProcessFacts, out: Outcome) -> None:
    sts = facts.statuses
    root_roles = _roles(sts, "uids")
    if root_roles:
        out.score(w.USER, 10, f"uid 0 as the {', '.join(root_roles)} uid")
        out.find(
            "uid-root",
            "critical",
            "runs as root",
            f"uid 0 as the {', '.join(root_roles)} uid: every file and process of root is "
            "within reach",
            f'{_CONFINE} or hardenkit.drop_privileges("app") with a dedicated user',
        )
    elif any(u == NOBODY for st in sts for u in st.uids[:3]):
        out.score(w.USER, 9, "runs as nobody (uid 65534)")
        out.find(
            "uid-nobody",
            "medium",
            "runs as nobody",
            "uid 65534 (nobody) is shared with unrelated processes and with files of unmapped "
            "owners; systemd scores it 9 of 10",
            f"{_CONFINE} with a user of its own",
        )
    else:
        out.score(w.USER, 0, f"uid {sts[0].uids[1]}, neither root nor nobody")
    gid_roles = _roles(sts, "gids")
    if any(0 in st.groups for st in sts):
        gid_roles.append("supplementary")
    out.score(w.GID_ROOT, 1 if gid_roles else 0, f"gids {sts[0].gids}, groups {sts[0].groups}")
    if gid_roles:
        out.find(
            "gid-root",
            "high",
            "runs with group root",
            f"gid 0 as the {', '.join(gid_roles)} group: files of group root are within reach",
            f"{_CONFINE} (sets group and supplementary groups)",
        )
    # initgroups() lists the primary group too; only the others are extra reach.
    own = {g for st in sts for g in st.gids}
    groups = sorted({g for st in sts for g in st.groups} - {0} - own)
    if root_roles:
        out.score(w.SUPPLEMENTARY_GROUPS, None, "runs as root: does not apply")  # as systemd
    else:
        out.score(
            w.SUPPLEMENTARY_GROUPS,
            1 if groups or gid_roles else 0,
            f"supplementary groups {groups or 'none'} beyond its own",
        )
        if groups:
            out.find(
                "supplementary-groups",
                "low",
                "has supplementary groups",
                f"groups {', '.join(map(str, groups))}",
                'hardenkit.confine(user="app", groups=())',
            )


#: Severity of held capabilities, from the heaviest systemd row they touch.
_CAP_SEVERITY = ((1500, "critical"), (1000, "high"), (500, "medium"))


def _severity_by_weight(weight: int) -> str:
    return next((sev for floor, sev in _CAP_SEVERITY if weight >= floor), "low")


def _capabilities(facts: ProcessFacts, out: Outcome) -> None:
    all_mask = _all_mask()
    sts = facts.statuses
    effective = _union(sts, "cap_effective")
    permitted = _union(sts, "cap_permitted")
    ambient = _union(sts, "cap_ambient")
    bounding = _union(sts, "cap_bounding")
    reach = effective | permitted | ambient | bounding
    worst = 0
    held = effective | permitted
    for assessor, members in w.CAPABILITY_ASSESSORS:
        out.score(
            assessor,
            1 if members & reach else 0,
            f"in its capability sets: {_names(members & reach)}",
        )
        if members & held:
            worst = max(worst, assessor.weight)
    other = reach - w.SYSTEMD_COVERED_CAPS
    out.score(w.OTHER_CAPABILITIES, 1 if other else 0, f"other capabilities: {_names(other)}")
    if other & held:
        worst = max(worst, w.OTHER_CAPABILITIES.weight)
    if held:
        out.find(
            "capabilities-held",
            _severity_by_weight(worst),
            f"holds {len(held)} capabilities",
            f"effective and permitted: {_names(effective)}"
            if effective == permitted
            else f"effective: {_names(effective)}; permitted: {_names(permitted)}",
            'hardenkit.drop_capabilities(keep=...) or hardenkit.confine(user="app", keep={...})',
        )
    _root_equivalent(facts, held, out)
    out.score(w.AMBIENT, 1 if ambient else 0, f"ambient: {_names(ambient)}")
    if ambient:
        out.find(
            "ambient-capabilities",
            "high",
            "has ambient capabilities",
            f"ambient: {_names(ambient)} (kept across execve by every program it runs)",
            "hardenkit.drop_capabilities(keep=..., ambient=True)",
        )
    if bounding:
        full = any(st.cap_bounding & all_mask == all_mask for st in sts)
        no_nnp = any(not st.no_new_privs for st in sts)
        title = (
            "full capability bounding set"
            if full
            else f"capability bounding set holds {len(bounding)} capabilities"
        )
        how = (
            "a setuid-root or file-capability program it runs can grant them (no_new_privs is off)"
            if no_nnp
            else "no_new_privs stops setuid and file capabilities from granting them"
        )
        out.find(
            "bounding-set",
            "high" if no_nnp else "low",
            title,
            f"bounding: {_names(bounding)}; {how}",
            "hardenkit.drop_capabilities(keep=..., bounding=True) (confine() does it)",
        )


def _root_equivalent(facts: ProcessFacts, held: frozenset[str], out: Outcome) -> None:
    """A non-root process holding a capability that amounts to root is root in all but name."""
    if not held or any(u == 0 for st in facts.statuses for u in st.uids):
        return  # root is reported as root (uid-root)
    # Imported only here: most audited processes hold nothing, and a one-pid audit stays light.
    from hardenkit.capabilities import ROOT_EQUIVALENT_WHY  # noqa: PLC0415 -- import time: capabilities loads ctypes

    risky = sorted(held & frozenset(ROOT_EQUIVALENT_WHY))
    if not risky:
        return
    out.find(
        "root-equivalent-capabilities",
        "critical",
        "holds capabilities that amount to root",
        "; ".join(f"{name}: {ROOT_EQUIVALENT_WHY[name]}" for name in risky),
        "drop them (keep= without them); keeping one needs allow_root_equivalent=True",
    )


def _no_new_privs(facts: ProcessFacts, out: Outcome) -> None:
    off = [st.pid for st in facts.statuses if not st.no_new_privs]
    out.score(
        w.NO_NEW_PRIVILEGES,
        1 if off else 0,
        f"NoNewPrivs: 0 in threads {off}" if off else "NoNewPrivs: 1 in every thread",
    )
    if off:
        out.find(
            "no-new-privs",
            "high",
            "no_new_privs is off",
            "NoNewPrivs: 0: executing a setuid or file-capability program grants privileges"
            + _which_threads(facts, off),
            "hardenkit.set_no_new_privs() (confine() sets it by default)",
        )


def _seccomp(facts: ProcessFacts, out: Outcome) -> None:
    modes = {st.pid: st.seccomp for st in facts.statuses}
    mode = min(modes.values())
    unfiltered = [tid for tid, m in modes.items() if m == 0]
    judged = facts.filters if mode == 2 else _filter.unfiltered(mode)  # noqa: PLR2004
    if mode == 0:
        out.find(
            "seccomp",
            "high",
            "no seccomp filter",
            "Seccomp: 0: every system call is allowed" + _which_threads(facts, unfiltered),
            _SECCOMP,
        )
    elif judged.unknown:
        out.assumed.append("seccomp-unreadable")
        out.find(
            "seccomp-unreadable",
            "medium",
            "seccomp filter could not be read",
            f"{judged.summary}; every row it decides is scored as if there were no filter",
            "audit as root with CAP_SYS_ADMIN, from a process not itself under seccomp",
        )
    else:
        open_rows = [name for name, (badness, _text) in judged.rows.items() if badness]
        out.find(
            "seccomp-filter",
            "info",
            "seccomp filter read and judged",
            judged.summary
            + (f"; it does not restrict: {', '.join(open_rows)}" if open_rows else ""),
            "none needed"
            if not open_rows
            else "narrow the hardenkit.SeccompPolicy (deny=..., rules= with argument conditions)",
        )
    for assessor in (
        *w.SYSTEM_CALL_FILTERS,
        w.SYSTEM_CALL_ARCHITECTURES,
        *w.RESTRICT_NAMESPACES.values(),
        *w.FILTER_PROBES,
    ):
        badness, evidence = judged.rows[assessor.name]
        out.score(assessor, badness, evidence)


_NS = {
    "user": (w.PRIVATE_USERS, "low", "user namespace", "other users' processes and files"),
    "net": (w.PRIVATE_NETWORK, "medium", "network namespace", "the host's network"),
    "pid": (w.PRIVATE_PIDS, "low", "PID namespace", "every process on the host"),
}


def _namespaces(facts: ProcessFacts, out: Outcome) -> None:
    for kind, (assessor, severity, what, reach) in _NS.items():
        shared = facts.ns_shared.get(kind)
        out.score(
            assessor,
            0 if shared is False else 1,
            f"own {kind} namespace"
            if shared is False
            else f"{kind} namespace of {facts.ns_reference} or unknown",
        )
        if shared is False:
            continue
        check = f"{kind}ns-shared"
        if shared is None:
            out.assumed.append(check)
            detail = (
                f"neither /proc/1/ns/{kind} nor kthreadd's could be read, so it is scored as "
                f"shared with pid 1: it would see {reach}"
            )
        else:
            detail = f"same {what} as {facts.ns_reference}: it sees {reach}"
        out.find(
            check,
            severity,
            f"shares the host's {what}",
            detail,
            "start it in its own namespaces (bubblewrap, nsjail, or a systemd unit with "
            "Private*=yes); hardenkit does not create namespaces",
        )


def _root(facts: ProcessFacts, out: Outcome) -> None:
    if facts.root_shared is False:
        out.score(w.ROOT_DIRECTORY, 0, "its root directory is not pid 1's")
        return
    if facts.root_shared is None:
        out.assumed.append("root-directory")
        out.score(w.ROOT_DIRECTORY, 1, "pid 1's root cannot be read: scored as the host's")
        out.find(
            "root-directory",
            "low",
            "root directory could not be compared with the host's",
            "neither pid 1's nor kthreadd's root can be read, so it is scored as the host's",
            "run hardenkit.audit_process() as root",
        )
    else:
        out.score(w.ROOT_DIRECTORY, 1, "its root directory is pid 1's (the host's)")


def _dumpable(facts: ProcessFacts, out: Outcome) -> None:
    out.score(w.DUMPABLE, 0 if facts.dumpable is False else 1, f"dumpable: {facts.dumpable}")
    if facts.dumpable is False:
        return
    if facts.dumpable is None:
        out.assumed.append("dumpable")
        detail = (
            "cannot be told for another root process (its /proc files are root's either "
            "way), so it is scored as dumpable"
        )
    else:
        detail = "processes of the same uid can ptrace it and read its memory; it can dump core"
    out.find(
        "dumpable",
        "medium",
        "process is dumpable",
        detail,
        f"{_CONFINE} (the kernel clears it on the uid change) or prctl(PR_SET_DUMPABLE, 0)",
    )


def _core(facts: ProcessFacts, out: Outcome) -> None:
    hard = "unlimited" if facts.core_hard is None else str(facts.core_hard)
    fix = "hardenkit.apply_limits(hardenkit.ResourceLimits(core_bytes=0))"
    if facts.core_soft is None:
        out.score(w.CORE_LIMIT, 2, f"RLIMIT_CORE soft unlimited, hard {hard}")
        out.find(
            "core-unlimited",
            "medium",
            "core dumps are unlimited",
            f"RLIMIT_CORE soft unlimited, hard {hard}: a crash writes its memory, secrets "
            "included, to disk",
            fix,
        )
    elif facts.core_hard is None:
        out.score(w.CORE_LIMIT, 1, f"RLIMIT_CORE soft {facts.core_soft}, hard unlimited")
        out.find(
            "core-raisable",
            "low",
            "core limit can be raised to unlimited",
            f"RLIMIT_CORE soft {facts.core_soft}, hard unlimited: the process can lift the "
            "soft limit itself, no privilege needed",
            fix,
        )
    else:
        out.score(w.CORE_LIMIT, 0, f"RLIMIT_CORE soft {facts.core_soft}, hard {hard}")


def _umask(facts: ProcessFacts, out: Outcome) -> None:
    masks = [st.umask for st in facts.statuses]
    shown = all(m is not None for m in masks)
    umask = 0o777
    for m in masks:
        umask &= m or 0  # the most permissive thread wins; unknown counts as 0000
    if not shown:
        out.assumed.append("umask")
    # systemd v257 assess_umask, most permissive bit first.
    for bit, badness, severity, what in (
        (0o002, 10, "high", "world-writable"),
        (0o004, 5, "low", "world-readable"),
        (0o020, 2, "low", "group-writable"),
        (0o040, 1, "info", "group-readable"),
    ):
        if not umask & bit:
            out.score(w.UMASK, badness, f"umask {umask:04o}" if shown else "umask unknown")
            out.find(
                "umask",
                severity,
                f"files it creates are {what} by default",
                f"umask {umask:04o}" if shown else "umask not shown by this kernel: scored as 0000",
                'hardenkit.drop_privileges("app", umask=0o077) or os.umask(0o077)',
            )
            return
    out.score(w.UMASK, 0, f"umask {umask:04o}")


#: The two environment checks: (assessor, finding id, severity, kind, title, why, fix).
_ENV_CHECKS = (
    (
        w.ENV_DANGEROUS,
        "env-dangerous",
        "high",
        "dangerous",
        "dangerous environment variables",
        "they change how programs load code or parse input",
        "hardenkit.sanitize_env() for every child; remove them before start-up",
    ),
    (
        w.ENV_SECRET,
        "env-secret",
        "medium",
        "secret-looking",
        "secrets in the environment",
        "/proc/<pid>/environ and every child see them",
        (
            "hardenkit.load_env() from an encrypted .env, values wrapped in hardenkit.Secret, "
            "children given hardenkit.scrub_env()"
        ),
    ),
)


def _environment(facts: ProcessFacts, out: Outcome) -> None:
    from hardenkit.redaction import redact  # noqa: PLC0415 -- a name could itself be a secret

    found = (facts.env_dangerous, facts.env_secret)
    for names, (assessor, id_, severity, kind, title, why, fix) in zip(
        found, _ENV_CHECKS, strict=True
    ):
        out.score(
            assessor, 1 if names else 0, f"{len(names)} {kind} of {len(facts.env_names)} variables"
        )
        if names:
            detail = f"names (values not shown): {redact(', '.join(names))}; {why}"
            out.find(id_, severity, title, detail, fix)


def _files(facts: ProcessFacts, out: Outcome) -> None:
    cwd_bad = world_writable(facts.cwd_mode)
    out.score(w.CWD_WRITABLE, 1 if cwd_bad else 0, f"cwd mode {facts.cwd_mode & 0o7777:04o}")
    if cwd_bad:
        note = (
            "sticky, but others can still add files" if sticky(facts.cwd_mode) else "no sticky bit"
        )
        out.find(
            "cwd-world-writable",
            "medium" if sticky(facts.cwd_mode) else "high",
            "working directory is world-writable",
            f"{facts.cwd} ({note}): relative paths can resolve to files others planted",
            'os.chdir("/") or into hardenkit.make_private_dir(...) at start-up',
        )
    problems = []
    if world_writable(facts.exe_mode):
        problems.append(f"{facts.exe} is writable by everyone")
    if (
        facts.exe_dir_mode is not None
        and world_writable(facts.exe_dir_mode)
        and not sticky(facts.exe_dir_mode)
    ):
        problems.append("its directory lets everyone replace it")
    out.score(
        w.EXE_WRITABLE,
        1 if problems or not facts.exe_dir_checked else 0,
        "; ".join(problems) or f"executable mode {facts.exe_mode & 0o7777:04o}",
    )
    if not facts.exe_dir_checked and not problems:
        out.assumed.append("exe-dir")
        out.find(
            "exe-dir-unverified",
            "low",
            "executable's directory could not be checked",
            f"the directory of {facts.exe} is not searchable by this auditor, so it is "
            "scored as if others could replace the executable",
            "audit as root, or as the user that installed the program",
        )
    if problems:
        out.find(
            "exe-world-writable",
            "critical",
            "executable can be replaced by anyone",
            "; ".join(problems),
            "chmod o-w the file and its directory; hardenkit.audit_tree() finds others",
        )


def _listening(facts: ProcessFacts, out: Outcome) -> None:
    out.score(
        w.LISTEN_ALL,
        1 if facts.listening else 0,
        ", ".join(facts.listening) or "no socket listens on every interface",
    )
    if facts.listening:
        out.find(
            "listening-all-interfaces",
            "medium",
            "listens on every interface",
            ", ".join(facts.listening),
            "bind to 127.0.0.1 or the one address that needs it",
        )


def _threads(facts: ProcessFacts, out: Outcome) -> None:
    main = facts.main
    odd = [
        st.pid
        for st in facts.statuses[1:]
        if (st.uids, st.gids, st.cap_effective, st.cap_permitted, st.cap_bounding)
        != (main.uids, main.gids, main.cap_effective, main.cap_permitted, main.cap_bounding)
        or (st.no_new_privs, st.seccomp) != (main.no_new_privs, main.seccomp)
    ]
    if odd:
        out.find(
            "threads-differ",
            "high",
            "threads are not equally confined",
            f"threads {', '.join(map(str, odd))} differ from the main thread in ids, "
            "capabilities, no_new_privs or seccomp; each check above took the worst thread",
            "confine before starting threads: hardenkit.confine() refuses or covers every "
            "thread (seccomp TSYNC)",
        )


def _which_threads(facts: ProcessFacts, tids: list[int]) -> str:
    if len(tids) == len(facts.statuses):
        return ""
    return f" (threads {', '.join(map(str, tids))})"
