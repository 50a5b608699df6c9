"""A policy resolved into per-syscall decisions: groups expanded, numbers looked up.

:func:`resolve_policy` merges a policy's lists and rules into one decision per syscall
name (a plain action, or argument-conditional rules compared on the bits the kernel reads,
see :mod:`.argwidth`), with the native numbers libseccomp knows; names it does not know
are listed as skipped. The compiler (:mod:`.compiler`) works from this, never from the
policy's fields.
"""

from __future__ import annotations

import itertools

from hardenkit._linux import require_linux
from hardenkit._memo import cache, lru_cache
from hardenkit.errors import PolicyError
from hardenkit.sandbox.seccomp import argwidth
from hardenkit.sandbox.seccomp.groups import expand
from hardenkit.sandbox.seccomp.rules import Record, ret

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from hardenkit.sandbox.seccomp.policy import SeccompPolicy
    from hardenkit.sandbox.seccomp.rules import ArgCondition

    #: One rule for a low-word compare: conditions (index, op, a, b, bits), all to hold.
    LowRule = tuple[tuple[int, int, int, int, int], ...]

__all__ = ["Resolved", "resolve_policy"]


class Resolved(Record):
    """A policy's decisions per syscall (see :func:`resolve_policy`)."""

    __slots__ = ("conditional", "conditional16", "low_word", "low_word16", "plain", "skipped")
    #: (name, native number, action, errno) of each syscall decided without arguments.
    plain: tuple[tuple[str, int, str, int], ...]
    #: (name, native number, return value, libseccomp conditions): the conditional rules,
    #: narrow arguments rewritten into masked equalities libseccomp compiles (any matching).
    conditional: tuple[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]], ...]
    #: The same rules as (name, return value, ((index, op, a, b, bits), ...)) for each
    #: conditional syscall whose rules share one action and compare only arguments the
    #: kernel reads narrower than 64 bits: what :func:`.fragments.build_low_word` compiles.
    low_word: tuple[tuple[str, int, tuple[LowRule, ...]], ...]
    skipped: tuple[str, ...]
    #: ``conditional`` and ``low_word`` of the :data:`.argwidth.UID16` names as the ABIs
    #: of :data:`.argwidth.UID16_ARCHES` need them (16-bit ids): they replace every
    #: entry of those names there.
    conditional16: tuple[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]], ...]
    low_word16: tuple[tuple[str, int, tuple[LowRule, ...]], ...]

    def __init__(
        self,
        *,
        plain: tuple[tuple[str, int, str, int], ...],
        conditional: tuple[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]], ...],
        low_word: tuple[tuple[str, int, tuple[LowRule, ...]], ...] = (),
        skipped: tuple[str, ...],
        conditional16: tuple[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]], ...] = (),
        low_word16: tuple[tuple[str, int, tuple[LowRule, ...]], ...] = (),
    ) -> None:
        init = object.__setattr__
        init(self, "plain", plain)
        init(self, "conditional", conditional)
        init(self, "low_word", low_word)
        init(self, "skipped", skipped)
        init(self, "conditional16", conditional16)
        init(self, "low_word16", low_word16)

    @property
    def uid16_names(self) -> frozenset[str]:
        """The conditional names whose entries differ on 16-bit-id ABIs."""
        return frozenset(n for n, *_ in self.conditional if n in argwidth.UID16)


IO_URING = frozenset({"io_uring_setup", "io_uring_enter", "io_uring_register"})
#: Actions that let a call run.
PERMITS = ("allow", "log")


def restricts(policy: SeccompPolicy) -> bool:
    """Whether the policy refuses anything (namespace blocking aside)."""
    return (
        policy.default not in PERMITS
        or bool(policy.deny)
        or any(rule.action not in PERMITS for rule in policy.rules)
    )


@cache
def _native_is_s390() -> bool:
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    return sc.native_arch() in (sc.ARCH_NAMES["SCMP_ARCH_S390"], sc.ARCH_NAMES["SCMP_ARCH_S390X"])


def _narrowed(
    name: str, conds: Sequence[ArgCondition], s390: bool, *, uid16: bool = False
) -> list[tuple[tuple[int, int, int, int], ...]]:
    """The raw condition tuples for ``name``, each comparing what the kernel reads.

    An argument the kernel reads as 32-bit (or 16-bit ``umode_t``) is compared on those
    bits only (see :mod:`.argwidth`); a range on one becomes several
    alternatives, so one rule may become several (any of them matching is the rule
    matching). An empty list: the conditions can never hold.
    """
    options: list[list[tuple[tuple[int, int, int, int], ...]]] = []
    for cond in conds:
        index, op, a, b = cond._raw()  # noqa: SLF001 -- same module family
        what = f"{name} argument {index}"
        bits = argwidth.width(name, index, s390=s390, uid16=uid16)
        try:
            argwidth.check_dual(name, index, op, a, b)
            if bits == 16 and index in argwidth.UID16.get(name, ()):  # noqa: PLR2004
                # old_uid_t: several 16-bit conditions for one (all to hold).
                parts = argwidth.uid16_conditions(op, a, b, what=what)
                if parts is None:
                    return []
                options.append(
                    [
                        tuple(alt)
                        for alt in itertools.product(
                            *(argwidth.narrow(index, *p, bits=16, what=what) for p in parts)
                        )
                    ]
                )
            else:
                options.append(
                    [(c,) for c in argwidth.narrow(index, op, a, b, bits=bits, what=what)]
                )
        except ValueError as err:
            raise PolicyError(str(err)) from None
    count = 1  # math.prod, without importing math for one product
    for option in options:
        count *= len(option)
    if count > argwidth.MAX_ALTERNATIVES:
        raise PolicyError(
            f"the conditions on {name} expand to more than {argwidth.MAX_ALTERNATIVES} "
            "rules once compared on the bits the kernel reads: split the rule"
        )
    return [tuple(itertools.chain(*alt)) for alt in itertools.product(*options)]


def _low_word(
    name: str, conds: Sequence[ArgCondition], s390: bool, *, uid16: bool = False
) -> LowRule | None:
    """``conds`` as (index, op, a, b, bits) on the bits the kernel reads.

    None when a condition compares a 64-bit argument or can never hold (a masked
    equality whose value has bits outside its mask): those stay with libseccomp.
    """
    out: list[tuple[int, int, int, int, int]] = []
    for cond in conds:
        index, op, a, b = cond._raw()  # noqa: SLF001 -- same module family
        bits = argwidth.width(name, index, s390=s390, uid16=uid16)
        if bits >= 64:  # noqa: PLR2004 -- the full register
            return None
        if uid16 and index in argwidth.UID16.get(name, ()):
            parts = argwidth.uid16_conditions(op, a, b, what=f"{name} argument {index}")
            if parts is None:
                return None
            out.extend((index, *p, 16) for p in parts)
            continue
        fitted = argwidth.fit_condition(op, a, b, bits=bits, what=f"{name} argument {index}")
        if fitted is None:
            return None
        out.append((index, op, *fitted, bits))
    return tuple(out)


@lru_cache(maxsize=128)
def resolve_policy(policy: SeccompPolicy) -> Resolved:  # noqa: C901, PLR0912, PLR0915 -- one merge
    """Expand groups, resolve numbers, merge lists and rules into per-syscall actions."""
    require_linux("seccomp")
    from hardenkit._linux.seccomp_compile import resolve_many  # noqa: PLC0415 -- ctypes on use

    skipped: set[str] = set()
    numbers: dict[str, int] = {}
    # Every name the policy may ask about, resolved in one loop (skipped lists only those
    # asked about, below).
    rule_names = [expand(rule.names) for rule in policy.rules]
    deny, allow = expand(policy.deny), expand(policy.allow)
    table = resolve_many([*(n for names in rule_names for n in names), *deny, *allow, *IO_URING])

    def known(name: str) -> bool:
        if name not in numbers:
            nr = table[name]
            if nr is None:
                skipped.add(name)
                return False
            numbers[name] = nr
        return True

    # Explicit rules first: they own the syscalls they name.
    s390 = _native_is_s390()
    ruled: dict[str, list[tuple[str, int, tuple[tuple[int, int, int, int], ...]]]] = {}
    # name -> {(action, errno, low-word conditions)}; None once a rule cannot be low-word.
    low: dict[str, set[tuple[str, int, LowRule]] | None] = {}
    # The same for the 16-bit id calls of UID16_ARCHES.
    ruled16: dict[str, list[tuple[str, int, tuple[tuple[int, int, int, int], ...]]]] = {}
    low16: dict[str, set[tuple[str, int, LowRule]] | None] = {}
    in_rules: set[str] = set()
    for rule, names in zip(policy.rules, rule_names, strict=True):
        err = policy.errno if rule.errno is None else rule.errno
        in_rules.update(rule.names)
        if not rule.args:  # most rules: one plain entry per known name
            entry = (rule.action, err, ())
            group_permit = rule.action in PERMITS
            for name in names:
                if name in IO_URING and group_permit and name not in rule.names:
                    continue  # io_uring is allowed only by name, never through a @group
                if name not in numbers:  # known(), inline: most names pass here once
                    nr = table[name]
                    if nr is None:
                        skipped.add(name)
                        continue
                    numbers[name] = nr
                if name in ruled:
                    ruled[name].append(entry)
                else:
                    ruled[name] = [entry]
            continue
        # Sorted: a name's conditions may raise (the first name in order is reported).
        for name in sorted(names):
            if name in IO_URING and name not in rule.names and rule.action in PERMITS:
                continue  # io_uring is allowed only by name, never through a @group
            if not known(name):
                continue
            entries = ruled.setdefault(name, [])
            entries.extend((rule.action, err, a) for a in _narrowed(name, rule.args, s390))
            _add_low(low, name, (rule.action, err), _low_word(name, rule.args, s390))
            if name in argwidth.UID16:
                ruled16.setdefault(name, []).extend(
                    (rule.action, err, a) for a in _narrowed(name, rule.args, s390, uid16=True)
                )
                conds16 = _low_word(name, rule.args, s390, uid16=True)
                _add_low(low16, name, (rule.action, err), conds16)
    plain: dict[str, tuple[str, int]] = {}
    for name in deny:  # any order: plain is sorted below
        if name not in ruled and known(name):
            plain[name] = ("errno", policy.errno)
    explicit = {n for n in policy.allow if not n.startswith("@")}
    for name in allow:
        if name in IO_URING and name not in explicit:
            continue  # io_uring would run operations the filter never sees (Docker agrees)
        if name not in ruled and name not in plain and known(name):
            plain[name] = ("allow", 0)
    if restricts(policy) and policy.default in PERMITS:
        # io_uring runs operations (IORING_OP_SOCKET, OPENAT, CONNECT...) that the filter
        # never sees: a policy that restricts anything refuses it unless it is named.
        for name in sorted(IO_URING - explicit - in_rules):
            if name not in ruled and name not in plain and known(name):
                plain[name] = ("errno", policy.errno)
    conditional: list[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]]] = []
    low_word: list[tuple[str, int, tuple[LowRule, ...]]] = []
    conditional16: list[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]]] = []
    low_word16: list[tuple[str, int, tuple[LowRule, ...]]] = []
    for name, entries in sorted(ruled.items()):
        if len(entries) == 1 and not entries[0][2]:  # one plain rule (most names)
            plain[name] = entries[0][:2]
            continue
        uncond = {(a, e) for a, e, args in entries if not args}
        cond = {(a, e, args) for a, e, args in entries if args}
        if len(uncond) > 1:
            raise PolicyError(f"{name} has conflicting unconditional rules: {sorted(uncond)}")
        if uncond:
            (action, err) = next(iter(uncond))
            if any((a, e) != (action, err) for a, e, _ in cond):
                raise PolicyError(
                    f"{name} has an unconditional {action} rule and conditional rules with "
                    "another action; the unconditional rule would shadow them: put the "
                    "conditions on the rules that differ from the default instead"
                )
            plain[name] = (action, err)
            continue
        _finish(
            name,
            numbers[name],
            cond=cond,
            rules=low.get(name),
            conditional=conditional,
            low_word=low_word,
        )
        if cond and name in argwidth.UID16:
            cond16 = {(a, e, args) for a, e, args in ruled16.get(name, ())}
            _finish(
                name,
                numbers[name],
                cond=cond16,
                rules=low16.get(name),
                conditional=conditional16,
                low_word=low_word16,
            )
    return Resolved(
        plain=tuple((n, numbers[n], a, e) for n, (a, e) in sorted(plain.items())),
        conditional=tuple(sorted(conditional)),
        low_word=tuple(low_word),
        skipped=tuple(sorted(skipped)),
        conditional16=tuple(sorted(conditional16)),
        low_word16=tuple(low_word16),
    )


def _add_low(
    low: dict[str, set[tuple[str, int, LowRule]] | None],
    name: str,
    action: tuple[str, int],
    conds: LowRule | None,
) -> None:
    """Record one rule's low-word conditions (None: the name cannot be low-word)."""
    seen = low.setdefault(name, set())
    if conds is None or seen is None:
        low[name] = None
    else:
        seen.add((*action, conds))


def _finish(
    name: str,
    nr: int,
    *,
    cond: set[tuple[str, int, tuple[tuple[int, int, int, int], ...]]],
    rules: set[tuple[str, int, LowRule]] | None,
    conditional: list[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]]],
    low_word: list[tuple[str, int, tuple[LowRule, ...]]],
) -> None:
    """Append ``name``'s conditional rules, and its low-word form when it has one."""
    conditional.extend((name, nr, ret(a, e), args) for a, e, args in cond)
    if cond and rules and len({ret(a, e) for a, e, _ in rules}) == 1:
        (action, err, _), *_ = rules
        low_word.append((name, ret(action, err), tuple(sorted(c for *_, c in rules))))
