"""A policy resolved into per-syscall decisions: groups expanded, numbers looked up.

:func:`resolve_policy` merges a policy's lists and rules into one decision per syscall
name (a plain action, or argument-conditional rules compared on the bits the kernel reads,
see :mod:`.argwidth`), with the native numbers libseccomp knows; names it does not know
are listed as skipped. The compiler (:mod:`.compiler`) works from this, never from the
policy's fields.
"""

from __future__ import annotations

import functools
import itertools
import math

from hardenkit._linux import require_linux
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

    __slots__ = ("conditional", "low_word", "plain", "skipped")
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

    def __init__(
        self,
        *,
        plain: tuple[tuple[str, int, str, int], ...],
        conditional: tuple[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]], ...],
        low_word: tuple[tuple[str, int, tuple[LowRule, ...]], ...] = (),
        skipped: tuple[str, ...],
    ) -> None:
        init = object.__setattr__
        init(self, "plain", plain)
        init(self, "conditional", conditional)
        init(self, "low_word", low_word)
        init(self, "skipped", skipped)


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


@functools.cache
def _native_is_s390() -> bool:
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    return sc.native_arch() in (sc.ARCH_NAMES["SCMP_ARCH_S390"], sc.ARCH_NAMES["SCMP_ARCH_S390X"])


def _narrowed(
    name: str, conds: Sequence[ArgCondition], s390: bool
) -> list[tuple[tuple[int, int, int, int], ...]]:
    """The raw condition tuples for ``name``, each comparing what the kernel reads.

    An argument the kernel reads as 32-bit (or 16-bit ``umode_t``) is compared on those
    bits only (see :mod:`.argwidth`); a range on one becomes several
    alternatives, so one rule may become several (any of them matching is the rule
    matching). An empty list: the conditions can never hold.
    """
    options = []
    for cond in conds:
        index, op, a, b = cond._raw()  # noqa: SLF001 -- same module family
        bits = argwidth.width(name, index, s390=s390)
        try:
            options.append(
                argwidth.narrow(index, op, a, b, bits=bits, what=f"{name} argument {index}")
            )
        except ValueError as err:
            raise PolicyError(str(err)) from None
    if math.prod(len(o) for o in options) > argwidth.MAX_ALTERNATIVES:
        raise PolicyError(
            f"the conditions on {name} expand to more than {argwidth.MAX_ALTERNATIVES} "
            "rules once compared on the bits the kernel reads: split the rule"
        )
    return list(itertools.product(*options))


def _low_word(name: str, conds: Sequence[ArgCondition], s390: bool) -> LowRule | None:
    """``conds`` as (index, op, a, b, bits) on the bits the kernel reads.

    None when a condition compares a 64-bit argument or can never hold (a masked
    equality whose value has bits outside its mask): those stay with libseccomp.
    """
    out = []
    for cond in conds:
        index, op, a, b = cond._raw()  # noqa: SLF001 -- same module family
        bits = argwidth.width(name, index, s390=s390)
        if bits >= 64:  # noqa: PLR2004 -- the full register
            return None
        fitted = argwidth.fit_condition(op, a, b, bits=bits, what=f"{name} argument {index}")
        if fitted is None:
            return None
        out.append((index, op, *fitted, bits))
    return tuple(out)


@functools.lru_cache(maxsize=128)
def resolve_policy(policy: SeccompPolicy) -> Resolved:  # noqa: C901, PLR0912, PLR0915 -- one merge
    """Expand groups, resolve numbers, merge lists and rules into per-syscall actions."""
    require_linux("seccomp")
    from hardenkit._linux.seccomp_compile import resolve  # noqa: PLC0415 -- ctypes on use

    skipped: set[str] = set()
    numbers: dict[str, int] = {}

    def known(name: str) -> bool:
        if name not in numbers:
            nr = resolve(name)
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
    in_rules: set[str] = set()
    for rule in policy.rules:
        err = policy.errno if rule.errno is None else rule.errno
        in_rules.update(rule.names)
        for name in sorted(expand(rule.names)):
            if name in IO_URING and name not in rule.names and rule.action in PERMITS:
                continue  # io_uring is allowed only by name, never through a @group
            if not known(name):
                continue
            entries = ruled.setdefault(name, [])
            if rule.args:
                entries.extend((rule.action, err, a) for a in _narrowed(name, rule.args, s390))
                conds = _low_word(name, rule.args, s390)
                seen = low.setdefault(name, set())
                if conds is None or seen is None:
                    low[name] = None
                else:
                    seen.add((rule.action, err, conds))
            else:
                entries.append((rule.action, err, ()))
    plain: dict[str, tuple[str, int]] = {}
    for name in sorted(expand(policy.deny)):
        if name not in ruled and known(name):
            plain[name] = ("errno", policy.errno)
    explicit = {n for n in policy.allow if not n.startswith("@")}
    for name in sorted(expand(policy.allow)):
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
    for name, entries in sorted(ruled.items()):
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
        conditional.extend((name, numbers[name], ret(a, e), args) for a, e, args in cond)
        rules = low.get(name)
        if cond and rules and len({ret(a, e) for a, e, _ in rules}) == 1:
            (action, err, _), *_ = rules
            low_word.append((name, ret(action, err), tuple(sorted(c for *_, c in rules))))
    return Resolved(
        plain=tuple((n, numbers[n], a, e) for n, (a, e) in sorted(plain.items())),
        conditional=tuple(sorted(conditional)),
        low_word=tuple(low_word),
        skipped=tuple(sorted(skipped)),
    )
