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

import re

from hardenkit.sandbox._profile_model import (
    _FS_PATHS,
    _MASK,
    _PRINTABLE,
    LIMIT_KEYS,
    Profile,
    env_value_is_secret,
    parse_size,
)
from hardenkit.sandbox._profile_read import load_profile, loads_profile, preset, preset_names
from hardenkit.sandbox.landlock import FilesystemPolicy
from hardenkit.sandbox.seccomp import SeccompPolicy

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


def profile_to_toml(  # noqa: C901, PLR0912, PLR0915 -- key by key
    profile: Profile, *, show_secrets: bool = False
) -> str:
    r"""Write a profile as TOML that :func:`loads_profile` reads back to an equal profile.

    Secrets stay out of the text unless ``show_secrets``: an ``[environment] set`` value
    whose name is secret-looking (:func:`hardenkit.redaction.is_secret_name`) or whose
    text :func:`hardenkit.redaction.redact` would mask is written as ``"***"``, with a
    comment naming it. :func:`loads_profile` refuses such a value, so a saved profile
    cannot run with the mask as the secret: write the value in first.

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
        >>> s = loads_profile('[environment]\nset = { MODE = "a", DB_PASSWORD = "pw1" }\n')
        >>> print(profile_to_toml(s), end="")
        [environment]
        # masked ("***"): DB_PASSWORD; write the value in before use
        set = { MODE = "a", DB_PASSWORD = "***" }
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
            masked = (
                [] if show_secrets else [k for k, v in profile.env_set if env_value_is_secret(k, v)]
            )
            if masked:
                what = "the values" if len(masked) > 1 else "the value"
                names = ", ".join(masked)
                lines.append(f'# masked ("{_MASK}"): {names}; write {what} in before use')
            inner = ", ".join(
                f"{_bare(k)} = {_q(_MASK if k in masked else v)}" for k, v in profile.env_set
            )
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
