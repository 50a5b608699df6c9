"""Checks of how the process is confined: seccomp, namespaces, dumpable, core, umask."""

from __future__ import annotations

from hardenkit.audit import _filter, _weights as w
from hardenkit.audit._outcome import _CONFINE, _SECCOMP, Outcome, _which_threads

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit.audit._collect import ProcessFacts


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
