"""The profile's data: :class:`Profile`, its keys, byte sizes (the format: profile.py)."""

from __future__ import annotations

from hardenkit._dataclass import dataclass, field, field_names
from hardenkit._memo import cache
from hardenkit.errors import PolicyError
from hardenkit.sandbox.options import Confinement, options_of

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Mapping
    from typing import Any

    from hardenkit.sandbox.landlock import FilesystemPolicy
    from hardenkit.sandbox.limits import ResourceLimits
    from hardenkit.sandbox.network import NetworkPolicy
    from hardenkit.sandbox.seccomp import SeccompPolicy

__all__ = ["LIMIT_KEYS", "Profile", "env_value_is_secret", "parse_size"]

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


@cache
def _size_pattern() -> re.Pattern[str]:
    """Sizes as text (``64M``), compiled on first use: a plain ``hardenkit exec`` has none."""
    import re  # noqa: PLC0415 -- for import time: re and its enum (~4 ms), on first use

    return re.compile(r"(\d{1,20})\s*([KMGT]?)(?:i?B)?\Z", re.IGNORECASE)


_MAX_FILE = 1 << 20
_MAX_UMASK = 0o777
_PRINTABLE = range(0x20, 0x7F)
_MAX_LIMIT = (1 << 63) - 1
#: hardenkit.redaction's MASK (not imported: the redaction package costs import time).
_MASK = "***"


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

    def __repr__(self) -> str:
        """Every field, ``env_set`` values masked: a repr reaches logs and tracebacks."""
        shown = []
        for name in _FIELDS:
            value = getattr(self, name)
            if name == "env_set":
                value = tuple((key, _MASK) for key, _ in value)
            shown.append(f"{name}={value!r}")
        return f"Profile({', '.join(shown)})"

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Refused while ``env_set`` holds a value: a pickle would carry it (caches, queues)."""
        if self.env_set:
            raise TypeError(
                "a Profile with environment set values cannot be pickled or copied "
                "(they may be secrets)"
            )
        return object.__reduce_ex__(self, protocol)

    def __copy__(self) -> Profile:
        return self  # frozen: a copy would be the same object, without a pickle

    def __deepcopy__(self, memo: Any) -> Profile:
        return self

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
        from hardenkit.env import DEFAULT_ALLOW, sanitize_env  # noqa: PLC0415 -- for import time: env and the secret names

        allow = DEFAULT_ALLOW if self.env_allow is None else self.env_allow
        out = sanitize_env(allow, env=env, set=dict(self.env_set) or None)
        if self.user is not None:
            import pwd  # noqa: PLC0415 -- for import time: only when the profile names a user

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


#: The fields, in order.
_FIELDS = field_names(Profile)


def env_value_is_secret(name: str, value: str) -> bool:
    """Whether an ``env_set`` value is masked when printed: a secret name, or a secret value.

    The name rules are :func:`hardenkit.redaction.is_secret_name`'s; a value under any name
    counts when :func:`hardenkit.redaction.redact` would mask part of it (a DSN's password,
    a token's shape). An empty value is never a secret.

    Examples:
        >>> env_value_is_secret("DB_PASSWORD", "hunter2"), env_value_is_secret("MODE", "worker")
        (True, False)
        >>> env_value_is_secret("DATABASE_URL", "postgres://app:s3cr3t-pw@db/main")
        True
    """
    if not value:
        return False
    from hardenkit.redaction._names import is_secret_name  # noqa: PLC0415 -- for import time

    if is_secret_name(name):
        return True
    from hardenkit.redaction import redact  # noqa: PLC0415 -- for import time: ~11 ms

    return redact(value) != value


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
        m = _size_pattern().match(value.strip())
        if m:
            n = int(m.group(1)) * _UNITS[m.group(2).upper()]
            if n <= _MAX_LIMIT:
                return n
    raise ValueError(f"{what}: {value!r} is not a size (an integer, or digits with K, M, G or T)")
