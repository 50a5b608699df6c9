"""Reading profiles: TOML text checked key by key into a :class:`Profile`, presets."""

from __future__ import annotations

import os
import re
import sys

from hardenkit.errors import (
    CapabilityError,
    EnvError,
    MissingDependency,
    PolicyError,
    ProfileError,
    SandboxError,
)
from hardenkit.sandbox._profile_model import (
    _ARG,
    _DEFAULTS,
    _FS_PATHS,
    _MAX_FILE,
    _MAX_UMASK,
    _RULE,
    _SECCOMP,
    _TOP,
    LIMIT_KEYS,
    Profile,
    parse_size,
)
from hardenkit.sandbox.landlock import FilesystemPolicy
from hardenkit.sandbox.limits import ResourceLimits
from hardenkit.sandbox.seccomp import ArgCondition, SeccompPolicy, SyscallRule

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["load_profile", "loads_profile", "preset", "preset_names"]


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415 -- for import time: tomllib loads datetime and typing

        return tomllib
    try:
        import tomli  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415 -- optional dependency (Python 3.10)
    except ImportError as err:  # pragma: no cover - declared for Python < 3.11
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
        from hardenkit.capabilities import Capability  # noqa: PLC0415 -- for import time: capabilities loads ctypes

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
        except (PolicyError, ValueError, TypeError, SandboxError) as err:  # groups without user
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
            from hardenkit.redaction._names import is_mask  # noqa: PLC0415 -- for import time

            pairs = []
            for name, val in raw.items():
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    raise self.fail(("environment", "set", name), "is not an environment name")
                if not isinstance(val, str) or "\0" in val:
                    raise self.fail(("environment", "set", name), "must be a string")
                if val.strip() and is_mask(val):
                    raise self.fail(
                        ("environment", "set", name),
                        f"holds a mask ({val}), not a value: a printed profile hides "
                        "secrets; write the value in",
                    )
                pairs.append((name, val))
            kw["env_set"] = tuple(pairs)
            from hardenkit.env import sanitize_env  # noqa: PLC0415 -- for import time: env and the secret names, only for [environment]

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
        from hardenkit.sandbox import docker  # noqa: PLC0415 -- for import time: the Docker translator, only for docker =

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
        from hardenkit.sandbox.network import NetworkPolicy  # noqa: PLC0415 -- for import time: only for [network]

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
