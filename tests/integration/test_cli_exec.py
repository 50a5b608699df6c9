"""``hardenkit exec`` / ``run`` / ``profile``: the CLI confines, verifies, then becomes CMD."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hardenkit.sandbox.docker import default_policy
from hardenkit.sandbox.seccomp import compile_policy

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [
    pytest.mark.linux,
    pytest.mark.root,
    pytest.mark.seccomp,
    pytest.mark.landlock,
]

PY = "/usr/bin/python3"  # a child dropped to nobody cannot reach ~/.pyenv


@pytest.fixture
def nobody_tmp() -> Iterator[Path]:
    """A world-writable (sticky) directory directly under /tmp.

    Not pytest's tmp_path: /tmp/pytest-of-root is shared with concurrent sessions, which
    may set it back to 0700 while a child dropped to nobody is using it.
    """
    path = Path(tempfile.mkdtemp(prefix="hardenkit-exec-", dir="/tmp"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def hk(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-m", "hardenkit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kw,
    )


def test_exec_becomes_the_command_same_pid() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hardenkit", "exec", "--", "/bin/sh", "-c", "echo $$"],
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert int(out) == proc.pid


@pytest.mark.parametrize("code", [0, 3, 7, 255])
def test_exec_exit_status_passes_through(code: int) -> None:
    assert hk("exec", "--", "/bin/sh", "-c", f"exit {code}").returncode == code


def _wait_exec(pid: int, name: bytes) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            if fh.read().split(b"\0")[0].endswith(name):
                return
        time.sleep(0.01)
    raise AssertionError("the command was never exec'd")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1, signal.SIGKILL])
def test_exec_signals_reach_the_command(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hardenkit", "exec", "--user", "nobody", "--", "sleep", "30"]
    )
    try:
        _wait_exec(proc.pid, b"sleep")
        os.kill(proc.pid, sig)
        assert proc.wait(timeout=30) == -sig
    finally:
        proc.kill()
        proc.wait()


def test_exec_restores_the_signals_python_ignores(tmp_path: Path) -> None:
    # SIGPIPE and SIGXFSZ: Python ignores them, and an ignored signal survives exec.
    r = hk("exec", "--", "grep", "SigIgn", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    # The two Python ignores are not passed on (subprocess restored them for hk itself);
    # other ignored signals are the runner's business (nohup's SIGHUP must pass through).
    python_adds = 1 << (signal.SIGPIPE - 1) | 1 << (signal.SIGXFSZ - 1)
    assert int(r.stdout.split()[1], 16) & python_adds == 0
    # Past RLIMIT_FSIZE the writer is killed by SIGXFSZ (128 + 25), not handed EFBIG.
    script = f"head -c 10 /dev/zero > {tmp_path}/f; echo $?"
    r = hk("exec", "--limit", "file_size=1", "--", "/bin/sh", "-c", script)
    assert r.stdout.strip() == str(128 + signal.SIGXFSZ)


def test_exec_confines_before_exec() -> None:
    r = hk(
        "exec",
        "--user",
        "nobody",
        "--seccomp",
        "docker",
        "--read",
        "/usr",
        "--execute",
        "/usr",
        "--read",
        "/proc",
        "--limit",
        "memory=512M",
        "--",
        "/bin/sh",
        "-c",
        "grep -E '^(Uid|NoNewPrivs|Seccomp|CapEff):' /proc/self/status; cat /etc/hostname",
    )
    lines = dict(line.split(":", 1) for line in r.stdout.splitlines())
    assert lines["Uid"].split() == ["65534"] * 4
    assert lines["NoNewPrivs"].strip() == "1"
    assert lines["Seccomp"].strip() == "2"
    assert int(lines["CapEff"], 16) == 0
    assert "Permission denied" in r.stderr  # /etc is outside the FilesystemPolicy
    assert r.returncode == 1


def _read_for(fd: int, seconds: float) -> bytes:
    import select  # noqa: PLC0415

    out = b""
    while select.select([fd], [], [], seconds)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


_INJECT = (
    "import fcntl, termios\n"
    "for c in b'id -un > {marker}\\n':\n"
    "    fcntl.ioctl(0, termios.TIOCSTI, bytes([c]))\n"
)


@pytest.mark.parametrize(
    "options",
    [["--user", "nobody"], ["--user", "nobody", "--seccomp", "docker", "--net", "none"]],
)
def test_exec_command_cannot_type_into_the_callers_terminal(
    nobody_tmp: Path, options: list[str]
) -> None:
    # The command keeps the caller's terminal (it becomes the command): TIOCSTI would
    # queue a line that the caller's shell reads and runs, as root, once it exits.
    import pty  # noqa: PLC0415
    import select  # noqa: PLC0415

    marker = nobody_tmp / "typed"
    cmd = [sys.executable, "-m", "hardenkit", "exec", *options, "--", PY, "-c"]
    cmd.append(_INJECT.format(marker=marker))
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover -- the shell the caller typed into
        os.execv("/bin/sh", ["sh", "-c", '"$@"; read -r line; eval "$line"', "sh", *cmd])  # noqa: S606
    out = b""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not marker.exists() and b"Error: " not in out:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
        out += _read_for(master, 0.5)  # the rest of the error line
        os.write(master, b"true\n")  # release the shell's read
    finally:
        os.waitpid(pid, 0)
        os.close(master)
    assert not marker.exists(), "the confined command typed a command into the caller's shell"
    assert b"Operation not permitted" in out, out[-500:]


def test_exec_limit_is_in_force() -> None:
    r = hk(
        "exec",
        "--limit",
        "open_files=33",
        "--limit",
        "memory=1G",
        "--",
        "sh",
        "-c",
        "ulimit -n; ulimit -v",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["33", str(1 << 20)]


def test_exec_environment_is_sanitised() -> None:
    env = {**os.environ, "LD_PRELOAD": "/nonexistent.so", "HK_SECRET": "s3cr3t"}
    r = hk("exec", "--env-set", "APP=1", "--", "/usr/bin/env", env=env)
    assert r.returncode == 0, r.stderr
    assert "APP=1" in r.stdout.splitlines()
    assert "LD_PRELOAD" not in r.stdout
    assert "s3cr3t" not in r.stdout
    r = hk("exec", "--env-allow", "HK_SECRET", "--", "/usr/bin/env", env=env)
    assert "HK_SECRET=s3cr3t" in r.stdout.splitlines()
    # A user drop gives the user's own login variables, never the caller's.
    env = {**os.environ, "HOME": "/root", "USER": "root"}
    r = hk("exec", "--user", "nobody", "--", "/usr/bin/env", env=env)
    lines = r.stdout.splitlines()
    assert "USER=nobody" in lines
    assert "LOGNAME=nobody" in lines
    assert "HOME=/root" not in lines


def test_exec_usage_errors() -> None:
    assert hk("exec").returncode == 2
    r = hk("exec", "--", "no-such-command-xyz")
    assert r.returncode == 127
    assert "not found" in r.stderr
    assert hk("exec", "--limit", "bogus=1", "--", "true").returncode == 2
    assert hk("exec", "--env-set", "LD_PRELOAD=/x.so", "--", "true").returncode == 2


def test_exec_bad_profile_names_file_line_and_key(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text('user = "nobody"\n[limits]\nmemroy = "1G"\n')
    r = hk("exec", "--profile", str(f), "--", "true")
    assert r.returncode == 2
    assert f"{f}:3: limits.memroy: unknown key" in r.stderr


def test_exec_refuses_when_confinement_fails() -> None:
    r = hk("exec", "--user", "no-such-user-xyz", "--", "/bin/sh", "-c", "echo ran")
    assert r.returncode == 2  # names nobody: a usage error
    assert "ran" not in r.stdout
    r = hk("exec", "--limit", "processes=10", "--", "/bin/sh", "-c", "echo ran")  # root: exempt
    assert r.returncode == 1
    assert "SandboxError" in r.stderr
    assert "ran" not in r.stdout
    r = hk("exec", "--cwd", "/nonexistent-dir-xyz", "--", "/bin/sh", "-c", "echo ran")
    assert r.returncode == 1
    assert "working directory" in r.stderr
    assert "Traceback" not in r.stderr
    assert "ran" not in r.stdout


def test_print_profile_round_trips(tmp_path: Path) -> None:
    r = hk(
        "exec",
        "--preset",
        "batch-job",
        "--limit",
        "open_files=99",
        "--write",
        "/var/tmp",
        "--print-profile",
    )
    assert r.returncode == 0, r.stderr
    assert "open_files = 99" in r.stdout
    f = tmp_path / "p.toml"
    f.write_text(r.stdout)
    again = hk("exec", "--profile", str(f), "--print-profile")
    assert again.stdout == r.stdout


def test_profile_show_never_alters_data_for_the_terminal(tmp_path: Path) -> None:
    # Found by review: `profile show` was treated as a report, so an ASCII stdout got
    # "/srv/caf\\xe9": invalid TOML, written with exit 0. Data is written as is or not at all.
    f = tmp_path / "p.toml"
    f.write_text('[filesystem]\nread = ["/srv/caf\u00e9"]\n', encoding="utf-8")
    r = hk("profile", "show", str(f), env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert r.returncode != 0 or "caf\u00e9" in r.stdout, r.stdout
    assert "\\xe9" not in r.stdout


def test_dry_run_checks_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    r = hk("exec", "--preset", "untrusted-parser", "--dry-run", "--", "/usr/bin/touch", str(marker))
    assert r.returncode == 0, r.stderr
    assert "dry run ok" in r.stderr
    assert "65534" in r.stderr
    assert not marker.exists()
    r = hk("exec", "--cwd", "/nonexistent-dir-xyz", "--dry-run", "--", "/bin/true")
    assert r.returncode == 1
    assert "dry run: confinement failed" in r.stderr


def test_run_supervises_with_timeout_and_output_cap() -> None:
    r = hk("run", "--user", "nobody", "--", "/usr/bin/id", "-u")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "65534"
    r = hk("run", "--timeout", "0.5", "--", "/bin/sleep", "20")
    assert r.returncode == 124
    r = hk("run", "--max-output", "10", "--", PY, "-c", "print('x' * 1000)")
    assert r.stdout == "x" * 10
    assert hk("run", "--", "/bin/sh", "-c", "exit 9").returncode == 9


def test_profile_check_prints_the_audit_score(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    loose = hk("profile", "check", "--json", str(empty))
    tight = hk("profile", "check", "--json", "--preset", "untrusted-parser")
    assert loose.returncode == 0, loose.stderr
    assert tight.returncode == 0, tight.stderr
    loose_score = json.loads(loose.stdout)["audit"]["exposure"]
    tight_score = json.loads(tight.stdout)["audit"]["exposure"]
    assert tight_score < loose_score
    text = hk("profile", "check", "--preset", "untrusted-parser")
    assert "valid; once applied: exposure" in text.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[seccomp]\nprofile = 3\n")
    r = hk("profile", "check", str(bad))
    assert r.returncode == 2
    assert f"{bad}:2: seccomp.profile" in r.stderr


def test_profile_list_and_show() -> None:
    r = hk("profile", "list")
    assert r.stdout.split() == [
        "batch-job",
        "network-service",
        "read-only-inspector",
        "untrusted-parser",
    ]
    assert 'profile = "docker"' in hk("profile", "show", "batch-job").stdout


# Each preset runs a real program that needs what the preset allows, and is refused
# what it does not allow.


def _py(preset: str, code: str, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return hk("exec", "--preset", preset, "--", PY, "-c", code, *argv, **kw)


def test_preset_batch_job(nobody_tmp: Path) -> None:
    db = nobody_tmp / "job.db"
    r = _py(
        "batch-job",
        "import sqlite3, resource, sys; c = sqlite3.connect(sys.argv[1]);"
        "c.execute('create table t(x)');"
        "c.execute('insert into t values (42)'); c.commit();"
        "print(c.execute('select x from t').fetchone()[0], resource.getrlimit(0)[0])",
        str(db),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["42", "3600"]
    r = _py("batch-job", "open('/var/tmp/hardenkit-batch-probe', 'w')")
    assert "PermissionError" in r.stderr
    r = _py("batch-job", "import socket; socket.socket()")  # AF_UNIX only
    assert "Address family not supported" in r.stderr
    assert not os.path.exists("/var/tmp/hardenkit-batch-probe")


def test_preset_network_service(nobody_tmp: Path) -> None:
    code = (
        "import socket, threading, http.server, urllib.request\n"
        "srv = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\n"
        "threading.Thread(target=srv.handle_request, daemon=True).start()\n"
        "url = 'http://127.0.0.1:{}/'.format(srv.server_address[1])\n"
        "print(urllib.request.urlopen(url, timeout=10).status)\n"
        "import sys; open(sys.argv[1], 'w').write('ok')\n"
        "import os\n"
        "try:\n    os.setuid(0)\nexcept PermissionError:\n    print('setuid refused')\n"
    )
    r = _py("network-service", code, str(nobody_tmp / "state"), cwd="/usr")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["200", "setuid refused"]
    assert (nobody_tmp / "state").read_text() == "ok"
    r = _py("network-service", "open('/var/tmp/hardenkit-svc-probe', 'w')")
    assert "PermissionError" in r.stderr
    r = _py("network-service", "import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)")
    assert "Address family not supported" in r.stderr


def test_preset_untrusted_parser() -> None:
    r = _py(
        "untrusted-parser",
        "import json, sys; print(sorted(json.load(sys.stdin)))",
        input='{"b": 1, "a": 2}',
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['a', 'b']"
    for probe in (
        "open('/etc/hostname')",
        "import socket; socket.socket()",
        "open('/tmp/hardenkit-parser-probe', 'w')",
    ):
        r = _py("untrusted-parser", probe)
        assert r.returncode == 1
        assert "PermissionError" in r.stderr, (probe, r.stderr)


def test_preset_read_only_inspector(nobody_tmp: Path) -> None:
    r = _py(
        "read-only-inspector",
        "import os; print(len(open('/etc/hostname').read()) > 0, 'bin' in os.listdir('/usr'))",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True"]
    r = _py("read-only-inspector", "import sys; open(sys.argv[1], 'w')", str(nobody_tmp / "x"))
    assert "PermissionError" in r.stderr
    assert not (nobody_tmp / "x").exists()


def test_network_service_with_kept_capability_and_bind_port() -> None:
    # nobody + CAP_NET_BIND_SERVICE (ambient, kept across exec) binds privileged port 81;
    # Landlock refuses port 82, which the --net rule does not list.
    code = (
        "import socket\n"
        "s = socket.socket(); s.bind((b'127.0.0.1', 81)); print('81 ok')\n"
        "t = socket.socket()\n"
        "try:\n    t.bind((b'127.0.0.1', 82))\nexcept OSError as e:\n    print('82', e.errno)\n"
    )
    r = hk(
        "exec", "--preset", "network-service", "--keep", "NET_BIND_SERVICE", "--net", "bind=81",
        "--", PY, "-c", code,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["81 ok", "82 13"]


#: What a plain ``hardenkit exec`` must not import before it becomes the command: logging
#: (its records go to a sink), typing, OpenSSL (the Docker profile's cache key uses the
#: builtin SHA-256), socket's wrappers (the network probes use _socket), argparse, shutil,
#: and the redaction rules (no warning to redact on a plain start).
_EXEC_MUST_NOT_LOAD = {
    "logging",
    "typing",
    "hashlib",
    "_hashlib",
    "socket",
    "argparse",
    "shutil",
    "hardenkit.redaction._names",  # sanitize_env needs no secret-name pattern
    "hardenkit.redaction._engine",
    "hardenkit.redaction._registry",  # the engine's rooms (issue 14), each forbidden too
    "hardenkit.redaction._prefilter",
    "hardenkit.redaction._hs",
    "hardenkit.redaction._keys",
    "hardenkit.redaction._context",
    "hardenkit.redaction._patterns",
    "hardenkit.redaction._logging",
    "hardenkit._secret_value",
    # Without --profile/--preset or --limit: no TOML reader, no limits module.
    "hardenkit.sandbox.profile",
    "hardenkit.sandbox._profile_read",
    "hardenkit.sandbox.limits",
    # Without --keep: no capability enum (the drop keeps nothing), and no resource module
    # (getrlimit is read back only with limits). procfs reads bytes: no ascii codec module.
    "hardenkit.capabilities",
    "resource",
    "encodings.ascii",
    "fnmatch",  # the default allowlist is names and prefixes, compared as strings
    # Re-export modules kept for their importers: ours import the code's own module.
    "hardenkit._secret_names",
    "hardenkit.sandbox.groups",
    "hardenkit.sandbox.docker",  # SeccompPolicy.docker_default, not the re-export module
}

_EXEC_ARGS = ["exec", "--user", "nobody", "--seccomp", "docker", "--read", "/usr"]
_EXEC_ARGS += ["--execute", "/usr", "--net", "none", "--", "/bin/true"]


def test_exec_start_imports_only_what_confining_needs() -> None:
    # The modules loaded at the moment of os.execve, in a fresh interpreter: since the
    # public records stopped importing dataclasses, nothing loads the convenience modules.
    r = _until_execve("", "' '.join(sys.modules)")
    loaded = set(r.stdout.split())
    assert {"hardenkit.sandbox.network", "hardenkit.sandbox.seccomp.profiles", "_socket"} <= loaded
    assert loaded & _EXEC_MUST_NOT_LOAD == set()
    assert loaded & {*_EXEC_OWN_CODE_MUST_NOT_IMPORT, "dataclasses", "inspect"} == set()
    assert r.stderr == ""  # the libseccomp note is debug-level here


def _until_execve(prologue: str, report: str) -> subprocess.CompletedProcess[str]:
    """Run ``hardenkit exec`` in a fresh interpreter up to os.execve; print ``report`` then."""
    code = (
        f"import builtins, os, sys\n{prologue}"
        "def execve(path, argv, env):\n"
        f"    os.write(1, ({report}).encode())\n"
        "    os._exit(0)\n"
        "os.execve = execve\n"
        "from hardenkit.cli import main\n"
        f"sys.exit(main({_EXEC_ARGS!r}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return r


#: Standard modules hardenkit's own code must not import on a plain ``hardenkit exec``
#: (each costs its start 1-8 ms, benchmarks/README.md "execpath"): re (and its enum),
#: functools (its collections, operator, keyword, reprlib), contextlib, copy, math,
#: importlib (and warnings), weakref, the hashes (the bundled profile's digest ships with it).
_EXEC_OWN_CODE_MUST_NOT_IMPORT = {
    "re",
    "enum",
    "functools",
    "collections",
    "contextlib",
    "copy",
    "math",
    "importlib",
    "warnings",
    "weakref",
    "hashlib",
    "_sha256",
    "_sha2",
    "json",
    "fnmatch",
}


def test_exec_start_imports_no_convenience_stdlib_module() -> None:
    # Every import statement run by a hardenkit module up to os.execve, cached or not.
    spy = (
        f"watch = {sorted(_EXEC_OWN_CODE_MUST_NOT_IMPORT)!r}\n"
        "seen = set()\n"
        "real = builtins.__import__\n"
        "def spy(name, globals=None, locals=None, fromlist=(), level=0):\n"
        "    who = (globals or {}).get('__name__') or ''\n"
        "    if who.split('.')[0] == 'hardenkit' and level == 0 and name.split('.')[0] in watch:\n"
        "        seen.add(who + ' -> ' + name)\n"
        "    return real(name, globals, locals, fromlist, level)\n"
        "builtins.__import__ = spy\n"
    )
    r = _until_execve(spy, "'ran ' + ';'.join(sorted(seen))")
    assert r.stdout == "ran ", r.stdout


def test_exec_verbose_shows_the_libseccomp_note() -> None:
    skipped = compile_policy(default_policy(capabilities=())).skipped
    quiet, verbose = hk(*_EXEC_ARGS), hk("-v", *_EXEC_ARGS)
    assert quiet.returncode == verbose.returncode == 0, verbose.stderr
    assert "libseccomp" not in quiet.stderr
    assert ("does not know" in verbose.stderr) == bool(skipped)
