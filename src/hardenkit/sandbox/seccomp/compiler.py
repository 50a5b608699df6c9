"""The compiler: a resolved policy to one classic BPF program, ready to load.

One program per ABI (native, then each of ``arches``; x32 inside x86_64) behind the
hand-written arch dispatch and checks of :mod:`.bpf`. Which parts libseccomp compiles and
which hardenkit writes itself, and why, is listed in :mod:`.bpf`'s docstring.
"""

from __future__ import annotations

import struct

from hardenkit._dataclass import dataclass
from hardenkit._linux import require_linux
from hardenkit._log import get_logger
from hardenkit._memo import lru_cache
from hardenkit.errors import PolicyError, SandboxError
from hardenkit.sandbox.seccomp import argwidth, bpf as _bpf, fragments
from hardenkit.sandbox.seccomp.asm import RET_K
from hardenkit.sandbox.seccomp.resolve import resolve_policy
from hardenkit.sandbox.seccomp.rules import RET, Record, ret as ret_value

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit._linux.seccomp_compile import Rule
    from hardenkit._linux.seccomp_load import BpfProgram
    from hardenkit.sandbox.seccomp.policy import SeccompPolicy
    from hardenkit.sandbox.seccomp.resolve import LowRule, Resolved

__all__ = ["CompiledPolicy", "compile_policy"]

log = get_logger("hardenkit.sandbox")


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy compiled to BPF, with the program object ready to load."""

    bpf: bytes
    skipped: tuple[str, ...]
    program: BpfProgram


@lru_cache(maxsize=64)
def compile_policy(policy: SeccompPolicy) -> CompiledPolicy:
    """Compile ``policy`` to classic BPF once; later calls return the cached result.

    One program per ABI (native, then each of ``arches``; x32 inside x86_64) behind
    hardenkit's arch dispatch; on x86_64, x32 and i386 hardenkit writes the lookup table
    of unconditional rules and the low-word compares, and libseccomp compiles what is
    left (see :mod:`.bpf`). Same decisions as one multi-ABI libseccomp filter, in about a
    third of its time (the Docker profile: 7 ms of CPU against 24).

    Examples:
        >>> from hardenkit.sandbox.seccomp import SeccompPolicy
        >>> p = SeccompPolicy(default="allow", deny=["mount"])
        >>> compile_policy(p) is compile_policy(p)
        True
    """
    require_linux("seccomp")
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use
    from hardenkit._linux.seccomp_load import BpfProgram  # noqa: PLC0415 -- for import time: seccomp_load loads libc (ctypes)

    resolved = resolve_policy(policy)
    default_ret = ret_value(policy.default, policy.errno)
    native = sc.native_arch()
    arch_tokens: list[int] = []
    for name in policy.arches:
        token = sc.arch_token(name)
        if token is None:
            raise PolicyError(f"architecture {name!r} is not known to libseccomp")
        if token != native and token not in arch_tokens:
            arch_tokens.append(token)
    # Each table ABI's highest listed number: where max_syscall's probe may start.
    highest: dict[int, int] = {}
    rules = _Rules.of(resolved, default_ret)
    rules16 = _Rules.of(resolved, default_ret, uid16=True) if resolved.uid16_names else rules
    uid16_tokens = {sc.ARCH_NAMES[name] for name in argwidth.UID16_ARCHES}

    def program(arch: int) -> bytes:
        # The 16-bit id calls (i386 setuid = sys_setuid16) read their ids differently.
        return _arch_program(rules16 if arch in uid16_tokens else rules, native, highest, arch)

    sections = _bpf.arch_sections(native, arch_tokens, program, known=highest.get)
    try:
        bpf = _bpf.build_filter(sections, _options(policy, resolved))
    except ValueError as err:
        raise SandboxError(f"cannot link the seccomp program: {err}") from err
    if resolved.skipped:
        log.warning(
            "seccomp: the local libseccomp does not know %d syscall name(s), skipped: %s",
            len(resolved.skipped),
            ", ".join(resolved.skipped),
        )
    try:
        program_obj = BpfProgram(bpf)
    except ValueError as err:
        raise SandboxError(f"compiled seccomp program is unusable: {err}") from err
    return CompiledPolicy(bpf=bpf, skipped=resolved.skipped, program=program_obj)


class _Rules(Record):
    """A policy's rules as the per-ABI compile takes them (default repeats dropped)."""

    __slots__ = ("conditional", "default_ret", "low_word", "plain", "refused_unseen")
    default_ret: int
    plain: tuple[tuple[str, int, int], ...]  # (name, native number, return value)
    #: (name, return value, native number, libseccomp conditions).
    conditional: tuple[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]], ...]
    #: name -> (return value, rules as :func:`.fragments.build_low_word` takes them).
    low_word: dict[str, tuple[int, tuple[LowRule, ...]]]
    #: Refusals of multiplexed calls' names, decided without their arguments (name, ret).
    refused_unseen: tuple[tuple[str, int], ...]

    def __init__(
        self,
        *,
        default_ret: int,
        plain: tuple[tuple[str, int, int], ...],
        conditional: tuple[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]], ...],
        low_word: dict[str, tuple[int, tuple[LowRule, ...]]],
        refused_unseen: tuple[tuple[str, int], ...] = (),
    ) -> None:
        init = object.__setattr__
        init(self, "default_ret", default_ret)
        init(self, "plain", plain)
        init(self, "conditional", conditional)
        init(self, "low_word", low_word)
        init(self, "refused_unseen", refused_unseen)

    @classmethod
    def of(cls, resolved: Resolved, default_ret: int, *, uid16: bool = False) -> _Rules:
        """The rules; ``uid16``: as an ABI whose plain id calls are the 16-bit ones."""
        conditional, low_word = resolved.conditional, resolved.low_word
        if uid16:
            names = resolved.uid16_names
            conditional = tuple(c for c in conditional if c[0] not in names)
            conditional += resolved.conditional16
            low_word = tuple(w for w in low_word if w[0] not in names) + resolved.low_word16
        _refuse_ambiguous(conditional)
        rets: dict[tuple[str, int], int] = {}  # (action, errno) -> return value
        for _name, _nr, action, err in resolved.plain:
            if (action, err) not in rets:
                rets[action, err] = ret_value(action, err)
        return cls(
            refused_unseen=_refused_unseen(resolved, default_ret),
            default_ret=default_ret,
            plain=tuple(
                (name, nr, ret)
                for name, nr, action, err in resolved.plain
                if (ret := rets[action, err]) != default_ret  # libseccomp refuses repeats
            ),
            conditional=tuple(
                (name, ret, nr, args) for name, nr, ret, args in conditional if ret != default_ret
            ),
            low_word={name: (ret, rules) for name, ret, rules in low_word if ret != default_ret},
        )


def _precedence(ret: int) -> int:
    """The kernel's order of filter actions: lower wins (SECCOMP_RET_KILL_PROCESS first)."""
    action = ret & 0xFFFF0000
    return action - (1 << 32) if action & 0x80000000 else action


def _refused_unseen(resolved: Resolved, default_ret: int) -> tuple[tuple[str, int], ...]:
    """Names ``socketcall``/``ipc`` multiplex that the policy refuses, decided blind.

    A multiplexed call's arguments are in memory: the filter can only decide the name.
    A name with argument conditions gets the most restrictive of its rules' actions and
    the default (fail closed); a plain entry its action; any other name the default.
    Only refusals are listed: the guard they become never lets through what
    libseccomp's program would refuse.
    """
    names = (*fragments.SOCKETCALL_SUBCALLS, *fragments.IPC_SUBCALLS)
    decided = {
        name: ret_value(action, err)
        for name, _nr, action, err in resolved.plain
        if name in _MUX_NAMES
    }
    rets: dict[str, list[int]] = {}
    for name, _nr, ret, _args in resolved.conditional:
        rets.setdefault(name, []).append(ret)
    for name, found in rets.items():
        decided[name] = min([default_ret, *found], key=_precedence)
    return tuple(
        (name, ret)
        for name in names
        if _precedence(ret := decided.get(name, default_ret)) < _precedence(RET["log"])
    )


def _mux_guard(rules: _Rules, arch: int) -> bytes:
    """The guard for ``arch``'s ``socketcall``/``ipc`` (empty where the ABI has none)."""
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    refused = dict(rules.refused_unseen)
    muxes = []
    for mux, table, mask in (
        ("socketcall", fragments.SOCKETCALL_SUBCALLS, 0xFFFFFFFF),
        ("ipc", fragments.IPC_SUBCALLS, 0xFFFF),  # the high half is the ipc version
    ):
        nr = sc.resolve(mux, arch)
        if nr is None or nr < 0:
            continue
        subs: dict[int, int] = {}
        for name, ret in refused.items():
            for sub in table.get(name, ()):
                if sub not in subs or _precedence(ret) < _precedence(subs[sub]):
                    subs[sub] = ret
        if subs:
            muxes.append((nr, mask, sorted(subs.items())))
    if not muxes:
        return b""
    return fragments.build_mux_guard(muxes, little=bool(arch & 0x40000000))


#: The names :func:`_refused_unseen` decides.
_MUX_NAMES = frozenset((*fragments.SOCKETCALL_SUBCALLS, *fragments.IPC_SUBCALLS))
#: ABIs whose unconditional rules go in hardenkit's lookup table (:func:`.fragments.build_table`):
#: the ones the differential tests compare with libseccomp (x86_64, x32, i386).
_TABLE_ARCHES = ("SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_X86")
#: Names libseccomp compiles into ``socketcall``/``ipc`` rules on ABIs that multiplex them:
#: they stay with libseccomp, which knows how (the lookup table would miss the sub-call).
_MULTIPLEXED = frozenset(
    {"socketcall", "ipc", *fragments.SOCKETCALL_SUBCALLS, *fragments.IPC_SUBCALLS}
)


def _arch_program(rules: _Rules, native: int, highest: dict[int, int], arch: int) -> bytes:
    """The program for one ABI, linked behind the prefix's section for it.

    On x86_64, x32 and i386, hardenkit writes the program itself (:func:`_hand_written`)
    except for the rules libseccomp must compile: conditions on 64-bit arguments, a
    syscall whose conditional rules differ in action, and (on i386) every rule on a
    name it multiplexes through ``socketcall``/``ipc``. Other ABIs (s390, ppc, arm...)
    keep libseccomp for every rule. The first compile of the Docker profile (three ABIs)
    and ``hardenkit exec``'s cold start are what this buys: benchmarks/README.md.
    """
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    guard = _mux_guard(rules, arch)  # empty on ABIs without socketcall/ipc
    if arch not in {sc.ARCH_NAMES[name] for name in _TABLE_ARCHES}:
        lib_rules: list[Rule] = [(ret, nr, ()) for _name, nr, ret in rules.plain]
        lib_rules += [(ret, nr, args) for _name, ret, nr, args in rules.conditional]
        return guard + _libseccomp(rules, arch, lib_rules)
    own, lib_rules, top = _hand_written(rules, native, arch)
    if top is not None:
        highest[arch] = top
    if not lib_rules:  # nothing left for libseccomp: every other number gets the default
        return guard + own + struct.pack("=HBBI", RET_K, 0, 0, rules.default_ret)
    return guard + own + _libseccomp(rules, arch, lib_rules)


def _hand_written(rules: _Rules, native: int, arch: int) -> tuple[bytes, list[Rule], int | None]:
    """The lookup table and low-word compares for ``arch``, and what they leave.

    Returns the fragment, the rules left for libseccomp and the highest number the
    fragment lists (None when it lists none).
    """
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    # Numbers on ``arch`` by name (native: the resolved ones), in one loop per ABI.
    numbers = (
        None
        if arch == native
        else sc.resolve_many(
            [*(p[0] for p in rules.plain), *(c[0] for c in rules.conditional)], arch
        )
    )
    socketcall = sc.resolve("socketcall", arch)
    muxed = _MULTIPLEXED if socketcall is not None and socketcall >= 0 else frozenset()
    left: list[Rule] = []
    entries: list[tuple[int, int]] = []
    for name, nr, ret in rules.plain:
        if name in muxed:
            left.append((ret, nr, ()))
            continue
        arch_nr = nr if numbers is None else numbers[name]
        if arch_nr is not None and arch_nr >= 0:  # <0: absent on arch
            entries.append((arch_nr, ret))
    low: dict[int, tuple[int, tuple[LowRule, ...]]] = {}
    for name, ret, nr, args in rules.conditional:
        hand = rules.low_word.get(name)
        if hand is None or name in muxed:
            left.append((ret, nr, args))
            continue
        arch_nr = nr if numbers is None else numbers[name]
        if arch_nr is not None and arch_nr >= 0:
            low[arch_nr] = hand
    try:
        own = fragments.build_table(entries)
        if low:
            calls = [(nr, ret, conds) for nr, (ret, conds) in sorted(low.items())]
            own += fragments.build_low_word(calls, little=bool(arch & 0x40000000))
    except ValueError as err:  # e.g. two names, one number: refuse rather than guess
        raise SandboxError(f"cannot compile the policy: {err}") from err
    return own, left, max([nr for nr, _ in entries] + list(low), default=None)


def _fixings(
    args: tuple[tuple[int, int, int, int], ...],
) -> dict[int, list[tuple[int, int]]] | None:
    """Per argument, the (mask, value) bit fixings of ``args``; None: a range is among them."""
    out: dict[int, list[tuple[int, int]]] = {}
    for index, op, a, b in args:
        if op == 4:  # noqa: PLR2004 -- libseccomp's EQ
            out.setdefault(index, []).append(((1 << 64) - 1, a))
        elif op == 7:  # noqa: PLR2004 -- MASKED_EQ
            out.setdefault(index, []).append((a, b & a))
        else:
            return None
    return out


def _may_overlap(
    x: tuple[tuple[int, int, int, int], ...], y: tuple[tuple[int, int, int, int], ...]
) -> bool:
    """Whether some arguments satisfy both condition sets (a range: assume they may)."""
    fx, fy = _fixings(x), _fixings(y)
    if fx is None or fy is None:
        return True
    for index, fixes in fx.items():
        for m1, v1 in fixes:
            for m2, v2 in fy.get(index, ()):
                if v1 & m2 != v2 & m1:  # a bit both fix, to different values
                    return False
    return True


def _refuse_ambiguous(
    conditional: tuple[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]], ...],
) -> None:
    """Refuse rules of one syscall with different actions that one call can match both.

    libseccomp gives overlapping rules of one syscall no precedence (the first tree path
    wins, and rules with the default action are not even compiled), so the answer would
    not be the documented one (the strongest action). Rules whose conditions exclude
    each other (Docker's ``socket`` errno/allow pair) are fine.
    """
    by_name: dict[str, list[tuple[int, tuple[tuple[int, int, int, int], ...]]]] = {}
    for name, _nr, ret, args in conditional:
        by_name.setdefault(name, []).append((ret, args))
    for name, entries in by_name.items():
        if len({ret for ret, _ in entries}) < 2:  # noqa: PLR2004 -- one action: no precedence
            continue
        for i, (ret1, args1) in enumerate(entries):
            for ret2, args2 in entries[i + 1 :]:
                if ret1 != ret2 and _may_overlap(args1, args2):
                    raise PolicyError(
                        f"{name}: rules with different actions can match the same call, and "
                        "libseccomp gives overlapping rules no precedence: make their "
                        "conditions exclude each other (e.g. eq on one, ne on the other)"
                    )


#: libseccomp's ops that compile to one comparison per word (libseccomp's EQ, MASKED_EQ).
_EXACT_OPS = frozenset({4, 7})


def _refuse_miscompiled(lib_rules: list[Rule]) -> None:
    """Refuse rule sets libseccomp 2.5 compiles wrongly: fail closed, naming the call.

    With several rules on one syscall, libseccomp merges their 64-bit comparisons into
    one tree and loses some paths when any of them is a range (``lt``/``le``/``gt``/
    ``ge``/``ne`` on a 64-bit argument; libseccomp issues #118 and #449): a call one rule
    alone refuses is then allowed. Ranges on narrower arguments never get here (they are
    masked equalities or hardenkit's low-word compares), nor does a single rule.
    """
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    counts: dict[int, int] = {}
    ranged: set[int] = set()
    for _ret, nr, args in lib_rules:
        counts[nr] = counts.get(nr, 0) + 1
        if any(op not in _EXACT_OPS for _index, op, _a, _b in args):
            ranged.add(nr)
    for nr in sorted(ranged):
        if counts[nr] > 1:
            name = sc.syscall_name(nr) or f"syscall {nr}"
            raise PolicyError(
                f"{name}: several rules with a range comparison (lt, le, gt, ge, ne) on a "
                "64-bit argument: libseccomp 2.5 compiles such rule sets wrongly (its "
                "issues #118, #449) and a call one rule refuses could pass; put the range "
                "in a single rule, or compare with eq/masked_eq"
            )


def _libseccomp(rules: _Rules, arch: int, lib_rules: list[Rule]) -> bytes:
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    _refuse_miscompiled(lib_rules)

    try:
        return sc.compile_bpf(
            default_action=rules.default_ret,
            badarch_action=RET["kill"],
            arches=(arch,),
            rules=lib_rules,
        )
    except OSError as err:
        raise SandboxError(f"libseccomp rejected the policy: {err.strerror}") from err


def _options(policy: SeccompPolicy, resolved: Resolved) -> _bpf.PrefixOptions:
    clone3 = next((a for n, _nr, a, _e in resolved.plain if n == "clone3"), None)
    clone3_allowed = (
        clone3 in ("allow", "log")
        if clone3 is not None
        else policy.default in ("allow", "log")
        and not any(n == "clone3" for n, *_ in resolved.conditional)
    )
    return _bpf.PrefixOptions(
        clone3_enosys=policy.block_namespaces or not clone3_allowed,
        block_namespaces=policy.block_namespaces,
        enosys_above_table=policy.default not in ("allow", "log"),
        # Unless the policy decides ioctl by its arguments itself (its answer then stands).
        refuse_tiocsti=not any(n == "ioctl" for n, *_ in resolved.conditional),
    )
