"""``hardenkit env``: dotenvx-compatible encrypted .env files on the command line.

Subcommands: ``keypair``, ``encrypt``, ``decrypt``, ``set NAME [VALUE]``, ``get NAME``,
``seal``, ``rotate`` and ``run -- CMD ARGS``. Nothing here prints a private key or a
value unless that is the command's job: ``keypair`` prints the key pair it made, ``get``
prints the one value asked for, ``decrypt --stdout`` prints the decrypted file.
Everything else reports names, counts and paths only.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

from hardenkit.cli._common import EXIT_FAIL, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
from hardenkit.env import SAFE_PATH, _refused_from_untrusted, sanitize_env
from hardenkit.errors import HardenkitError, InvalidEnvError


def add_parser(sub: Any) -> None:
    """Register ``hardenkit env`` and its subcommands."""
    env = sub.add_parser(
        "env",
        help="encrypted .env files (dotenvx format)",
        description="Read and write dotenvx-encrypted .env files. Values and private keys "
        "are never printed, except by keypair, get and decrypt --stdout.",
    )
    cmds = env.add_subparsers(dest="env_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("-f", "--file", default=".env", help="the .env file (default: .env)")
        p.add_argument(
            "--keys-file", default=None, help="the private keys file (default: .env.keys beside)"
        )

    p = cmds.add_parser("keypair", help="make and print a new key pair (prints the private key)")
    p.add_argument("-f", "--file", default=".env", help="name the keys for this file")
    p.add_argument("--format", choices=("env", "json"), default="env")
    p.set_defaults(handler=_keypair)

    p = cmds.add_parser("encrypt", help="encrypt every plain value in place")
    common(p)
    p.add_argument("-k", "--key", action="append", dest="names", help="only this name (repeat)")
    _seal_flags(p)
    p.set_defaults(handler=_encrypt)

    p = cmds.add_parser("decrypt", help="decrypt the file in place (mode 0600) or to stdout")
    common(p)
    p.add_argument("--stdout", action="store_true", help="print the decrypted file instead")
    p.set_defaults(handler=_decrypt)

    p = cmds.add_parser("set", help="set one variable (encrypted unless --plain)")
    common(p)
    p.add_argument("name")
    p.add_argument(
        "value",
        nargs="?",
        default=None,
        help="the value; omit it (or give -) to read it from stdin, which keeps it out of "
        "the process list",
    )
    p.add_argument("--plain", action="store_true", help="store the value unencrypted")
    _seal_flags(p)
    p.set_defaults(handler=_set)

    p = cmds.add_parser("get", help="print one decrypted value")
    common(p)
    p.add_argument("name")
    p.add_argument("--require-seal", action="store_true", help="refuse an unsealed file")
    p.set_defaults(handler=_get)

    p = cmds.add_parser("seal", help="add or renew the integrity seal")
    common(p)
    p.set_defaults(handler=_seal)

    p = cmds.add_parser("rotate", help="re-encrypt every value under a new key pair")
    common(p)
    p.set_defaults(handler=_rotate)

    p = cmds.add_parser(
        "run",
        help="run a command with the file's values (never through a shell)",
        description="Run CMD with an environment built by sanitize_env() plus the file's "
        "values (the file wins). Exit status is the command's.",
    )
    common(p)
    p.add_argument("--require-seal", action="store_true", help="refuse an unsealed file")
    p.add_argument(
        "--allow-dangerous",
        action="store_true",
        help="pass names such as LD_PRELOAD, PYTHONPATH, PATH or HOME, and TZ/LC_* values "
        "naming files, from the file to the command",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    p.set_defaults(handler=_run)


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Report an OS error (missing file, permission) in one line, exit 1."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except HardenkitError:
            raise  # cli.main prints these (InsecurePathError is an OSError too)
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            print(f"hardenkit env: {exc.strerror or type(exc).__name__}{where}", file=sys.stderr)
            return EXIT_FAIL

    return wrapper


def _seal_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--seal", dest="seal", action="store_true", default=None, help="seal")
    group.add_argument("--no-seal", dest="seal", action="store_false", help="drop the seal")


@_guard
def _keypair(args: argparse.Namespace) -> int:
    from hardenkit.envcrypt import generate_keypair  # noqa: PLC0415 -- for import time
    from hardenkit.envcrypt._keys import key_names  # noqa: PLC0415 -- for import time

    pair = generate_keypair()
    public_name, private_name = key_names(args.file)
    if args.format == "json":
        print(json.dumps({public_name: pair.public_key, private_name: pair.private_key}))
    else:
        print(f"{public_name}={pair.public_key}")
        print(f"{private_name}={pair.private_key}")
    return EXIT_OK


@_guard
def _encrypt(args: argparse.Namespace) -> int:
    from hardenkit.envcrypt import encrypt_env_file  # noqa: PLC0415 -- for import time
    from hardenkit.envcrypt._keys import default_keys_file  # noqa: PLC0415 -- for import time

    created = encrypt_env_file(
        args.file, keys_file=args.keys_file, names=args.names, seal=args.seal
    )
    print(f"encrypted {args.file}")
    if created is not None:
        keys = args.keys_file or default_keys_file(args.file)
        print(f"new key pair: private key stored in {keys} (mode 0600); keep it out of git")
    return EXIT_OK


@_guard
def _decrypt(args: argparse.Namespace) -> int:
    from hardenkit.envcrypt import decrypted_text  # noqa: PLC0415 -- for import time
    from hardenkit.fileperms import locked_for_update, write_secure  # noqa: PLC0415 -- for import time

    if args.stdout:
        sys.stdout.write(decrypted_text(args.file, keys_file=args.keys_file))
        return EXIT_OK
    # Read and rewrite under the writers' lock: a value set in between would be lost.
    with locked_for_update(args.file):
        text = decrypted_text(args.file, keys_file=args.keys_file)
        write_secure(args.file, text.encode("utf-8"), mode=0o600)
    print(f"decrypted {args.file} in place (mode 0600)")
    return EXIT_OK


def _read_value(args: argparse.Namespace) -> str:
    if args.value is not None and args.value != "-":
        return str(args.value)
    data = sys.stdin.read()
    return data.removesuffix("\n").removesuffix("\r")


@_guard
def _set(args: argparse.Namespace) -> int:
    from hardenkit.envcrypt import set_env_value  # noqa: PLC0415 -- for import time
    from hardenkit.envcrypt._keys import default_keys_file  # noqa: PLC0415 -- for import time

    created = set_env_value(
        args.file,
        args.name,
        _read_value(args),
        encrypt=not args.plain,
        keys_file=args.keys_file,
        seal=args.seal,
    )
    print(f"set {args.name} ({'plain' if args.plain else 'encrypted'}) in {args.file}")
    if created is not None:
        keys = args.keys_file or default_keys_file(args.file)
        print(f"new key pair: private key stored in {keys} (mode 0600); keep it out of git")
    return EXIT_OK


@_guard
def _get(args: argparse.Namespace) -> int:
    from hardenkit.envcrypt import decrypt_env_file  # noqa: PLC0415 -- for import time

    values = decrypt_env_file(args.file, keys_file=args.keys_file, require_seal=args.require_seal)
    if args.name not in values:
        print(f"hardenkit: {args.name} is not set in {args.file}", file=sys.stderr)
        return EXIT_FAIL
    print(values[args.name])
    return EXIT_OK


@_guard
def _seal(args: argparse.Namespace) -> int:
    from hardenkit.envcrypt import seal_env_file  # noqa: PLC0415 -- for import time

    seal_env_file(args.file, keys_file=args.keys_file)
    print(f"sealed {args.file}")
    return EXIT_OK


@_guard
def _rotate(args: argparse.Namespace) -> int:
    from hardenkit.envcrypt import rotate_env_file  # noqa: PLC0415 -- for import time
    from hardenkit.envcrypt._keys import default_keys_file  # noqa: PLC0415 -- for import time

    rotate_env_file(args.file, keys_file=args.keys_file)
    keys = args.keys_file or default_keys_file(args.file)
    print(f"rotated {args.file}: new private key stored in {keys} (mode 0600)")
    return EXIT_OK


def _child_env(args: argparse.Namespace) -> dict[str, str]:
    from hardenkit.envcrypt import decrypt_env_file  # noqa: PLC0415 -- for import time

    values = decrypt_env_file(args.file, keys_file=args.keys_file, require_seal=args.require_seal)
    # What sanitize_env would never copy (dangerous names and values, PATH, locale and
    # time-zone values naming a file), and HOME, SHELL, USER or LOGNAME: inherited from the
    # parent they are trusted, from the file they point programs at planted dotfiles and
    # shells, or name another user.
    dangerous = sorted(
        name for name, value in values.items() if _refused_from_untrusted(name, value)
    )
    if dangerous and not args.allow_dangerous:
        raise InvalidEnvError(
            f"{args.file} sets {', '.join(dangerous)}, which change how programs load code "
            "or what they trust; pass --allow-dangerous to pass them on",
            names=dangerous,
        )
    env = sanitize_env()
    env.update(values)
    return env


@_guard
def _run(args: argparse.Namespace) -> int:
    argv = list(args.command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("hardenkit env run: give a command after --", file=sys.stderr)
        return EXIT_USAGE
    env = _child_env(args)
    # Resolve on the trusted path, never on a PATH the file may set (it still reaches the child).
    executable = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=SAFE_PATH)
    if executable is None or not os.path.exists(executable):
        print(f"hardenkit env run: {argv[0]}: command not found", file=sys.stderr)
        return EXIT_NOT_FOUND
    # A list argv and no shell: the file's values can never become shell syntax.
    completed = subprocess.run(argv, executable=executable, env=env, check=False)  # noqa: S603
    code = completed.returncode
    if code < 0:
        return 128 + abs(code) if abs(code) in signal.valid_signals() else EXIT_FAIL
    return code
