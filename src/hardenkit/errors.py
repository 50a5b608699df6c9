"""The one exception tree of hardenkit.

Every error hardenkit raises derives from :class:`HardenkitError`, and where a builtin
fits it also derives from that builtin, so ``except PermissionError`` keeps working for
callers who have never heard of us::

    HardenkitError (Exception)
    ├── PrivilegeError (PermissionError)
    │   ├── CapabilityError                    .missing
    │   └── RootEquivalentError                .capabilities
    ├── InsecurePathError (PermissionError)    .path, .problems
    ├── EnvError
    │   ├── MissingEnvError (LookupError)      .names
    │   └── InvalidEnvError (ValueError)       .names
    ├── DecryptionError (ValueError)           .names, .path
    ├── SecretTooShortError (ValueError)
    ├── PolicyError (ValueError)               .argv
    │   ├── CommandNotAllowed                  .argv
    │   ├── UnsafeArgument                     .argv
    │   └── ProfileError                       .path, .line, .key
    ├── CommandTimeout (TimeoutError)          .timeout, .result
    ├── CommandFailed (subprocess.CalledProcessError)  .result
    ├── SandboxError (RuntimeError)            .signal, .syscall, .exc_type
    │   └── ConfinementFailed
    ├── UnsupportedPlatform (NotImplementedError)
    └── MissingDependency (ImportError)        .package, .extra

Every public error is defined here and drawn above: tests/unit/test_errors_tree.py walks
the source of every hardenkit module and fails on an exception class defined anywhere else
(only internal signals that are always caught inside hardenkit are listed there as
exempt), on one missing from this drawing or from ``__all__``, or on a drawn parent, base
or field that is not the real one. Other modules re-export the ones they raise
(``hardenkit.spawn.CommandFailed`` is this ``CommandFailed``).
``CommandFailed`` is built on first use: its builtin base needs ``subprocess``, which
every other importer of this module would otherwise pay for.

Messages name the variable, path, capability or syscall at fault and never contain a
secret value, a key or plaintext. Structured fields are keyword-only and survive pickling
(errors cross process boundaries in :func:`hardenkit.call_sandboxed`).

Examples:
    >>> from hardenkit.errors import InsecurePathError, HardenkitError
    >>> err = InsecurePathError("/etc/app.env is unsafe", path="/etc/app.env",
    ...                         problems=("mode 0644 exceeds 0600",))
    >>> isinstance(err, PermissionError), isinstance(err, HardenkitError)
    (True, True)
    >>> err.problems
    ('mode 0644 exceeds 0600',)
    >>> import pickle
    >>> pickle.loads(pickle.dumps(err)).path
    '/etc/app.env'
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing costs several ms in every module that imports
# this one, and type checkers treat any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from typing import Any, ClassVar

    from hardenkit.spawn import RunResult

__all__ = [
    "CapabilityError",
    "CommandFailed",
    "CommandNotAllowed",
    "CommandTimeout",
    "ConfinementFailed",
    "DecryptionError",
    "EnvError",
    "HardenkitError",
    "InsecurePathError",
    "InvalidEnvError",
    "MissingDependency",
    "MissingEnvError",
    "PolicyError",
    "PrivilegeError",
    "ProfileError",
    "RootEquivalentError",
    "SandboxError",
    "SecretTooShortError",
    "UnsafeArgument",
    "UnsupportedPlatform",
]


def _rebuild(cls: type[HardenkitError], message: str, fields: dict[str, Any]) -> HardenkitError:
    """Recreate an error from its message and fields (the target of ``__reduce__``)."""
    return cls(message, **fields)


class HardenkitError(Exception):
    """Base class of every error hardenkit raises.

    Subclasses list their structured fields in ``_fields``; each is a keyword-only
    constructor argument and an attribute, and all of them survive pickling.
    """

    _fields: ClassVar[tuple[str, ...]] = ()
    #: True on an error a confinement step raised (``confine()``, a plan's ``enter()``):
    #: the steps before it, and maybe part of it, took effect and cannot be undone, so
    #: the process is partly confined and should exit. False: nothing was changed.
    partly_confined: bool = False

    def __init__(self, message: str = "", **fields: Any) -> None:
        unknown = set(fields) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown fields: {sorted(unknown)}")
        super().__init__(message)
        self.message = message
        for name in self._fields:
            setattr(self, name, fields.get(name))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        fields = {name: getattr(self, name) for name in self._fields}
        return (_rebuild, (type(self), self.message, fields))


class PrivilegeError(HardenkitError, PermissionError):
    """A privilege change failed or could not be verified."""


class CapabilityError(PrivilegeError):
    """Required capabilities are missing (``.missing`` is a frozenset of Capability)."""

    _fields = ("missing",)
    missing: frozenset[Any]

    def __init__(self, message: str = "", *, missing: frozenset[Any] | None = None) -> None:
        super().__init__(message, missing=frozenset(missing or ()))


class RootEquivalentError(PrivilegeError):
    """A capability to keep amounts to root and was not acknowledged.

    ``.capabilities`` names them (``SYS_ADMIN``...); pass ``allow_root_equivalent=True``
    to keep them knowingly.
    """

    _fields = ("capabilities",)
    capabilities: frozenset[str]

    def __init__(self, message: str = "", *, capabilities: frozenset[str] | None = None) -> None:
        super().__init__(message, capabilities=frozenset(capabilities or ()))


class InsecurePathError(HardenkitError, PermissionError):
    """A path failed a permission check; ``.problems`` lists every problem found."""

    _fields = ("path", "problems")
    path: str | None
    problems: tuple[str, ...]

    def __init__(
        self,
        message: str = "",
        *,
        path: str | None = None,
        problems: tuple[str, ...] | list[str] | None = None,
    ) -> None:
        super().__init__(message, path=path, problems=tuple(problems or ()))


class EnvError(HardenkitError):
    """An environment problem (missing, invalid or unsafe variables)."""


class _NamedEnvError(EnvError):
    _fields = ("names",)
    names: tuple[str, ...]

    def __init__(
        self, message: str = "", *, names: tuple[str, ...] | list[str] | None = None
    ) -> None:
        super().__init__(message, names=tuple(names or ()))


class MissingEnvError(_NamedEnvError, LookupError):
    """Required variables are missing or empty; ``.names`` lists every one."""


class InvalidEnvError(_NamedEnvError, ValueError):
    """Variables failed validation; ``.names`` lists every one (never their values)."""


class DecryptionError(HardenkitError, ValueError):
    """A value could not be decrypted or authenticated; nothing was loaded."""

    _fields = ("names", "path")
    names: tuple[str, ...]
    path: str | None

    def __init__(
        self,
        message: str = "",
        *,
        names: tuple[str, ...] | list[str] | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, names=tuple(names or ()), path=path)


class SecretTooShortError(HardenkitError, ValueError):
    """A value too short to register as a secret (it would mask ordinary words)."""


class PolicyError(HardenkitError, ValueError):
    """A request violates a policy, or a policy itself is invalid."""

    _fields = ("argv",)
    argv: tuple[str, ...] | None

    def __init__(
        self, message: str = "", *, argv: tuple[str, ...] | list[str] | None = None
    ) -> None:
        super().__init__(message, argv=None if argv is None else tuple(argv))


class CommandNotAllowed(PolicyError):
    """The executable is not allowed by the policy; nothing was started."""


class UnsafeArgument(PolicyError):
    """An argument was refused by the policy's argument rules; nothing was started."""


class ProfileError(PolicyError):
    """A profile file is invalid: ``.path``, ``.line`` (best effort, else None) and ``.key``."""

    _fields = ("argv", "path", "line", "key")  # type: ignore[assignment]
    path: str | None
    line: int | None
    key: str | None

    def __init__(
        self,
        message: str = "",
        *,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
        argv: tuple[str, ...] | list[str] | None = None,
    ) -> None:
        HardenkitError.__init__(
            self, message, argv=None if argv is None else tuple(argv), path=path, line=line, key=key
        )


class CommandTimeout(HardenkitError, TimeoutError):
    """A command ran past its timeout; its process group was killed.

    ``.timeout`` is the timeout that was passed, ``.result`` the partial RunResult.
    """

    _fields = ("timeout", "result")
    timeout: float | None
    result: Any


class SandboxError(HardenkitError, RuntimeError):
    """A sandbox step could not be applied or verified, or a sandboxed call failed."""

    _fields = ("signal", "syscall", "exc_type")
    signal: int | None
    syscall: str | None
    exc_type: str | None


class ConfinementFailed(SandboxError):
    """A sandboxed child could not enter or verify its confinement (raised in the child).

    :func:`hardenkit.call_sandboxed` turns it into a :class:`SandboxError` in the parent.
    """


class UnsupportedPlatform(HardenkitError, NotImplementedError):
    """The call needs a platform feature this machine does not have."""


class MissingDependency(HardenkitError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    _fields = ("package", "extra")
    package: str | None
    extra: str | None


def _command_failed() -> type[HardenkitError]:
    """Define :class:`CommandFailed` (imports ``subprocess`` for its builtin base)."""
    import subprocess  # noqa: PLC0415 -- import time: only run(check=True) needs it

    class CommandFailed(HardenkitError, subprocess.CalledProcessError):
        """``run(check=True)`` and the command exited non-zero; ``.result`` is its RunResult.

        Also a ``subprocess.CalledProcessError`` (``.returncode``, ``.cmd``, ``.output``,
        ``.stderr``); the message names the executable and status, never output or arguments.
        """

        _fields = ("result",)
        result: RunResult | None

        def __init__(self, message: str = "", *, result: RunResult | None = None) -> None:
            # Not super().__init__: CalledProcessError's constructor takes other arguments.
            Exception.__init__(self, message)
            self.message = message
            self.result = result
            self.returncode = result.returncode if result else -1
            self.cmd = list(result.argv) if result else []
            self.output = result.stdout if result else None
            self.stderr = result.stderr if result else None

    CommandFailed.__module__ = __name__
    CommandFailed.__qualname__ = "CommandFailed"
    return CommandFailed


if TYPE_CHECKING:  # pragma: no cover - the static view of what __getattr__ defines

    class CommandFailed(HardenkitError, subprocess.CalledProcessError):  # noqa: D101
        result: RunResult | None

        def __init__(self, message: str = "", *, result: RunResult | None = None) -> None: ...


def __getattr__(name: str) -> Any:
    """Define ``CommandFailed`` on first access (PEP 562), once."""
    if name == "CommandFailed":
        return globals().setdefault(name, _command_failed())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
