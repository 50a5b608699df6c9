from __future__ import annotations

import copy
import json
import logging
import pickle
import re
import traceback
from typing import TYPE_CHECKING, Any

import pytest

from hardenkit import env as E  # noqa: N812 -- short alias for the module under test
from hardenkit.errors import EnvError, InvalidEnvError, MissingEnvError
from hardenkit.redaction import redact

if TYPE_CHECKING:
    from pathlib import Path


def _dangerous_data(shared_data: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((shared_data / "dangerous-env.json").read_text())
    return data


def _dangerous_entries(data: dict[str, Any]) -> list[str]:
    entries = [*data["sudo_env_delete"], *data["glibc_unsecure"]]
    for group in data["other"].values():
        entries.extend(group)
    return entries


def _example_name(entry: str) -> str:
    return entry[:-1] + "EXAMPLE" if entry.endswith("*") else entry


# --------------------------------------------------------------------------- dangerous


def test_dangerous_env_covers_the_reference_data(shared_data: Path) -> None:
    entries = _dangerous_entries(_dangerous_data(shared_data))
    assert set(entries) <= E.DANGEROUS_ENV
    for entry in entries:
        assert E.is_dangerous(_example_name(entry)), entry
        assert E.is_dangerous(_example_name(entry).lower()), entry


@pytest.mark.parametrize("name", ["HOME", "LANG", "USER", "APP_MODE", "LDAP_URI", "PATHS"])
def test_ordinary_names_are_not_dangerous(name: str) -> None:
    assert not E.is_dangerous(name)


@pytest.mark.parametrize("name", ["", "A=B", "A\0B"])
def test_impossible_names_are_dangerous(name: str) -> None:
    assert E.is_dangerous(name)


def test_bash_function_values_are_dangerous() -> None:
    assert E.is_dangerous("GREETING", "() { :;}; /bin/id")
    assert E.is_dangerous("GREETING", "x\0y")
    assert not E.is_dangerous("GREETING", "(hello)")


def test_dangerous_names_dropped_even_when_allowlisted(shared_data: Path) -> None:
    names = [_example_name(e) for e in _dangerous_entries(_dangerous_data(shared_data))]
    parent = dict.fromkeys(names, "/tmp/evil")
    parent["HOME"] = "/root"
    out = E.sanitize_env([*names, "HOME", "*"], env=parent, path="/usr/bin")
    assert out == {"HOME": "/root", "PATH": "/usr/bin"}


def test_bash_function_values_dropped() -> None:
    out = E.sanitize_env(["GREETING", "HOME"], env={"GREETING": "() { id; }", "HOME": "/h"})
    assert "GREETING" not in out
    assert out["HOME"] == "/h"


def test_sanitize_starts_empty_and_copies_only_the_allowlist() -> None:
    parent = {"HOME": "/root", "SECRET_TOKEN": "t", "FOO": "bar", "LC_ALL": "C", "LC_TIME": "C"}
    out = E.sanitize_env(env=parent)
    assert out == {"HOME": "/root", "LC_ALL": "C", "LC_TIME": "C", "PATH": E.SAFE_PATH}


@pytest.mark.parametrize("parent_path", [None, "", ".:/tmp", "/tmp/evil:/usr/bin", E.SAFE_PATH])
def test_path_always_replaced(parent_path: str | None) -> None:
    parent = {} if parent_path is None else {"PATH": parent_path}
    assert E.sanitize_env(["PATH", "*"], env=parent)["PATH"] == E.SAFE_PATH
    assert E.sanitize_env(env=parent, path="/opt/bin:/usr/bin")["PATH"] == "/opt/bin:/usr/bin"


@pytest.mark.parametrize("path", ["", "bin:/usr/bin", "/usr/bin::/bin", "/usr/bin:"])
def test_relative_or_empty_path_entries_refused(path: str) -> None:
    with pytest.raises(InvalidEnvError) as info:
        E.sanitize_env(env={}, path=path)
    assert info.value.names == ("PATH",)


def test_safe_path_value() -> None:
    assert E.SAFE_PATH == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.mark.parametrize(
    ("name", "value", "kept"),
    [
        ("LANG", "en_US.UTF-8", True),
        ("LANG", "../../tmp/x", False),
        ("LC_ALL", "%n%n%n", False),
        ("TERM", "xterm-256color", True),
        ("TERM", "/tmp/terminfo", False),
        ("TZ", "Europe/Paris", True),
        ("TZ", ":Europe/Paris", True),
        ("TZ", "/usr/share/zoneinfo/UTC", True),
        ("TZ", "/tmp/zone", False),
        ("TZ", "../../../tmp/zone", False),
        ("TZ", "Europe/../../../etc/shadow", False),
        ("TZ", "UTC bad", False),
        ("COLORTERM", "truecolor", True),
        ("HOME", "/root", True),
    ],
)
def test_sudo_value_checks(name: str, value: str, kept: bool) -> None:
    out = E.sanitize_env(env={name: value})
    assert (name in out) is kept


def test_set_applied_after_filtering() -> None:
    out = E.sanitize_env(env={"HOME": "/a"}, set={"HOME": "/b", "APP": "1"})
    assert out["HOME"] == "/b"
    assert out["APP"] == "1"


@pytest.mark.parametrize(
    "extra",
    [{"LD_PRELOAD": "/x.so"}, {"PATH": "/tmp"}, {"F": "() { id; }"}, {"bash_func_x%%": "1"}],
)
def test_set_refuses_dangerous(extra: dict[str, str]) -> None:
    with pytest.raises(EnvError) as info:
        E.sanitize_env(env={}, set=extra)
    assert isinstance(info.value, InvalidEnvError)
    assert info.value.names == tuple(extra)
    assert "/x.so" not in str(info.value)
    assert "id;" not in str(info.value)


def test_allow_as_a_single_string_is_refused() -> None:
    with pytest.raises(TypeError):
        E.sanitize_env("HOME", env={})


def test_sanitize_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_PRELOAD", "/tmp/x.so")
    monkeypatch.setenv("LANG", "C.UTF-8")
    out = E.sanitize_env(["LD_PRELOAD", "LANG"])
    assert out == {"LANG": "C.UTF-8", "PATH": E.SAFE_PATH}


def test_sanitize_logs_names_never_values(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="hardenkit.env"):
        E.sanitize_env(["LD_PRELOAD"], env={"LD_PRELOAD": "/tmp/value-xyz.so"})
    assert "LD_PRELOAD" in caplog.text
    assert "value-xyz" not in caplog.text


def test_default_allow_is_small_and_safe() -> None:
    assert len(E.DEFAULT_ALLOW) <= 12
    assert not any(E.is_dangerous(n.rstrip("*") + "X") for n in E.DEFAULT_ALLOW)
    assert "PATH" not in E.DEFAULT_ALLOW


# --------------------------------------------------------------------------- secret names


def _secret_examples(pattern: str) -> list[str]:
    if pattern.startswith("*"):
        pattern = "MY" + pattern[1:]
    if pattern.endswith("*"):
        return [pattern[:-1], pattern[:-1] + "_PROD"]
    return [pattern]


def test_secret_bearing_names_from_the_reference_data(shared_data: Path) -> None:
    for pattern in _dangerous_data(shared_data)["secret_bearing"]:
        for name in _secret_examples(pattern):
            assert E.is_secret_name(name), name


@pytest.mark.parametrize(
    "name",
    [
        "SECRET",
        "client_secret",
        "GITHUB_TOKEN",
        "accessToken",
        "DB_PASSWORD",
        "MYSQL_PWD",
        "smtp_pass",
        "PASSWD",
        "X-Api-Key",
        "apikey",
        "PRIVATE_KEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "Authorization",
        "AUTH",
        "oauth",
        "SESSION_ID",
        "sessionid",
        "PHPSESSID",
        "Cookie",
        "SENTRY_DSN",
        "jwt",
        "csrftoken",
        "AccountKey",
        "SharedAccessKey",
        "ENCRYPTION_KEY",
        "sig",
    ],
)
def test_secret_names(name: str) -> None:
    assert E.is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "PWD",
        "OLDPWD",
        "HOME",
        "PATH",
        "AUTHOR",
        "TOKENIZERS_PARALLELISM",
        "PASSWORD_FILE",
        "TOKEN_TYPE",
        "AWS_ACCESS_KEY_ID",
        "KEYBOARD",
        "BYPASS",
        "LANG",
        "DATABASE_URL",
        "",
    ],
)
def test_not_secret_names(name: str) -> None:
    assert not E.is_secret_name(name)


def test_looks_secret_by_value() -> None:
    assert E.looks_secret("ghp_" + "a1B2" * 9)
    assert E.looks_secret("postgres://app:pw-123456@db/main")
    assert not E.looks_secret("postgres://db/main")
    assert not E.looks_secret("3f2b8c1e-9d4a-4f6b-8e2c-7a1d5b9c0e3f")


# --------------------------------------------------------------------------- scrub, mask


def test_scrub_env() -> None:
    parent = {
        "HOME": "/root",
        "LD_PRELOAD": "/x.so",
        "API_TOKEN": "t",
        "DATABASE_URL": "postgres://u:pw-123456@db/x",
        "F": "() { id; }",
    }
    assert E.scrub_env(parent) == {"HOME": "/root"}
    assert set(E.scrub_env(parent, secrets=False)) == {"HOME", "API_TOKEN", "DATABASE_URL"}
    assert set(E.scrub_env(parent, dangerous=False)) == {"HOME", "LD_PRELOAD", "F"}


def test_mask_env_masks_names_and_values() -> None:
    parent = {
        "HOME": "/root",
        "DB_PASSWORD": "hunter2",
        "DATABASE_URL": "postgres://app:pw-123456@db:5432/main",
        "EMPTY_TOKEN": "",
    }
    out = E.mask_env(parent)
    assert out == {
        "HOME": "/root",
        "DB_PASSWORD": "***",
        "DATABASE_URL": "postgres://app:***@db:5432/main",
        "EMPTY_TOKEN": "",
    }
    assert "hunter2" not in repr(out)


# --------------------------------------------------------------------------- require, validate


def test_require_env_reports_every_missing_name() -> None:
    with pytest.raises(MissingEnvError) as info:
        E.require_env("A", "B", "C", "D", env={"B": "ok", "C": "", "D": "  "})
    assert info.value.names == ("A", "C", "D")
    assert isinstance(info.value, LookupError)
    assert E.require_env("B", env={"B": "ok"}) == {"B": "ok"}


def test_missing_env_error_never_contains_values() -> None:
    secret = "S3CRET-never-shown"  # noqa: S105 -- a fake secret
    with pytest.raises(MissingEnvError) as info:
        E.require_env("TOKEN", "OTHER", env={"OTHER": secret, "TOKEN": ""})
    rendered = "".join(traceback.format_exception(info.value))
    assert secret not in rendered
    assert secret not in repr(info.value)


def test_validate_env_reports_every_problem_without_values() -> None:
    values = {"PORT": "80; rm -rf /S3CRET", "RATIO": "S3CRETratio", "URL": "S3CRETurl"}

    def https(v: str) -> bool:
        return v.startswith("https://")

    def boom(v: str) -> bool:
        raise ValueError(f"bad value {v}")

    rules: dict[str, E.EnvRule] = {
        "PORT": r"\d+",
        "RATIO": float,
        "URL": https,
        "MISSING": r".*",
        "OTHER": boom,
    }
    with pytest.raises(InvalidEnvError) as info:
        E.validate_env(rules, {**values, "OTHER": "S3CRETother"})
    err = info.value
    assert err.names == ("PORT", "RATIO", "URL", "MISSING", "OTHER")
    rendered = "".join(traceback.format_exception_only(err)) + repr(err) + str(err.__dict__)
    assert "S3CRET" not in rendered
    assert err.__cause__ is None
    assert err.__context__ is None
    assert pickle.loads(pickle.dumps(err)).names == err.names  # noqa: S301 -- our own bytes


def test_validate_env_passes_and_returns_values() -> None:
    rules: dict[str, E.EnvRule] = {
        "PORT": re.compile(r"\d+"),
        "MODE": str.isalpha,
        "HOST": r"[a-z.]+",
    }
    env = {"PORT": "8080", "MODE": "web", "HOST": "db.local", "X": "y"}
    assert E.validate_env(rules, env) == {"PORT": "8080", "MODE": "web", "HOST": "db.local"}


def test_validate_env_rejects_bad_rules() -> None:
    with pytest.raises(TypeError):
        E.validate_env({"A": 3}, {"A": "1"})  # type: ignore[dict-item]


# --------------------------------------------------------------------------- Secret


def test_secret_masks_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    value = "tok-" + "Zq9" * 8
    s = E.Secret(value, register=False)
    assert str(s) == "***"
    assert repr(s) == "Secret('***')"
    assert f"{s}" == "***"
    assert f"{s!r:>30}".strip() == "Secret('***')"
    assert f"{s:>40}" == "***"
    assert "%s %r" % (s, s) == "*** Secret('***')"  # noqa: UP031 -- %-formatting is the point
    assert "{}".format(s) == "***"  # noqa: UP032
    assert value not in repr([s, {"k": s}])
    with caplog.at_level(logging.INFO):
        logging.getLogger("test.env").info("token is %s / %r", s, s)
    assert value not in caplog.text
    assert "***" in caplog.text
    assert s.reveal() == value


def test_secret_cannot_be_pickled() -> None:
    s = E.Secret("pickle-me-not-123")
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(s, protocol=protocol)
    with pytest.raises(TypeError):
        pickle.dumps({"nested": [s]})


def test_secret_is_immutable_and_compares() -> None:
    s = E.Secret("abc-123-xyz", register=False)
    with pytest.raises(AttributeError):
        s._value = "other"
    assert s == E.Secret("abc-123-xyz", register=False)
    assert s != E.Secret("abc-123-xyZ", register=False)
    assert s != "abc-123-xyz"
    assert E.Secret(b"k", register=False) == E.Secret(b"k", register=False)
    assert E.Secret(5, register=False) == E.Secret(5, register=False)
    assert hash(s) == hash(E.Secret("abc-123-xyz", register=False))
    assert copy.copy(s) is s
    assert copy.deepcopy([s])[0] is s
    assert bool(E.Secret("", register=False)) is False
    assert not hasattr(s, "__dict__")


def test_secret_registers_its_value_for_redaction() -> None:
    value = "registered-by-Secret-9f8e7d"
    E.Secret(value)
    assert redact(f"oops, logged {value} in clear") == "oops, logged *** in clear"


_ALLOW_CASES = (
    (),
    ("HOME",),
    ("LC_*",),
    ("*",),
    ("",),
    ("A?C", "X[YZ]", "[!Q]*", "A\\*", "LC_*", "HOME", "a*b*", "[broken"),
)
_NAMES = (
    "",
    "HOME",
    "HOMEX",
    "home",
    "LC_ALL",
    "LC_",
    "LC",
    "LC_\n",
    "ABC",
    "AXC",
    "AC",
    "XY",
    "XZ",
    "XYZ",
    "Q1",
    "R1",
    "A\\",
    "A\\b",
    "axb",
    "ab",
    "a",
    "[broken",
    "x\ny",
)


@pytest.mark.parametrize("allow", _ALLOW_CASES)
def test_allowlist_matches_as_fnmatchcase(allow: tuple[str, ...]) -> None:
    import fnmatch  # noqa: PLC0415

    allowed = E._allow_pattern(allow)
    for name in _NAMES:
        assert allowed(name) == any(fnmatch.fnmatchcase(name, p) for p in allow), (allow, name)


def test_checked_names_are_sudos_env_check_list() -> None:
    # The names whose values must hold no "/" (the former regular expression, fullmatched).
    old = re.compile(r"COLORTERM|LANG|LANGUAGE|LC_.*|LINGUAS|TERM|TZ")
    for name in (
        *_NAMES,
        "LANG",
        "LANGUAGE",
        "LINGUAS",
        "TERM",
        "TZ",
        "COLORTERM",
        "TZX",
        "LC_X\n",
        "LANGUAGES",
        "XTERM",
    ):
        assert E._value_ok(name, "/x") == (old.fullmatch(name) is None), name


def test_secret_names_load_on_first_use_and_sanitize_needs_no_re() -> None:
    # sanitize_env (every hardenkit exec) loads neither re nor the secret-name patterns;
    # env.is_secret_name is still the redaction package's function, on first access.
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "import sys\n"
        "from hardenkit import env\n"
        "env.sanitize_env(env={'HOME': '/root', 'LC_ALL': 'C'})\n"
        "print(sorted({'re', 'hardenkit.redaction._names'} & set(sys.modules)))\n"
        "from hardenkit.env import is_secret_name\n"
        "from hardenkit.redaction._names import is_secret_name as original\n"
        "assert is_secret_name is original is env.is_secret_name\n"
        "assert 'is_secret_name' in env.__all__ and is_secret_name('DB_PASSWORD')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"
    assert E.scrub_env({"API_TOKEN": "t", "HOME": "/h"}) == {"HOME": "/h"}
    assert E.mask_env({"API_TOKEN": "t"}) == {"API_TOKEN": "***"}
