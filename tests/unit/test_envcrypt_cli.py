"""``hardenkit env ...``: what it prints (never a value unless asked) and its exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hardenkit.cli import main
from hardenkit.envcrypt import decrypt_env_file, set_env_value

SAMPLE = "cli-secret-4f2a9 = # 'x'"


def _file(tmp_path: Path) -> str:
    path = tmp_path / ".env"
    path.write_text("# cli\nPLAIN_PLAIN=1\n")
    set_env_value(str(path), "API_TOKEN", SAMPLE)
    return str(path)


def test_keypair_prints_both_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "keypair", "-f", ".env.staging", "--format", "json"]) == 0
    keys = json.loads(capsys.readouterr().out)
    assert set(keys) == {"DOTENV_PUBLIC_KEY_STAGING", "DOTENV_PRIVATE_KEY_STAGING"}
    assert len(keys["DOTENV_PRIVATE_KEY_STAGING"]) == 64


def test_set_from_stdin_get_and_no_leaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / ".env")
    Path(path).write_text("A=1\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(SAMPLE + "\n"))
    assert main(["env", "set", "-f", path, "API_TOKEN"]) == 0
    out = capsys.readouterr()
    assert SAMPLE not in out.out + out.err
    assert "new key pair" in out.out
    keys = (tmp_path / ".env.keys").read_text().split("DOTENV_PRIVATE_KEY=")[1].strip()
    assert keys not in out.out + out.err
    assert main(["env", "get", "-f", path, "API_TOKEN"]) == 0
    assert capsys.readouterr().out == SAMPLE + "\n"
    assert main(["env", "get", "-f", path, "MISSING"]) == 1


def test_encrypt_seal_decrypt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / ".env"
    path.write_text("DB_PASSWORD=hunter2-cli\n")
    assert main(["env", "encrypt", "-f", str(path), "--seal"]) == 0
    assert "hunter2-cli" not in capsys.readouterr().out
    assert "hardenkit:seal" in path.read_text()
    assert main(["env", "get", "-f", str(path), "--require-seal", "DB_PASSWORD"]) == 0
    assert capsys.readouterr().out == "hunter2-cli\n"
    assert main(["env", "decrypt", "-f", str(path), "--stdout"]) == 0
    assert "DB_PASSWORD=hunter2-cli" in capsys.readouterr().out
    assert main(["env", "decrypt", "-f", str(path)]) == 0
    assert "hunter2-cli" not in capsys.readouterr().out
    assert "DB_PASSWORD=hunter2-cli" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600


def test_rotate_and_errors_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path)
    assert main(["env", "rotate", "-f", path]) == 0
    assert decrypt_env_file(path)["API_TOKEN"] == SAMPLE
    capsys.readouterr()
    (tmp_path / ".env.keys").chmod(0o644)
    assert main(["env", "get", "-f", path, "API_TOKEN"]) == 1
    err = capsys.readouterr().err
    assert "InsecurePathError" in err
    assert SAMPLE not in err
    assert main(["env", "get", "-f", str(tmp_path / "nope.env"), "X"]) == 1
    assert "No such file" in capsys.readouterr().err


def test_run_passes_values_without_a_shell(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path)
    code = main(["env", "run", "-f", path, "--", "printenv", "API_TOKEN"])
    assert code == 0
    assert capfd.readouterr().out == SAMPLE + "\n"
    assert main(["env", "run", "-f", path, "--", "sh", "-c", "exit 7"]) == 7
    assert main(["env", "run", "-f", path, "--", "no-such-command-hk"]) == 127
    assert main(["env", "run", "-f", path]) == 2


def test_run_refuses_dangerous_names(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path)
    set_env_value(path, "LD_PRELOAD", "/tmp/evil.so")
    assert main(["env", "run", "-f", path, "--", "true"]) == 1
    assert "LD_PRELOAD" in capfd.readouterr().err


def test_run_resolves_the_command_on_the_trusted_path_not_the_files_path(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    evil = tmp_path / "evil"
    evil.mkdir()
    shadow = evil / "printenv"
    shadow.write_text("#!/bin/sh\necho shadowed\n")
    shadow.chmod(0o755)
    path = _file(tmp_path)
    set_env_value(path, "PATH", f"{evil}:/usr/bin:/bin", encrypt=False)
    assert main(["env", "run", "-f", path, "--", "printenv", "API_TOKEN"]) == 1  # PATH refused
    capfd.readouterr()
    argv = ["env", "run", "-f", path, "--allow-dangerous", "--", "printenv", "API_TOKEN"]
    assert main(argv) == 0
    out = capfd.readouterr().out
    assert "shadowed" not in out
    assert out == SAMPLE + "\n"


def test_run_refuses_exported_shell_functions(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path)
    set_env_value(path, "GREETING", "() { echo pwned; }")
    assert main(["env", "run", "-f", path, "--", "true"]) == 1
    assert "GREETING" in capfd.readouterr().err


def test_decrypt_in_place_holds_the_writers_lock_across_read_and_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    import hardenkit.envcrypt  # noqa: PLC0415

    path = _file(tmp_path)
    real = hardenkit.envcrypt.decrypted_text
    late: list[subprocess.Popen[bytes]] = []

    def read_then_race(*args: object, **kwargs: object) -> str:
        text = real(*args, **kwargs)  # type: ignore[arg-type]
        code = "import sys; from hardenkit.envcrypt import set_env_value as s; "
        code += "s(sys.argv[1], 'LATE', 'x', encrypt=False)"
        child = subprocess.Popen([sys.executable, "-c", code, path])
        late.append(child)
        # Another writer, between our read and our write; with the lock it waits for us.
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=3)
        return text

    monkeypatch.setattr(hardenkit.envcrypt, "decrypted_text", read_then_race)
    assert main(["env", "decrypt", "-f", path]) == 0
    assert late[0].wait(timeout=60) == 0
    values = decrypt_env_file(path)
    assert values["LATE"] == "x"  # the other writer's update was not lost
    assert values["API_TOKEN"] == SAMPLE


@pytest.mark.parametrize("name", ["HOME", "SHELL", "USER", "LOGNAME"])
def test_run_refuses_inherit_only_names_from_the_file(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], name: str
) -> None:
    """HOME from the file points git (core.fsmonitor) and Python (usercustomize) at it."""
    path = _file(tmp_path)
    planted = str(tmp_path / "planted-home-7c1e")
    set_env_value(path, name, planted, encrypt=False)
    assert main(["env", "run", "-f", path, "--", "true"]) == 1
    err = capfd.readouterr().err
    assert name in err
    assert planted not in err
    argv = ["env", "run", "-f", path, "--allow-dangerous", "--", "printenv", name]
    assert main(argv) == 0
    assert capfd.readouterr().out == planted + "\n"


def test_run_still_inherits_home_from_the_parent(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["env", "run", "-f", _file(tmp_path), "--", "printenv", "HOME"]) == 0
    assert capfd.readouterr().out == f"{tmp_path}\n"


def test_run_still_inherits_user_and_logname_from_the_parent(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hardenkit.env import is_dangerous, sanitize_env  # noqa: PLC0415

    monkeypatch.setenv("USER", "parent-user")
    monkeypatch.setenv("LOGNAME", "parent-user")
    assert not is_dangerous("USER")
    assert not is_dangerous("LOGNAME")
    assert sanitize_env()["USER"] == sanitize_env()["LOGNAME"] == "parent-user"
    argv = ["env", "run", "-f", _file(tmp_path), "--", "printenv", "USER", "LOGNAME"]
    assert main(argv) == 0
    assert capfd.readouterr().out == "parent-user\nparent-user\n"


TRUST_AND_CODE_NAMES = [
    "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
    "CARGO_HTTP_CAINFO",
    "UV_INDEX_URL",
    "DENO_CERT",
    "AWS_PAGER",
    "PSQL_EDITOR",
    "ELECTRON_RUN_AS_NODE",
    "BASH_LOADABLES_PATH",
    "MALLOC_CONF",
    "PYTHON_HISTORY",
    "PYTHONPERFSUPPORT",
]


@pytest.mark.parametrize("name", TRUST_AND_CODE_NAMES)
def test_run_refuses_trust_root_and_code_loading_names(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], name: str
) -> None:
    """Dangerous in any source: in DANGEROUS_ENV, so sanitize_env drops them too."""
    from hardenkit.env import is_dangerous, sanitize_env  # noqa: PLC0415

    assert is_dangerous(name)
    assert name not in sanitize_env([name], env={name: "/tmp/x"})
    path = _file(tmp_path)
    set_env_value(path, name, "/tmp/planted-9d2b", encrypt=False)
    assert main(["env", "run", "-f", path, "--", "true"]) == 1
    err = capfd.readouterr().err
    assert name in err
    assert "planted-9d2b" not in err


#: One per class the second review found (each ran code, or moved trust, in a common child):
#: git's test hooks, make/setuptools compilers and flags, groff/man, any <scheme>_proxy,
#: shells, pagers and editors, TLS trust, cloud credentials, package managers, containers.
RUN_CODE_NAMES = [
    "GIT_TEST_FSMONITOR",
    "TARGET_ARCH",
    "RM",
    "MAKE",
    "GROFF_FONT_PATH",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "CPATH",
    "LIBRARY_PATH",
    "CGO_CFLAGS",
    "VAULT_SKIP_VERIFY",
    "PGSSLROOTCERT",
    "GTK_MODULES",
    "CC",
    "CXX",
    "CFLAGS",
    "CXXFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "LDSHARED",
    "CPP",
    "LD",
    "GROFF_BIN_PATH",
    "dict_proxy",
    "FTPS_PROXY",
    "Gopher_Proxy",
    "XDG_RUNTIME_DIR",
    "HTTPLIB2_CA_CERTS",
    "WEBSOCKET_CLIENT_CA_BUNDLE",
    "CTLOG_FILE",
    "NODE_USE_SYSTEM_CA",
    "NETRC",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
    "UV_CONFIG_FILE",
    "UV_PYTHON_INSTALL_MIRROR",
    "UV_INSECURE_HOST",
    "COREPACK_NPM_REGISTRY",
    "YARN_NPM_REGISTRY_SERVER",
    "BUN_CONFIG_REGISTRY",
    "PYTHON",
    "CONTAINERS_CONF",
    "CONTAINERS_REGISTRIES_CONF",
    "CONTAINER_HOST",
    "NVIM_APPNAME",
    "FCEDIT",
    "MAILPATH",
    "LESSGLOBALTAGS",
    "MAN_DISABLE_SECCOMP",
    "PYTHONTZPATH",
]


@pytest.mark.parametrize("name", RUN_CODE_NAMES)
def test_run_refuses_what_runs_code_in_common_children(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], name: str
) -> None:
    """Refused by env run (named, never the value), by sanitize_env and spawn; --allow-dangerous."""
    from hardenkit.env import is_dangerous, sanitize_env  # noqa: PLC0415
    from hardenkit.errors import InvalidEnvError, PolicyError  # noqa: PLC0415
    from hardenkit.spawn import run  # noqa: PLC0415

    value = "/tmp/planted-5e8c/evil.sh"
    assert is_dangerous(name)
    assert is_dangerous(name.lower())
    assert name not in sanitize_env([name], env={name: value})
    with pytest.raises(InvalidEnvError, match=name):
        sanitize_env(set={name: value})
    with pytest.raises(PolicyError, match=name):
        run(["/usr/bin/env"], env={name: value})
    path = _file(tmp_path)
    set_env_value(path, name, value, encrypt=False)
    assert main(["env", "run", "-f", path, "--", "true"]) == 1
    err = capfd.readouterr().err
    assert name in err
    assert "planted-5e8c" not in err
    argv = ["env", "run", "-f", path, "--allow-dangerous", "--", "printenv", name]
    assert main(argv) == 0
    assert capfd.readouterr().out == value + "\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["env", "set", "API_PASSWORD", "-Xk9-hunter2-secret"],  # a value that looks like a flag
        ["env", "set", "API_PASSWORD", "value", "Xk9-hunter2-secret"],  # a stray extra word
        ["env", "set", "--plain=Xk9-hunter2-secret", "API_PASSWORD"],
        ["env", "set", "--s=Xk9-hunter2-secret", "API_PASSWORD"],  # ambiguous or ignored
        ["env", "keypair", "--format", "Xk9-hunter2-secret"],  # an invalid choice
        ["Xk9-hunter2-secret"],  # the top-level parser's invalid choice
        ["audit", "--json", "Xk9-hunter2-secret"],
    ],
)
def test_usage_errors_never_print_an_argument(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """envcrypt.md: nothing prints a value but keypair, get and decrypt --stdout."""
    assert main(argv) == 2
    out = capsys.readouterr()
    assert "error:" in out.err
    assert "hunter2" not in out.out + out.err
