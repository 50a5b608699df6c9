"""``hardenkit exec``, ``hardenkit run`` and ``hardenkit profile``: the sandbox from a shell.

``exec`` confines this process with the plan :func:`~hardenkit.confine` uses, verifies it
from the kernel's side, then replaces itself with the command (``os.execve`` of a
resolved absolute path), so PID, signals and exit status are the command's own, as with
setpriv or minijail0. ``run`` supervises the command through :func:`hardenkit.run`
instead (timeout, output cap, nothing left behind). ``profile check`` validates a file
and prints the audit score of a process confined by it.

Exit status of ``exec``: the command's own once it runs; before that 1 when confining
failed, 2 on usage or profile errors, 126 when the command cannot be executed, 127 when
it is not found (as env(1)). ``run`` returns the command's status, 124 on timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hardenkit.sandbox.profile import Profile

EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 124
EXIT_CANNOT_EXEC = 126
EXIT_NOT_FOUND = 127


class _Usage(Exception):
    """A usage or profile error: exit 2 with the message."""


def _err(message: str) -> None:
    print(f"hardenkit: {message}", file=sys.stderr)


def _add_confinement_options(p: argparse.ArgumentParser) -> None:
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


def add_parser(sub: Any) -> None:
    """Add ``exec``, ``run`` and ``profile`` to the CLI."""
    p = sub.add_parser(
        "exec",
        help="confine this process, verify, then become the command",
        description="Confine, verify from the kernel's side, then exec CMD in place "
        "(PID, signals and exit status pass through). For ENTRYPOINT and ExecStart=.",
    )
    _add_confinement_options(p)
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS]")
    p.set_defaults(handler=_exec_main)

    p = sub.add_parser(
        "run",
        help="run a command confined and supervised (timeout, output cap)",
        description="Run CMD confined through hardenkit.run(): timeout, bounded output, "
        "every process it started gone when it returns.",
    )
    _add_confinement_options(p)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    p.add_argument("--max-output", type=int, default=None, metavar="BYTES", help="per stream cap")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS]")
    p.set_defaults(handler=_run_main)

    p = sub.add_parser("profile", help="check and list sandbox profiles")
    psub = p.add_subparsers(dest="profile_command", metavar="ACTION", required=True)
    c = psub.add_parser(
        "check",
        help="validate a profile and print its audit score once applied",
        description="Validate FILE (or --preset NAME), confine a forked child with it and "
        "print that child's audit exposure (0 best, 10 worst).",
    )
    c.add_argument("file", nargs="?", metavar="FILE")
    c.add_argument("--preset", metavar="NAME")
    c.add_argument("--json", action="store_true", help="print the audit as JSON")
    c.set_defaults(handler=_check_main)
    s = psub.add_parser("show", help="print a preset or profile file as normalised TOML")
    s.add_argument("name", metavar="NAME|FILE")
    s.set_defaults(handler=_show_main)
    ls = psub.add_parser("list", help="list the shipped presets")
    ls.set_defaults(handler=_list_main)


def _split_pair(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise _Usage(f"{what} takes KEY=VALUE, not {text!r}")
    return key.strip(), value


def _id(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def _seccomp_option(text: str, profile: Profile) -> dict[str, Any]:
    from hardenkit.errors import PolicyError  # noqa: PLC0415
    from hardenkit.sandbox import docker  # noqa: PLC0415
    from hardenkit.sandbox.seccomp import SeccompPolicy  # noqa: PLC0415

    caps = profile.keep if profile.user is not None else None
    try:
        if text == "docker":
            return {"seccomp": docker.default_policy(capabilities=caps), "seccomp_profile": text}
        if text.startswith("@"):
            groups = [g.strip() for g in text.split(",") if g.strip()]
            return {
                "seccomp": SeccompPolicy(default="errno", allow=groups),
                "seccomp_profile": None,
            }
        path = os.path.abspath(text)
        return {
            "seccomp": docker.policy_from_profile(path, capabilities=caps),
            "seccomp_profile": path,
        }
    except (PolicyError, OSError) as err:
        raise _Usage(f"--seccomp {text}: {err}") from None


def effective_profile(args: argparse.Namespace) -> Profile:  # noqa: C901, PLR0912, PLR0915
    """The profile file or preset, with the command-line options applied on top."""
    from hardenkit.errors import PolicyError  # noqa: PLC0415
    from hardenkit.sandbox.landlock import FilesystemPolicy  # noqa: PLC0415
    from hardenkit.sandbox.limits import ResourceLimits  # noqa: PLC0415
    from hardenkit.sandbox.profile import (  # noqa: PLC0415
        LIMIT_KEYS,
        Profile,
        load_profile,
        parse_size,
        preset,
    )

    if args.profile:
        profile = load_profile(args.profile)
    elif args.preset:
        profile = preset(args.preset)
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
            key, value = _split_pair(item, "--env-set")
            pairs[key] = value
        changes["env_set"] = tuple(pairs.items())
    if args.limit:
        values = dataclasses.asdict(profile.limits) if profile.limits else {}
        for item in args.limit:
            key, value = _split_pair(item, "--limit")
            if key not in LIMIT_KEYS:
                raise _Usage(f"--limit {key}: unknown (known: {', '.join(LIMIT_KEYS)})")
            try:
                values[LIMIT_KEYS[key][0]] = parse_size(value, key)
            except ValueError as err:
                raise _Usage(f"--limit {err}") from None
        changes["limits"] = ResourceLimits(**values)
    if args.read or args.write or args.execute:
        fs = profile.filesystem or FilesystemPolicy()
        for name in ("read", "write", "execute"):
            for path in getattr(args, name):
                if not os.path.isabs(path):
                    raise _Usage(f"--{name} takes absolute paths, not {path!r}")
        changes["filesystem"] = dataclasses.replace(
            fs,
            read=(*fs.read, *args.read),  # type: ignore[misc]
            write=(*fs.write, *args.write),  # type: ignore[misc]
            execute=(*fs.execute, *args.execute),  # type: ignore[misc]
        )
    if args.allow_namespaces:
        changes["block_namespaces"] = False
    if args.net:
        from hardenkit.sandbox.network import NetworkPolicy  # noqa: PLC0415

        try:
            changes["network"] = NetworkPolicy.parse(args.net)
        except PolicyError as err:
            raise _Usage(str(err)) from None
    merged = dataclasses.replace(profile, **changes)
    if args.seccomp is not None:
        merged = dataclasses.replace(merged, **_seccomp_option(args.seccomp, merged))
    elif merged.seccomp_profile is not None and ("keep" in changes or "user" in changes):
        # The Docker profile's capability conditions follow the confined process.
        merged = dataclasses.replace(merged, **_seccomp_option(merged.seccomp_profile, merged))
    try:
        merged.environment({})  # refuse a dangerous --env-set now, not after confining
    except PolicyError as err:
        raise _Usage(str(err)) from None
    except ValueError as err:
        raise _Usage(str(err)) from None
    return merged


def _command(args: argparse.Namespace) -> list[str]:
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise _Usage("no command given: hardenkit exec [options] -- CMD [ARGS]")
    return argv


def _resolve(cmd: str, env: dict[str, str]) -> str | None:
    """The absolute path to exec: as given when it holds a slash, else found on PATH."""
    if "/" in cmd:
        return os.path.abspath(cmd)
    found = shutil.which(cmd, path=env.get("PATH", os.defpath))
    return os.path.abspath(found) if found else None


def _enter(profile: Profile) -> Any:
    """Confine this process as ``profile`` says; return the verified identity."""
    from hardenkit.sandbox.confinement import confine  # noqa: PLC0415

    if profile.umask is not None:
        os.umask(profile.umask)
    from hardenkit.errors import SandboxError  # noqa: PLC0415

    identity = confine(**profile.confine_kwargs())
    if profile.cwd is not None:
        try:
            os.chdir(profile.cwd)
        except OSError as err:
            raise SandboxError(
                f"cannot enter the working directory {profile.cwd}: {err.strerror}"
            ) from None
    return identity


def _prepare(args: argparse.Namespace) -> tuple[Profile, list[str], str, dict[str, str]] | int:
    try:
        profile = effective_profile(args)
        if args.print_profile:
            from hardenkit.sandbox.profile import profile_to_toml  # noqa: PLC0415

            sys.stdout.write(profile_to_toml(profile))
            return 0
        argv = _command(args)
    except _Usage as err:
        _err(str(err))
        return EXIT_USAGE
    except ValueError as err:  # ProfileError, PolicyError, InvalidEnvError
        _err(f"{type(err).__name__}: {err}")
        return EXIT_USAGE
    env = profile.environment()
    exe = _resolve(argv[0], env)
    if exe is None:
        _err(f"{argv[0]}: command not found on PATH={env.get('PATH', '')}")
        return EXIT_NOT_FOUND
    return profile, argv, exe, env


def _dry_run(profile: Profile, exe: str) -> int:
    from hardenkit._child import fork_call  # noqa: PLC0415

    def child() -> dict[str, Any]:
        ident = _enter(profile)
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


def _exec_main(args: argparse.Namespace) -> int:
    prepared = _prepare(args)
    if isinstance(prepared, int):
        return prepared
    profile, argv, exe, env = prepared
    if args.dry_run:
        return _dry_run(profile, exe)
    _enter(profile)  # raises (exit 1) when a step fails or does not verify
    sys.stdout.flush()
    sys.stderr.flush()
    # Python ignores SIGPIPE and SIGXFSZ; an ignored signal stays ignored across exec, so
    # give the command the default actions (as subprocess's restore_signals does).
    for name in ("SIGPIPE", "SIGXFSZ"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, signal.SIG_DFL)
    try:
        os.execve(exe, argv, env)  # noqa: S606 -- an absolute path, no shell
    except OSError as err:
        _err(f"cannot execute {exe}: {err.strerror}")
        return EXIT_NOT_FOUND if isinstance(err, FileNotFoundError) else EXIT_CANNOT_EXEC


def _run_main(args: argparse.Namespace) -> int:
    from hardenkit.errors import CommandTimeout  # noqa: PLC0415
    from hardenkit.spawn import run  # noqa: PLC0415

    prepared = _prepare(args)
    if isinstance(prepared, int):
        return prepared
    profile, argv, exe, env = prepared
    if args.dry_run:
        return _dry_run(profile, exe)
    if profile.groups is not None:
        _err("run does not take groups (use exec)")
        return EXIT_USAGE
    if not (profile.no_new_privs and profile.block_namespaces):
        _err("run always sets no_new_privs and refuses namespaces (use exec)")
        return EXIT_USAGE
    if profile.umask is not None:
        os.umask(profile.umask)  # inherited by the child
    kw: dict[str, Any] = {
        "timeout": args.timeout,
        "env": env,
        "cwd": profile.cwd,
        "user": profile.user,
        "group": profile.group,
        "keep": profile.keep,
        "limits": profile.limits,
        "filesystem": profile.filesystem,
        "seccomp": profile.seccomp,
    }
    if profile.network is not None:
        kw["network"] = profile.network
    if args.max_output is not None:
        kw["max_output"] = args.max_output
    try:
        result = run([exe, *argv[1:]], **kw)
    except CommandTimeout as err:
        _err(f"timed out after {args.timeout} s")
        partial = err.result
        if partial is not None:
            sys.stdout.buffer.write(partial.stdout)
            sys.stderr.buffer.write(partial.stderr)
        return EXIT_TIMEOUT
    sys.stdout.buffer.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.buffer.write(result.stderr)
    sys.stderr.flush()
    code = int(result.returncode)
    return 128 - code if code < 0 else code


def _load(name: str | None, preset_name: str | None) -> Profile:
    from hardenkit.sandbox.profile import load_profile, preset  # noqa: PLC0415

    if (name is None) == (preset_name is None):
        raise _Usage("give a profile FILE or --preset NAME")
    return preset(preset_name) if preset_name else load_profile(name)  # type: ignore[arg-type]


def _check_main(args: argparse.Namespace) -> int:
    try:
        profile = _load(args.file, args.preset)
    except (_Usage, ValueError) as err:
        _err(str(err))
        return EXIT_USAGE
    report = audit_confined(profile)
    what = args.file or f"preset {args.preset}"
    if args.json:
        import json  # noqa: PLC0415

        print(json.dumps({"profile": what, "valid": True, "audit": report.to_dict()}))
    else:
        print(f"{what}: valid; once applied: exposure {report.exposure:.1f} {report.level}")
    return 0


def audit_confined(profile: Profile) -> Any:
    """Confine a forked child with ``profile`` and audit it from here (the parent).

    Raises:
        SandboxError: the child could not be confined.
    """
    from hardenkit.audit import audit_process  # noqa: PLC0415
    from hardenkit.errors import SandboxError  # noqa: PLC0415

    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(ready_r)
            os.close(go_w)
            _enter(profile)
            os.write(ready_w, b"1")
            os.read(go_r, 1)
        except BaseException as exc:  # noqa: BLE001 -- reported as a byte, then exit
            with contextlib.suppress(BaseException):
                name = type(exc).__name__.encode()[:64]
                os.write(ready_w, b"0" + name + b": " + str(exc).encode(errors="replace")[:400])
            code = 1
        os._exit(code)
    os.close(ready_w)
    os.close(go_r)
    try:
        got = os.read(ready_r, 512)
        if got[:1] != b"1":
            detail = got[1:].decode(errors="replace") or "it exited"
            raise SandboxError(f"the profile could not be applied: {detail}")
        return audit_process(pid)
    finally:
        os.close(go_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def _show_main(args: argparse.Namespace) -> int:
    from hardenkit.sandbox.profile import preset_names, profile_to_toml  # noqa: PLC0415

    try:
        named = args.name in preset_names()
        profile = _load(None, args.name) if named else _load(args.name, None)
    except (_Usage, ValueError) as err:
        _err(str(err))
        return EXIT_USAGE
    sys.stdout.write(profile_to_toml(profile))
    return 0


def _list_main(args: argparse.Namespace) -> int:  # noqa: ARG001
    from hardenkit.sandbox.profile import preset_names  # noqa: PLC0415

    for name in preset_names():
        print(name)
    return 0
