r"""Profiles: everything :func:`~hardenkit.confine` takes, in one TOML file.

A profile is read into the same frozen policy objects the Python API uses
(:class:`ResourceLimits`, :class:`FilesystemPolicy`, :class:`SeccompPolicy`), so a file and
a call mean exactly the same thing. Unknown keys are refused; every error names the file,
the line (found by searching the text: TOML parsers do not report key positions) and the
key. ``hardenkit exec --profile FILE`` and ``hardenkit profile check FILE`` read them; a
few presets ship in the package (:func:`preset_names`).

The format::

    user = "nobody"            # name or uid; group, groups, keep (capability names) too
    umask = "077"              # octal string or int
    cwd = "/srv"
    no_new_privs = true

    [environment]
    allow = ["LANG", "TZ"]     # names copied from the caller (sanitize_env rules apply)
    set = { APP_MODE = "worker" }

    [limits]                   # memory, data, stack, file_size, core: bytes or "512M"
    memory = "512M"            # cpu (seconds), open_files, processes: counts
    open_files = 256

    [filesystem]
    read = ["/usr", "/etc"]
    write = ["/tmp"]
    execute = ["/usr/bin"]

    [seccomp]
    profile = "docker"         # the bundled Docker default, or a Docker/OCI profile path
    # or: default = "errno", allow = ["@system-service"], deny = [...], rules = [...]

    [namespaces]
    block = true               # refuse creating namespaces (the default)

    [network]
    mode = "none"              # or "unix"; or families = ["AF_UNIX", "AF_INET", ...]
    # connect = [443], bind = [8080] (TCP ports, Landlock), udp = true, scope = false

Examples:
    >>> p = loads_profile('user = "nobody"\n[limits]\nmemory = "512M"\n')
    >>> p.user, p.limits.memory_bytes
    ('nobody', 536870912)
    >>> loads_profile('usr = "nobody"\n', source="svc.toml")
    Traceback (most recent call last):
    ...
    hardenkit.errors.ProfileError: svc.toml:1: usr: unknown key (known: cwd, ...)
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hardenkit.errors import PolicyError, ProfileError
from hardenkit.sandbox.landlock import FilesystemPolicy
from hardenkit.sandbox.limits import ResourceLimits
from hardenkit.sandbox.options import Confinement, options_of
from hardenkit.sandbox.seccomp import ArgCondition, SeccompPolicy, SyscallRule

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hardenkit.sandbox.network import NetworkPolicy

__all__ = [
    "LIMIT_KEYS",
    "Profile",
    "load_profile",
    "loads_profile",
    "parse_size",
    "preset",
    "preset_names",
    "profile_to_toml",
]

#: Profile ``[limits]`` key -> (ResourceLimits field, takes a byte size).
LIMIT_KEYS: dict[str, tuple[str, bool]] = {
    "cpu": ("cpu_seconds", False),
    "memory": ("memory_bytes", True),
    "data": ("data_bytes", True),
    "stack": ("stack_bytes", True),
    "file_size": ("file_size_bytes", True),
    "core": ("core_bytes", True),
    "open_files": ("open_files", False),
    "processes": ("processes", False),
}
_TOP = (
    "cwd",
    "environment",
    "filesystem",
    "group",
    "groups",
    "keep",
    "limits",
    "namespaces",
    "network",
    "no_new_privs",
    "seccomp",
    "umask",
    "user",
)
#: FilesystemPolicy's path lists, all of them settable from a profile (``devices`` and
#: ``sockets`` included: without them a profile could never reach a named socket).
_FS_PATHS = ("read", "write", "execute", "devices", "sockets")
_SECCOMP = ("allow", "arches", "default", "deny", "errno", "profile", "rules")
_DEFAULTS = ("kill", "errno", "log", "allow")
_RULE = ("action", "args", "errno", "names")
_ARG = ("index", "mask", "op", "value")
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"(\d{1,20})\s*([KMGT]?)(?:i?B)?\Z", re.IGNORECASE)
_MAX_FILE = 1 << 20
_MAX_UMASK = 0o777
_PRINTABLE = range(0x20, 0x7F)
_MAX_LIMIT = (1 << 63) - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A whole confinement, as :func:`~hardenkit.confine` and ``hardenkit exec`` take it.

    ``seccomp_profile`` records where ``seccomp`` came from (``"docker"`` for the bundled
    default, or a Docker/OCI profile path) so the profile prints back as written.
    ``env_allow`` None means :data:`hardenkit.env.DEFAULT_ALLOW`.

    Examples:
        >>> Profile(user="nobody", umask=0o077).confine_kwargs()["user"]
        'nobody'
    """

    user: str | int | None = None
    group: str | int | None = None
    groups: tuple[str | int, ...] | None = None
    keep: tuple[str, ...] = ()
    umask: int | None = None
    cwd: str | None = None
    env_allow: tuple[str, ...] | None = None
    env_set: tuple[tuple[str, str], ...] = ()
    limits: ResourceLimits | None = None
    filesystem: FilesystemPolicy | None = None
    seccomp: SeccompPolicy | None = None
    seccomp_profile: str | None = None
    no_new_privs: bool = True
    block_namespaces: bool = True
    network: NetworkPolicy | None = field(default=None)

    def __post_init__(self) -> None:
        self.confinement  # noqa: B018 -- the options are checked where every entry point checks them

    @property
    def confinement(self) -> Confinement:
        """The :class:`~hardenkit.sandbox.options.Confinement` this profile stands for.

        ``umask``, ``cwd`` and the environment are the profile's own (the command's
        start-up, not its confinement).

        Examples:
            >>> Profile(user="nobody").confinement.user
            'nobody'
        """
        return Confinement(
            user=self.user,
            group=self.group,
            groups=self.groups,
            keep=self.keep,
            limits=self.limits,
            no_new_privs=self.no_new_privs,
            filesystem=self.filesystem,
            seccomp=self.seccomp,
            block_namespaces=self.block_namespaces,
            network=self.network,
        )

    def confine_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~hardenkit.confine` this profile stands for."""
        out = options_of(self.confinement)
        for name in ("isolate", "allow_root_equivalent"):  # not profile keys (yet)
            del out[name]
        return out

    def environment(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The command's environment: ``sanitize_env`` with this profile's allow and set.

        With a ``user``, ``HOME``, ``USER``, ``LOGNAME`` and ``SHELL`` are that user's (as
        ``drop_privileges`` sets them), never the caller's; ``set`` still wins.

        Raises:
            InvalidEnvError: ``set`` holds a dangerous name or value.
            PolicyError: ``user`` is not a known user.
        """
        from hardenkit.env import DEFAULT_ALLOW, sanitize_env  # noqa: PLC0415

        allow = DEFAULT_ALLOW if self.env_allow is None else self.env_allow
        out = sanitize_env(allow, env=env, set=dict(self.env_set) or None)
        if self.user is not None:
            import pwd  # noqa: PLC0415

            try:
                entry = (
                    pwd.getpwuid(self.user)
                    if isinstance(self.user, int)
                    else pwd.getpwnam(self.user)
                )
            except KeyError:
                raise PolicyError(f"user {self.user!r} is not a known user") from None
            out.update(HOME=entry.pw_dir, USER=entry.pw_name, LOGNAME=entry.pw_name)
            out["SHELL"] = entry.pw_shell
            out.update(self.env_set)
        return out


def parse_size(value: object, what: str = "size") -> int:
    """Parse a byte size: an int, or digits with an optional K/M/G/T suffix (powers of 2).

    Examples:
        >>> parse_size("512M"), parse_size("1g"), parse_size(4096), parse_size("2KiB")
        (536870912, 1073741824, 4096, 2048)
        >>> parse_size("-1")
        Traceback (most recent call last):
        ...
        ValueError: size: '-1' is not a size (an integer, or digits with K, M, G or T)
    """
    if isinstance(value, bool):
        raise ValueError(f"{what}: {value!r} is not a size")  # noqa: TRY004 -- one error type
    if isinstance(value, int):
        if not 0 <= value <= _MAX_LIMIT:
            raise ValueError(f"{what}: {value} is out of range")
        return value
    if isinstance(value, str):
        m = _SIZE.match(value.strip())
        if m:
            n = int(m.group(1)) * _UNITS[m.group(2).upper()]
            if n <= _MAX_LIMIT:
                return n
    raise ValueError(f"{what}: {value!r} is not a size (an integer, or digits with K, M, G or T)")


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415

        return tomllib
    try:
        import tomli  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415
    except ImportError as err:  # pragma: no cover - declared for Python < 3.11
        from hardenkit.errors import MissingDependency  # noqa: PLC0415

        raise MissingDependency(
            "reading profiles on Python 3.10 needs tomli", package="tomli"
        ) from err
    return tomli


_HEADER = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?\Z")
_KEYLINE = re.compile(r"\s*([A-Za-z0-9_.\"' -]+?)\s*=")


def _split_key(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def _find_line(text: str, key: tuple[str, ...]) -> int | None:
    """Best effort: the line that sets ``key`` (or opens its table), else None."""
    table: tuple[str, ...] = ()
    best = None
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            table = _split_key(header.group(1))
            if table == key and best is None:
                best = number
            continue
        m = _KEYLINE.match(line)
        if m is None:
            continue
        full = table + _split_key(m.group(1))
        if full == key:
            return number
        if best is None and len(full) <= len(key) and full == key[: len(full)]:
            best = number  # an inline table that holds the key
    return best


class _Reader:
    """Checks one parsed document; every error carries the file, line and key."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source

    def fail(self, key: tuple[str | int, ...], message: str) -> ProfileError:
        names = tuple(str(k) for k in key if isinstance(k, str))
        shown = ".".join(f"{k}" if isinstance(k, str) else f"[{k}]" for k in key).replace(".[", "[")
        line = _find_line(self.text, names) if names else None
        where = f"{self.source}:{line}" if line else self.source
        return ProfileError(
            f"{where}: {shown}: {message}" if shown else f"{where}: {message}",
            path=self.source,
            line=line,
            key=shown or None,
        )

    def table(
        self, value: object, key: tuple[str | int, ...], known: tuple[str, ...]
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {type(value).__name__}")
        for name in value:
            if name not in known:
                raise self.fail((*key, name), f"unknown key (known: {', '.join(known)})")
        return value

    def text_value(self, value: object, key: tuple[str | int, ...]) -> str:
        if not isinstance(value, str) or not value or "\0" in value:
            raise self.fail(key, "must be a non-empty string")
        return value

    def strings(self, value: object, key: tuple[str | int, ...]) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(key, "must be a string or a list of strings")
        return tuple(self.text_value(v, (*key, i)) for i, v in enumerate(value))

    def id_value(self, value: object, key: tuple[str | int, ...]) -> str | int:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.fail(key, "must be a name or a numeric id")
        if isinstance(value, int):
            if not 0 <= value < (1 << 32) - 1:
                raise self.fail(key, f"{value} is not a valid id")
            return value
        return self.text_value(value, key)

    def capability(self, name: str, key: tuple[str | int, ...]) -> None:
        from hardenkit.capabilities import Capability  # noqa: PLC0415
        from hardenkit.errors import CapabilityError  # noqa: PLC0415

        try:
            Capability.parse(name)
        except CapabilityError as err:
            raise self.fail(key, str(err)) from None

    def boolean(self, value: object, key: tuple[str | int, ...]) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def integer(self, value: object, key: tuple[str | int, ...]) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "must be an integer")
        return value

    def read(self, data: dict[str, Any]) -> Profile:  # noqa: C901, PLR0912 -- one key each
        data = self.table(data, (), _TOP)
        kw: dict[str, Any] = {}
        for name in ("user", "group"):
            if name in data:
                kw[name] = self.id_value(data[name], (name,))
        if "groups" in data:
            raw = data["groups"]
            if not isinstance(raw, list):
                raise self.fail(("groups",), "must be a list of names or ids")
            kw["groups"] = tuple(self.id_value(v, ("groups", i)) for i, v in enumerate(raw))
        if "keep" in data:
            kw["keep"] = self.strings(data["keep"], ("keep",))
            for i, name in enumerate(kw["keep"]):
                self.capability(name, ("keep", i))
        if "umask" in data:
            kw["umask"] = self.umask(data["umask"])
        if "cwd" in data:
            cwd = self.text_value(data["cwd"], ("cwd",))
            if not os.path.isabs(cwd):
                raise self.fail(("cwd",), "must be an absolute path")
            kw["cwd"] = cwd
        if "no_new_privs" in data:
            kw["no_new_privs"] = self.boolean(data["no_new_privs"], ("no_new_privs",))
        if "namespaces" in data:
            ns = self.table(data["namespaces"], ("namespaces",), ("block",))
            if "block" in ns:
                kw["block_namespaces"] = self.boolean(ns["block"], ("namespaces", "block"))
        if "environment" in data:
            self.environment(data["environment"], kw)
        if "limits" in data:
            kw["limits"] = self.limits(data["limits"])
        if "filesystem" in data:
            kw["filesystem"] = self.filesystem(data["filesystem"])
        if "seccomp" in data:
            self.seccomp(data["seccomp"], kw)
        if "network" in data:
            kw["network"] = self.network(data["network"])
        try:
            return Profile(**kw)
        except (PolicyError, ValueError, TypeError) as err:  # pragma: no cover - checked above
            raise self.fail((), str(err)) from None

    def umask(self, value: object) -> int:
        if isinstance(value, str) and re.fullmatch(r"0?o?[0-7]{1,4}", value):
            mask = int(value.replace("o", ""), 8)
        elif isinstance(value, int) and not isinstance(value, bool):
            mask = value
        else:
            raise self.fail(("umask",), 'must be an octal string such as "077" or an integer')
        if not 0 <= mask <= _MAX_UMASK:
            raise self.fail(("umask",), f"{value!r} is outside 0..0o777")
        return mask

    def environment(self, value: object, kw: dict[str, Any]) -> None:
        env = self.table(value, ("environment",), ("allow", "set"))
        if "allow" in env:
            kw["env_allow"] = self.strings(env["allow"], ("environment", "allow"))
        if "set" in env:
            raw = self.table(
                env["set"],
                ("environment", "set"),
                tuple(env["set"]) if isinstance(env["set"], dict) else (),
            )
            pairs = []
            for name, val in raw.items():
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    raise self.fail(("environment", "set", name), "is not an environment name")
                if not isinstance(val, str) or "\0" in val:
                    raise self.fail(("environment", "set", name), "must be a string")
                pairs.append((name, val))
            kw["env_set"] = tuple(pairs)
            from hardenkit.env import sanitize_env  # noqa: PLC0415
            from hardenkit.errors import EnvError  # noqa: PLC0415

            try:  # refuse what sanitize_env would refuse at exec time, now
                sanitize_env((), env={}, set=dict(pairs))
            except EnvError as err:
                raise self.fail(("environment", "set"), str(err)) from None

    def limits(self, value: object) -> ResourceLimits:
        raw = self.table(value, ("limits",), tuple(LIMIT_KEYS))
        out: dict[str, int] = {}
        for name, val in raw.items():
            fname, sized = LIMIT_KEYS[name]
            try:
                if sized:
                    out[fname] = parse_size(val, name)
                else:
                    count = int(val) if isinstance(val, str) and val.isdigit() else val
                    out[fname] = parse_size(self.integer(count, ("limits", name)), name)
            except ValueError as err:
                raise self.fail(("limits", name), str(err).split(": ", 1)[-1]) from None
        return ResourceLimits(**out)

    def filesystem(self, value: object) -> FilesystemPolicy:
        raw = self.table(value, ("filesystem",), (*_FS_PATHS, "min_abi"))
        kw: dict[str, Any] = {}
        for name in _FS_PATHS:
            if name in raw:
                paths = self.strings(raw[name], ("filesystem", name))
                for i, p in enumerate(paths):
                    if not os.path.isabs(p):
                        raise self.fail(("filesystem", name, i), f"{p!r} is not an absolute path")
                kw[name] = paths
        if "min_abi" in raw:
            kw["min_abi"] = self.integer(raw["min_abi"], ("filesystem", "min_abi"))
        try:
            return FilesystemPolicy(**kw)
        except ValueError as err:
            raise self.fail(("filesystem",), str(err)) from None

    def seccomp(self, value: object, kw: dict[str, Any]) -> None:  # noqa: C901 -- one key each
        raw = self.table(value, ("seccomp",), _SECCOMP)
        if "profile" in raw:
            others = sorted(set(raw) - {"profile"})
            if others:
                raise self.fail(("seccomp", others[0]), "cannot be combined with profile")
            source = self.text_value(raw["profile"], ("seccomp", "profile"))
            kw["seccomp_profile"] = source
            kw["seccomp"] = self.docker(source, kw)
            return
        pol: dict[str, Any] = {}
        for name in ("allow", "deny", "arches"):
            if name in raw:
                pol[name] = self.strings(raw[name], ("seccomp", name))
        if "default" in raw:
            pol["default"] = self.text_value(raw["default"], ("seccomp", "default"))
            if pol["default"] not in _DEFAULTS:
                raise self.fail(("seccomp", "default"), f"must be one of {', '.join(_DEFAULTS)}")
        if "errno" in raw:
            pol["errno"] = self.integer(raw["errno"], ("seccomp", "errno"))
        if "rules" in raw:
            rules = raw["rules"]
            if not isinstance(rules, list):
                raise self.fail(("seccomp", "rules"), "must be an array of tables")
            pol["rules"] = tuple(self.rule(r, i) for i, r in enumerate(rules))
        try:
            kw["seccomp"] = SeccompPolicy(**pol)
        except (PolicyError, ValueError, TypeError) as err:
            raise self.fail(("seccomp",), str(err)) from None

    def docker(self, source: str, kw: Mapping[str, Any]) -> SeccompPolicy:
        from hardenkit.sandbox import docker  # noqa: PLC0415

        # Capability conditions are decided against the confined process: after a drop,
        # exactly the kept capabilities.
        caps = kw.get("keep", ()) if kw.get("user") is not None else None
        try:
            if source == "docker":
                return docker.default_policy(capabilities=caps)
            if os.path.isabs(source):
                return docker.policy_from_profile(source, capabilities=caps)
        except (PolicyError, OSError, ValueError) as err:
            raise self.fail(("seccomp", "profile"), str(err)) from None
        raise self.fail(
            ("seccomp", "profile"), f'{source!r} is neither "docker" nor an absolute path'
        )

    def rule(self, value: object, i: int) -> SyscallRule:  # noqa: C901 -- one key each
        key: tuple[str | int, ...] = ("seccomp", "rules", i)
        raw = self.table(value, key, _RULE)
        if "names" not in raw:
            raise self.fail(key, "a rule needs names")
        kw: dict[str, Any] = {"names": self.strings(raw["names"], (*key, "names"))}
        if "action" in raw:
            kw["action"] = self.text_value(raw["action"], (*key, "action"))
        if "errno" in raw:
            kw["errno"] = self.integer(raw["errno"], (*key, "errno"))
        if "args" in raw:
            args = raw["args"]
            if not isinstance(args, list):
                raise self.fail((*key, "args"), "must be an array of tables")
            conds = []
            for j, a in enumerate(args):
                akey = (*key, "args", j)
                araw = self.table(a, akey, _ARG)
                missing = [n for n in ("index", "op", "value") if n not in araw]
                if missing:
                    raise self.fail(akey, f"needs {', '.join(missing)}")
                try:
                    conds.append(
                        ArgCondition(
                            index=self.integer(araw["index"], (*akey, "index")),
                            op=self.text_value(araw["op"], (*akey, "op")),
                            value=self.integer(araw["value"], (*akey, "value")),
                            mask=None
                            if "mask" not in araw
                            else self.integer(araw["mask"], (*akey, "mask")),
                        )
                    )
                except PolicyError as err:
                    if isinstance(err, ProfileError):
                        raise
                    raise self.fail(akey, str(err)) from None
            kw["args"] = tuple(conds)
        try:
            return SyscallRule(**kw)
        except PolicyError as err:
            raise self.fail(key, str(err)) from None

    def network(self, value: object) -> Any:  # noqa: C901 -- one key each
        from hardenkit.sandbox.network import NetworkPolicy  # noqa: PLC0415

        keys = ("bind", "connect", "families", "mode", "scope", "udp")
        raw = self.table(value, ("network",), keys)
        kw: dict[str, Any] = {}
        for name in ("udp", "scope"):
            if name in raw:
                kw[name] = self.boolean(raw[name], ("network", name))
        for name in ("bind", "connect"):
            if name in raw:
                ports = raw[name]
                if not isinstance(ports, list):
                    raise self.fail(("network", name), "must be a list of TCP ports")
                kw[name] = tuple(self.integer(v, ("network", name, i)) for i, v in enumerate(ports))
        if "mode" in raw:
            mode = raw["mode"]
            if mode not in ("none", "unix"):
                raise self.fail(("network", "mode"), 'must be "none" or "unix" (or give families)')
            if "families" in raw:
                raise self.fail(("network", "families"), "cannot be combined with mode")
            kw["families"] = () if mode == "none" else ("AF_UNIX",)
        elif "families" in raw:
            kw["families"] = self.strings(raw["families"], ("network", "families"))
        elif "bind" in kw or "connect" in kw or kw.get("udp"):
            kw["families"] = ("AF_UNIX", "AF_INET", "AF_INET6")
        try:
            return NetworkPolicy(**kw)
        except PolicyError as err:
            raise self.fail(("network",), str(err)) from None


def loads_profile(text: str, *, source: str = "<profile>") -> Profile:
    """Read a profile from TOML text; ``source`` names it in errors.

    Raises:
        ProfileError: the text is not TOML, a key is unknown, or a value is invalid
            (the message and fields name the source, line and key).
    """
    if not isinstance(text, str):
        raise ProfileError(f"{source}: a profile is text", path=source)
    try:
        data = _toml().loads(text)
    except (ValueError, RecursionError) as err:  # TOMLDecodeError is a ValueError
        m = re.search(r"line (\d+)", str(err))
        line = int(m.group(1)) if m else None
        where = f"{source}:{line}" if line else source
        raise ProfileError(f"{where}: not valid TOML: {err}", path=source, line=line) from None
    return _Reader(text, source).read(data)


def load_profile(path: str | os.PathLike[str]) -> Profile:
    r"""Read a profile file (at most 1 MiB of UTF-8 TOML).

    Examples:
        >>> import tempfile, pathlib
        >>> d = tempfile.mkdtemp()
        >>> f = pathlib.Path(d, "job.toml")
        >>> _ = f.write_text('[seccomp]\nprofile = "docker"\n')
        >>> load_profile(f).seccomp_profile
        'docker'

    Raises:
        ProfileError: the file cannot be read or is not a valid profile.
    """
    where = os.fspath(path)
    try:
        with open(where, "rb") as fh:
            raw = fh.read(_MAX_FILE + 1)
    except OSError as err:
        raise ProfileError(f"{where}: cannot read: {err.strerror}", path=where) from None
    if len(raw) > _MAX_FILE:
        raise ProfileError(f"{where}: larger than {_MAX_FILE} bytes", path=where)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProfileError(f"{where}: not UTF-8 text", path=where) from None
    return loads_profile(text, source=where)


def _presets_dir() -> str:
    return os.path.join(os.path.dirname(__file__), "data", "presets")


def preset_names() -> tuple[str, ...]:
    """The presets shipped in the package.

    Examples:
        >>> preset_names()
        ('batch-job', 'network-service', 'read-only-inspector', 'untrusted-parser')
    """
    return tuple(sorted(n[:-5] for n in os.listdir(_presets_dir()) if n.endswith(".toml")))


def preset(name: str) -> Profile:
    """Load a shipped preset by name (see :func:`preset_names`).

    Examples:
        >>> preset("untrusted-parser").user
        'nobody'

    Raises:
        ProfileError: no preset has that name.
    """
    if name not in preset_names():
        raise ProfileError(f"no preset {name!r} (presets: {', '.join(preset_names())})", key=name)
    return load_profile(os.path.join(_presets_dir(), f"{name}.toml"))


def _q(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_q(v) for v in value) + "]"
    text = str(value)
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) not in _PRINTABLE and ord(ch) < _PRINTABLE.stop + 1:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _bare(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _q(key)


def profile_to_toml(profile: Profile) -> str:  # noqa: C901, PLR0912, PLR0915 -- key by key
    r"""Write a profile as TOML that :func:`loads_profile` reads back to an equal profile.

    Examples:
        >>> p = loads_profile('user = "nobody"\numask = "027"\n[limits]\nopen_files = 64\n')
        >>> print(profile_to_toml(p), end="")
        user = "nobody"
        umask = "027"
        <BLANKLINE>
        [limits]
        core = 0
        open_files = 64
        >>> loads_profile(profile_to_toml(p)) == p
        True
    """
    lines: list[str] = []
    for name in ("user", "group"):
        value = getattr(profile, name)
        if value is not None:
            lines.append(f"{name} = {_q(value)}")
    if profile.groups is not None:
        lines.append(f"groups = {_q(profile.groups)}")
    if profile.keep:
        lines.append(f"keep = {_q(profile.keep)}")
    if profile.umask is not None:
        lines.append(f'umask = "{profile.umask:03o}"')
    if profile.cwd is not None:
        lines.append(f"cwd = {_q(profile.cwd)}")
    if not profile.no_new_privs:
        lines.append("no_new_privs = false")
    if not profile.block_namespaces:
        lines += ["", "[namespaces]", "block = false"]
    if profile.env_allow is not None or profile.env_set:
        lines += ["", "[environment]"]
        if profile.env_allow is not None:
            lines.append(f"allow = {_q(profile.env_allow)}")
        if profile.env_set:
            inner = ", ".join(f"{_bare(k)} = {_q(v)}" for k, v in profile.env_set)
            lines.append(f"set = {{ {inner} }}")
    if profile.limits is not None:
        lines += ["", "[limits]"]
        for key, (fname, _sized) in LIMIT_KEYS.items():
            value = getattr(profile.limits, fname)
            if value is not None:
                lines.append(f"{key} = {value}")
    if profile.filesystem is not None:
        fs = profile.filesystem
        lines += ["", "[filesystem]"]
        for name in _FS_PATHS:
            if getattr(fs, name):
                lines.append(f"{name} = {_q(getattr(fs, name))}")
        if fs.min_abi != FilesystemPolicy().min_abi:
            lines.append(f"min_abi = {fs.min_abi}")
    if profile.seccomp_profile is not None:
        lines += ["", "[seccomp]", f"profile = {_q(profile.seccomp_profile)}"]
    elif profile.seccomp is not None:
        sp = profile.seccomp
        lines += ["", "[seccomp]", f"default = {_q(sp.default)}"]
        for name in ("allow", "deny", "arches"):
            if getattr(sp, name):
                lines.append(f"{name} = {_q(getattr(sp, name))}")
        if sp.errno != SeccompPolicy().errno:
            lines.append(f"errno = {sp.errno}")
        for rule in sp.rules:
            lines += ["", "[[seccomp.rules]]", f"names = {_q(rule.names)}"]
            lines.append(f"action = {_q(rule.action)}")
            if rule.errno is not None:
                lines.append(f"errno = {rule.errno}")
            if rule.args:
                conds = []
                for c in rule.args:
                    mask = "" if c.mask is None else f", mask = {c.mask}"
                    conds.append(
                        f"{{ index = {c.index}, op = {_q(c.op)}, value = {c.value}{mask} }}"
                    )
                lines.append(f"args = [{', '.join(conds)}]")
    if profile.network is not None:
        lines += ["", *profile.network.to_toml_lines()]
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines) + "\n"
