"""Raw Landlock syscalls (landlock_create_ruleset, landlock_add_rule, landlock_restrict_self).

Return values are checked first and errno is read only when a call returned -1. The
ruleset is described up front (:class:`PreparedRuleset`) so that :meth:`~PreparedRuleset.enforce`
can run in a forked child right before exec without imports or allocations of note.
"""

from __future__ import annotations

import ctypes
import errno
import os

from hardenkit._linux.libc import libc, syscall_number

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)) in the uapi header
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _raw() -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    fn = libc()["syscall"]
    fn.restype = ctypes.c_long
    return fn


def _fail() -> OSError:
    err = ctypes.get_errno()
    return OSError(err, os.strerror(err))


def abi_version() -> int:
    """Return the running kernel's Landlock ABI version, 0 when Landlock is absent.

    Examples:
        >>> abi_version() >= 0
        True
    """
    try:
        nr = syscall_number("landlock_create_ruleset")
    except NotImplementedError:
        return 0
    rc = _raw()(ctypes.c_long(nr), None, ctypes.c_long(0), ctypes.c_long(1))
    if rc >= 0:
        return int(rc)
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EOPNOTSUPP):
        return 0
    raise OSError(err, os.strerror(err))


class PreparedRuleset:
    """A Landlock ruleset described in advance, enforced with :meth:`enforce`.

    ``rules`` pairs an open (O_PATH) descriptor with the rights allowed beneath it; the
    descriptors stay owned by the caller. ``attr_size`` pins the struct size to the ABI
    (24 bytes, ABI 6+, for ``scoped``).

    Examples:
        >>> PreparedRuleset(handled_fs=1, attr_size=8, rules=()).rules
        0
    """

    __slots__ = ("_attr", "_attr_size", "_fn", "_nrs", "_rules")
    #: The ``landlock_add_rule`` rule type of ``_rules`` (a subclass may add other kinds).
    _RULE_TYPE = LANDLOCK_RULE_PATH_BENEATH

    def __init__(
        self,
        *,
        handled_fs: int,
        attr_size: int,
        rules: Sequence[tuple[int, int]],
        scoped: int = 0,
    ) -> None:
        self._setup(
            _RulesetAttr(handled_fs, 0, scoped),
            attr_size,
            [_PathBeneathAttr(access, fd) for fd, access in rules],
        )

    def _setup(self, attr: _RulesetAttr, attr_size: int, rules: list[ctypes.Structure]) -> None:
        """Everything the syscalls need, prepared now: enforcing runs without imports."""
        self._attr = attr
        self._attr_size = attr_size
        self._rules = rules
        self._fn = _raw()
        self._nrs = (
            ctypes.c_long(syscall_number("landlock_create_ruleset")),
            ctypes.c_long(syscall_number("landlock_add_rule")),
            ctypes.c_long(syscall_number("landlock_restrict_self")),
        )

    @property
    def rules(self) -> int:
        """Number of rules."""
        return len(self._rules)

    def create(self) -> int:
        """Create the ruleset and add every rule; return its (close-on-exec) descriptor.

        Creating a ruleset restricts nobody: only ``landlock_restrict_self`` on it does
        (the spawn exec helper makes that call in the child). Raises OSError.
        """
        fn = self._fn
        fd = fn(self._nrs[0], ctypes.byref(self._attr), ctypes.c_long(self._attr_size), 0)
        if fd < 0:
            raise _fail()
        for rule in self._rules:
            rc = fn(
                self._nrs[1],
                ctypes.c_long(fd),
                ctypes.c_long(self._RULE_TYPE),
                ctypes.byref(rule),
                ctypes.c_long(0),
            )
            if rc != 0:
                err = _fail()
                os.close(fd)
                raise err
        return int(fd)

    def enforce(self) -> None:
        """Create the ruleset, add every rule and restrict the calling thread.

        Raises OSError (with the failing step in the message) on the first failure.
        """
        fd = self.create()
        try:
            if self._fn(self._nrs[2], ctypes.c_long(fd), ctypes.c_long(0)) != 0:
                raise _fail()
        finally:
            os.close(fd)
