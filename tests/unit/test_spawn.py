"""hardenkit.spawn: policies, argv and argument rules, env, results, scratch directories."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings, strategies as st

from hardenkit.errors import (
    CommandNotAllowed,
    HardenkitError,
    InsecurePathError,
    PolicyError,
    UnsafeArgument,
)
from hardenkit.spawn import (
    ArgRules,
    CommandFailed,
    CommandPolicy,
    RunResult,
    private_tmpdir,
    run,
    trusted_binary,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.linux


@pytest.fixture
def root_dir() -> Iterator[Path]:
    """A fresh root-owned 0700 directory under /tmp that passes the trusted-binary checks."""
    path = Path(tempfile.mkdtemp(prefix="hk-spawn-"))
    yield path
    shutil.rmtree(path)


def _sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- argv -----------------------------------------------------------------------------


@pytest.mark.parametrize("argv", ["true", b"true", Path("/bin/true"), bytearray(b"true")])
def test_string_argv_is_refused(argv: object) -> None:
    with pytest.raises(PolicyError, match="not a string"):
        run(argv, policy=CommandPolicy(["true"]))  # type: ignore[arg-type]


def test_empty_and_nul_argv_refused() -> None:
    policy = CommandPolicy(["echo"])
    with pytest.raises(PolicyError, match="empty"):
        run([], policy=policy)
    with pytest.raises(UnsafeArgument, match="NUL"):
        run(["echo", "a\0b"], policy=policy)
    with pytest.raises(PolicyError, match="int"):
        run(["echo", 3], policy=policy)  # type: ignore[list-item]


def test_bytes_and_paths_arguments_are_accepted() -> None:
    result = run([b"/bin/echo", Path("x")], policy=CommandPolicy(["/bin/echo"]))
    assert result.stdout == b"x\n"
    assert result.argv == ("/bin/echo", "x")


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan"), None, True, "1"])
def test_timeout_is_always_on(timeout: object) -> None:
    with pytest.raises(PolicyError, match="timeout"):
        run(["true"], policy=CommandPolicy(["true"]), timeout=timeout)  # type: ignore[arg-type]


def test_bad_max_output_and_input() -> None:
    policy = CommandPolicy(["true"])
    with pytest.raises(PolicyError, match="max_output"):
        run(["true"], policy=policy, max_output=-1)
    with pytest.raises(PolicyError, match="input"):
        run(["true"], policy=policy, input="text")  # type: ignore[arg-type]


# --- policy ---------------------------------------------------------------------------


def test_policy_resolves_on_trusted_path_not_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "true").write_text("#!/bin/sh\ntouch /tmp/hk-evil-ran\n")
    (evil / "true").chmod(0o755)
    monkeypatch.setenv("PATH", f":{evil}:/usr/bin")
    monkeypatch.chdir(evil)
    assert shutil.which("true") in ("true", str(evil / "true"))  # the attack is real
    policy = CommandPolicy(["true"])
    assert policy.resolve("true") == os.path.realpath("/usr/bin/true")


@pytest.mark.parametrize("search_path", [":/usr/bin", "/usr/bin::/bin", "bin:/usr/bin", ""])
def test_search_path_must_be_absolute(search_path: str) -> None:
    with pytest.raises(PolicyError, match="search_path"):
        CommandPolicy(["true"], search_path=search_path)


def test_policy_construction_errors() -> None:
    with pytest.raises(PolicyError, match="list"):
        CommandPolicy("true")
    with pytest.raises(PolicyError, match="empty"):
        CommandPolicy([])
    with pytest.raises(PolicyError, match="not found"):
        CommandPolicy(["no-such-command-hk"])
    with pytest.raises(PolicyError, match="relative"):
        CommandPolicy(["bin/true"])
    with pytest.raises(PolicyError, match="names no allowed"):
        CommandPolicy(["true"], sha256={"false": "0" * 64})
    with pytest.raises(PolicyError, match="64 hex"):
        CommandPolicy(["true"], sha256={"true": "abc"})
    with pytest.raises(PolicyError, match="names no allowed"):
        CommandPolicy(["true"], args={"false": ArgRules()})


def test_not_allowed_is_refused_and_nothing_starts(tmp_path: Path) -> None:
    policy = CommandPolicy(["echo"])
    marker = tmp_path / "ran"
    with pytest.raises(CommandNotAllowed, match="touch is not allowed") as info:
        run(["touch", str(marker)], policy=policy)
    assert info.value.argv == ("touch",)
    with pytest.raises(CommandNotAllowed):
        run(["/usr/bin/touch", str(marker)], policy=policy)
    with pytest.raises(CommandNotAllowed, match="relative"):
        run(["./touch", str(marker)], policy=policy)
    assert not marker.exists()


def test_absolute_path_matches_by_real_path() -> None:
    policy = CommandPolicy(["true"])
    real = os.path.realpath("/usr/bin/true")
    assert policy.resolve("/bin/true") == real  # /bin -> usr/bin on merged-usr systems
    assert run(["/usr/bin/true"], policy=policy).returncode == 0


@pytest.mark.root
def test_untrusted_binaries_are_refused(root_dir: Path) -> None:
    # A world-writable directory (no sticky bit) above the binary.
    open_dir = root_dir / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    shutil.copy("/usr/bin/true", open_dir / "tool")
    (open_dir / "tool").chmod(0o755)
    with pytest.raises(InsecurePathError):
        CommandPolicy([str(open_dir / "tool")])
    with pytest.raises(InsecurePathError):
        run([str(open_dir / "tool")])
    # A group-writable binary, and a setuid one.
    shutil.copy("/usr/bin/true", root_dir / "gw")
    (root_dir / "gw").chmod(0o775)
    with pytest.raises(InsecurePathError):
        run([str(root_dir / "gw")])
    shutil.copy("/usr/bin/true", root_dir / "suid")
    (root_dir / "suid").chmod(0o4755)
    with pytest.raises(InsecurePathError):
        CommandPolicy([str(root_dir / "suid")])
    # Not root-owned.
    shutil.copy("/usr/bin/true", root_dir / "mine")
    (root_dir / "mine").chmod(0o755)
    os.chown(root_dir / "mine", 65534, 65534)
    with pytest.raises(InsecurePathError):
        run([str(root_dir / "mine")])


def test_policy_none_needs_absolute_trusted_path(tmp_path: Path) -> None:
    assert run(["/bin/echo", "ok"]).stdout == b"ok\n"
    with pytest.raises(CommandNotAllowed, match="absolute"):
        run(["echo", "ok"])
    with pytest.raises(CommandNotAllowed, match="not an executable"):
        trusted_binary("/etc/passwd")
    with pytest.raises(CommandNotAllowed, match="cannot be run"):
        trusted_binary(str(tmp_path / "missing"))


def test_policy_repr_and_equality() -> None:
    policy = CommandPolicy(["true", "echo"])
    assert "allow=('true', 'echo')" in repr(policy)
    assert policy == CommandPolicy(["true", "echo"])
    with pytest.raises(AttributeError):
        policy.allow = ("sh",)  # type: ignore[misc]


# --- pins -----------------------------------------------------------------------------


def test_pinned_digest_runs_and_changed_digest_is_refused(root_dir: Path) -> None:
    tool = root_dir / "tool"
    shutil.copy("/usr/bin/touch", tool)
    tool.chmod(0o755)
    policy = CommandPolicy([str(tool)], sha256={str(tool): _sha(tool)})
    first = root_dir / "first"
    run([str(tool), str(first)], policy=policy)
    assert first.exists()
    with tool.open("ab") as fh:
        fh.write(b"\0")
    second = root_dir / "second"
    with pytest.raises(CommandNotAllowed, match="pinned sha256"):
        run([str(tool), str(second)], policy=policy)
    assert not second.exists()


def test_pinned_file_swapped_for_symlink_is_refused(root_dir: Path) -> None:
    tool = root_dir / "tool"
    shutil.copy("/usr/bin/true", tool)
    tool.chmod(0o755)
    by_path = CommandPolicy([str(tool)], sha256={str(tool): _sha(tool)})
    by_name = CommandPolicy(["tool"], search_path=str(root_dir), sha256={"tool": _sha(tool)})
    assert run([str(tool)], policy=by_path).returncode == 0
    assert run(["tool"], policy=by_name).returncode == 0
    tool.unlink()
    tool.symlink_to("/usr/bin/true")  # not the file that was checked
    with pytest.raises(CommandNotAllowed, match="not allowed"):
        run([str(tool)], policy=by_path)
    with pytest.raises(CommandNotAllowed, match="cannot be opened"):
        run(["tool"], policy=by_name)


def test_pinned_binary_runs_through_its_descriptor_and_leaks_none() -> None:
    ls = os.path.realpath("/usr/bin/ls")
    policy = CommandPolicy(["ls"], sha256={"ls": _sha(ls)})
    out = run(["ls", "/proc/self/fd"], policy=policy).stdout.split()
    assert out == [b"0", b"1", b"2", b"3"]  # 3 is ls's own directory handle


def test_pinned_script_runs(root_dir: Path) -> None:
    script = root_dir / "hello"
    script.write_text("#!/bin/sh\necho scripted\n")
    script.chmod(0o755)
    policy = CommandPolicy([str(script)], sha256={str(script): _sha(script)})
    assert run([str(script)], policy=policy).stdout == b"scripted\n"


# --- argument rules -------------------------------------------------------------------


def test_argument_schema_blocks_option_injection() -> None:
    rules = ArgRules(options=frozenset({"-n"}), deny=("--upload-pack",), separator=True)
    policy = CommandPolicy(["echo"], args={"echo": rules})
    # After the first positional, an attacker-controlled value stays a positional (after --).
    assert run(["echo", "-n", "url", "--upload-pack=touch x"], policy=policy).argv == (
        "echo",
        "-n",
        "--",
        "url",
        "--upload-pack=touch x",
    )
    with pytest.raises(UnsafeArgument, match="--upload-pack is denied"):
        run(["echo", "--upload-pack=touch x"], policy=policy)
    with pytest.raises(UnsafeArgument, match="-e is not allowed"):
        run(["echo", "-e"], policy=policy)


def test_argument_schema_values_and_limits() -> None:
    rules = ArgRules(
        options_with_value=frozenset({"-n", "--lines"}), positional=r"[a-z]+", max_positional=1
    )
    assert rules.apply(("head", "-n", "5", "abc")) == ("head", "-n", "5", "abc")
    assert rules.apply(("head", "-n5", "--lines=3")) == ("head", "-n5", "--lines=3")
    with pytest.raises(UnsafeArgument, match="needs a value"):
        rules.apply(("head", "-n"))
    with pytest.raises(UnsafeArgument, match="at most 1"):
        rules.apply(("head", "a", "b"))
    with pytest.raises(UnsafeArgument, match="does not match"):
        rules.apply(("head", "A1"))
    with pytest.raises(PolicyError):
        ArgRules(options="-n")  # type: ignore[arg-type]


def test_explicit_double_dash_keeps_following_arguments_positional() -> None:
    rules = ArgRules()
    assert rules.apply(("rm", "--", "-rf")) == ("rm", "--", "-rf")
    with pytest.raises(UnsafeArgument):
        rules.apply(("rm", "-rf", "--", "x"))


def test_callable_argument_rule() -> None:
    def only_numbers(argv: tuple[str, ...]) -> tuple[str, ...]:
        if not all(a.isdigit() for a in argv[1:]):
            raise ValueError("only numbers")
        return (*argv, "end")

    policy = CommandPolicy(["echo"], args={"echo": only_numbers})
    assert run(["echo", "1", "2"], policy=policy).stdout == b"1 2 end\n"
    with pytest.raises(UnsafeArgument, match="only numbers"):
        run(["echo", "x"], policy=policy)


def test_metacharacter_filter_is_opt_in() -> None:
    loose = CommandPolicy(["echo"])
    assert run(["echo", "a;b|c"], policy=loose).stdout == b"a;b|c\n"  # no shell: inert
    strict = CommandPolicy(["echo"], forbid_metacharacters=True)
    for bad in ("a;b", "$(id)", "`id`", "a|b", "x\ny", "a&&b"):
        with pytest.raises(UnsafeArgument, match="metacharacter"):
            run(["echo", bad], policy=strict)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8), max_size=6))
def test_separator_keeps_every_positional_in_order(words: list[str]) -> None:
    rules = ArgRules(options=frozenset({"-v"}), separator=True)
    argv = ("cmd", "-v", *[w for w in words if not w.startswith("-") or w == "-"])
    out = rules.apply(argv)
    positionals = list(argv[2:])
    if positionals:
        assert out[: out.index("--")] == ("cmd", "-v")
        assert list(out[out.index("--") + 1 :]) == positionals
    else:
        assert out == ("cmd", "-v")


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_only_listed_options_pass(arg: str) -> None:
    rules = ArgRules(options=frozenset({"-a"}))
    try:
        out = rules.apply(("cmd", arg))
    except UnsafeArgument:
        assert arg.startswith("-")
        assert arg not in ("-a", "-", "--")
    else:
        assert not arg.startswith("-") or arg in ("-a", "-", "--")
        assert out[-1] == arg or out == ("cmd",)


# --- environment ----------------------------------------------------------------------


def test_child_sees_no_secret_and_no_loader_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOO_SECRET", "hk-secret-value")
    monkeypatch.setenv("LD_PRELOAD", "/nonexistent/hk.so")
    out = run(["env"], policy=CommandPolicy(["env"])).stdout.decode()
    assert "FOO_SECRET" not in out
    assert "hk-secret-value" not in out
    assert "LD_PRELOAD" not in out
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in out


def test_explicit_env_is_used_but_dangerous_names_are_refused() -> None:
    policy = CommandPolicy(["env"])
    assert run(["env"], policy=policy, env={"A": "1"}).stdout == b"A=1\n"
    assert run(["env"], policy=policy, env={"TMPDIR": "/tmp"}).stdout == b"TMPDIR=/tmp\n"
    with pytest.raises(PolicyError, match="LD_PRELOAD") as info:
        run(["env"], policy=policy, env={"LD_PRELOAD": "/x/evil.so"})
    assert "evil" not in str(info.value)
    with pytest.raises(PolicyError, match="BASH_FUNC"):
        run(["env"], policy=policy, env={"BASH_FUNC_x%%": "() { id; }"})
    with pytest.raises(PolicyError, match="malformed"):
        run(["env"], policy=policy, env={"A=B": "1"})


def test_explicit_env_refuses_every_dangerous_name_unless_allowed() -> None:
    policy = CommandPolicy(["env"])
    env = {"HTTPS_PROXY": "http://user:hk-pw@proxy:3128", "PAGER": "sh -c id", "A": "1"}
    with pytest.raises(PolicyError, match="HTTPS_PROXY, PAGER") as info:
        run(["env"], policy=policy, env=env)
    assert "hk-pw" not in str(info.value)
    assert "sh -c" not in str(info.value)
    assert "allow_dangerous_env" in str(info.value)
    with pytest.raises(PolicyError, match="PAGER"):  # allowing one is not allowing both
        run(["env"], policy=policy, env=env, allow_dangerous_env={"HTTPS_PROXY"})
    out = run(["env"], policy=policy, env=env, allow_dangerous_env={"HTTPS_PROXY", "PAGER"})
    assert sorted(out.stdout.decode().splitlines()) == [
        "A=1",
        "HTTPS_PROXY=http://user:hk-pw@proxy:3128",
        "PAGER=sh -c id",
    ]
    # Lower-case proxy names are what curl reads: flagged too, allowed by exact name.
    with pytest.raises(PolicyError, match="http_proxy"):
        run(["env"], policy=policy, env={"http_proxy": "http://p"})
    assert run(["env"], policy=policy, env={"http_proxy": "p"}, allow_dangerous_env=["http_proxy"])


@pytest.mark.parametrize(
    "name", ["LD_PRELOAD", "PS4", "SHELLOPTS", "BASHOPTS", "BASH_ENV", "ld_audit"]
)
def test_code_running_variables_can_never_be_allowed(name: str) -> None:
    policy = CommandPolicy(["env"])
    with pytest.raises(PolicyError, match="never passed"):
        run(["env"], policy=policy, env={name: "x"}, allow_dangerous_env={name})
    with pytest.raises(PolicyError, match="never passed"):
        run(["env"], policy=policy, env={name: "x"})


def test_exported_function_values_are_refused_whatever_the_name() -> None:
    with pytest.raises(PolicyError, match="GREETING"):
        run(
            ["env"],
            policy=CommandPolicy(["env"]),
            env={"GREETING": "() { id; }"},
            allow_dangerous_env={"GREETING"},
        )


def test_allow_dangerous_env_takes_names() -> None:
    policy = CommandPolicy(["env"])
    with pytest.raises(PolicyError, match="not one string"):
        run(["env"], policy=policy, env={"PAGER": "less"}, allow_dangerous_env="PAGER")
    with pytest.raises(PolicyError, match="names"):
        run(["env"], policy=policy, env={}, allow_dangerous_env=[1])  # type: ignore[list-item]


def test_scratch_env_passes_without_opt_in() -> None:
    with private_tmpdir() as scratch:
        out = run(["env"], policy=CommandPolicy(["env"]), env=scratch.env(APP="1"))
    lines = out.stdout.decode().splitlines()
    assert f"TMPDIR={scratch.tmp}" in lines
    assert f"HOME={scratch.home}" in lines


def test_run_async_refuses_dangerous_env_too() -> None:
    import asyncio  # noqa: PLC0415

    from hardenkit.spawn import run_async  # noqa: PLC0415

    policy = CommandPolicy(["env"])
    with pytest.raises(PolicyError, match="PAGER"):
        asyncio.run(run_async(["env"], policy=policy, env={"PAGER": "x"}))
    done = asyncio.run(
        run_async(["env"], policy=policy, env={"PAGER": "x"}, allow_dangerous_env={"PAGER"})
    )
    assert done.stdout == b"PAGER=x\n"


# --- results and errors ---------------------------------------------------------------


def test_run_result_repr_hides_output_and_arguments() -> None:
    result = run(["echo", "hk-pass"], policy=CommandPolicy(["echo"]))
    assert "hk-pass" not in repr(result)
    assert result.stdout == b"hk-pass\n"
    assert isinstance(result.duration, float)
    assert result.duration > 0


def test_check_raises_command_failed() -> None:
    policy = CommandPolicy(["sh"])
    with pytest.raises(CommandFailed, match="status 3") as info:
        run(["sh", "-c", "echo hk-out; exit 3"], policy=policy, check=True)
    err = info.value
    assert isinstance(err, subprocess.CalledProcessError)
    assert isinstance(err, HardenkitError)
    assert err.returncode == 3
    assert err.output == b"hk-out\n"
    assert "hk-out" not in str(err)
    assert pickle.loads(pickle.dumps(err)).returncode == 3  # noqa: S301 -- our own object
    assert run(["sh", "-c", "exit 3"], policy=policy).returncode == 3


def test_stdin_is_dev_null_unless_input() -> None:
    policy = CommandPolicy(["cat"])
    assert run(["cat"], policy=policy, timeout=5).stdout == b""
    data = os.urandom(300_000)  # larger than a pipe: the writer must not deadlock
    assert run(["cat"], policy=policy, input=data, timeout=10).stdout == data


def test_output_over_the_cap_is_discarded() -> None:
    result = run(
        ["sh", "-c", "head -c 300000 /dev/zero; echo err >&2"],
        policy=CommandPolicy(["sh"]),
        max_output=1000,
    )
    assert result.truncated
    assert len(result.stdout) == 1000
    assert result.stderr == b"err\n"
    assert result.returncode == 0


# --- private scratch directory --------------------------------------------------------


def test_private_tmpdir_is_private_and_removed() -> None:
    old = os.umask(0o777)  # hostile umask: creation must not depend on it
    try:
        with private_tmpdir() as scratch:
            for path in (scratch.path, scratch.home, scratch.tmp):
                st_ = path.lstat()
                assert stat.S_ISDIR(st_.st_mode)
                assert stat.S_IMODE(st_.st_mode) == 0o700
                assert st_.st_uid == os.geteuid()
            env = scratch.env(EXTRA="1")
            assert env["HOME"] == str(scratch.home)
            assert env["TMPDIR"] == str(scratch.tmp)
            assert env["EXTRA"] == "1"
    finally:
        os.umask(old)
    assert not scratch.path.exists()


def test_private_tmpdir_removal_does_not_follow_planted_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "keep"
    outside.mkdir()
    (outside / "file").write_text("keep me")
    with private_tmpdir() as scratch:
        (scratch.tmp / "link").symlink_to(outside)
    assert (outside / "file").read_text() == "keep me"
    assert not scratch.path.exists()


@pytest.mark.root
def test_private_tmpdir_owner() -> None:
    with private_tmpdir(owner="nobody") as scratch:
        assert scratch.home.stat().st_uid == 65534
        assert scratch.path.stat().st_uid == 65534
        assert scratch.uid == 65534
    with pytest.raises(PolicyError, match="not a known user"), private_tmpdir(owner="no-such-hk"):
        pass


def test_run_result_validates() -> None:
    with pytest.raises(TypeError):
        RunResult(argv=("x",), returncode=0, stdout="s", stderr=b"", truncated=False, duration=0)  # type: ignore[arg-type]
