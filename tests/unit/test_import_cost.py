"""First use is cheap: each first call loads its own modules, not its siblings.

Each case runs in a fresh interpreter and lists the hardenkit modules (and heavy stdlib
modules) loaded after one import. A subpackage that starts importing a sibling it does not
use fails here; benchmarks/bench_import.py measures what the imports cost.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# What every first use may load besides its own package.
_BASE = {
    "hardenkit",
    "hardenkit._lazy",
    "hardenkit._log",
    "hardenkit.errors",
    "hardenkit._dataclass",
    "hardenkit._memo",
}

#: The standard library's introspection: ~30 ms of a fresh process, needed by no first call
#: (hardenkit's records are built by hardenkit._dataclass; dataclasses loads on introspection).
_INTROSPECTION = ("dataclasses", "inspect", "ast", "dis", "tokenize")

#: code -> (hardenkit top-level modules it may load, stdlib modules it must not load)
CASES: dict[str, tuple[set[str], set[str]]] = {
    "import hardenkit.spawn": ({"hardenkit.spawn"}, {"asyncio", "subprocess", "dataclasses"}),
    "import hardenkit.sandbox": ({"hardenkit.sandbox"}, {"ctypes", "dataclasses", "json"}),
    "import hardenkit.fileperms": ({"hardenkit.fileperms"}, {"dataclasses", "pwd"}),
    "from hardenkit.spawn import run": (
        {
            "hardenkit.spawn",
            "hardenkit.env",
            "hardenkit.redaction",  # its _names module only: the engine is forbidden below
            "hardenkit._dangerous_env",
            "hardenkit._linux",
            "hardenkit._unset",
        },
        {
            "asyncio",
            "ctypes",
            "json",
            "logging",
            "hashlib",
            "typing",
            "hardenkit._secret_value",
            "hardenkit.redaction._engine",
            "hardenkit.redaction._registry",  # the engine's rooms, each forbidden too
            "hardenkit.redaction._prefilter",
            "hardenkit.redaction._hs",
            "hardenkit.redaction._keys",
            "hardenkit.spawn._args",  # the ArgRules schema: a plain run checks argv in _argv
            "hardenkit.spawn._policy",
            "fnmatch",  # env's default allowlist needs no pattern compiled
            "hardenkit._secret_names",  # a re-export: env imports redaction._names itself
            *_INTROSPECTION,
        },
    ),
    "from hardenkit.sandbox import confine": (
        {"hardenkit.sandbox", "hardenkit._linux", "hardenkit._unset", "hardenkit._record"},
        {
            "asyncio",
            "importlib.resources",
            "platform",
            "subprocess",
            "typing",
            "logging",
            # confine's first call loads what its options need (issue 14): the seccomp
            # compiler, Landlock, limits and the network policy are not imported with it;
            # nor ctypes (loaded by the first libc call) nor threading (one _thread lock).
            "ctypes",
            "json",
            "threading",
            "resource",  # getrlimit is read back only with limits (which load it)
            "hardenkit.capabilities",
            "hardenkit.privileges",
            "hardenkit.sandbox.seccomp",
            "hardenkit.sandbox.landlock",
            "hardenkit.sandbox.limits",
            "hardenkit.sandbox.network",
            "hardenkit.sandbox.profile",
            "hardenkit._linux.seccomp_compile",
            "hardenkit._linux.landlock",
            *_INTROSPECTION,
        },
    ),
    "from hardenkit.fileperms import check_path": (
        {"hardenkit.fileperms", "hardenkit._record"},
        # shlex quotes advice and struct parses an ACL: only when there is one.
        {
            "ctypes",
            "json",
            "logging",
            "typing",
            "shlex",
            "struct",
            "hardenkit.fileperms._tree",
            *_INTROSPECTION,
        },
    ),
    "from hardenkit.redaction import redact": (
        {"hardenkit.redaction"},
        {"ctypes", "json", "dataclasses"},
    ),
    "from hardenkit.audit import audit_process": (
        {"hardenkit.audit", "hardenkit._linux", "hardenkit._record"},
        {"ctypes", "json", "logging", "subprocess", "typing", "math", *_INTROSPECTION},
    ),
}


def _loaded(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sys.modules))"  # the probe imports nothing
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return out.split()


def _top(module: str) -> str:
    """``hardenkit.spawn._run`` -> ``hardenkit.spawn``; ``hardenkit`` stays."""
    return ".".join(module.split(".")[:2])


@pytest.mark.parametrize("code", list(CASES))
def test_first_use_loads_only_what_it_needs(code: str) -> None:
    allowed, forbidden = CASES[code]
    loaded = _loaded(code)
    ours = {_top(m) for m in loaded if m.split(".")[0] == "hardenkit"}
    assert ours - allowed - _BASE == set(), f"{code} loads siblings it does not use"
    assert forbidden & set(loaded) == set(), f"{code} loads what its first call does not need"


#: code -> the dataclasses its import defines (each costs ~1.5 ms of a first use: exec'd
#: methods); internal types are records (hardenkit._record) or plain classes.
DATACLASSES: dict[str, set[str]] = {
    "from hardenkit.spawn import run": {"hardenkit.spawn._result.RunResult"},
    "from hardenkit.fileperms import check_path": {"hardenkit.fileperms._model.PathStatus"},
    "from hardenkit.audit import audit_process": {
        "hardenkit.audit._model.AuditFinding",
        "hardenkit.audit._model.Assessment",
        "hardenkit.audit._model.AuditReport",
        "hardenkit.audit._model.Unobservable",
    },
}


@pytest.mark.parametrize("code", list(DATACLASSES))
def test_first_use_defines_only_its_result_dataclasses(code: str) -> None:
    probe = (
        f"{code}\nimport sys\n"
        "print(' '.join(f'{m}.{k}' for m, mod in list(sys.modules.items())\n"
        "     if m.startswith('hardenkit') for k, v in vars(mod).items()\n"
        "     if isinstance(v, type) and v.__module__ == m and '__dataclass_fields__' in vars(v)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert set(out.split()) == DATACLASSES[code]


#: CLI words -> command modules a fresh ``hardenkit`` process may load for them.
CLI_CASES: dict[str, set[str]] = {
    "--version": set(),
    "audit --help": {"hardenkit.cli.audit"},
    "check-perms --help": {"hardenkit.cli.check_perms"},
    "env --help": {"hardenkit.cli.env"},
    "exec --help": {"hardenkit.cli.exec", "hardenkit.cli._confine"},
    "run --help": {"hardenkit.cli.run", "hardenkit.cli._confine"},
    "profile --help": {"hardenkit.cli.profile", "hardenkit.cli._confine"},
}


@pytest.mark.parametrize("words", list(CLI_CASES))
def test_cli_imports_only_the_subcommand_module(words: str) -> None:
    code = (
        "import contextlib, io\n"
        "from hardenkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main({words.split()!r}) == 0\n"
    )
    shared = {"hardenkit.cli._common", "hardenkit.cli._parser"}
    commands = {m for m in _loaded(code) if m.startswith("hardenkit.cli.")} - shared
    assert commands == CLI_CASES[words]


def test_secret_names_and_audit_need_no_detector_patterns_nor_openssl() -> None:
    # sanitize_env / is_secret_name (every `hardenkit exec`) compile no detector pattern;
    # the redaction rules compile their step patterns on first use, not at import.
    loaded = set(_loaded("from hardenkit.env import is_secret_name, sanitize_env"))
    assert "hyperscan" not in loaded
    assert "_hashlib" not in loaded  # hmac/hashlib load OpenSSL
    probe = (
        "import re\n"
        "from hardenkit.env import is_secret_name\n"
        "from hardenkit.redaction import _context, _engine, _keys, _patterns\n"
        "assert is_secret_name('DB_PASSWORD')\n"
        "lazy = [v for m in (_context, _keys, _patterns) for v in vars(m).values()\n"
        "        if type(v).__name__ == '_LazyPattern']\n"
        "assert len(lazy) >= 10 and not any('sub' in vars(v) for v in lazy), len(lazy)\n"
        "assert _engine.apply_rules('card 4242 4242 4242 4242 declined') == 'card *** declined'\n"
        "assert 'sub' in vars(_context._CARD)\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
    audit = (
        "import contextlib, io\n"
        "from hardenkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['audit', '--json'])\n"
    )
    assert "_hashlib" not in _loaded(audit)  # the environment digest uses _blake2


def test_cli_start_does_not_ask_the_terminal_for_its_size() -> None:
    # argparse builds a formatter per add_argument; the default one imports shutil to
    # read the terminal size (~4 ms of every start). --help still formats (COLUMNS wide).
    code = (
        "import contextlib, io, os\n"
        "from hardenkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['audit', '--pid', str(os.getpid()), '--json']) in (0, 1)\n"
    )
    assert "shutil" not in _loaded(code)
    out = subprocess.run(
        [sys.executable, "-m", "hardenkit", "audit", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "60"},
    ).stdout
    assert "--pid" in out
    assert max(len(line) for line in out.splitlines()) <= 60


def test_exec_starts_without_argparse_nor_shutil() -> None:
    # `hardenkit exec` is an ENTRYPOINT wrapper: its plain form skips argparse (~8 ms with
    # gettext and locale) and shutil (~3 ms); --help still goes through argparse.
    code = (
        "import contextlib, io\n"
        "from hardenkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['exec', '--user', 'nobody', '--read', '/usr', '--net', 'none',\n"
        "                 '--print-profile', '--', '/bin/true']) == 0\n"
    )
    loaded = set(_loaded(code))
    assert {"argparse", "shutil", "hardenkit.cli._parser", *_INTROSPECTION} & loaded == set()
    assert "hardenkit.sandbox.network" in loaded  # the options were applied
    help_code = code.replace("'--print-profile', '--', '/bin/true'", "'--help'")
    assert "argparse" in _loaded(help_code)


def test_lazy_names_still_resolve() -> None:
    # What moved out of the import path for import time is still there on first use.
    code = (
        "import sys, typing\n"
        "from hardenkit.env import Secret\n"
        "from hardenkit.fileperms import _model\n"
        "from hardenkit.capabilities import file_capabilities, setcap_command\n"
        "assert Secret.__name__ == 'Secret' and repr(Secret('x')) == \"Secret('***')\"\n"
        "assert typing.get_args(_model.Severity) == ('high', 'medium', 'low')\n"
        "assert file_capabilities('/bin/sh') is None\n"
        "assert setcap_command('-x', []) == 'setcap -r ./-x'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_capabilities_load_neither_file_caps_nor_shlex() -> None:
    loaded = set(_loaded("import hardenkit.capabilities"))
    assert {"hardenkit._linux.privfilecaps", "shlex", "typing"} & loaded == set()
    assert "typing" not in _loaded("import hardenkit.env")


def test_a_drop_that_keeps_nothing_needs_no_capability_enum() -> None:
    # The Capability IntEnum and CapabilitySets cost ~7 ms of hardenkit exec --user.
    code = "from hardenkit.privileges import prepare_drop\nprepare_drop('nobody', groups=[])"
    assert "hardenkit.capabilities" not in set(_loaded(code))
    keeping = code.replace("groups=[]", "keep=['NET_BIND_SERVICE']")
    assert "hardenkit.capabilities" in _loaded(keeping)


def test_a_drop_in_a_preexec_child_imports_nothing() -> None:
    # Found by review: with keep=, drop_privileges parsed the names with the capability
    # enum imported in the child; a parent thread importing it at the fork held its module
    # lock, and the child waited forever. Loaded with hardenkit.privileges instead.
    code = (
        "import subprocess, sys\n"
        "from hardenkit.privileges import drop_privileges\n"
        "before = set(sys.modules)\n"
        "def child():\n"
        "    drop_privileges('nobody', keep=['NET_BIND_SERVICE'])\n"
        "    new = sorted(set(sys.modules) - before)\n"
        "    if new:\n"
        "        raise SystemExit('imported in the child: ' + ' '.join(new))\n"
        "subprocess.run(['/bin/true'], preexec_fn=child, check=True)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.split() == ["ok"], out.stderr


def test_drop_plan_is_no_dataclass() -> None:
    # Internal (issue 18): a plain class, ~1.5 ms less than a dataclass on every exec.
    probe = (
        "import dataclasses\nfrom hardenkit.privileges import DropPlan\n"
        "print(dataclasses.is_dataclass(DropPlan))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert out.split() == ["False"]
