"""The values a seccomp policy is made of: argument conditions, rules, return values.

The bottom of the seccomp package: no other module of it is imported here, so the Docker
profile translator (:mod:`.profiles`) can build rules without importing the policy.
"""

from __future__ import annotations

from hardenkit._dataclass import dataclass
from hardenkit.errors import PolicyError

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["ArgCondition", "SyscallRule"]

#: Filter return values (linux/seccomp.h).
RET = {
    "kill": 0x80000000,  # SECCOMP_RET_KILL_PROCESS, never libseccomp's thread-only KILL
    "trap": 0x00030000,
    "errno": 0x00050000,
    "log": 0x7FFC0000,
    "allow": 0x7FFF0000,
}
#: Most restrictive first: when two plain lists name a syscall, the earlier action wins.
DEFAULTS = ("kill", "errno", "log", "allow")
ACTIONS = ("kill", "trap", "errno", "log", "allow")
#: libseccomp's comparison operators (enum scmp_compare).
OPS = {"ne": 1, "lt": 2, "le": 3, "eq": 4, "ge": 5, "gt": 6, "masked_eq": 7}
MAX_ERRNO = 4095
_U64 = (1 << 64) - 1
#: What a syscall or group name is made of (``@?[a-z0-9_-]+``): a set, not a regular
#: expression, as compiling one costs every first use of the sandbox at import.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_MAX_ARGS = 6


def _is_name(item: str) -> bool:
    """Whether ``item`` is ``@?[a-z0-9_-]+`` (a syscall name, or a group with its ``@``)."""
    body = item.removeprefix("@")
    return bool(body) and _NAME_CHARS.issuperset(body)


def names_of(value: str | Iterable[str], what: str) -> tuple[str, ...]:
    """``value`` (one name or several) as a tuple, checked, duplicates dropped."""
    items = (value,) if isinstance(value, str) else tuple(value)
    if not _all_plain_names(items):  # else every item is one: no need to look at each
        for item in items:
            if not isinstance(item, str) or not _is_name(item):
                raise PolicyError(f"{what}: {item!r} is not a syscall or @group name")
    return tuple(dict.fromkeys(items))  # first occurrence kept, in order


def _all_plain_names(items: tuple[object, ...]) -> bool:
    """Whether every item is a non-empty ``[a-z0-9_-]+`` string (no group), in one check.

    False also when some item is a group or no name at all: the caller then checks each.
    """
    try:
        joined = "".join(items)  # type: ignore[arg-type]  # TypeError: not all strings
    except TypeError:
        return False
    return all(items) and _NAME_CHARS.issuperset(joined)


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
        if self.op not in OPS:
            raise PolicyError(f"unknown comparison {self.op!r}: use one of {sorted(OPS)}")
        if (self.op == "masked_eq") != (self.mask is not None):
            raise PolicyError("mask= is required for masked_eq and only for it")
        for v in (self.value, self.mask or 0):
            if not 0 <= v <= _U64:
                raise PolicyError(f"argument value {v} is not an unsigned 64-bit integer")

    def _raw(self) -> tuple[int, int, int, int]:
        if self.mask is not None:
            return (self.index, OPS[self.op], self.mask, self.value)
        return (self.index, OPS[self.op], self.value, 0)


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
        names = names_of(self.names, "SyscallRule.names")
        if not names:
            raise PolicyError("a SyscallRule needs at least one syscall name")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "args", tuple(self.args))
        if self.action not in ACTIONS:
            raise PolicyError(f"unknown action {self.action!r}: use one of {ACTIONS}")
        if self.errno is not None and not 1 <= self.errno <= MAX_ERRNO:
            raise PolicyError(f"errno {self.errno} is outside 1..{MAX_ERRNO}")
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


def ret(action: str, err: int) -> int:
    """The filter return value of ``action`` (``errno`` carries ``err``).

    Examples:
        >>> hex(ret("errno", 1)), hex(ret("allow", 0))
        ('0x50001', '0x7fff0000')
    """
    return RET[action] | (err if action == "errno" else 0)


class Record:
    """A frozen record without ``@dataclass``'s cost at import.

    ``@dataclass`` builds each class by exec'ing generated methods (~1 ms a class on these
    machines); a fresh ``hardenkit exec`` built 19 of them before confining. The package's
    internal records are built by keyword and only read, so plain slotted classes do:
    attributes are set once in ``__init__`` and never again.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")

    def _fields(self) -> tuple[str, ...]:
        return self.__slots__

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._fields())

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self._fields()))
