"""Issue 15 items 6, 9-14: confinement at the edges (descriptors, DoS, parent death, argv[0],
explicit env, file capabilities, root-equivalent capabilities).

Every attack runs in a forked child (``in_child``) or in the confined child itself; the
pytest process is never confined. "As an unprivileged caller" means a forked child that
first drops to nobody and then makes the call.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from typing import TYPE_CHECKING, Any

import pytest
from tests._helpers import proc_alive

from hardenkit.errors import PolicyError, SandboxError
from hardenkit.sandbox import SeccompPolicy, call_sandboxed

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import InChild

pytestmark = [pytest.mark.linux]

NOBODY = 65534


def _become_nobody() -> None:
    from hardenkit.privileges import drop_privileges  # noqa: PLC0415

    drop_privileges("nobody")


# --- item 6: the child gets only its result channel ------------------------------------


def _descriptors() -> dict[str, str]:
    """Every descriptor above 2 this process holds, and what it is (the listing's own
    descriptor excluded)."""
    names = os.listdir("/proc/self/fd")
    out = {}
    for name in names:
        fd = int(name)
        if fd <= 2:
            continue
        with contextlib.suppress(OSError):
            out[name] = os.readlink(f"/proc/self/fd/{fd}")
    return out


def _try_fds(fds: list[int]) -> list[int]:
    """Write to each descriptor; return those that accepted the write."""
    worked = []
    for fd in fds:
        with contextlib.suppress(OSError):
            os.write(fd, b"x")
            worked.append(fd)
    return worked


def _caller_keeps_descriptors(drop: bool) -> dict[str, Any]:
    policy = SeccompPolicy(default="allow", deny=["socket"])
    if drop:
        import hardenkit.spawn  # noqa: F401, PLC0415 -- imported while the venv is readable

        call_sandboxed(_descriptors, seccomp=policy)
        _become_nobody()
    left, right = socket.socketpair()
    held = os.open("/etc/hostname", os.O_RDONLY)  # no O_CLOEXEC: fork keeps it either way
    kwargs: dict[str, Any] = {"seccomp": policy}
    if not drop:
        kwargs["user"] = "nobody"
    seen = call_sandboxed(_descriptors, **kwargs)
    worked = call_sandboxed(_try_fds, [left.fileno(), held], **kwargs)
    right.settimeout(0)
    leaked = b""
    with contextlib.suppress(BlockingIOError):
        leaked = right.recv(16)
    return {"seen": seen, "worked": worked, "leaked": leaked.decode()}


@pytest.mark.seccomp
@pytest.mark.root
@pytest.mark.parametrize("unprivileged", [False, True], ids=["root", "nobody"])
def test_sandboxed_child_holds_only_its_result_channel(
    in_child: InChild, unprivileged: bool
) -> None:
    got = in_child(_caller_keeps_descriptors, unprivileged)
    # Before the fix: /dev/kmsg (opened as root), the socket and the file were all there,
    # and the connected socket carried data although socket() was denied.
    links = list(got["seen"].values())
    assert not [link for link in links if "kmsg" in link]
    assert not [link for link in links if link.startswith("socket:")]
    assert not [link for link in links if link == "/etc/hostname"]
    assert len([link for link in links if link.startswith("pipe:")]) == 1  # the result
    assert got["worked"] == []
    assert got["leaked"] == ""


def _stdin_is_null() -> str:
    return os.readlink("/proc/self/fd/0")


def test_sandboxed_child_reads_stdin_from_dev_null() -> None:
    assert call_sandboxed(_stdin_is_null) == "/dev/null"


# --- item 9: results bounded in depth and decoded size; timeouts always on -------------


def _forge_deep_result() -> None:
    fd = next(int(n) for n in _descriptors())  # the only one left: the result channel
    depth = 200_000
    os.write(fd, b'{"ok": true, "value": ' + b"[" * depth + b"]" * depth + b"}")
    os._exit(0)


def test_deeply_nested_result_is_a_sandbox_error() -> None:
    # Before the fix the caller's json.loads raised a bare RecursionError.
    with pytest.raises(SandboxError, match="nested too deeply"):
        call_sandboxed(_forge_deep_result)


def _many_values(count: int) -> list[list[int]]:
    return [[] for _ in range(count)]


def _caller_growth(count: int) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    error = None
    try:
        call_sandboxed(_many_values, count)
    except SandboxError as err:
        error = str(err)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"growth_kib": after - before, "error": error}


def test_small_result_that_decodes_large_is_refused(in_child: InChild) -> None:
    # 2.5 M empty lists: 10 MiB of JSON, ~200 MiB once decoded (the old behaviour).
    got = in_child(_caller_growth, 2_500_000)
    assert got["error"] is not None
    assert "JSON values" in got["error"]
    assert got["growth_kib"] < 64 * 1024, got
    control = in_child(_caller_growth, 1000)  # a modest result still comes back
    assert control["error"] is None


def test_many_commas_inside_strings_are_not_values() -> None:
    text = "," * 700_000  # over the cheap bound, under the exact one
    assert call_sandboxed(str, text) == text


def test_timeout_is_always_on() -> None:
    import inspect  # noqa: PLC0415

    default = inspect.signature(call_sandboxed).parameters["timeout"].default
    assert isinstance(default, float)
    assert 0 < default < float("inf")
    bads: tuple[Any, ...] = (None, 0, -1, float("inf"), float("nan"), True)
    for bad in bads:
        with pytest.raises(PolicyError):
            call_sandboxed(int, "1", timeout=bad)


# --- item 10: a killed caller leaves no command running --------------------------------


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def _status_uid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Uid:"):
                    return int(line.split()[2])
    except OSError:
        return None
    return None


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _kill_caller_then_check(start_caller: Any, ready: Any) -> None:
    """Fork a caller, wait until its child is ``ready``, SIGKILL the caller, check the child."""
    caller = os.fork()
    if caller == 0:  # pragma: no cover - the caller, killed below
        try:
            start_caller()
        finally:
            os._exit(0)
    victim = None
    try:
        deadline = time.monotonic() + 15
        while victim is None and time.monotonic() < deadline:
            victim = next((c for c in _children(caller) if ready(c)), None)
            time.sleep(0.02)
        assert victim is not None, "the caller never started its child"
        time.sleep(0.3)  # past confinement, into the command or fn
    finally:
        os.kill(caller, signal.SIGKILL)
        os.waitpid(caller, 0)
    deadline = time.monotonic() + 3
    while proc_alive(victim) and time.monotonic() < deadline:
        time.sleep(0.02)
    survived = proc_alive(victim)
    if survived:
        os.kill(victim, signal.SIGKILL)
    assert not survived, "the child outlived its killed caller"


def _run_as_caller(token: str, path: str, unprivileged: bool) -> None:
    from hardenkit.sandbox import ResourceLimits  # noqa: PLC0415
    from hardenkit.spawn import _run as spawn_run, run  # noqa: PLC0415

    kw: dict[str, Any] = {}
    confined, spawn_run.FORCE_PATH = path.split("-")
    if confined == "confined":
        kw = {"limits": ResourceLimits(open_files=64)} if unprivileged else {"user": "nobody"}
    run(["/bin/true"], timeout=30, **kw)  # imports everything while the venv is readable
    if unprivileged:
        _become_nobody()
    run(["/bin/sleep", token], timeout=60, **kw)


@pytest.mark.parametrize("path", ["plain-helper", "plain-fork", "confined-helper", "confined-fork"])
@pytest.mark.parametrize("unprivileged", [False, True], ids=["root", "nobody"])
def test_run_command_dies_with_its_killed_caller(path: str, unprivileged: bool) -> None:
    if path.endswith("helper"):
        from hardenkit._features import features  # noqa: PLC0415

        if not features().exec_helper:
            pytest.fail("the exec helper is missing: run scripts/setup")
    token = f"{100 + os.getpid() % 100}.{time.monotonic_ns() % 10**6}"
    _kill_caller_then_check(
        lambda: _run_as_caller(token, path, unprivileged),
        lambda pid: token.encode() in _cmdline(pid),
    )


def _sleep_sandboxed() -> None:
    call_sandboxed(time.sleep, 60, user="nobody", timeout=90)


@pytest.mark.seccomp
@pytest.mark.root
def test_dropped_sandboxed_child_dies_with_its_killed_caller() -> None:
    # The drop to nobody cleared the parent-death signal fork_call had set before it.
    _kill_caller_then_check(_sleep_sandboxed, lambda pid: _status_uid(pid) == NOBODY)


@pytest.mark.exec_helper
def test_helper_refuses_to_exec_once_its_parent_is_gone() -> None:
    from hardenkit.spawn._locate import locate  # noqa: PLC0415

    helper, why = locate()
    assert helper is not None, why

    def start(parent: int) -> subprocess.CompletedProcess[bytes]:
        argv = [helper, "--pdeathsig", str(parent), "-1", "-1", "/bin/echo", "echo", "ran"]
        return subprocess.run(argv, capture_output=True, timeout=10, check=False)

    ok = start(os.getpid())  # control: we are its parent
    assert (ok.returncode, ok.stdout) == (0, b"ran\n")
    # A parent that is not ours stands for one that died before the signal was armed.
    gone = start(1 if os.getpid() != 1 else 2)
    assert gone.returncode == 127
    assert gone.stdout == b""
    assert b"parent is gone" in gone.stderr


# --- item 11: argv[0] is the name the policy allowed, not the one the caller wrote -----


@pytest.fixture(params=["plain", "confined-helper", "confined-fork"])
def spawn_options(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """run() options for each spawn path (the confined ones limit open files)."""
    from hardenkit.sandbox import ResourceLimits  # noqa: PLC0415
    from hardenkit.spawn import _run as spawn_run  # noqa: PLC0415

    if request.param == "plain":
        return {}
    monkeypatch.setattr(spawn_run, "FORCE_PATH", request.param.split("-")[1])
    return {"limits": ResourceLimits(open_files=256)}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_symlink_named_git_init_does_not_run_git_init(tmp_path: Path, spawn_options: Any) -> None:
    from hardenkit.spawn import ArgRules, CommandPolicy, run  # noqa: PLC0415

    link = tmp_path / "git-init"
    link.symlink_to(shutil.which("git") or "")
    policy = CommandPolicy(["git"], args={"git": ArgRules(positional="status", max_positional=1)})
    work = tmp_path / "work"
    work.mkdir()
    result = run([str(link), "status"], policy=policy, cwd=work, **spawn_options)
    # Before the fix git saw argv[0] "git-init" and ran `git init status`.
    assert not (work / "status").exists()
    assert result.argv[0] == os.path.realpath(shutil.which("git") or "")
    assert b"not a git repository" in result.stderr.lower()


@pytest.mark.skipif(shutil.which("xz") is None, reason="needs xz")
def test_multi_call_binary_runs_as_the_allowed_name(tmp_path: Path, spawn_options: Any) -> None:
    from hardenkit.spawn import CommandPolicy, run  # noqa: PLC0415

    xz = shutil.which("xz") or ""
    packed = subprocess.run([xz, "-c"], input=b"plain text\n", capture_output=True, check=True)
    (tmp_path / "f.xz").write_bytes(packed.stdout)
    (tmp_path / "unxz").symlink_to(xz)
    only_xz = CommandPolicy(["xz"])
    out = run(
        [str(tmp_path / "unxz"), "-c", str(tmp_path / "f.xz")], policy=only_xz, **spawn_options
    )
    assert out.stdout != b"plain text\n"  # ran as xz (compressing), the allowed name
    # The policy that names unxz runs it as unxz (the control: argv[0] matters).
    both = CommandPolicy(["xz", "unxz"])
    out = run(["unxz", "-c", str(tmp_path / "f.xz")], policy=both, **spawn_options)
    assert out.stdout == b"plain text\n"
    # keep_argv0 is the documented way to pass argv[0] as written.
    kept = CommandPolicy(["xz"], keep_argv0=True)
    out = run([str(tmp_path / "unxz"), "-c", str(tmp_path / "f.xz")], policy=kept, **spawn_options)
    assert out.stdout == b"plain text\n"


# --- item 12: an explicit env gets the trusted PATH; the dangerous-env table -----------


def test_explicit_env_path_is_the_trusted_one(tmp_path: Path, spawn_options: Any) -> None:
    from hardenkit.env import SAFE_PATH  # noqa: PLC0415
    from hardenkit.spawn import CommandPolicy, run  # noqa: PLC0415

    evil = tmp_path / "bin"
    evil.mkdir()
    fake = evil / "id"
    fake.write_text("#!/bin/sh\necho hijacked\n")
    fake.chmod(0o755)
    tmp_path.chmod(0o755)
    env = {"PATH": f"{evil}:/usr/bin:/bin", "LANG": "C"}
    out = run(["/bin/sh", "-c", "id -u; echo $PATH"], env=env, **spawn_options)
    assert b"hijacked" not in out.stdout  # before the fix the caller's PATH ran ./bin/id
    assert out.stdout.split(b"\n")[1] == SAFE_PATH.encode()
    policy = CommandPolicy(["sh"], search_path="/usr/bin:/bin")
    out = run(["sh", "-c", "echo $PATH"], env=env, policy=policy, **spawn_options)
    assert out.stdout == b"/usr/bin:/bin\n"  # the policy's search path
    out = run(["/bin/sh", "-c", "id"], env=env, allow_dangerous_env={"PATH"}, **spawn_options)
    assert out.stdout == b"hijacked\n"  # the control: named, the caller's PATH is passed


_ISSUE_NAMES = (
    "GIT_EDITOR GIT_SEQUENCE_EDITOR GIT_PAGER GIT_SSL_NO_VERIFY GIT_CONFIG GIT_CONFIG_GLOBAL "
    "GIT_CONFIG_COUNT GIT_SSH GIT_SSH_COMMAND GIT_ASKPASS GIT_EXEC_PATH GIT_TRACE "
    "CURL_HOME WGETRC SSLKEYLOGFILE CONFIG_SITE OPENSSL_CONF SSL_CERT_FILE NODE_OPTIONS "
    "NPM_CONFIG_SCRIPT_SHELL RUBYOPT PERL5OPT JAVA_TOOL_OPTIONS JDK_JAVA_OPTIONS "
    "DOTNET_STARTUP_HOOKS CORECLR_PROFILER_PATH SYSTEMD_PAGER SYSTEMD_PAGERSECURE LESS "
    "LESSOPEN VIMINIT EXINIT MAKEFLAGS TAR_OPTIONS PIP_INDEX_URL GOFLAGS RUSTC_WRAPPER "
    "SSH_SK_PROVIDER RSYNC_CONNECT_PROG KRB5CCNAME NOTIFY_SOCKET AWS_CONFIG_FILE "
    "PSQLRC MYSQL_HOME GCC_EXEC_PREFIX COMPILER_PATH"
)
ISSUE_NAMES = _ISSUE_NAMES.split()


@pytest.mark.parametrize("name", ISSUE_NAMES)
def test_explicit_env_refuses_what_tools_read(name: str) -> None:
    from hardenkit.env import is_dangerous  # noqa: PLC0415
    from hardenkit.spawn import run  # noqa: PLC0415

    assert is_dangerous(name)
    assert is_dangerous(name.lower())
    with pytest.raises(PolicyError, match=name):
        run(["/usr/bin/env"], env={name: "x"})
    out = run(["/usr/bin/env"], env={name: "x"}, allow_dangerous_env={name})
    assert out.stdout == f"{name}=x\n".encode()


def test_git_editor_would_run_a_command(tmp_path: Path) -> None:
    # Why GIT_EDITOR is in the table: git runs it through the shell.
    git = shutil.which("git")
    assert git is not None, "needs git"
    marker = tmp_path / "ran"
    env = {"GIT_EDITOR": f"touch {marker}; true", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([git, "init", "-q", str(tmp_path / "r")], check=True, env=env)
    subprocess.run(
        [git, "-C", str(tmp_path / "r"), "commit", "--allow-empty", "-q"],
        env={
            **env,
            "GIT_AUTHOR_NAME": "a",
            "GIT_AUTHOR_EMAIL": "a@b",
            "GIT_COMMITTER_NAME": "a",
            "GIT_COMMITTER_EMAIL": "a@b",
        },
        check=False,
        capture_output=True,
    )
    assert marker.exists()


def test_every_table_entry_names_its_source_and_reason() -> None:
    from hardenkit import _dangerous_env  # noqa: PLC0415
    from hardenkit.env import DANGEROUS_ENV, is_dangerous  # noqa: PLC0415

    seen = set()
    for group, source, entries in _dangerous_env.TABLE:
        assert group
        assert len(source) > 10, group
        for name, why in entries:
            assert why.strip(), name
            assert name in DANGEROUS_ENV
            assert is_dangerous(name[:-1] + "X" if name.endswith("*") else name), name
            seen.add(name)
    assert seen == set(DANGEROUS_ENV)
    for benign in ("HOME", "USER", "LANG", "TERM", "PATHS", "APP_MODE", "GIT_AUTHOR_NAME"):
        assert not is_dangerous(benign), benign


# --- item 13: binaries with file capabilities are refused like setuid ones -------------


def _setcap(path: Path, caps: str) -> None:
    setcap = shutil.which("setcap") or "/usr/sbin/setcap"
    if not os.path.exists(setcap):
        pytest.fail("setcap is missing: run scripts/setup (libcap2-bin)")
    subprocess.run([setcap, caps, str(path)], check=True)


def _capped_cat(directory: Path) -> Path:
    cat = directory / "cat"
    shutil.copy2("/bin/cat", cat)
    os.chown(cat, 0, 0)
    cat.chmod(0o755)
    _setcap(cat, "cap_dac_read_search+ep")
    return cat


def _read_shadow_as_nobody(cat: str) -> dict[str, Any]:
    from hardenkit.errors import InsecurePathError  # noqa: PLC0415
    from hardenkit.spawn import run  # noqa: PLC0415

    run(["/bin/true"])  # imports, while the venv is readable
    # An ordinary unprivileged user: setresuid keeps the bounding set full, as a login
    # does (hardenkit's own drop would empty it, and the kernel would refuse the exec).
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    with contextlib.suppress(OSError):
        open("/etc/shadow", "rb").close()
        return {"error": "nobody can read /etc/shadow without help: the test proves nothing"}
    try:
        out = run([cat, "/etc/shadow"])
    except InsecurePathError as err:  # as a setuid binary is refused
        return {"error": None, "refused": str(err)}
    return {"error": None, "refused": None, "read": out.returncode == 0 and bool(out.stdout)}


@pytest.mark.root
def test_file_capability_binary_is_refused_for_an_unprivileged_caller(
    nobody_tmp: Path, in_child: InChild
) -> None:
    cat = _capped_cat(nobody_tmp)
    got = in_child(_read_shadow_as_nobody, str(cat))
    assert got["error"] is None, got["error"]
    # Before the fix: nobody's unconfined run() of the capped cat read /etc/shadow.
    assert got["refused"] is not None
    assert "file capabilities" in got["refused"]
    assert "cap_dac_read_search" in got["refused"]


@pytest.mark.root
def test_file_capability_binary_needs_allow_file_caps_by_name(nobody_tmp: Path) -> None:
    from hardenkit.errors import InsecurePathError  # noqa: PLC0415
    from hardenkit.spawn import CommandPolicy, run  # noqa: PLC0415

    cat = _capped_cat(nobody_tmp)
    with pytest.raises(InsecurePathError, match="file capabilities"):
        run([str(cat), "/etc/hostname"])
    with pytest.raises(InsecurePathError, match="file capabilities"):
        CommandPolicy([str(cat)])
    allowed = CommandPolicy([str(cat)], allow_file_caps=[str(cat)])
    assert run([str(cat), "/etc/hostname"], policy=allowed).returncode == 0
    with pytest.raises(PolicyError, match="not an allowed command"):
        CommandPolicy(["true"], allow_file_caps=[str(cat)])
    # Capabilities set after the policy was built are still refused on run.
    plain = nobody_tmp / "plain"
    plain.mkdir()
    plain.chmod(0o755)
    later = plain / "cat"
    shutil.copy2("/bin/cat", later)
    policy = CommandPolicy([str(later)])
    _setcap(later, "cap_net_raw+p")
    with pytest.raises(InsecurePathError, match="cap_net_raw"):
        run([str(later), "/etc/hostname"], policy=policy)


def _script_read_shadow_as_nobody(script: str, path: str, policy: bool) -> dict[str, Any]:
    from hardenkit.errors import InsecurePathError  # noqa: PLC0415
    from hardenkit.spawn import CommandPolicy, _run as spawn_run, run  # noqa: PLC0415

    spawn_run.FORCE_PATH = path
    run(["/bin/true"])  # imports, while the venv is readable
    os.setgroups([])  # an ordinary unprivileged user, bounding set full (see above)
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    with contextlib.suppress(OSError):
        open("/etc/shadow", "rb").close()
        return {"error": "nobody can read /etc/shadow without help: the test proves nothing"}
    try:
        kw: dict[str, Any] = {"policy": CommandPolicy([script])} if policy else {}
        out = run([script, "/etc/shadow"], **kw)
    except InsecurePathError as err:
        return {"error": None, "refused": str(err)}
    return {"error": None, "refused": None, "read": b"root:" in out.stdout}


@pytest.mark.root
@pytest.mark.parametrize("policy", [False, True], ids=["plain", "policy"])
@pytest.mark.parametrize("path", [pytest.param("helper", marks=pytest.mark.exec_helper), "fork"])
@pytest.mark.parametrize("interp", ["caps", "setuid"])
def test_script_whose_interpreter_has_privileges_is_refused(
    nobody_tmp: Path, in_child: InChild, policy: bool, path: str, interp: str
) -> None:
    # The kernel takes the new credentials from the #! interpreter it finally runs: a
    # root-owned script naming a capped (or setuid) cat hands nobody /etc/shadow.
    if interp == "caps":
        cat = _capped_cat(nobody_tmp)
    else:
        cat = nobody_tmp / "cat"
        shutil.copy2("/bin/cat", cat)
        os.chown(cat, 0, 0)
        cat.chmod(0o4755)
    script = nobody_tmp / "show"
    script.write_text(f"#!{cat}\n")
    script.chmod(0o755)
    got = in_child(_script_read_shadow_as_nobody, str(script), path, policy)
    assert got["error"] is None, got["error"]
    assert got["refused"] is not None, got
    assert "#! interpreter" in got["refused"]


# --- item 14: keeping a root-equivalent capability needs an acknowledgement ------------


#: Each amounts to root on its own (SETUID and SETGID are refused for non-root anyway).
ROOT_EQUIVALENT = [
    "SYS_ADMIN",
    "SYS_PTRACE",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_BOOT",
    "BPF",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "CHOWN",
    "FOWNER",
    "MKNOD",
    "SETFCAP",
    "SYS_CHROOT",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
]


@pytest.mark.parametrize("cap", ROOT_EQUIVALENT)
def test_keeping_a_root_equivalent_capability_needs_acknowledgement(cap: str) -> None:
    from hardenkit.errors import RootEquivalentError  # noqa: PLC0415
    from hardenkit.privileges import prepare_drop  # noqa: PLC0415
    from hardenkit.sandbox.confinement import prepare_confinement  # noqa: PLC0415

    with pytest.raises(RootEquivalentError, match=cap) as info:
        prepare_drop("nobody", keep={cap})
    assert info.value.capabilities == frozenset({cap})
    with pytest.raises(RootEquivalentError):
        prepare_confinement(user="nobody", keep={f"CAP_{cap}"})
    assert prepare_drop("nobody", keep={cap}, allow_root_equivalent=True).keep
    prepare_confinement(user="nobody", keep={cap}, allow_root_equivalent=True).close()


@pytest.mark.root
def test_run_and_confine_refuse_an_unacknowledged_root_equivalent_keep(
    in_child: InChild, spawn_options: Any
) -> None:
    from hardenkit.errors import RootEquivalentError  # noqa: PLC0415
    from hardenkit.spawn import run  # noqa: PLC0415

    options = {k: v for k, v in spawn_options.items() if k != "limits"}
    with pytest.raises(RootEquivalentError, match="SYS_PTRACE"):
        run(["/bin/true"], user="nobody", keep={"SYS_PTRACE"}, **options)
    ok = run(
        ["/bin/true"], user="nobody", keep={"SYS_PTRACE"}, allow_root_equivalent=True, **options
    )
    assert ok.returncode == 0
    got = in_child(_confine_keeping, "DAC_READ_SEARCH")
    assert got.startswith("RootEquivalentError")


def _confine_keeping(cap: str) -> str:
    from hardenkit.sandbox import confine  # noqa: PLC0415

    try:
        confine(user="nobody", keep={cap})
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return "kept"


def _drop_keeping_ptrace_then_attach(target: int, *, acknowledged: bool) -> str:
    import ctypes  # noqa: PLC0415

    from hardenkit._linux.libc import libc  # noqa: PLC0415
    from hardenkit.privileges import drop_privileges  # noqa: PLC0415

    try:
        if acknowledged:
            drop_privileges("nobody", keep={"SYS_PTRACE"}, allow_root_equivalent=True)
        else:
            drop_privileges("nobody", keep={"SYS_PTRACE"})
    except Exception as err:
        return f"refused: {type(err).__name__}"
    ptrace = libc()["ptrace"]
    ptrace.restype = ctypes.c_long
    attach, detach = 16, 17
    if ptrace(ctypes.c_long(attach), ctypes.c_long(target), None, None) != 0:
        return "attach failed"
    os.waitpid(target, 0)
    ptrace(ctypes.c_long(detach), ctypes.c_long(target), None, None)
    return "attached to a root process"


@pytest.mark.root
def test_sys_ptrace_through_a_drop_reaches_root(in_child: InChild) -> None:
    victim = subprocess.Popen(["/bin/sleep", "30"])  # a root process
    try:
        # Before the fix the unacknowledged keep was accepted: nobody attached to root.
        assert in_child(
            _drop_keeping_ptrace_then_attach, victim.pid, acknowledged=False
        ).startswith("refused: RootEquivalentError")
        # Why it matters (and what the acknowledgement buys knowingly).
        assert in_child(_drop_keeping_ptrace_then_attach, victim.pid, acknowledged=True) == (
            "attached to a root process"
        )
    finally:
        victim.kill()
        victim.wait()


def _audit_after_keeping(cap: str) -> list[str]:
    from hardenkit.audit import audit_process  # noqa: PLC0415
    from hardenkit.privileges import drop_privileges  # noqa: PLC0415

    audit_process()  # imports, while the venv is readable
    drop_privileges("nobody", keep={cap}, allow_root_equivalent=True)
    report = audit_process()
    return [f"{f.id}|{f.severity}|{f.detail}" for f in report.findings]


@pytest.mark.root
def test_audit_names_root_equivalent_capabilities_of_a_non_root_process(
    in_child: InChild,
) -> None:
    found = in_child(_audit_after_keeping, "SYS_PTRACE")
    hits = [f for f in found if f.startswith("root-equivalent-capabilities|")]
    assert hits, found
    assert "critical" in hits[0]
    assert "SYS_PTRACE" in hits[0]
    calm = in_child(_audit_after_keeping, "NET_BIND_SERVICE")  # the control
    assert not [f for f in calm if f.startswith("root-equivalent-capabilities|")]


def _fd_kinds() -> list[str]:
    """What each descriptor above 2 is (the listing's own excluded), under Landlock too."""
    out = []
    for name, link in _descriptors().items():
        del name
        out.append(link.split(":")[0] if ":" in link else "file")
    return sorted(out)


@pytest.mark.landlock
@pytest.mark.root
def test_sandboxed_child_under_landlock_keeps_no_rule_descriptors(tmp_path: Path) -> None:
    from hardenkit.sandbox import FilesystemPolicy  # noqa: PLC0415

    fs = FilesystemPolicy(read=[str(tmp_path), "/usr", "/proc"])
    # The plan's O_PATH descriptors (one per rule path) are closed once Landlock holds.
    assert call_sandboxed(_fd_kinds, filesystem=fs, user="nobody") == ["pipe"]


def test_parent_death_guard_refuses_to_go_on_for_a_gone_parent() -> None:
    from hardenkit._child import fork_call  # noqa: PLC0415
    from hardenkit._linux.spawn import ParentDeath  # noqa: PLC0415

    guard = ParentDeath()
    try:
        assert fork_call(guard.arm).ok  # control: its parent is alive
        guard.parent = 1 if os.getpid() != 1 else 2  # a parent that died before arming
        gone = fork_call(guard.arm)
    finally:
        guard.close()
    assert not gone.ok
    assert gone.exit_code == 137


@pytest.mark.root
def test_helper_script_arms_the_parent_death_signal_after_the_drop() -> None:
    from hardenkit._linux import exec_helper as xh  # noqa: PLC0415
    from hardenkit.sandbox.confinement import prepare_confinement  # noqa: PLC0415
    from hardenkit.spawn._helper import build_script  # noqa: PLC0415

    # isolate=False: no Landlock ruleset to build; only the order of the steps is checked.
    with prepare_confinement(user="nobody", isolate=False) as plan:
        script, _ = build_script(plan, exe_fd=None, ruleset_fd=None)
    armed = script.labels.index("prctl(PR_SET_PDEATHSIG)")
    dropped = max(i for i, op in enumerate(script.ops) if op == xh.OP_SETRESUID)
    go = script.ops.index(xh.OP_SYNC)
    assert dropped < armed < go  # after the drop (which clears it), before the go
