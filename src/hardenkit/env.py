"""Environment sanitizing, validation and secret masking.

A child's environment starts empty and copies an allowlist (sudo's ``env_reset``), then
drops every dangerous name even when allowed, and any exported shell function (a value
beginning with ``() ``); ``PATH`` is always set to a trusted value. Secrets are recognised
by name (:func:`is_secret_name`) and by value (:func:`looks_secret`, the detectors of
:func:`hardenkit.redact`), and :class:`Secret` keeps a value out of reprs and logs.
"""

from __future__ import annotations

import os
import sys

from hardenkit import _dangerous_env
from hardenkit._log import get_logger
from hardenkit._memo import lru_cache
from hardenkit.errors import InvalidEnvError, MissingEnvError

# Not typing.TYPE_CHECKING, for import time: typing (~3 ms) is loaded by Secret's module,
# Generic's home, only when Secret is first used (module __getattr__ below). ``re`` and
# the secret names (their patterns compile at import) load on first use too: a
# sanitize_env (every ``hardenkit exec``) needs neither (~4 ms with re's enum).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Collection, Mapping
    from typing import Any, TypeAlias

    from hardenkit._secret_value import Secret
    from hardenkit.redaction._names import is_secret_name

__all__ = [
    "DANGEROUS_ENV",
    "DEFAULT_ALLOW",
    "SAFE_PATH",
    "Secret",
    "is_dangerous",
    "is_secret_name",
    "looks_secret",
    "mask_env",
    "require_env",
    "sanitize_env",
    "scrub_env",
    "validate_env",
]

_log = get_logger("hardenkit.env")

#: The trusted search path a sanitized environment gets (and spawn resolves commands on).
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: What :func:`sanitize_env` copies by default: who the user is, the locale, the terminal
#: and the time zone. Locale, terminal and time-zone values must also pass sudo's checks.
DEFAULT_ALLOW: tuple[str, ...] = (
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TERM",
    "COLORTERM",
    "TZ",
)

#: Names (and ``PREFIX*``, ``*SUFFIX`` patterns) that change how programs load code, trust
#: peers or parse input: sudo's env_delete table, glibc's setuid list, and what git, curl, wget,
#: ssh, openssl, Python, Node, Ruby, Perl, Java, .NET, Go, Rust, shells, pagers,
#: editors, build tools and systemd read (hardenkit._dangerous_env has the source and
#: the reason of each entry). :func:`is_dangerous` also flags any value beginning with
#: ``() ``.
DANGEROUS_ENV: frozenset[str] = frozenset(
    name for _group, _source, entries in _dangerous_env.TABLE for name, _why in entries
)
_DANGEROUS_NAMES = frozenset(n.upper() for n in DANGEROUS_ENV if "*" not in n)
_DANGEROUS_PREFIXES = tuple(sorted(n[:-1].upper() for n in DANGEROUS_ENV if n.endswith("*")))
# ``*_PROXY``: libcurl reads a proxy for any scheme it speaks (dict_proxy, ftps_proxy).
_DANGEROUS_SUFFIXES = tuple(sorted(n[1:].upper() for n in DANGEROUS_ENV if n.startswith("*")))
# Safe from the trusted parent (HOME, USER, LOGNAME are in DEFAULT_ALLOW) but code- or
# identity-changing from an untrusted source: a .env file's HOME points git, Python and
# shells at planted dotfiles; its USER is who getpass.getuser() reports.
_FROM_UNTRUSTED = frozenset(n.upper() for n, _why in _dangerous_env.FROM_UNTRUSTED)

# sudo's env_check: these (and LC_*) are kept only when the value holds no "/" and no "%".
# A set and a prefix, not a regular expression: compiling one costs every exec ~0.3 ms.
_CHECKED = frozenset({"COLORTERM", "LANG", "LANGUAGE", "LINGUAS", "TERM", "TZ"})
_ZONEINFO = "/usr/share/zoneinfo/"
_TZ_MAX = 256


def is_dangerous(name: str, value: str | None = None) -> bool:
    """True when ``name`` (or, if given, ``value``) makes a variable unsafe to pass on.

    Names are compared case-insensitively (curl and Python's ``urllib`` read proxy
    variables in any case; dropping more is the safe direction). A name that cannot be
    a variable (empty, or holding ``=`` or NUL) is dangerous, and so is any value beginning
    with ``() ``, bash's exported-function syntax (Shellshock), or holding NUL.

    Examples:
        >>> is_dangerous("LD_PRELOAD"), is_dangerous("ld_audit"), is_dangerous("HOME")
        (True, True, False)
        >>> is_dangerous("GREETING", "() { :; }; echo pwned")
        True
    """
    if not name or "=" in name or "\0" in name:
        return True
    if value is not None and (value.startswith("() ") or "\0" in value):
        return True
    upper = name.upper()
    return (
        upper in _DANGEROUS_NAMES
        or upper.startswith(_DANGEROUS_PREFIXES)
        or upper.endswith(_DANGEROUS_SUFFIXES)
    )


def looks_secret(value: str) -> bool:
    """True when ``value`` looks like a secret whatever its name.

    It does when :func:`hardenkit.redact` would mask part of it: a registered secret, a
    token shape (cloud keys, GitHub/GitLab/Slack/Stripe tokens, JWTs, PEM keys...), a URL
    with a password, a card number that passes Luhn, or ``name=value`` pairs with a secret
    name inside it.

    Examples:
        >>> looks_secret("postgres://app:pw-123456@db/main")
        True
        >>> looks_secret("/usr/share/zoneinfo/Europe/Paris")
        False
    """
    from hardenkit.redaction import redact  # noqa: PLC0415 -- for import time (logging)

    return redact(value) != value


def _value_ok(name: str, value: str) -> bool:
    """Sudo's env_check for locale, terminal and time-zone variables."""
    if name not in _CHECKED and not (name.startswith("LC_") and "\n" not in name):
        return True
    if name == "TZ":
        tz = value.removeprefix(":")
        return (
            len(tz) < _TZ_MAX
            and tz.isprintable()
            and " " not in tz
            and ".." not in tz.split("/")
            and (not tz.startswith("/") or tz.startswith(_ZONEINFO))
            and "%" not in tz
        )
    return "/" not in value and "%" not in value and value.isprintable()


def _refused_from_untrusted(name: str, value: str) -> bool:
    """True when ``name=value`` from an untrusted source (a .env file) must not reach a child.

    What :func:`sanitize_env` would never copy (dangerous names and values, ``PATH``,
    locale, terminal and time-zone values naming a file), plus names that are fine to
    inherit from the parent but change which code runs, or who the user seems to be, when a
    file sets them (``HOME``, ``SHELL``, ``USER``, ``LOGNAME``).
    """
    return (
        name == "PATH"
        or is_dangerous(name, value)
        or not _value_ok(name, value)
        or name.upper() in _FROM_UNTRUSTED
    )


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _check_path(path: str) -> None:
    entries = path.split(":")
    if not path or any(not e.startswith("/") for e in entries):
        raise InvalidEnvError(
            "PATH for a sanitized environment must list absolute directories only "
            "(an empty entry means the current directory)",
            names=("PATH",),
        )


class _Allowed:
    """An allowlist of names and shell-style patterns, as fnmatch.fnmatchcase matches them.

    Plain names and ``PREFIX*`` patterns (all of :data:`DEFAULT_ALLOW`) are compared as
    strings; only other patterns are compiled (a regular expression costs every
    ``hardenkit exec`` ~0.5 ms to compile).
    """

    __slots__ = ("names", "prefixes", "regex")

    def __init__(self, allow: tuple[str, ...]) -> None:
        names: set[str] = set()
        prefixes: list[str] = []
        globs: list[str] = []
        for pattern in allow:
            if not _has_glob(pattern):
                names.add(pattern)
            elif pattern.endswith("*") and not _has_glob(pattern[:-1]):
                prefixes.append(pattern[:-1])
            else:
                globs.append(pattern)
        self.names = frozenset(names)
        self.prefixes = tuple(prefixes)
        self.regex: re.Pattern[str] | None = None
        if globs:
            import fnmatch  # noqa: PLC0415 -- for import time: only for such patterns
            import re  # noqa: PLC0415 -- for import time: only for such patterns

            self.regex = re.compile("|".join(fnmatch.translate(p) for p in globs))

    def __call__(self, name: str) -> bool:
        return (
            name in self.names
            or name.startswith(self.prefixes)
            or (self.regex is not None and self.regex.match(name) is not None)
        )


def _has_glob(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern or "[" in pattern


@lru_cache(maxsize=64)
def _allow_pattern(allow: tuple[str, ...]) -> _Allowed:
    """Build an allowlist's matcher once; spawn calls sanitize_env for every child."""
    return _Allowed(allow)


def sanitize_env(
    allow: Collection[str] = DEFAULT_ALLOW,
    *,
    env: Mapping[str, str] | None = None,
    set: Mapping[str, str] | None = None,  # noqa: A002 -- the contract (API.md) names it set
    path: str = SAFE_PATH,
) -> dict[str, str]:
    """Build a child environment: start empty, copy the allowed names, then add ``set``.

    ``allow`` holds names and shell-style patterns (``LC_*``). A dangerous name
    (:data:`DANGEROUS_ENV`) is dropped even when allowed, and so is an exported shell
    function. Locale, terminal and time-zone values must pass sudo's checks (no ``/`` or
    ``%``; ``TZ`` only a zoneinfo name). ``PATH`` is always ``path``. ``set`` adds values
    after filtering, under the same checks as copying: a dangerous name or value, a locale,
    terminal or time-zone value that copying would drop, or ``PATH``, raises.

    Examples:
        >>> parent = {"HOME": "/root", "LD_PRELOAD": "/tmp/x.so", "LC_ALL": "C.UTF-8",
        ...           "PATH": ".:/tmp", "TZ": "../../tmp/evil", "SECRET": "s3"}
        >>> sanitize_env(env=parent, set={"APP_MODE": "worker"})["PATH"] == SAFE_PATH
        True
        >>> sanitize_env(env=parent, set={"APP_MODE": "worker"}, path="/usr/bin")
        {'HOME': '/root', 'LC_ALL': 'C.UTF-8', 'PATH': '/usr/bin', 'APP_MODE': 'worker'}
        >>> sanitize_env(["LD_*", "HOME"], env=parent, path="/usr/bin")
        {'HOME': '/root', 'PATH': '/usr/bin'}

    Raises:
        InvalidEnvError: ``set`` holds a dangerous name or value, a value copying would
            drop (``TZ=/tmp/planted``, ``LC_ALL=../x``), or ``PATH``; or ``path``
            has a relative or empty entry.
        TypeError: ``allow`` is a single string.
    """
    if isinstance(allow, str):
        raise TypeError("allow= takes a collection of names, not one string")
    _check_path(path)
    patterns = _allow_pattern(tuple(allow))
    source = _environ(env)
    out: dict[str, str] = {}
    dropped: list[str] = []
    for name, value in source.items():
        if name == "PATH" or not patterns(name):
            continue
        if is_dangerous(name, value) or not _value_ok(name, value):
            dropped.append(name)
            continue
        out[name] = value
    if dropped:
        _log.debug("sanitize_env dropped %s", ", ".join(sorted(dropped)))
    out["PATH"] = path
    if set:
        refused = sorted(
            n for n, v in set.items() if n == "PATH" or is_dangerous(n, v) or not _value_ok(n, v)
        )
        if refused:
            raise InvalidEnvError(
                f"sanitize_env(set=...) refuses {', '.join(refused)}: dangerous names or "
                "values are never set (PATH comes from path=)",
                names=refused,
            )
        out.update(set)
    return out


def scrub_env(
    env: Mapping[str, str] | None = None, *, secrets: bool = True, dangerous: bool = True
) -> dict[str, str]:
    """Copy an environment without its dangerous and secret entries (a denylist).

    Prefer :func:`sanitize_env` (an allowlist) for child processes; this is for when the
    rest of the environment must stay. With ``secrets``, entries with a secret name or a
    secret-looking value go; with ``dangerous``, dangerous names and exported functions go.

    Examples:
        >>> scrub_env({"HOME": "/root", "LD_PRELOAD": "x.so", "DB_PASSWORD": "pw",
        ...            "DATABASE_URL": "postgres://u:pw-123456@db/x"})
        {'HOME': '/root'}
        >>> scrub_env({"LD_PRELOAD": "x.so", "API_TOKEN": "t"}, dangerous=False)
        {'LD_PRELOAD': 'x.so'}
    """
    from hardenkit.redaction._names import is_secret_name  # noqa: PLC0415 -- for import time

    out: dict[str, str] = {}
    for name, value in _environ(env).items():
        if dangerous and is_dangerous(name, value):
            continue
        if secrets and (is_secret_name(name) or looks_secret(value)):
            continue
        out[name] = value
    return out


def mask_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Copy an environment with secrets masked, for display and logs.

    A secret-named entry's whole value becomes ``***``; in any other value only the secret
    part is masked (``postgres://app:***@db/main``).

    Examples:
        >>> mask_env({"HOME": "/root", "API_TOKEN": "abc",
        ...           "DATABASE_URL": "postgres://app:pw-123456@db/main"})
        {'HOME': '/root', 'API_TOKEN': '***', 'DATABASE_URL': 'postgres://app:***@db/main'}
    """
    from hardenkit.redaction import redact  # noqa: PLC0415 -- for import time (logging)
    from hardenkit.redaction._names import MASK, is_secret_name  # noqa: PLC0415 -- import time

    return {
        name: (MASK if is_secret_name(name) and value else redact(value))
        for name, value in _environ(env).items()
    }


def require_env(*names: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the named variables, or raise naming every one that is missing or empty.

    Examples:
        >>> require_env("HOME", env={"HOME": "/root", "X": "1"})
        {'HOME': '/root'}
        >>> require_env("A", "B", "HOME", env={"HOME": "/root", "B": " "})
        Traceback (most recent call last):
        ...
        hardenkit.errors.MissingEnvError: missing or empty environment variables: A, B

    Raises:
        MissingEnvError: ``.names`` lists every missing or empty variable.
    """
    source = _environ(env)
    missing = [n for n in names if not source.get(n, "").strip()]
    if missing:
        del env, source  # a traceback keeps its frames' locals: no environment in them
        raise MissingEnvError(
            f"missing or empty environment variables: {', '.join(missing)}", names=missing
        )
    return {n: source[n] for n in names}


#: A :func:`validate_env` rule: a regex the whole value must match, or a predicate.
EnvRule: TypeAlias = "str | re.Pattern[str] | Callable[[str], object]"


def _rule_problem(rule: Any, value: str) -> str | None:
    """Why ``value`` fails ``rule`` (never mentioning the value), or None when it passes."""
    import re  # noqa: PLC0415 -- for import time: validate_env only

    if isinstance(rule, str | re.Pattern):
        pattern = re.compile(rule) if isinstance(rule, str) else rule
        return None if pattern.fullmatch(value) else f"does not match {pattern.pattern!r}"
    if callable(rule):
        label = getattr(rule, "__name__", type(rule).__name__)
        try:
            ok = bool(rule(value))  # the truth test inside: a __bool__ may raise too
        except Exception as exc:  # noqa: BLE001 -- any rule error is a failure, not a leak
            # Its message may quote the value (int("s3cr3t"), KeyError): only its type.
            return f"rejected by {label} ({type(exc).__name__})"
        return None if ok else f"rejected by {label}"
    raise TypeError(f"validate_env rules take a regex or a callable, not {type(rule).__name__}")


def validate_env(
    rules: Mapping[str, EnvRule],
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    r"""Check variables against rules and report every failure at once, never a value.

    A rule is a regex the whole value must match, or a callable that returns a true value
    (a false value or any exception fails it; only the exception's type is reported, since
    its message may quote the value, as ``KeyError`` does). A missing variable fails its rule.

    Examples:
        >>> validate_env({"PORT": r"\d+", "MODE": str.isalpha}, {"PORT": "8080", "MODE": "web"})
        {'PORT': '8080', 'MODE': 'web'}
        >>> try:
        ...     validate_env({"PORT": r"\d+", "RATIO": float, "KEY": r".{32}"},
        ...                  {"PORT": "80; rm -rf /", "RATIO": "s3cr3t"})
        ... except InvalidEnvError as exc:
        ...     print(exc.names)
        ...     print(exc)
        ('PORT', 'RATIO', 'KEY')
        invalid environment variables: PORT (does not match '\\d+'),
        RATIO (rejected by float (ValueError)), KEY (missing)

    Raises:
        InvalidEnvError: ``.names`` lists every failing variable.
    """
    outer = sys.exc_info()[1]  # the caller's own exception: its frames are not ours to clear
    source = _environ(env)
    try:
        problems = _problems(rules, source)
    except BaseException as exc:  # KeyboardInterrupt in a rule, a rule of the wrong type...
        # A traceback keeps its frames' locals (Sentry, rich and pytest -l print them):
        # the frames below this one are finished, so they are cleared, and this one's
        # environment goes before the exception leaves it.
        from hardenkit._frames import clear_below  # noqa: PLC0415 -- import time: errors only

        clear_below(exc, outer)
        del env, source, outer
        raise
    if problems:
        detail = ", ".join(f"{n} ({p})" for n, p in problems.items())
        del env, source  # a traceback keeps its frames' locals: no values in them
        raise InvalidEnvError(f"invalid environment variables: {detail}", names=list(problems))
    return {name: source[name] for name in rules}


def _problems(rules: Mapping[str, EnvRule], source: Mapping[str, str]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name, rule in rules.items():
        value = source.get(name)
        problem = "missing" if value is None else _rule_problem(rule, value)
        if problem is not None:
            problems[name] = problem
    return problems


def __getattr__(name: str) -> Any:
    """``Secret`` and ``is_secret_name`` on first use (for import time, see above)."""
    if name == "Secret":
        from hardenkit._secret_value import Secret  # noqa: PLC0415 -- for import time

        return Secret
    if name == "is_secret_name":
        from hardenkit.redaction._names import is_secret_name  # noqa: PLC0415 -- import time

        return is_secret_name
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names, with those :func:`__getattr__` gives on first use."""
    return sorted({*globals(), "Secret", "is_secret_name"})
