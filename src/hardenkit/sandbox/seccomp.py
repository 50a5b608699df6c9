"""Seccomp policies: systemd group names, argument conditions, Docker profiles, one load.

A :class:`SeccompPolicy` is a frozen value; :func:`compile_policy` turns it into classic
BPF once (cached per policy), one program per ABI (libseccomp, with a lookup table for
x86_64/x32's unconditional rules), behind hardenkit's own checks and arch dispatch (see
:mod:`hardenkit.sandbox._bpf`): kill-process for other arches and for x32 numbers on
x86_64 unless x32 is asked for, ENOSYS for clone3 and for numbers newer than
libseccomp's table, and, when asked, no namespace creation.
:func:`apply_seccomp` loads the program with one ``seccomp(2)`` call and TSYNC, so every
thread is covered or nothing is installed, and then checks ``/proc/self/task/*/status``.
"""

from __future__ import annotations

import dataclasses
import errno as errno_mod
import functools
import itertools
import math
import os
import re
from dataclasses import dataclass

from hardenkit._linux import require_linux
from hardenkit._log import get_logger
from hardenkit.errors import PolicyError, SandboxError
from hardenkit.sandbox import _argwidth, _bpf
from hardenkit.sandbox.groups import expand

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path
    from typing import Any

    from hardenkit._linux.seccomp_load import BpfProgram

__all__ = [
    "ArgCondition",
    "CompiledPolicy",
    "SeccompPolicy",
    "SyscallRule",
    "apply_seccomp",
    "compile_policy",
]

log = get_logger("hardenkit.sandbox")

#: Filter return values (linux/seccomp.h).
_RET = {
    "kill": 0x80000000,  # SECCOMP_RET_KILL_PROCESS, never libseccomp's thread-only KILL
    "trap": 0x00030000,
    "errno": 0x00050000,
    "log": 0x7FFC0000,
    "allow": 0x7FFF0000,
}
#: Most restrictive first: when two plain lists name a syscall, the earlier action wins.
_DEFAULTS = ("kill", "errno", "log", "allow")
_ACTIONS = ("kill", "trap", "errno", "log", "allow")
#: libseccomp's comparison operators (enum scmp_compare).
_OPS = {"ne": 1, "lt": 2, "le": 3, "eq": 4, "ge": 5, "gt": 6, "masked_eq": 7}
_MAX_ERRNO = 4095
_U64 = (1 << 64) - 1
_NAME = re.compile(r"@?[a-z0-9_-]+\Z")
_MAX_ARGS = 6


def _names(value: str | Iterable[str], what: str) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not _NAME.match(item):
            raise PolicyError(f"{what}: {item!r} is not a syscall or @group name")
    return tuple(dict.fromkeys(items))  # first occurrence kept, in order


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgCondition:
    """One comparison on one syscall argument.

    ``op`` is ``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge`` or ``masked_eq``; for
    ``masked_eq`` the condition is ``(arg & mask) == value``. Values are unsigned 64-bit.

    Examples:
        >>> ArgCondition(index=0, op="masked_eq", mask=0x10000000, value=0)
        ArgCondition(index=0, op='masked_eq', value=0, mask=268435456)
    """

    index: int
    op: str
    value: int
    mask: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.index < _MAX_ARGS:
            raise PolicyError(f"argument index {self.index} is outside 0..5")
        if self.op not in _OPS:
            raise PolicyError(f"unknown comparison {self.op!r}: use one of {sorted(_OPS)}")
        if (self.op == "masked_eq") != (self.mask is not None):
            raise PolicyError("mask= is required for masked_eq and only for it")
        for v in (self.value, self.mask or 0):
            if not 0 <= v <= _U64:
                raise PolicyError(f"argument value {v} is not an unsigned 64-bit integer")

    def _raw(self) -> tuple[int, int, int, int]:
        if self.mask is not None:
            return (self.index, _OPS[self.op], self.mask, self.value)
        return (self.index, _OPS[self.op], self.value, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyscallRule:
    """An action for some syscalls (names or ``@groups``), optionally under conditions.

    All conditions must hold (AND), at most one per argument: seccomp cannot combine two
    comparisons of one argument in a rule, so ranges are two rules. ``errno=None`` means
    the policy's ``errno``. Explicit rules replace the policy's plain ``allow``/``deny``
    entries for the syscalls they name.

    Examples:
        >>> SyscallRule(names="socket", action="errno",
        ...             args=(ArgCondition(index=0, op="eq", value=2),)).names
        ('socket',)
        >>> SyscallRule(names="openat", args=(ArgCondition(index=1, op="eq", value=0),
        ...                                   ArgCondition(index=1, op="eq", value=1)))
        Traceback (most recent call last):
        ...
        hardenkit.errors.PolicyError: rule for openat compares argument 1 twice; ...
    """

    names: Sequence[str]
    action: str = "allow"
    errno: int | None = None
    args: Sequence[ArgCondition] = ()

    def __post_init__(self) -> None:
        names = _names(self.names, "SyscallRule.names")
        if not names:
            raise PolicyError("a SyscallRule needs at least one syscall name")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "args", tuple(self.args))
        if self.action not in _ACTIONS:
            raise PolicyError(f"unknown action {self.action!r}: use one of {_ACTIONS}")
        if self.errno is not None and not 1 <= self.errno <= _MAX_ERRNO:
            raise PolicyError(f"errno {self.errno} is outside 1..{_MAX_ERRNO}")
        seen: set[int] = set()
        for cond in self.args:
            if not isinstance(cond, ArgCondition):
                raise PolicyError("SyscallRule.args holds ArgCondition values")
            if cond.index in seen:
                raise PolicyError(
                    f"rule for {', '.join(names)} compares argument {cond.index} twice; "
                    "seccomp allows one comparison per argument per rule: split it into "
                    "two rules"
                )
            seen.add(cond.index)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccompPolicy:
    """What the process may call: a default action, lists and rules.

    ``default`` is ``"kill"`` (the whole process, SIGSYS), ``"errno"`` (fail with
    ``errno``), ``"log"`` or ``"allow"``. ``allow`` and ``deny`` take syscall names and
    systemd group names (``@system-service``, ``@network-io``...); ``deny`` fails the call
    with ``errno`` and wins over ``allow``. ``rules`` add argument conditions; ``arches``
    adds ``SCMP_ARCH_*`` ABIs beyond the native one (without them, other ABIs are killed).
    ``block_namespaces`` (on by default: an unprivileged user namespace hands back a full
    capability set) refuses ``setns`` and ``unshare``/``clone`` with any ``CLONE_NEW*`` flag;
    turn it off only for a process that must build namespaces. ``io_uring_*`` calls are
    allowed only when named explicitly, never through a ``@group`` nor, in a policy that
    restricts anything, through an ``allow``/``log`` default: io_uring performs operations
    (``IORING_OP_SOCKET``, ``OPENAT``...) that the filter never sees. Conditions on an
    argument the kernel reads as 32-bit (or 16-bit) compare those bits only. Names the
    local libseccomp does not know are skipped and listed in :attr:`skipped`, never dropped
    silently.

    Examples:
        >>> p = SeccompPolicy(default="errno", allow=["@system-service"], deny=["socket"])
        >>> p.default, p.errno
        ('errno', 1)
        >>> "mseal" in p.skipped  # newer than libseccomp 2.5.4 on this machine
        True
        >>> SeccompPolicy(default="deny")
        Traceback (most recent call last):
        ...
        hardenkit.errors.PolicyError: default must be one of ('kill', ...), not 'deny'
    """

    default: str = "kill"
    # Any sequence is accepted; the stored value is always a tuple.
    allow: Sequence[str] = ()
    deny: Sequence[str] = ()
    errno: int = errno_mod.EPERM
    rules: Sequence[SyscallRule] = ()
    arches: Sequence[str] = ()
    block_namespaces: bool = True
    #: Set by :meth:`from_docker_profile`: the profile, to decide its capability
    #: conditions again against the capabilities a confined process will hold.
    _profile: Any = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.default not in _DEFAULTS:
            raise PolicyError(f"default must be one of {_DEFAULTS}, not {self.default!r}")
        if not isinstance(self.errno, int) or not 1 <= self.errno <= _MAX_ERRNO:
            raise PolicyError(f"errno {self.errno!r} is outside 1..{_MAX_ERRNO}")
        object.__setattr__(self, "allow", _names(self.allow, "SeccompPolicy.allow"))
        object.__setattr__(self, "deny", _names(self.deny, "SeccompPolicy.deny"))
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "arches", tuple(self.arches))
        for rule in self.rules:
            if not isinstance(rule, SyscallRule):
                raise PolicyError("SeccompPolicy.rules holds SyscallRule values")
            expand(rule.names)
        expand(self.allow)  # unknown @groups fail here, at construction
        expand(self.deny)

    @property
    def skipped(self) -> tuple[str, ...]:
        """Syscall names in this policy that the local libseccomp does not know (sorted)."""
        return _resolve(self).skipped

    def to_bpf(self) -> bytes:
        """Return the compiled classic BPF program (cached per policy).

        The bytes are what bubblewrap's ``--seccomp FD`` and ``seccomp(2)`` take.

        Examples:
            >>> prog = SeccompPolicy(default="allow", deny=["mount"]).to_bpf()
            >>> len(prog) % 8
            0
        """
        return compile_policy(self).bpf

    def export_bpf(self, fd: int) -> None:
        """Write :meth:`to_bpf` to a file descriptor (e.g. a pipe for ``bwrap --seccomp``).

        Examples:
            >>> r, w = os.pipe()
            >>> SeccompPolicy(default="allow").export_bpf(w); os.close(w)
            >>> len(os.read(r, 65536)) > 0; os.close(r)
            True
        """
        view = memoryview(self.to_bpf())
        while view:
            view = view[os.write(fd, view) :]

    def with_namespace_block(self) -> SeccompPolicy:
        """Return this policy with namespace creation refused.

        Examples:
            >>> SeccompPolicy(default="allow").with_namespace_block().block_namespaces
            True
        """
        if self.block_namespaces:
            return self
        return dataclasses.replace(self, block_namespaces=True)

    def for_capabilities(self, capabilities: Iterable[str | int]) -> SeccompPolicy:
        """Return this policy as it holds for a process with ``capabilities``.

        A policy from a Docker profile decides the profile's ``includes``/``excludes``
        ``caps`` again, against ``capabilities`` (and, when the profile was loaded with
        explicit ``capabilities=``, against only those of them also in this set): what
        Docker decides against the container's capabilities, hardenkit decides against
        the confined process's. ``confine()``, ``run()`` and ``call_sandboxed()`` call it
        with the capabilities the process holds after the privilege drop. Any other
        policy is returned unchanged.

        Examples:
            >>> p = SeccompPolicy.docker_default(capabilities=["SYS_PTRACE"])
            >>> any("kcmp" in r.names for r in p.rules)
            True
            >>> any("kcmp" in r.names for r in p.for_capabilities([]).rules)
            False
        """
        if self._profile is None:
            return self
        from hardenkit.sandbox.docker import redecide  # noqa: PLC0415 -- cycle

        return redecide(self, capabilities)

    @classmethod
    def from_docker_profile(
        cls,
        profile: str | os.PathLike[str] | Path | Mapping[str, Any],
        *,
        capabilities: Iterable[str | int] | None = None,
    ) -> SeccompPolicy:
        """Build a policy from a Docker/OCI seccomp profile (a path or a parsed dict).

        Docker's semantics: ``defaultAction``/``defaultErrnoRet``, the native entry of
        ``archMap``, ``includes``/``excludes`` by ``caps``, ``arches`` and ``minKernel``,
        per-rule ``errnoRet``, and argument conditions (several conditions on one argument
        become separate rules, as runc does). ``caps`` are decided against
        ``capabilities`` (default: this process's bounding set, read now); ``confine()``,
        ``run()`` and ``call_sandboxed()`` decide them again against the capabilities the
        confined process holds after its privilege drop (see :meth:`for_capabilities`).
        The same content with the same capabilities returns the same cached policy
        object, so its compiled program is reused too.

        Stricter than Docker, on purpose (docs/security-model.md lists it): namespace
        creation stays refused (``block_namespaces``), argument conditions compare only
        the bits the kernel reads (Docker's ``socket`` rules pass ``0xffffffff00000026``,
        AF_ALG with high bits set; here they do not), io_uring is refused unless the
        profile names it, and capability conditions follow the confined process.

        Examples:
            >>> p = SeccompPolicy.docker_default(capabilities=())
            >>> p.default, p.errno, len(p.skipped) > 0
            ('errno', 1, True)
        """
        from hardenkit.sandbox.docker import policy_from_profile  # noqa: PLC0415 -- cycle

        return policy_from_profile(profile, capabilities=capabilities)

    @classmethod
    def docker_default(cls, *, capabilities: Iterable[str | int] | None = None) -> SeccompPolicy:
        """Return Docker's default profile (the bundled copy, moby/profiles) as a policy.

        Examples:
            >>> SeccompPolicy.docker_default(capabilities=()).default
            'errno'
        """
        from hardenkit.sandbox.docker import default_policy  # noqa: PLC0415 -- cycle

        return default_policy(capabilities=capabilities)


class _Resolved(_bpf._Record):  # noqa: SLF001 -- a plain record: no @dataclass cost at import
    # syscall name -> ("plain", action, errno) or ("rules", ((action, errno, args), ...))
    __slots__ = ("conditional", "plain", "skipped")
    plain: tuple[tuple[str, int, str, int], ...]
    conditional: tuple[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]], ...]
    skipped: tuple[str, ...]

    def __init__(
        self,
        *,
        plain: tuple[tuple[str, int, str, int], ...],
        conditional: tuple[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]], ...],
        skipped: tuple[str, ...],
    ) -> None:
        init = object.__setattr__
        init(self, "plain", plain)
        init(self, "conditional", conditional)
        init(self, "skipped", skipped)


def _ret(action: str, err: int) -> int:
    return _RET[action] | (err if action == "errno" else 0)


_IO_URING = frozenset({"io_uring_setup", "io_uring_enter", "io_uring_register"})
#: Actions that let a call run.
_PERMITS = ("allow", "log")


def _restricts(policy: SeccompPolicy) -> bool:
    """Whether the policy refuses anything (namespace blocking aside)."""
    return (
        policy.default not in _PERMITS
        or bool(policy.deny)
        or any(rule.action not in _PERMITS for rule in policy.rules)
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
    bits only (see :mod:`hardenkit.sandbox._argwidth`); a range on one becomes several
    alternatives, so one rule may become several (any of them matching is the rule
    matching). An empty list: the conditions can never hold.
    """
    options = []
    for cond in conds:
        index, op, a, b = cond._raw()  # noqa: SLF001 -- same module family
        bits = _argwidth.width(name, index, s390=s390)
        try:
            options.append(
                _argwidth.narrow(index, op, a, b, bits=bits, what=f"{name} argument {index}")
            )
        except ValueError as err:
            raise PolicyError(str(err)) from None
    if math.prod(len(o) for o in options) > _argwidth.MAX_ALTERNATIVES:
        raise PolicyError(
            f"the conditions on {name} expand to more than {_argwidth.MAX_ALTERNATIVES} "
            "rules once compared on the bits the kernel reads: split the rule"
        )
    return list(itertools.product(*options))


@functools.lru_cache(maxsize=128)
def _resolve(policy: SeccompPolicy) -> _Resolved:  # noqa: C901, PLR0912 -- one merge, top-down
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
    in_rules: set[str] = set()
    for rule in policy.rules:
        err = policy.errno if rule.errno is None else rule.errno
        in_rules.update(rule.names)
        for name in sorted(expand(rule.names)):
            if name in _IO_URING and name not in rule.names and rule.action in _PERMITS:
                continue  # io_uring is allowed only by name, never through a @group
            if not known(name):
                continue
            entries = ruled.setdefault(name, [])
            if rule.args:
                entries.extend((rule.action, err, a) for a in _narrowed(name, rule.args, s390))
            else:
                entries.append((rule.action, err, ()))
    plain: dict[str, tuple[str, int]] = {}
    for name in sorted(expand(policy.deny)):
        if name not in ruled and known(name):
            plain[name] = ("errno", policy.errno)
    explicit = {n for n in policy.allow if not n.startswith("@")}
    for name in sorted(expand(policy.allow)):
        if name in _IO_URING and name not in explicit:
            continue  # io_uring would run operations the filter never sees (Docker agrees)
        if name not in ruled and name not in plain and known(name):
            plain[name] = ("allow", 0)
    if _restricts(policy) and policy.default in _PERMITS:
        # io_uring runs operations (IORING_OP_SOCKET, OPENAT, CONNECT...) that the filter
        # never sees: a policy that restricts anything refuses it unless it is named.
        for name in sorted(_IO_URING - explicit - in_rules):
            if name not in ruled and name not in plain and known(name):
                plain[name] = ("errno", policy.errno)
    conditional: list[tuple[str, int, int, tuple[tuple[int, int, int, int], ...]]] = []
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
        conditional.extend((name, numbers[name], _ret(a, e), args) for a, e, args in cond)
    return _Resolved(
        plain=tuple((n, numbers[n], a, e) for n, (a, e) in sorted(plain.items())),
        conditional=tuple(sorted(conditional)),
        skipped=tuple(sorted(skipped)),
    )


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy compiled to BPF, with the program object ready to load."""

    bpf: bytes
    skipped: tuple[str, ...]
    program: BpfProgram


@functools.lru_cache(maxsize=64)
def compile_policy(policy: SeccompPolicy) -> CompiledPolicy:
    """Compile ``policy`` to classic BPF once; later calls return the cached result.

    One program per ABI (native, then each of ``arches``; x32 inside x86_64) behind
    hardenkit's arch dispatch; on x86_64/x32 the unconditional rules are a lookup table
    and libseccomp compiles only the conditional ones. Same decisions as one multi-ABI
    libseccomp filter, in about a third of the time.

    Examples:
        >>> p = SeccompPolicy(default="allow", deny=["mount"])
        >>> compile_policy(p) is compile_policy(p)
        True
    """
    require_linux("seccomp")
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use
    from hardenkit._linux.seccomp_load import BpfProgram  # noqa: PLC0415

    resolved = _resolve(policy)
    default_ret = _ret(policy.default, policy.errno)
    native = sc.native_arch()
    arch_tokens: list[int] = []
    for name in policy.arches:
        token = sc.arch_token(name)
        if token is None:
            raise PolicyError(f"architecture {name!r} is not known to libseccomp")
        if token != native and token not in arch_tokens:
            arch_tokens.append(token)
    program = functools.partial(_arch_program, _Rules.of(resolved, default_ret), native)
    sections = _bpf.arch_sections(native, arch_tokens, program)
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


class _Rules(_bpf._Record):  # noqa: SLF001 -- a plain record: no @dataclass cost at import
    """A policy's rules as the per-ABI compile takes them (default repeats dropped)."""

    __slots__ = ("conditional", "default_ret", "plain", "refused_unseen")
    default_ret: int
    plain: tuple[tuple[str, int, int], ...]  # (name, native number, return value)
    conditional: tuple[tuple[int, int, tuple[tuple[int, int, int, int], ...]], ...]
    #: Refusals of multiplexed calls' names, decided without their arguments (name, ret).
    refused_unseen: tuple[tuple[str, int], ...]

    def __init__(
        self,
        *,
        default_ret: int,
        plain: tuple[tuple[str, int, int], ...],
        conditional: tuple[tuple[int, int, tuple[tuple[int, int, int, int], ...]], ...],
        refused_unseen: tuple[tuple[str, int], ...] = (),
    ) -> None:
        init = object.__setattr__
        init(self, "default_ret", default_ret)
        init(self, "plain", plain)
        init(self, "conditional", conditional)
        init(self, "refused_unseen", refused_unseen)

    @classmethod
    def of(cls, resolved: _Resolved, default_ret: int) -> _Rules:
        return cls(
            refused_unseen=_refused_unseen(resolved, default_ret),
            default_ret=default_ret,
            plain=tuple(
                (name, nr, ret)
                for name, nr, action, err in resolved.plain
                if (ret := _ret(action, err)) != default_ret  # libseccomp refuses repeats
            ),
            conditional=tuple(
                (ret, nr, args)
                for _name, nr, ret, args in resolved.conditional
                if ret != default_ret
            ),
        )


def _precedence(ret: int) -> int:
    """The kernel's order of filter actions: lower wins (SECCOMP_RET_KILL_PROCESS first)."""
    action = ret & 0xFFFF0000
    return action - (1 << 32) if action & 0x80000000 else action


def _refused_unseen(resolved: _Resolved, default_ret: int) -> tuple[tuple[str, int], ...]:
    """Names ``socketcall``/``ipc`` multiplex that the policy refuses, decided blind.

    A multiplexed call's arguments are in memory: the filter can only decide the name.
    A name with argument conditions gets the most restrictive of its rules' actions and
    the default (fail closed); a plain entry its action; any other name the default.
    Only refusals are listed: the guard they become never lets through what
    libseccomp's program would refuse.
    """
    decided = {name: _ret(action, err) for name, _nr, action, err in resolved.plain}
    rets: dict[str, list[int]] = {}
    for name, _nr, ret, _args in resolved.conditional:
        rets.setdefault(name, []).append(ret)
    for name, found in rets.items():
        decided[name] = min([default_ret, *found], key=_precedence)
    names = (*_bpf.SOCKETCALL_SUBCALLS, *_bpf.IPC_SUBCALLS)
    return tuple(
        (name, ret)
        for name in names
        if _precedence(ret := decided.get(name, default_ret)) < _precedence(_RET["log"])
    )


def _mux_guard(rules: _Rules, arch: int) -> bytes:
    """The guard for ``arch``'s ``socketcall``/``ipc`` (empty where the ABI has none)."""
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    refused = dict(rules.refused_unseen)
    muxes = []
    for mux, table, mask in (
        ("socketcall", _bpf.SOCKETCALL_SUBCALLS, 0xFFFFFFFF),
        ("ipc", _bpf.IPC_SUBCALLS, 0xFFFF),  # the high half is the ipc version
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
    return _bpf.build_mux_guard(muxes, little=bool(arch & 0x40000000))


def _arch_program(rules: _Rules, native: int, arch: int) -> bytes:
    """The program for one ABI, linked behind the prefix's section for it.

    x86_64 and x32 have no multiplexed syscalls: their unconditional rules go in
    hardenkit's lookup table and libseccomp compiles only the conditional ones. Other
    ABIs (i386's socketcall/ipc, s390, ppc...) keep libseccomp for every rule.
    """
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    table = b""
    lib_rules = list(rules.conditional)
    if arch in (sc.ARCH_NAMES["SCMP_ARCH_X86_64"], sc.ARCH_NAMES["SCMP_ARCH_X32"]):
        entries = [
            (arch_nr, ret)
            for name, nr, ret in rules.plain
            if (arch_nr := nr if arch == native else sc.resolve(name, arch)) is not None
            and arch_nr >= 0  # negative: a pseudo-number, absent on this ABI
        ]
        try:
            table = _bpf.build_table(entries)
        except ValueError as err:  # two names, one number: refuse rather than guess
            raise SandboxError(f"cannot compile the policy: {err}") from err
    else:
        lib_rules = [(ret, nr, ()) for _name, nr, ret in rules.plain] + lib_rules
        table = _mux_guard(rules, arch)
    try:
        return table + sc.compile_bpf(
            default_action=rules.default_ret,
            badarch_action=_RET["kill"],
            arches=(arch,),
            rules=lib_rules,
        )
    except OSError as err:
        raise SandboxError(f"libseccomp rejected the policy: {err.strerror}") from err


def _options(policy: SeccompPolicy, resolved: _Resolved) -> _bpf.PrefixOptions:
    clone3 = {n: a for n, _nr, a, _e in resolved.plain}.get("clone3")
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


def apply_seccomp(policy: SeccompPolicy) -> None:
    """Install ``policy`` on the calling process, every thread included (TSYNC).

    Sets no_new_privs first (as libseccomp's loader does; TSYNC carries it to every
    thread). If a thread cannot be synchronised, the kernel installs nothing and this
    raises. Afterwards every thread must show ``Seccomp: 2`` and one more filter. A
    policy from a Docker profile is decided again for the capabilities this process
    holds now (its permitted set, see :meth:`SeccompPolicy.for_capabilities`): a profile
    built by root and applied after a drop gives none of the calls Docker grants only
    with capabilities.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> def child():
        ...     apply_seccomp(SeccompPolicy(default="allow", deny=["mkdir"]))
        ...     os.mkdir("/tmp/never-created-by-doctest")
        >>> fork_call(child).exc_type
        'PermissionError'

    Raises:
        SandboxError: the filter could not be installed or verified.
    """
    require_linux("seccomp")
    from hardenkit._linux.libc import PR_SET_NO_NEW_PRIVS, prctl  # noqa: PLC0415
    from hardenkit._linux.procfs import read_status  # noqa: PLC0415

    if policy._profile is not None:  # noqa: SLF001 -- decided for the process it confines
        try:
            permitted = read_status().cap_permitted
        except (OSError, ValueError) as err:
            raise SandboxError(f"cannot read this process's capabilities: {err}") from err
        policy = policy.for_capabilities(
            bit for bit in range(permitted.bit_length()) if permitted >> bit & 1
        )
    compiled = compile_policy(policy)
    before = read_status().seccomp_filters
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError as err:
        raise SandboxError(f"prctl(PR_SET_NO_NEW_PRIVS) failed: {err.strerror}") from err
    try:
        compiled.program.load(tsync=True)
    except OSError as err:
        raise SandboxError(
            f"seccomp(SECCOMP_SET_MODE_FILTER, TSYNC) failed, nothing installed: {err.strerror}"
        ) from err
    verify_seccomp(min_filters=before + 1)


def verify_seccomp(*, min_filters: int = 1, no_new_privs: bool = True) -> None:
    """Check from procfs that every thread is in filter mode with enough filters.

    Examples:
        >>> verify_seccomp()  # the test process itself is never confined
        Traceback (most recent call last):
        ...
        hardenkit.errors.SandboxError: thread ... is not in seccomp filter mode (Seccomp: 0)
    """
    from hardenkit._linux.procfs import read_task_status, task_ids  # noqa: PLC0415

    statuses = []
    try:
        for tid in task_ids():
            try:
                statuses.append(read_task_status(tid))
            except (FileNotFoundError, ProcessLookupError):  # noqa: PERF203 -- per thread
                continue  # the thread exited after the listing: nothing left to check
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot read /proc/self/task to verify seccomp: {err}") from err
    if not statuses:
        raise SandboxError("no thread of this process could be read to verify seccomp")
    seccomp_mode_filter = 2
    for st in statuses:
        if st.seccomp != seccomp_mode_filter:
            raise SandboxError(
                f"thread {st.pid} is not in seccomp filter mode (Seccomp: {st.seccomp})"
            )
        if st.seccomp_filters < min_filters:
            raise SandboxError(
                f"thread {st.pid} has {st.seccomp_filters} seccomp filter(s), "
                f"expected at least {min_filters}"
            )
        if no_new_privs and not st.no_new_privs:
            raise SandboxError(f"thread {st.pid} lacks no_new_privs after seccomp")
