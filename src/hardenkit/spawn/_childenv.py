"""The child's environment: ``sanitize_env()`` by default, an explicit one checked."""

from __future__ import annotations

import functools

from hardenkit.errors import PolicyError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["allowed_dangerous", "child_env"]

#: Never passed, not even through ``allow_dangerous_env``: they make the loader or a
#: non-interactive shell run other code (SHELLOPTS=xtrace makes bash expand PS4, and
#: ``$(cmd)`` in it runs cmd, for every user but root).
_LOADER_PREFIXES = ("LD_", "DYLD_", "BASH_FUNC_")
_LOADER_NAMES = frozenset(
    {"GLIBC_TUNABLES", "BASH_ENV", "ENV", "IFS", "GCONV_PATH", "SHELLOPTS", "BASHOPTS", "PS4"}
)
#: Dangerous only to setuid programs (glibc drops it for them itself), and what
#: ``ScratchDir.env()`` sets: passed without asking.
_SAFE_IN_EXPLICIT_ENV = frozenset({"TMPDIR"})


def _loads_code(name: str, value: str) -> bool:
    upper = name.upper()
    return upper.startswith(_LOADER_PREFIXES) or upper in _LOADER_NAMES or value.startswith("() ")


def allowed_dangerous(names: Iterable[str]) -> frozenset[str]:
    if isinstance(names, (str, bytes)):
        raise PolicyError("allow_dangerous_env takes a collection of names, not one string")
    out = frozenset(names)
    if not all(isinstance(n, str) for n in out):
        raise PolicyError("allow_dangerous_env holds variable names (str)")
    never = sorted(n for n in out if _loads_code(n, ""))
    if never:
        raise PolicyError(
            f"allow_dangerous_env cannot allow {', '.join(never)}: these make the loader or "
            "a shell run other code and are never passed"
        )
    return out


@functools.cache
def _empty_env() -> tuple[tuple[str, str], ...]:
    """``sanitize_env(env={})``, computed once: it depends on constants only (PATH)."""
    from hardenkit.env import sanitize_env  # noqa: PLC0415 -- first use only

    return tuple(sanitize_env(env={}).items())


def child_env(
    env: Mapping[str, str] | None,
    user: str | int | None,
    allow_dangerous: frozenset[str] = frozenset(),
    search_path: str | None = None,
) -> dict[str, str]:
    from hardenkit.env import sanitize_env  # noqa: PLC0415 -- first use only

    if env is None:
        if user is None:
            return sanitize_env()
        import pwd  # noqa: PLC0415 -- only for a user drop

        try:
            entry = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(user)
        except KeyError as err:
            raise PolicyError(f"user {user!r} is not a known user") from err
        login = {"HOME": entry.pw_dir, "USER": entry.pw_name, "LOGNAME": entry.pw_name}
        return {**dict(_empty_env()), **login, "SHELL": entry.pw_shell}
    return _checked_env(env, allow_dangerous, search_path)


def _checked_env(
    env: Mapping[str, str], allow_dangerous: frozenset[str], search_path: str | None = None
) -> dict[str, str]:
    """Copy an explicit env, refusing malformed entries and unallowed dangerous ones.

    Its ``PATH`` becomes the trusted one (the policy's search path, else SAFE_PATH),
    as sanitize_env sets it, unless ``allow_dangerous`` names ``PATH``.
    """
    from hardenkit.env import SAFE_PATH, is_dangerous  # noqa: PLC0415 -- first use only

    out: dict[str, str] = {}
    never: list[str] = []
    refused: list[str] = []
    for name, value in env.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise PolicyError("env names and values must be str")
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise PolicyError(f"env name {name!r} or its value is malformed (=, NUL)")
        if _loads_code(name, value):
            never.append(name)
        elif is_dangerous(name, value) and name not in allow_dangerous | _SAFE_IN_EXPLICIT_ENV:
            refused.append(name)
        out[name] = value
    if "PATH" in out and "PATH" not in allow_dangerous:
        out["PATH"] = search_path or SAFE_PATH
    if never:
        raise PolicyError(
            f"env variable(s) {', '.join(sorted(never))} make the loader or a shell run "
            "other code: they are never passed (build env with hardenkit.sanitize_env)"
        )
    if refused:
        raise PolicyError(
            f"env holds {', '.join(sorted(refused))}, which hardenkit.env.is_dangerous flags "
            "(they change what the child runs, loads or trusts): pass "
            "allow_dangerous_env={...} naming the ones you mean, or build env with "
            "hardenkit.sanitize_env"
        )
    return out
