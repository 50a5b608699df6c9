"""CommandPolicy: which executables may run, resolved once, and how their arguments look.

The argument rules are in ``_args.py``, the trusted-binary checks in ``_trusted.py``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection, Iterable, Mapping, Sequence

from hardenkit._dataclass import KW_ONLY, dataclass, field
from hardenkit.env import SAFE_PATH
from hardenkit.errors import CommandNotAllowed, PolicyError, UnsafeArgument
from hardenkit.spawn._args import METACHARACTERS, ArgRule, ArgRules
from hardenkit.spawn._argv import _as_argv
from hardenkit.spawn._trusted import _refuse_file_caps, trusted_binary

__all__ = ["METACHARACTERS", "ArgRules", "CommandPolicy", "trusted_binary"]

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _search(name: str, search_path: tuple[str, ...]) -> str | None:
    for directory in search_path:
        candidate = os.path.join(directory, name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
            return candidate
    return None


def _split_search_path(search_path: str | Sequence[str]) -> tuple[str, ...]:
    dirs = tuple(search_path.split(os.pathsep) if isinstance(search_path, str) else search_path)
    for entry in dirs:
        # An empty entry means the current directory to execvp and shutil.which.
        if not isinstance(entry, str) or not os.path.isabs(entry):
            raise PolicyError(
                f"search_path entry {entry!r} is not an absolute directory (an empty or "
                "relative entry would search the current directory)"
            )
    return dirs


@dataclass(frozen=True, slots=True)
class CommandPolicy:
    """The executables that may run, resolved once to real paths on a trusted search path.

    ``allow`` names commands (looked up on ``search_path``, never the caller's ``PATH``)
    or absolute paths. Each is resolved to its real path and must pass the trusted-binary
    checks (see :func:`trusted_binary`) when the policy is built. ``sha256`` pins digests
    (keys: an allow entry or its real path), verified on every run through the descriptor
    that is then executed. ``args`` maps an allow entry to an :class:`ArgRules` or a
    callable; ``forbid_metacharacters`` refuses shell metacharacters in every argument.

    ``argv[0]`` is not passed as written: multi-call programs (git ``git-init``,
    busybox, xz/unxz, vim/ex) choose what to do from it, so a symlink named after
    another personality would run what the argument rules never saw. The command runs
    with ``argv[0]`` set to the allow entry it was named by (``"unxz"`` runs as unxz
    only when ``"unxz"`` is allowed) or else to the real path (:meth:`argv0`).
    ``keep_argv0=True`` passes ``argv[0]`` as written (for programs whose every
    ``argv[0]`` you accept).

    A binary with file capabilities is refused like a setuid one (when the policy is
    built and on every resolve) unless ``allow_file_caps`` names its allow entry or
    real path.

    Examples:
        >>> policy = CommandPolicy(["true", "/bin/echo"])
        >>> policy.resolve("true") == os.path.realpath("/usr/bin/true")
        True
        >>> policy.resolve("./true")
        Traceback (most recent call last):
        ...
        hardenkit.errors.CommandNotAllowed: ./true is not allowed: relative paths never run...

    Raises:
        PolicyError: a malformed policy, a name not found on the search path.
        InsecurePathError: an allowed binary fails the trusted-binary checks.
    """

    allow: Sequence[str]
    _: KW_ONLY
    search_path: str | tuple[str, ...] = SAFE_PATH
    sha256: Mapping[str, str] | None = None
    forbid_metacharacters: bool = False
    args: Mapping[str, ArgRule] | None = None
    keep_argv0: bool = False
    allow_file_caps: Collection[str] = ()
    _resolved: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _pins: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _rules: Mapping[str, ArgRule] = field(init=False, repr=False, compare=False)
    _caps_ok: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        allow = self.allow
        if isinstance(allow, (str, bytes)) or not isinstance(allow, Iterable):
            raise PolicyError("CommandPolicy.allow must be a list of names or absolute paths")
        allow = tuple(allow)
        if not allow:
            raise PolicyError("CommandPolicy.allow is empty: nothing could run")
        dirs = _split_search_path(self.search_path)
        object.__setattr__(self, "allow", allow)
        object.__setattr__(self, "search_path", os.pathsep.join(dirs))
        caps_ok: object = self.allow_file_caps
        if isinstance(caps_ok, (str, bytes)) or not isinstance(caps_ok, Iterable):
            raise PolicyError("CommandPolicy.allow_file_caps must be a collection of allow entries")
        caps_ok = frozenset(caps_ok)
        if not all(isinstance(n, str) for n in caps_ok):
            raise PolicyError("CommandPolicy.allow_file_caps holds allow entries (str)")
        object.__setattr__(self, "allow_file_caps", caps_ok)
        resolved: dict[str, str] = {}
        for entry in allow:
            resolved[entry] = self._resolve_entry(entry, dirs, caps_ok=self._caps_named(entry))
        stray = set(self.allow_file_caps) - set(resolved) - set(resolved.values())
        if stray:
            raise PolicyError(
                f"allow_file_caps names {', '.join(sorted(stray))}, not an allowed command"
            )
        caps_real = {r for e, r in resolved.items() if self._caps_named(e) or r in caps_ok}
        object.__setattr__(self, "_caps_ok", frozenset(caps_real))
        object.__setattr__(self, "_resolved", resolved)
        object.__setattr__(self, "_pins", self._check_pins(resolved))
        object.__setattr__(self, "_rules", self._check_rules(resolved))
        for flag in ("forbid_metacharacters", "keep_argv0"):
            if not isinstance(getattr(self, flag), bool):
                raise PolicyError(f"CommandPolicy.{flag} must be a bool")

    def _caps_named(self, entry: str) -> bool:
        return entry in self.allow_file_caps

    @staticmethod
    def _resolve_entry(entry: object, dirs: tuple[str, ...], *, caps_ok: bool = False) -> str:
        if not isinstance(entry, str) or not entry or "\0" in entry:
            raise PolicyError(f"allow entry {entry!r} must be a non-empty string without NUL")
        if "/" in entry:
            if not os.path.isabs(entry):
                raise PolicyError(f"allow entry {entry!r} is a relative path: use a name or /path")
            found = entry
        else:
            searched = _search(entry, dirs)
            if searched is None:
                raise PolicyError(f"{entry} was not found on the search path {':'.join(dirs)}")
            found = searched
        try:
            real = trusted_binary(found, allow_file_caps=True)
        except CommandNotAllowed as err:
            raise PolicyError(str(err)) from err
        if not caps_ok:
            _refuse_file_caps(real)
        return real

    def _check_pins(self, resolved: Mapping[str, str]) -> dict[str, str]:
        pins: dict[str, str] = {}
        for key, digest in (self.sha256 or {}).items():
            real = resolved.get(key) or (key if key in resolved.values() else None)
            if real is None:
                raise PolicyError(f"sha256 pin for {key} names no allowed command")
            if not isinstance(digest, str) or not _HEX64.fullmatch(digest.lower()):
                raise PolicyError(f"sha256 pin for {key} is not 64 hex digits")
            pins[real] = digest.lower()
        return pins

    def _check_rules(self, resolved: Mapping[str, str]) -> dict[str, ArgRule]:
        rules: dict[str, ArgRule] = {}
        for key, rule in (self.args or {}).items():
            real = resolved.get(key) or (key if key in resolved.values() else None)
            if real is None:
                raise PolicyError(f"argument rules for {key} names no allowed command")
            if not isinstance(rule, ArgRules) and not callable(rule):
                raise PolicyError(f"argument rules for {key} must be ArgRules or a callable")
            rules[real] = rule
        return rules

    def resolve(self, command: str) -> str:
        """Return the real path ``command`` (a name or absolute path) runs, or raise.

        Examples:
            >>> CommandPolicy(["true"]).resolve("false")
            Traceback (most recent call last):
            ...
            hardenkit.errors.CommandNotAllowed: false is not allowed by the policy...
        """
        real = self._resolve(command)
        if real not in self._caps_ok:
            _refuse_file_caps(real)  # set since the policy was built?
        return real

    def _resolve(self, command: str) -> str:
        if "/" not in command:
            real = self._resolved.get(command)
            if real is not None:
                return real
            raise CommandNotAllowed(
                f"{command} is not allowed by the policy (allowed: {', '.join(self.allow)})",
                argv=(command,),
            )
        if not os.path.isabs(command):
            raise CommandNotAllowed(
                f"{command} is not allowed: relative paths never run (name it or give /path)",
                argv=(command,),
            )
        real = os.path.realpath(command)
        if real in self._resolved.values():
            return real
        raise CommandNotAllowed(
            f"{command} is not allowed by the policy (allowed: {', '.join(self.allow)})",
            argv=(command,),
        )

    def argv0(self, command: str, real: str) -> str:
        """Return the ``argv[0]`` that ``command`` (resolved to ``real``) runs with.

        The allow entry itself when ``command`` is one (and it resolves to ``real``),
        else ``real``; ``command`` unchanged with ``keep_argv0=True``.

        Examples:
            >>> p = CommandPolicy(["true"])
            >>> p.argv0("true", p.resolve("true"))
            'true'
            >>> p.argv0("/tmp/links/false", p.resolve("true")) == p.resolve("true")
            True
        """
        if self.keep_argv0 or self._resolved.get(command) == real:
            return command
        return real

    def pinned_digest(self, real: str) -> str | None:
        """Return the pinned sha256 of the real path ``real``, or None when not pinned.

        Examples:
            >>> CommandPolicy(["true"]).pinned_digest("/usr/bin/true") is None
            True
        """
        return self._pins.get(real)

    def check_arguments(self, argv: tuple[str, ...], real: str) -> tuple[str, ...]:
        """Apply the command's argument rules and the metacharacter filter; return argv.

        Examples:
            >>> p = CommandPolicy(["echo"], forbid_metacharacters=True)
            >>> p.check_arguments(("echo", "a;b"), p.resolve("echo"))
            Traceback (most recent call last):
            ...
            hardenkit.errors.UnsafeArgument: argument 1 of echo contains a shell metacharacter...
        """
        rule = self._rules.get(real)
        if isinstance(rule, ArgRules):
            argv = rule.apply(argv)
        elif rule is not None:
            try:
                replaced = rule(argv)
            except UnsafeArgument:
                raise
            except ValueError as err:
                raise UnsafeArgument(f"{argv[0]}: {err}", argv=argv) from err
            if replaced is not None:
                argv = _as_argv(replaced)
        if self.forbid_metacharacters:
            for index, arg in enumerate(argv):
                if METACHARACTERS.intersection(arg):
                    raise UnsafeArgument(
                        f"argument {index} of {argv[0]} contains a shell metacharacter "
                        "(forbid_metacharacters=True)",
                        argv=argv,
                    )
        return argv
