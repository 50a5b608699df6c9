"""Docker/OCI seccomp profiles turned into :class:`~hardenkit.sandbox.SeccompPolicy`.

Semantics follow moby's ``profiles/seccomp`` loader and runc's rule building: the native
``archMap`` entry picks the ABIs, ``includes``/``excludes`` are decided by capabilities
(all listed caps must be held to include; any held cap excludes), Go arch names and
``minKernel``; ``SCMP_ACT_ERRNO`` without ``errnoRet`` is EPERM; several conditions on one
argument become separate rules. Deliberate difference: ``SCMP_ACT_KILL`` and
``SCMP_ACT_KILL_THREAD`` kill the whole process (a thread-only kill leaves a half-dead
process behind).

Translated policies are cached by the profile's content (SHA-256 of the file's bytes, or
of a dict's canonical JSON) with the capabilities, native arch and kernel release they
were decided against, so loading the same profile again returns the same frozen policy,
whose compiled program :func:`~hardenkit.sandbox.seccomp.compile_policy` has cached.

The policy class is passed in (``make``) rather than imported: :mod:`.policy` calls this
module, and this module only builds the rules (:mod:`.rules`), so neither imports the
other's caller. ``hardenkit.sandbox.docker`` keeps the historical entry points.
"""

from __future__ import annotations

import _thread
import errno
import os

from hardenkit._dataclass import replace
from hardenkit._linux.capnames import CAP_NAMES
from hardenkit.errors import PolicyError
from hardenkit.sandbox.seccomp.rules import ArgCondition, SyscallRule

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from pathlib import Path
    from typing import Any

    from hardenkit.sandbox.seccomp.policy import SeccompPolicy

    #: The policy class (SeccompPolicy), called with the translated fields.
    Make = Callable[..., SeccompPolicy]

__all__ = ["CAP_NAMES", "bundled_default", "redecide", "translate", "translate_bundled"]


_ACTIONS = {
    "SCMP_ACT_ALLOW": "allow",
    "SCMP_ACT_LOG": "log",
    "SCMP_ACT_ERRNO": "errno",
    "SCMP_ACT_TRAP": "trap",
    "SCMP_ACT_KILL": "kill",
    "SCMP_ACT_KILL_THREAD": "kill",
    "SCMP_ACT_KILL_PROCESS": "kill",
}
_OPS = {
    "SCMP_CMP_NE": "ne",
    "SCMP_CMP_LT": "lt",
    "SCMP_CMP_LE": "le",
    "SCMP_CMP_EQ": "eq",
    "SCMP_CMP_GE": "ge",
    "SCMP_CMP_GT": "gt",
    "SCMP_CMP_MASKED_EQ": "masked_eq",
}
#: libseccomp arch tokens' names -> Go's GOARCH, which moby compares ``arches`` against.
_GOARCH = {
    "SCMP_ARCH_X86_64": "amd64",
    "SCMP_ARCH_X86": "386",
    "SCMP_ARCH_AARCH64": "arm64",
    "SCMP_ARCH_ARM": "arm",
    "SCMP_ARCH_PPC64LE": "ppc64le",
    "SCMP_ARCH_PPC64": "ppc64",
    "SCMP_ARCH_S390X": "s390x",
    "SCMP_ARCH_S390": "s390",
    "SCMP_ARCH_RISCV64": "riscv64",
    "SCMP_ARCH_MIPS64": "mips64",
    "SCMP_ARCH_MIPSEL64": "mips64le",
    "SCMP_ARCH_MIPS": "mips",
    "SCMP_ARCH_MIPSEL": "mipsle",
}


#: Translated policies by (content digest, capabilities, native arch, kernel release,
#: capabilities given explicitly).
_CacheKey = tuple[bytes, frozenset[str], int, str, bool, object]
_POLICIES: dict[_CacheKey, SeccompPolicy] = {}
_POLICIES_MAX = 16
# threading.Lock itself, without importing threading (~1 ms) for one lock.
_POLICIES_LOCK = _thread.allocate_lock()


if TYPE_CHECKING:
    from hashlib import sha256
else:

    def sha256(data: bytes) -> Any:
        """SHA-256 of ``data``: the builtin one, not hashlib's (loads OpenSSL, ~3.5 ms).

        Imported on first use: the bundled profile comes with its digest (no hash at all).
        """
        try:
            from _sha2 import sha256 as new  # noqa: PLC0415 -- Python 3.12+
        except ImportError:
            try:
                from _sha256 import sha256 as new  # noqa: PLC0415 -- Python 3.10, 3.11
            except ImportError:  # built without the builtin hashes
                from hashlib import sha256 as new  # noqa: PLC0415
        return new(data)


def _version(text: str) -> tuple[int, int, int] | None:
    r"""``re.match(r"(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?", text)``'s numbers (0 when absent).

    Without ``re`` (and its ``enum``, ~4 ms of ``hardenkit exec --seccomp docker``, whose
    profile has ``minKernel`` entries). ``str.isdecimal`` is ``\d``: Unicode category Nd.

    Examples:
        >>> _version("6.18.0-rc1"), _version("4.8"), _version("5..1"), _version("v5")
        ((6, 18, 0), (4, 8, 0), (5, 0, 0), None)
    """
    parts: list[int] = []
    start = 0
    while len(parts) < 3:  # noqa: PLR2004 -- major, minor, patch
        end = start
        while end < len(text) and text[end].isdecimal():
            end += 1
        if end == start:  # no digit: a first part is required, a later one ends the match
            if not parts:
                return None
            break
        parts.append(int(text[start:end]))
        if end + 1 >= len(text) or text[end] != "." or not text[end + 1].isdecimal():
            break
        start = end + 1
    parts += [0, 0]
    return parts[0], parts[1], parts[2]


def bundled_default() -> dict[str, Any]:
    """Return the bundled copy of Docker's default profile (moby/profiles, Apache-2.0).

    Examples:
        >>> bundled_default()["defaultAction"]
        'SCMP_ACT_ERRNO'
    """
    import copy  # noqa: PLC0415 -- for import time: on use

    from hardenkit.sandbox.seccomp._docker_profile import PROFILE  # noqa: PLC0415 -- on use

    return copy.deepcopy(PROFILE)


def translate_bundled(
    make: Make, *, capabilities: Iterable[str | int] | None = None
) -> SeccompPolicy:
    """Return the bundled Docker default profile as a ``make`` policy (cached).

    The profile is hardenkit/sandbox/data/docker-default-seccomp.json as a Python module
    (:mod:`._generate`): no ``json`` import (~3 ms) nor parse for ``hardenkit exec``.

    Examples:
        >>> from hardenkit.sandbox.seccomp import SeccompPolicy
        >>> translate_bundled(SeccompPolicy, capabilities=()) is translate_bundled(
        ...     SeccompPolicy, capabilities=[])
        True
    """
    from hardenkit.sandbox.seccomp._docker_profile import PROFILE, SHA256  # noqa: PLC0415 -- on use

    where = "bundled Docker default profile"
    return _translate(None, PROFILE, where, capabilities, make, digest=SHA256)


def _cap_name(cap: str | int) -> str:
    if isinstance(cap, int):  # also Capability (an IntEnum)
        if not 0 <= cap < len(CAP_NAMES):
            raise PolicyError(f"unknown capability number {cap}")
        return CAP_NAMES[cap]
    name = cap.strip().upper()
    return name if name.startswith("CAP_") else f"CAP_{name}"


def _bounding_set() -> frozenset[str]:
    from hardenkit._linux.procfs import read_status  # noqa: PLC0415 -- for import time: procfs, only without explicit capabilities

    mask = read_status().cap_bounding
    return frozenset(name for bit, name in enumerate(CAP_NAMES) if mask >> bit & 1)


def _kernel_at_least(minimum: str, release: str) -> bool:
    def parse(text: str) -> tuple[int, ...]:
        version = _version(text)
        if version is None:
            raise PolicyError(f"cannot parse kernel version {text!r}")
        return version

    return parse(release) >= parse(minimum)


def _selected(entry: Mapping[str, Any], caps: frozenset[str], goarch: str, release: str) -> bool:
    excludes = entry.get("excludes") or {}
    includes = entry.get("includes") or {}
    if goarch in (excludes.get("arches") or ()):
        return False
    if any(_cap_name(c) in caps for c in excludes.get("caps") or ()):
        return False
    if excludes.get("minKernel") and _kernel_at_least(excludes["minKernel"], release):
        return False
    arches = includes.get("arches") or ()
    if arches and goarch not in arches:
        return False
    if not all(_cap_name(c) in caps for c in includes.get("caps") or ()):
        return False
    return not (includes.get("minKernel") and not _kernel_at_least(includes["minKernel"], release))


def _conditions(raw_args: list[Mapping[str, Any]], where: str) -> list[tuple[ArgCondition, ...]]:
    conds: list[ArgCondition] = []
    for arg in raw_args:
        op = _OPS.get(str(arg.get("op")))
        if op is None:
            raise PolicyError(f"{where}: unknown comparison {arg.get('op')!r}")
        index, value, two = int(arg["index"]), int(arg.get("value", 0)), int(arg.get("valueTwo", 0))
        if op == "masked_eq":  # Docker: value is the mask, valueTwo the expected bits
            conds.append(ArgCondition(index=index, op=op, mask=value, value=two))
        else:
            conds.append(ArgCondition(index=index, op=op, value=value))
    indexes = [c.index for c in conds]
    if len(set(indexes)) != len(indexes):  # runc: each condition becomes its own rule
        return [(c,) for c in conds]
    return [tuple(conds)]


def _read(profile: str | os.PathLike[str] | Path) -> tuple[bytes, str]:
    where = os.fspath(profile)
    try:
        with open(where, "rb") as fh:
            return fh.read(), where
    except OSError as err:
        raise PolicyError(f"cannot read seccomp profile {where}: {err.strerror}") from err


def _canonical(profile: Mapping[str, Any]) -> bytes | None:
    """The dict's content as canonical JSON, None when it is not plain JSON (no caching)."""
    import json  # noqa: PLC0415 -- for import time: only profiles given as dicts or files

    try:
        return json.dumps(profile, sort_keys=True, separators=(",", ":")).encode()
    except (TypeError, ValueError):
        return None


def translate(
    profile: str | os.PathLike[str] | Path | Mapping[str, Any],
    make: Make,
    *,
    capabilities: Iterable[str | int] | None = None,
) -> SeccompPolicy:
    """Translate a Docker/OCI profile; see :meth:`SeccompPolicy.from_docker_profile`.

    The same content with the same capabilities returns the same (cached) policy object.

    Examples:
        >>> from hardenkit.sandbox.seccomp import SeccompPolicy
        >>> prof = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        ...         "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        ...                      {"names": ["mount"], "action": "SCMP_ACT_ALLOW",
        ...                       "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}
        >>> [r.names for r in translate(prof, SeccompPolicy, capabilities=[]).rules]
        [('read', 'write')]
        >>> translate(prof, SeccompPolicy, capabilities=["SYS_ADMIN"]).errno
        38
    """
    if isinstance(profile, (str, os.PathLike)):
        raw, where = _read(profile)
        return _translate(raw, None, where, capabilities, make)
    return _translate(_canonical(profile), profile, "seccomp profile", capabilities, make)


class _Source:
    """What a policy was translated from, kept to decide its ``caps`` again.

    A plain class, not a ``@dataclass``: building one costs every first use of the
    sandbox ~1 ms at import (issue 14). Compared by identity.
    """

    __slots__ = (
        "base",
        "caps",
        "data",
        "decided",
        "digest",
        "named_caps",
        "raw",
        "release",
        "requested",
        "where",
    )

    def __init__(
        self,
        *,
        raw: bytes | None,
        data: Mapping[str, Any] | None,
        where: str,
        requested: frozenset[str] | None,
        caps: frozenset[str] = frozenset(),
        digest: bytes | None = None,
        release: str = "",
    ) -> None:
        self.raw = raw
        #: The kernel release ``uname()`` gave when the policy was decided: ``minKernel``
        #: entries depend on it, and personality(UNAME26) changes it within a process.
        self.release = release
        #: A copy of the profile when it is not plain JSON (``raw`` is None), else None.
        self.data = data
        self.where = where
        #: The capabilities asked for at load time; None: whichever the process holds.
        self.requested = requested
        #: The capabilities the policy was decided against.
        self.caps = caps
        #: SHA-256 of the content (None: not cached).
        self.digest = digest
        #: The policy as translated (set once built): what a caller's changes are told from.
        self.base: SeccompPolicy | None = None
        #: Policies already decided from this source, by (capabilities held, id of the
        #: policy asked about, kernel release), with that policy kept alive: a spawn then
        #: skips hashing.
        self.decided: dict[
            tuple[frozenset[str], int, str], tuple[SeccompPolicy, SeccompPolicy]
        ] = {}
        #: Every capability the profile's ``includes``/``excludes`` name (set once built):
        #: two sets that agree on these decide every entry alike, so the rules are the same.
        self.named_caps: frozenset[str] | None = None

    def __repr__(self) -> str:
        return f"_Source(where={self.where!r})"


#: Fields a caller may have changed on a translated policy (``dataclasses.replace``).
_CARRIED = ("default", "allow", "deny", "errno", "arches", "block_namespaces")


def redecide(policy: SeccompPolicy, capabilities: Iterable[str | int]) -> SeccompPolicy:
    """``policy`` (translated from a profile) for a process holding ``capabilities``.

    The profile's capability conditions are decided again; whatever the caller changed
    on the translated policy (rules added or removed, ``errno``, ``block_namespaces``...)
    is carried over.

    Examples:
        >>> from hardenkit.sandbox.seccomp import SeccompPolicy
        >>> p = SeccompPolicy.docker_default(capabilities=["SYS_NICE"])
        >>> redecide(p, []) is SeccompPolicy.docker_default(capabilities=[])
        True
        >>> redecide(p, ["SYS_NICE", "SYS_PTRACE"]) is p  # only what was asked for
        True
        >>> import dataclasses
        >>> q = dataclasses.replace(p, block_namespaces=False, deny=["mount"])
        >>> r = redecide(q, [])
        >>> r.block_namespaces, r.deny, any("get_mempolicy" in x.names for x in r.rules)
        (False, ('mount',), False)
    """
    source: _Source = policy._profile  # noqa: SLF001 -- the sibling module's field
    held = frozenset(_cap_name(c) for c in capabilities)
    if source.requested is not None:
        held &= source.requested
    key = (held, id(policy), os.uname().release)
    hit = source.decided.get(key)
    if hit is not None and hit[0] is policy:
        return hit[1]
    fresh = _translate(
        source.raw, source.data, source.where, held, type(policy), like=source, digest=source.digest
    )
    result = fresh if policy is source.base else _carry(policy, source.base, fresh)
    if len(source.decided) >= _POLICIES_MAX:
        source.decided.pop(next(iter(source.decided)))
    source.decided[key] = (policy, result)
    return result


def decided_alike(policy: SeccompPolicy, capabilities: Iterable[str | int]) -> bool:
    """Whether :func:`redecide` would give ``policy``'s own rules back for ``capabilities``.

    True when the capabilities agree with those ``policy`` was decided against on every
    capability its profile names: the policy redecided is then equal to ``policy``
    (``apply_seccomp`` compiles ``policy`` itself and skips building the copy).

    Examples:
        >>> from hardenkit.sandbox.seccomp import SeccompPolicy
        >>> p = SeccompPolicy.docker_default(capabilities=["SYS_NICE", "CHOWN"])
        >>> decided_alike(p, ["SYS_NICE"]), decided_alike(p, [])
        (True, False)
    """
    source: _Source | None = policy._profile  # noqa: SLF001 -- the sibling module's field
    if source is None or source.named_caps is None or source.release != os.uname().release:
        return False
    held = frozenset(_cap_name(c) for c in capabilities)
    if source.requested is not None:
        held &= source.requested
    return held & source.named_caps == source.caps & source.named_caps


def _carry(
    policy: SeccompPolicy, base: SeccompPolicy | None, fresh: SeccompPolicy
) -> SeccompPolicy:
    """``fresh`` with the changes ``policy`` made to ``base`` applied."""
    if base is None:  # pragma: no cover - set right after the translation
        raise PolicyError("a translated profile lost its base policy")
    changes: dict[str, Any] = {
        name: getattr(policy, name)
        for name in _CARRIED
        if getattr(policy, name) != getattr(base, name)
    }
    if policy.rules != base.rules:
        before, now = set(base.rules), set(policy.rules)
        kept = tuple(r for r in fresh.rules if r not in before - now)
        changes["rules"] = kept + tuple(r for r in policy.rules if r not in before)
    return replace(fresh, **changes) if changes else fresh


def _translate(
    raw: bytes | None,
    data: Mapping[str, Any] | None,
    where: str,
    capabilities: Iterable[str | int] | None,
    make: Make,
    *,
    like: _Source | None = None,
    digest: bytes | None = None,
) -> SeccompPolicy:
    """Return the cached policy for ``raw`` (file bytes or canonical JSON), or build it.

    ``digest``: the content's SHA-256 when it is known (``raw``'s, or that of a constant
    of the package given as ``data``, which is then kept without a copy).

    ``like``, the source of a policy translated from the same content: when ``caps``
    agree with its capabilities on every capability the profile names, the rules are
    its rules, taken without parsing and deciding the profile again (``apply_seccomp``
    of a profile loaded with the bounding set, applied with the permitted set).
    """
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    explicit = capabilities is not None
    caps = (
        _bounding_set() if capabilities is None else frozenset(_cap_name(c) for c in capabilities)
    )
    key: _CacheKey | None = None
    release = os.uname().release  # once: the key, the reuse and the build agree on it
    if digest is None and raw is not None:
        digest = sha256(raw).digest()
    if digest is not None:
        key = (digest, caps, sc.native_arch(), release, explicit, make)
        hit = _POLICIES.get(key)
        if hit is not None:
            return hit
    # What the policy is decided from again later: the content as it is now (the bytes, a
    # constant of the package, or a copy of a dict that is not plain JSON), never the
    # caller's dict, which may change.
    if raw is not None or digest is not None:
        stored = None if raw is not None else data
    else:
        import copy  # noqa: PLC0415 -- for import time: only for a dict given by the caller

        stored = copy.deepcopy(data)
    source = _Source(
        raw=raw,
        data=stored,
        where=where,
        requested=caps if explicit else None,
        caps=caps,
        digest=digest,
        release=release,
    )
    same = _same_decisions(like, caps, make, release)
    if same is not None:
        source.named_caps = like.named_caps if like is not None else None
        policy = replace(same, _profile=source)
        source.base = policy
        if key is not None:
            _remember(key, policy)
        return policy
    policy = _build(_parsed(raw, data, where), where, caps, source, make)
    source.base = policy
    if key is not None:
        _remember(key, policy)
    return policy


def _parsed(raw: bytes | None, data: Mapping[str, Any] | None, where: str) -> Mapping[str, Any]:
    """``data``, or ``raw`` parsed: a JSON object."""
    if data is None:
        import json  # noqa: PLC0415 -- for import time: only profiles given as files or dicts

        try:
            data = json.loads(raw or b"")
        except ValueError as err:
            raise PolicyError(f"seccomp profile {where} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise PolicyError(f"{where}: a profile is a JSON object")
    return data


def _same_decisions(
    like: _Source | None, caps: frozenset[str], make: Make, release: str
) -> SeccompPolicy | None:
    """``like``'s translated policy when ``caps`` and ``release`` decide every entry alike."""
    if like is None or like.base is None or like.named_caps is None or like.release != release:
        return None
    if type(like.base) is not make or caps & like.named_caps != like.caps & like.named_caps:
        return None
    return like.base


def _remember(key: _CacheKey, policy: SeccompPolicy) -> None:
    with _POLICIES_LOCK:
        if len(_POLICIES) >= _POLICIES_MAX:
            _POLICIES.pop(next(iter(_POLICIES)))
        _POLICIES[key] = policy


def _clear_cache() -> None:
    """Forget translated profiles (benchmarks measure a first translation with it)."""
    with _POLICIES_LOCK:
        _POLICIES.clear()


def _build(
    data: Mapping[str, Any], where: str, caps: frozenset[str], source: _Source, make: Make
) -> SeccompPolicy:
    from hardenkit._linux import seccomp_compile as sc  # noqa: PLC0415 -- ctypes on use

    if data.get("listenerPath") or data.get("listenerMetadata"):
        raise PolicyError(f"{where}: seccomp user notification (listenerPath) is not supported")
    default = _ACTIONS.get(str(data.get("defaultAction")))
    if default is None or default == "trap":
        raise PolicyError(f"{where}: unsupported defaultAction {data.get('defaultAction')!r}")
    default_errno = int(data.get("defaultErrnoRet") or errno.EPERM)
    native = sc.native_arch()
    native_name = next((n for n, t in sc.ARCH_NAMES.items() if t == native), "SCMP_ARCH_NATIVE")
    arches: list[str] = [a for a in data.get("architectures") or () if isinstance(a, str)]
    for entry in data.get("archMap") or ():
        if entry.get("architecture") == native_name:
            arches += [entry["architecture"], *(entry.get("subArchitectures") or ())]
    arches = [a for a in dict.fromkeys(arches) if a != native_name]
    goarch = _GOARCH.get(native_name, native_name)
    release = source.release or os.uname().release
    rules: list[SyscallRule] = []
    named: set[str] | None = set()
    for i, entry in enumerate(data.get("syscalls") or ()):
        here = f"{where}: syscalls[{i}]"
        named = _add_named(named, entry)
        names = entry.get("names") or ([entry["name"]] if entry.get("name") else [])
        if not names or not _selected(entry, caps, goarch, release):
            continue
        action = _ACTIONS.get(str(entry.get("action")))
        if action is None:
            raise PolicyError(f"{here}: unsupported action {entry.get('action')!r}")
        err = int(entry.get("errnoRet") or errno.EPERM) if action == "errno" else None
        rules.extend(
            SyscallRule(names=tuple(names), action=action, errno=err, args=conds)
            for conds in _conditions(list(entry.get("args") or ()), here)
        )
    policy = make(
        default=default,
        errno=default_errno,
        rules=tuple(rules),
        arches=tuple(arches),
        _profile=source,
    )
    source.named_caps = None if named is None else frozenset(named)
    return policy


def _add_named(named: set[str] | None, entry: Mapping[str, Any]) -> set[str] | None:
    """``named`` with the capabilities ``entry``'s ``includes``/``excludes`` name.

    None (decide every later load in full) when an entry names them in a form that
    :func:`_selected` never had to read (it stops at the first deciding condition).
    """
    if named is None:
        return None
    try:
        for part in (entry.get("includes"), entry.get("excludes")):
            if part:
                named.update(_cap_name(c) for c in part.get("caps") or ())
    except (AttributeError, TypeError, PolicyError):
        return None
    return named
