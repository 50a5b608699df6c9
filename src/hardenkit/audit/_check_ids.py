"""Checks of who the process is: ids, capabilities, no_new_privs, running as root."""

from __future__ import annotations

import functools

from hardenkit._linux.capnames import SHORT_NAMES
from hardenkit._linux.procfs import cap_last_cap
from hardenkit.audit import _weights as w
from hardenkit.audit._outcome import _CONFINE, _ID_ROLES, NOBODY, Outcome, _which_threads

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit._linux.procfs import ProcStatus
    from hardenkit.audit._collect import ProcessFacts

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
