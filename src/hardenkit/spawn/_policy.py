"""CommandPolicy: which executables may run, resolved once, and how their arguments look."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field

from hardenkit.env import SAFE_PATH
from hardenkit.errors import CommandNotAllowed, InsecurePathError, PolicyError, UnsafeArgument

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeAlias

__all__ = ["METACHARACTERS", "ArgRules", "CommandPolicy", "trusted_binary"]

#: Characters a shell would interpret; the opt-in filter of the Node.js guides refuses them.
METACHARACTERS = frozenset(";&|`$(){}[]<>*?!~#'\"\\\n\r\t")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgRules:
    """A small schema for one command's arguments (everything after ``argv[0]``).

    Options (arguments starting with ``-``) must be listed in ``options`` (flags) or
    ``options_with_value`` (the next argument, or ``--opt=value``, is the value); ``deny``
    lists option prefixes refused outright (``--upload-pack``). Everything else is a
    positional argument that must fully match ``positional`` (a regex) when given. With
    ``separator`` a ``--`` is inserted before the first positional so that a positional
    starting with ``-`` cannot be read as an option; after it, nothing is an option.

    Examples:
        >>> rules = ArgRules(options=frozenset({"-n"}), separator=True)
        >>> rules.apply(("head", "-n", "notes.txt", "-evil"))
        ('head', '-n', '--', 'notes.txt', '-evil')
    """

    options: frozenset[str] = frozenset()
    options_with_value: frozenset[str] = frozenset()
    deny: tuple[str, ...] = ()
    positional: str | None = None
    max_positional: int | None = None
    separator: bool = False

    def __post_init__(self) -> None:
        for name in ("options", "options_with_value"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(o, str) for o in value):
                raise PolicyError(f"ArgRules.{name} must be a set of option strings")
            object.__setattr__(self, name, frozenset(value))
        deny: object = self.deny
        if isinstance(deny, str):
            raise PolicyError("ArgRules.deny must be a sequence of option prefixes")
        object.__setattr__(self, "deny", tuple(self.deny))
        if self.positional is not None:
            re.compile(self.positional)
        if self.max_positional is not None and self.max_positional < 0:
            raise PolicyError("ArgRules.max_positional must be >= 0")

    def apply(self, argv: tuple[str, ...]) -> tuple[str, ...]:
        """Return ``argv`` checked (and with ``--`` inserted); raise UnsafeArgument otherwise.

        Examples:
            >>> ArgRules(deny=("--upload-pack",)).apply(("git", "--upload-pack=touch x"))
            Traceback (most recent call last):
            ...
            hardenkit.errors.UnsafeArgument: argument 1 of git is refused: option --upload-pack...
        """
        out = [argv[0]]
        positional: list[str] = []
        options_done = False
        expect_value = False
        for index, arg in enumerate(argv[1:], start=1):
            if expect_value:
                out.append(arg)
                expect_value = False
                continue
            if not options_done and arg == "--":
                options_done = True
                continue
            if not options_done and arg.startswith("-") and arg != "-":
                if positional and self.separator:
                    # After --, an option-looking argument is only a positional.
                    positional.append(arg)
                    continue
                expect_value = self._check_option(argv, index, arg)
                out.append(arg)
                continue
            positional.append(arg)
        if expect_value:
            raise UnsafeArgument(f"option {argv[-1]} of {argv[0]} needs a value", argv=argv)
        self._check_positional(argv, positional)
        if self.separator or options_done:
            return (*out, "--", *positional) if positional else tuple(out)
        return (*out, *positional)

    def _check_option(self, argv: tuple[str, ...], index: int, arg: str) -> bool:
        name, has_value, _ = arg.partition("=")
        for prefix in self.deny:
            if arg.startswith(prefix):
                raise UnsafeArgument(
                    f"argument {index} of {argv[0]} is refused: option {prefix} is denied",
                    argv=argv,
                )
        if not has_value and arg in self.options:
            return False
        if name in self.options_with_value:
            return not has_value
        if not name.startswith("--") and name[:2] != name and name[:2] in self.options_with_value:
            return False  # -n5: short option with its value attached
        raise UnsafeArgument(
            f"argument {index} of {argv[0]} is refused: option {name} is not allowed",
            argv=argv,
        )

    def _check_positional(self, argv: tuple[str, ...], positional: list[str]) -> None:
        if self.max_positional is not None and len(positional) > self.max_positional:
            raise UnsafeArgument(
                f"{argv[0]} takes at most {self.max_positional} positional arguments",
                argv=argv,
            )
        if self.positional is not None:
            pattern = re.compile(self.positional)
            for arg in positional:
                if not pattern.fullmatch(arg):
                    raise UnsafeArgument(
                        f"a positional argument of {argv[0]} does not match {self.positional!r}",
                        argv=argv,
                    )


#: An argument rule: a schema, or a callable that returns the argv to run (or None to keep
#: it) and raises ValueError (UnsafeArgument included) to refuse.
ArgRule: TypeAlias = "ArgRules | Callable[[tuple[str, ...]], Sequence[str] | None]"


def file_capabilities_of(real: str) -> str | None:
    """Describe the file capabilities ``real`` grants on exec, or None when it has none.

    Any ``security.capability`` attribute counts (an empty permitted set with an
    inheritable one still grants through the caller's inheritable set).

    Examples:
        >>> file_capabilities_of("/bin/true") is None
        True

    Raises:
        InsecurePathError: the attribute cannot be read (fail closed).
    """
    try:
        raw = os.getxattr(real, "security.capability")
    except OSError as err:
        if err.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            return None
        problem = f"file capabilities unreadable ({err.strerror})"
        raise InsecurePathError(
            f"{real} failed the trusted-binary checks: {problem}",
            path=real,
            problems=(problem,),
        ) from err
    from hardenkit._linux.privfilecaps import decode  # noqa: PLC0415 -- rarely needed
    from hardenkit.capabilities import KNOWN_NAMES  # noqa: PLC0415

    try:
        cap = decode(raw)
    except ValueError:
        return "a malformed security.capability attribute"
    mask = cap.permitted | cap.inheritable
    names = [
        KNOWN_NAMES[b] if b < len(KNOWN_NAMES) else f"CAP_{b}" for b in range(64) if mask >> b & 1
    ]
    flags = "e" * cap.effective + "p" * bool(cap.permitted) + "i" * bool(cap.inheritable)
    return f"{','.join(names).lower()}+{flags}" if names else "an empty capability set"


def _refuse_file_caps(real: str) -> None:
    """Raise InsecurePathError, as the check of a setuid binary does, if ``real`` has caps.

    A script counts with its ``#!`` interpreters: the kernel computes the new credentials
    from the file it finally runs, so a root-owned script whose interpreter carries file
    capabilities (or is setuid/setgid) runs that interpreter with them.
    """
    for hop, path in enumerate(_exec_chain(real)):
        found = file_capabilities_of(path)
        problem = None if found is None else f"file capabilities {found}"
        if hop and os.stat(path).st_mode & (stat.S_ISUID | stat.S_ISGID):
            problem = "a setuid/setgid bit"  # the script itself is checked by check_path
        if problem is not None:
            via = f" (the #! interpreter of {real})" if hop else ""
            raise InsecurePathError(
                f"{path}{via} failed the trusted-binary checks: it carries {problem} and, "
                "like a setuid binary, would run with privileges the caller lacks (allow it "
                "by name with CommandPolicy(allow_file_caps=...))",
                path=path,
                problems=(problem,),
            )


#: binfmt_script reads this much of a file; the kernel follows at most 5 rewrites.
_BINPRM_BUF_SIZE = 256
_MAX_INTERPRETERS = 4


def _exec_chain(real: str) -> list[str]:
    """``real`` and the real paths of the ``#!`` interpreters the kernel would run for it."""
    chain = [real]
    while True:
        try:
            with open(chain[-1], "rb") as fh:
                head = fh.read(_BINPRM_BUF_SIZE)
        except OSError as err:
            problem = f"unreadable, so its #! interpreter cannot be checked ({err.strerror})"
            raise InsecurePathError(
                f"{chain[-1]} failed the trusted-binary checks: {problem}",
                path=chain[-1],
                problems=(problem,),
            ) from err
        if not head.startswith(b"#!"):
            return chain
        token = head[2:].lstrip(b" \t").split(b"\n", 1)[0].split(b"\0", 1)[0]
        interp = token.replace(b"\t", b" ").split(b" ", 1)[0]
        if not interp.startswith(b"/") or len(chain) > _MAX_INTERPRETERS:
            problem = f"#! interpreter {interp!r} is not an absolute path (or nests too deep)"
            raise InsecurePathError(
                f"{real} failed the trusted-binary checks: {problem}",
                path=real,
                problems=(problem,),
            )
        chain.append(os.path.realpath(os.fsdecode(interp)))


def trusted_binary(path: str, *, allow_file_caps: bool = False) -> str:
    """Return the real path of ``path`` after the trusted-binary checks, or raise.

    The real path must be a regular executable file, owned by root, mode at most 0755
    (no setuid/setgid, nothing writable by group or other), in root-owned directories
    that others cannot write (``check_path(real, max_mode=0o755, owner=0)``), and carry
    no file capabilities (``security.capability``: privileges on exec, as setuid gives)
    unless ``allow_file_caps``.

    Examples:
        >>> trusted_binary("/bin/true") == os.path.realpath("/bin/true")
        True
        >>> trusted_binary("true")
        Traceback (most recent call last):
        ...
        hardenkit.errors.CommandNotAllowed: true is not an absolute path...
    """
    from hardenkit.fileperms import check_path  # noqa: PLC0415 -- keeps import light

    if not os.path.isabs(path):
        raise CommandNotAllowed(
            f"{path} is not an absolute path: without a policy only absolute paths run",
            argv=(path,),
        )
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as err:
        raise CommandNotAllowed(f"{path} cannot be run: {err.strerror}", argv=(path,)) from err
    if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o111:
        raise CommandNotAllowed(f"{real} is not an executable regular file", argv=(path,))
    check_path(real, max_mode=0o755, owner=0)
    if not allow_file_caps:
        _refuse_file_caps(real)
    return real


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


def _as_argv(argv: object) -> tuple[str, ...]:
    """Validate an argv: a non-empty sequence (never a string) of str/bytes/paths, no NUL."""
    if isinstance(argv, (str, bytes, bytearray, os.PathLike)) or not isinstance(argv, Sequence):
        raise PolicyError(
            "argv must be a sequence of arguments, not a string: no shell is ever used"
        )
    if not argv:
        raise PolicyError("argv is empty")
    out: list[str] = []
    for index, arg in enumerate(argv):
        if not isinstance(arg, (str, bytes, os.PathLike)):
            raise PolicyError(f"argument {index} is a {type(arg).__name__}, not str or bytes")
        text = os.fsdecode(arg)
        if "\0" in text:
            raise UnsafeArgument(f"argument {index} contains a NUL byte", argv=None)
        out.append(text)
    return tuple(out)


def open_pinned(real: str, digest: str) -> tuple[int, bool]:
    """Open ``real`` without following symlinks, hash it through the fd, return (fd, script).

    The fd is what gets executed (``/proc/self/fd/N``), so the file that was hashed is the
    file that runs. ``script`` tells whether it starts with ``#!`` (the interpreter then
    needs the fd open across exec).
    """
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        raise CommandNotAllowed(f"{real} cannot be opened: {err.strerror}", argv=(real,)) from err
    try:
        st = os.fstat(fd)
        problems = []
        if not stat.S_ISREG(st.st_mode):
            problems.append("not a regular file")
        if st.st_uid != 0:
            problems.append(f"owned by uid {st.st_uid}, not root")
        if st.st_mode & 0o7022:
            problems.append(f"mode {stat.S_IMODE(st.st_mode):04o} exceeds 0755")
        if problems:
            raise InsecurePathError(  # noqa: TRY301 -- the fd is closed by the handler below
                f"{real} failed the trusted-binary checks: {'; '.join(problems)}",
                path=real,
                problems=tuple(problems),
            )
        import hashlib  # noqa: PLC0415 -- for import time: loads OpenSSL, only for pins

        h = hashlib.sha256()
        head = b""
        offset = 0
        while chunk := os.pread(fd, _CHUNK, offset):
            if not offset:
                head = chunk[:2]
            h.update(chunk)
            offset += len(chunk)
        if h.hexdigest() != digest:
            raise CommandNotAllowed(  # noqa: TRY301 -- the fd is closed by the handler below
                f"{real} does not match its pinned sha256 (expected {digest[:12]}..., "
                f"found {h.hexdigest()[:12]}...): refusing to run it",
                argv=(real,),
            )
    except BaseException:
        os.close(fd)
        raise
    return fd, head == b"#!"
