"""``Confinement``: every confinement option in one frozen object, checked in one place.

:func:`~hardenkit.confine`, :func:`~hardenkit.run`, :func:`~hardenkit.spawn.run_async`,
:func:`~hardenkit.call_sandboxed` and profiles (:attr:`Profile.confinement`) all take
the same object (``confinement=``); their keyword arguments (``user=``, ``limits=``...)
only build one with :func:`resolve`. A new option is one field here, one step in
:mod:`hardenkit.sandbox._steps` and one check in :mod:`hardenkit.sandbox._check`.
"""

from __future__ import annotations

import sys

from hardenkit._dataclass import dataclass, field_names
from hardenkit._unset import UNSET
from hardenkit.errors import SandboxError

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hardenkit.capabilities import CapLike
    from hardenkit.sandbox.landlock import FilesystemPolicy
    from hardenkit.sandbox.limits import ResourceLimits
    from hardenkit.sandbox.network import NetworkPolicy
    from hardenkit.sandbox.seccomp import SeccompPolicy

__all__ = ["OPTION_NAMES", "Confinement", "resolve"]

#: Policy fields -> (module, class) their value must be an instance of. A class whose
#: module was never imported cannot have instances, so nothing is imported to check.
_POLICY_TYPES = {
    "limits": ("hardenkit.sandbox.limits", "ResourceLimits"),
    "filesystem": ("hardenkit.sandbox.landlock", "FilesystemPolicy"),
    "seccomp": ("hardenkit.sandbox.seccomp", "SeccompPolicy"),
    "network": ("hardenkit.sandbox.network", "NetworkPolicy"),
}
_FLAGS = ("no_new_privs", "block_namespaces", "isolate", "allow_root_equivalent")


def _is_instance(value: object, module: str, name: str) -> bool:
    mod = sys.modules.get(module)
    return mod is not None and isinstance(value, getattr(mod, name))


def _check_id(value: object, what: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
        raise TypeError(f"Confinement.{what} must be a user or group name or id, or None")


def _keep_items(keep: object) -> tuple[Any, ...]:
    """``keep`` as a tuple of names and numbers (capabilities.cap_items, without its import)."""
    if keep is None:
        return ()
    if isinstance(keep, str):
        return (keep,)
    if isinstance(keep, (bytes, bytearray, memoryview)) or not hasattr(keep, "__iter__"):
        raise TypeError(
            f"Confinement.keep takes capability names or numbers, not {type(keep).__name__}"
        )
    items = tuple(keep)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise TypeError(
                f"Confinement.keep items are capability names or numbers, not {type(item).__name__}"
            )
    return items


@dataclass(frozen=True, slots=True, kw_only=True)
class Confinement:
    """A whole confinement: who the process becomes and what the kernel lets it do.

    The defaults are :func:`~hardenkit.confine`'s: namespace creation refused,
    no_new_privs set, the process isolated in a Landlock domain. ``groups`` and ``keep``
    are stored as tuples (a bare string in ``keep`` is one capability name). Without
    ``user``, ``keep`` names only capabilities the confinement would shed otherwise:
    CAP_MKNOD, CAP_SYS_ADMIN, CAP_PERFMON and, with ``network``, the network
    administration ones (CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BROADCAST, CAP_BPF, and
    CAP_NET_BIND_SERVICE when no TCP port may be bound).

    Examples:
        >>> from hardenkit.sandbox import ResourceLimits
        >>> c = Confinement(user="nobody", limits=ResourceLimits(open_files=64))
        >>> c.user, c.keep, c.restricts
        ('nobody', (), True)
        >>> Confinement(limits={"open_files": 64})
        Traceback (most recent call last):
        ...
        TypeError: Confinement.limits must be a ResourceLimits or None, not dict
    """

    user: str | int | None = None
    group: str | int | None = None
    groups: tuple[str | int, ...] | None = None
    keep: tuple[CapLike, ...] = ()
    limits: ResourceLimits | None = None
    no_new_privs: bool = True
    filesystem: FilesystemPolicy | None = None
    seccomp: SeccompPolicy | None = None
    block_namespaces: bool = True
    isolate: bool = True
    allow_root_equivalent: bool = False
    network: NetworkPolicy | None = None

    def __post_init__(self) -> None:
        _check_id(self.user, "user")
        _check_id(self.group, "group")
        groups: Any = self.groups
        if groups is not None:
            if isinstance(groups, (str, bytes)):
                raise TypeError("Confinement.groups takes a collection of names or ids")
            object.__setattr__(self, "groups", tuple(groups))
            for g in self.groups or ():
                _check_id(g, "groups")
        if self.user is None and (self.group is not None or self.groups is not None):
            # One rule for every entry point: run(groups=[]) must not run unconfined
            # where confine(groups=[]) is refused.
            raise SandboxError("group= and groups= need user= (the user to become)")
        object.__setattr__(self, "keep", _keep_items(self.keep))
        for name in _FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"Confinement.{name} must be True or False")
        for name, (module, cls) in _POLICY_TYPES.items():
            value = getattr(self, name)
            if value is not None and not _is_instance(value, module, cls):
                raise TypeError(
                    f"Confinement.{name} must be a {cls} or None, not {type(value).__name__}"
                )

    @property
    def restricts(self) -> bool:
        """Whether an option asks for more than the defaults (a spawn confines only then)."""
        return any(
            value not in (None, ())
            for value in (
                self.user,
                self.group,
                self.groups,
                self.keep,
                self.limits,
                self.filesystem,
                self.seccomp,
                self.network,
            )
        )


#: Every option's name, in declaration order (the keyword arguments of the entry points).
OPTION_NAMES: tuple[str, ...] = field_names(Confinement)


def resolve(confinement: Confinement | None, **keywords: Any) -> Confinement:
    """The one :class:`Confinement` an entry point's arguments stand for.

    Either ``confinement`` or keywords (the entry point's own option arguments): mixing
    them is refused, since which one should win is a guess. A keyword whose value is
    :data:`~hardenkit._unset.UNSET` (the entry points' default) was not passed; any
    other value was, even one equal to the option's default.

    Examples:
        >>> resolve(None, user="nobody").user
        'nobody'
        >>> resolve(Confinement(user="nobody"), user="root")
        Traceback (most recent call last):
        ...
        TypeError: pass the options either as confinement= or as keywords, not both (user)

    Raises:
        TypeError: both were given, or an option has the wrong type.
    """
    given = {name: value for name, value in keywords.items() if value is not UNSET}
    if confinement is None:
        return Confinement(**given)
    if not isinstance(confinement, Confinement):
        raise TypeError(f"confinement= takes a Confinement, not {type(confinement).__name__}")
    clash = list(given)
    if clash:
        raise TypeError(
            f"pass the options either as confinement= or as keywords, not both ({', '.join(clash)})"
        )
    return confinement


def options_of(confinement: Confinement) -> dict[str, Any]:
    """The keyword arguments ``confinement`` stands for (for code that spreads them).

    Examples:
        >>> options_of(Confinement(user="nobody"))["user"]
        'nobody'
    """
    return {name: getattr(confinement, name) for name in OPTION_NAMES}
