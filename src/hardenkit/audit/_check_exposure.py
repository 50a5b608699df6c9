"""Checks of what the process exposes: environment, open files, sockets, threads."""

from __future__ import annotations

from hardenkit.audit import _weights as w
from hardenkit.audit._collect import sticky, world_writable

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit.audit._collect import ProcessFacts
    from hardenkit.audit._outcome import Outcome

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
