"""What ``exec``, ``run`` and ``profile`` share: the confinement options and entering them.

The options, the profile they make, confining this process with it, finding the command.

``exec``'s fast path imports this without argparse: nothing here imports it.
"""

from __future__ import annotations

import os
import sys

from hardenkit._dataclass import field_names, replace
from hardenkit.cli._common import (
    EXIT_CANNOT_EXEC,
    EXIT_FAIL,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    err as _err,
)
from hardenkit.errors import PolicyError, SandboxError

# Not typing.TYPE_CHECKING, for import time (``hardenkit exec`` starts without typing).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from hardenkit.sandbox.profile import Profile


class _Usage(Exception):
    """A usage or profile error: exit 2 with the message."""


def add_options(p: argparse.ArgumentParser) -> None:
    """Add the confinement options ``exec`` and ``run`` share (exec.parse_fast mirrors them)."""
    g = p.add_argument_group("confinement (each mirrors a profile key; options win)")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--profile", metavar="FILE", help="a TOML profile to start from")
    src.add_argument("--preset", metavar="NAME", help="a shipped preset to start from")
    g.add_argument("--user", help="user to become (name or uid)")
    g.add_argument("--group", help="primary group (name or gid)")
    g.add_argument("--groups", metavar="G[,G...]", help="supplementary groups ('' for none)")
    g.add_argument("--keep", action="append", default=[], metavar="CAP", help="capability to keep")
    g.add_argument("--umask", help="umask, octal (e.g. 077)")
    g.add_argument("--cwd", help="directory to run in (absolute)")
    g.add_argument(
        "--env-allow", action="append", metavar="NAME", help="copy this variable (repeatable)"
    )
    g.add_argument(
        "--env-set", action="append", default=[], metavar="NAME=VALUE", help="set a variable"
    )
    g.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="cpu, memory, data, stack, file_size, core (sizes like 512M), open_files, processes",
    )
    g.add_argument("--read", action="append", default=[], metavar="PATH", help="Landlock: read")
    g.add_argument("--write", action="append", default=[], metavar="PATH", help="Landlock: write")
    g.add_argument(
        "--execute", action="append", default=[], metavar="PATH", help="Landlock: execute"
    )
    g.add_argument(
        "--seccomp",
        metavar="docker|@GROUP[,@GROUP]|FILE",
        help="Docker's bundled default, systemd groups to allow (others fail with EPERM), "
        "or a Docker/OCI profile file",
    )
    g.add_argument(
        "--net",
        action="append",
        metavar="none|unix|connect=PORTS|bind=PORTS|families=AF_..|udp|keep-scope",
        help="network policy (repeatable; ports imply AF_UNIX, AF_INET, AF_INET6)",
    )
    g.add_argument(
        "--allow-namespaces",
        action="store_true",
        help="do not refuse namespace creation (refused by default)",
    )
    g.add_argument(
        "--print-profile", action="store_true", help="print the effective profile as TOML, exit"
    )
    g.add_argument(
        "--dry-run",
        action="store_true",
        help="confine a forked child and verify, but run nothing",
    )


def split_pair(text: str, what: str, *, secret: bool = False) -> tuple[str, str]:
    """``KEY=VALUE`` split; a ``secret`` value is never quoted back in the error."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        shown = "(the value is not shown: it may be a secret)" if secret else repr(text)
        raise _Usage(f"{what} takes KEY=VALUE, not {shown}")
    return key.strip(), value


def _id(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def seccomp_option(text: str, profile: Profile) -> dict[str, Any]:
    # For import time: the seccomp package only with --seccomp (SeccompPolicy's own entry
    # points, not the hardenkit.sandbox.docker re-export module).
    from hardenkit.sandbox.seccomp import SeccompPolicy  # noqa: PLC0415

    caps = profile.keep if profile.user is not None else None
    try:
        if text == "docker":
            policy = SeccompPolicy.docker_default(capabilities=caps)
            return {"seccomp": policy, "seccomp_profile": text}
        if text.startswith("@"):
            groups = [g.strip() for g in text.split(",") if g.strip()]
            return {
                "seccomp": SeccompPolicy(default="errno", allow=groups),
                "seccomp_profile": None,
            }
        path = os.path.abspath(text)
        return {
            "seccomp": SeccompPolicy.from_docker_profile(path, capabilities=caps),
            "seccomp_profile": path,
        }
    except (PolicyError, OSError) as err:
        raise _Usage(f"--seccomp {text}: {err}") from None


def effective_profile(args: Any) -> Profile:  # noqa: C901, PLR0912, PLR0915
    """The profile file or preset, with the command-line options applied on top."""
    # For import time, here and below: each module only when an option needs it (the
    # TOML reader and its checks only for --profile/--preset, limits only for --limit).
    from hardenkit.sandbox._profile_model import LIMIT_KEYS, Profile, parse_size  # noqa: PLC0415

    if args.profile or args.preset:
        from hardenkit.sandbox._profile_read import load_profile, preset  # noqa: PLC0415

        profile = load_profile(args.profile) if args.profile else preset(args.preset)
    else:
        profile = Profile()
    changes: dict[str, Any] = {}
    if args.user is not None:
        changes["user"] = _id(args.user)
    if args.group is not None:
        changes["group"] = _id(args.group)
    if args.groups is not None:
        changes["groups"] = tuple(_id(g) for g in args.groups.split(",") if g)
    if args.keep:
        changes["keep"] = (*profile.keep, *args.keep)
    if args.umask is not None:
        try:
            mask = int(args.umask, 8)
        except ValueError:
            raise _Usage(f"--umask takes an octal number, not {args.umask!r}") from None
        if not 0 <= mask <= 0o777:  # noqa: PLR2004
            raise _Usage(f"--umask {args.umask} is outside 0..777")
        changes["umask"] = mask
    if args.cwd is not None:
        if not os.path.isabs(args.cwd):
            raise _Usage("--cwd takes an absolute path")
        changes["cwd"] = args.cwd
    if args.env_allow is not None:
        changes["env_allow"] = (*(profile.env_allow or ()), *args.env_allow)
    if args.env_set:
        pairs = dict(profile.env_set)
        for item in args.env_set:
            key, value = split_pair(item, "--env-set", secret=True)
            pairs[key] = value
        changes["env_set"] = tuple(pairs.items())
    if args.limit:
        limits = profile.limits
        values = {n: getattr(limits, n) for n in field_names(limits)} if limits else {}
        for item in args.limit:
            key, value = split_pair(item, "--limit")
            if key not in LIMIT_KEYS:
                raise _Usage(f"--limit {key}: unknown (known: {', '.join(LIMIT_KEYS)})")
            try:
                values[LIMIT_KEYS[key][0]] = parse_size(value, key)
            except ValueError as err:
                raise _Usage(f"--limit {err}") from None
        from hardenkit.sandbox.limits import ResourceLimits  # noqa: PLC0415

        changes["limits"] = ResourceLimits(**values)
    if args.read or args.write or args.execute:
        from hardenkit.sandbox.landlock import FilesystemPolicy  # noqa: PLC0415

        fs = profile.filesystem or FilesystemPolicy()
        for name in ("read", "write", "execute"):
            for path in getattr(args, name):
                if not os.path.isabs(path):
                    raise _Usage(f"--{name} takes absolute paths, not {path!r}")
        changes["filesystem"] = replace(
            fs,
            read=(*fs.read, *args.read),  # type: ignore[misc]
            write=(*fs.write, *args.write),  # type: ignore[misc]
            execute=(*fs.execute, *args.execute),  # type: ignore[misc]
        )
    if args.allow_namespaces:
        changes["block_namespaces"] = False
    if args.net:
        from hardenkit.sandbox.network import NetworkPolicy  # noqa: PLC0415 -- for import time

        try:
            changes["network"] = NetworkPolicy.parse(args.net)
        except PolicyError as err:
            raise _Usage(str(err)) from None
    merged = replace(profile, **changes)
    if args.seccomp is not None:
        merged = replace(merged, **seccomp_option(args.seccomp, merged))
    elif merged.seccomp_profile is not None and ("keep" in changes or "user" in changes):
        # The Docker profile's capability conditions follow the confined process.
        merged = replace(merged, **seccomp_option(merged.seccomp_profile, merged))
    try:
        merged.environment({})  # refuse a dangerous --env-set now, not after confining
    except PolicyError as err:
        raise _Usage(str(err)) from None
    except ValueError as err:
        raise _Usage(str(err)) from None
    return merged


def command(args: Any) -> list[str]:
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise _Usage("no command given: hardenkit exec [options] -- CMD [ARGS]")
    return argv


def resolve(cmd: str, env: dict[str, str]) -> str | None:
    """The absolute path to exec: as given when it holds a slash, else found on PATH.

    As ``shutil.which`` (not imported, for import time: ~3 ms with its archive modules):
    the first executable entry that is not a directory; an empty PATH entry is the current
    directory.

    Examples:
        >>> resolve("sh", {"PATH": "/nonexistent:/bin"})
        '/bin/sh'
        >>> resolve("./x", {}) == os.path.abspath("x"), resolve("no-such-cmd-x", {"PATH": "/bin"})
        (True, None)
    """
    if "/" in cmd:
        return os.path.abspath(cmd)
    for folder in env.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(folder or os.curdir, cmd)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return os.path.abspath(path)
    return None


def enter(profile: Profile) -> Any:
    """Confine this process as ``profile`` says; return the verified identity."""
    from hardenkit.sandbox.confinement import confine_resolved  # noqa: PLC0415 -- import time

    if profile.umask is not None:
        os.umask(profile.umask)
    # carry_on=False: the process runs no more hardenkit once confined (it execs or exits).
    identity = confine_resolved(profile.confinement, carry_on=False)
    if profile.cwd is not None:
        try:
            os.chdir(profile.cwd)
        except OSError as err:
            raise SandboxError(
                f"cannot enter the working directory {profile.cwd}: {err.strerror}"
            ) from None
    return identity


def prepare(args: Any) -> tuple[Profile, list[str], str, dict[str, str]] | int:
    """The profile, argv, resolved executable and environment, or the exit status to return."""
    try:
        profile = effective_profile(args)
        if args.print_profile:
            from hardenkit.sandbox.profile import profile_to_toml  # noqa: PLC0415 -- for import time

            sys.stdout.write(profile_to_toml(profile))
            return 0
        argv = command(args)
    except _Usage as err:
        _err(str(err))
        return EXIT_USAGE
    except ValueError as err:  # ProfileError, PolicyError, InvalidEnvError
        _err(f"{type(err).__name__}: {err}")
        return EXIT_USAGE
    env = profile.environment()
    exe = resolve(argv[0], env)
    if exe is None:
        _err(f"{argv[0]}: command not found on PATH={env.get('PATH', '')}")
        return EXIT_NOT_FOUND
    return profile, argv, exe, env


def dry_run(profile: Profile, exe: str) -> int:
    """Confine a forked child with ``profile``, verify, and report; run nothing."""
    from hardenkit._child import fork_call  # noqa: PLC0415 -- for import time

    def child() -> dict[str, Any]:
        ident = enter(profile)
        return {"uid": ident.uid, "gid": ident.gid, "exists": os.path.exists(exe)}

    outcome = fork_call(child, timeout=30)
    if not outcome.ok:
        _err(f"dry run: confinement failed: {outcome.describe()}")
        return EXIT_FAIL
    value = outcome.value
    seen = "visible" if value["exists"] else "NOT visible"
    print(
        f"hardenkit: dry run ok: confined and verified as uid {value['uid']} "
        f"gid {value['gid']}; {exe} is {seen} inside",
        file=sys.stderr,
    )
    return 0 if value["exists"] else EXIT_CANNOT_EXEC
