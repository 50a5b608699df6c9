"""No secret leaves through the CLI or a Profile: printed profiles, errors, reprs, pickles.

``--print-profile``, ``profile show`` and :func:`profile_to_toml` mask ``[environment]
set`` values that are secrets; a masked value read back is refused; a Profile's repr and
pickle never carry an ``env_set`` value; errors quoting an option's value are redacted.
"""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import traceback
from typing import TYPE_CHECKING

import pytest

from hardenkit.cli._common import err
from hardenkit.cli.exec import parse_fast
from hardenkit.errors import ProfileError
from hardenkit.sandbox.profile import Profile, loads_profile, profile_to_toml

if TYPE_CHECKING:
    from pathlib import Path

SECRET = "s3cr3tvalue-9f8e7d6c5b"  # noqa: S105 -- the value that must not show
DSN_PW = "hunter2-Xk9q"
DSN = f"postgres://app:{DSN_PW}@db/main"
SECRET_FILE = f"""
user = "nobody"

[environment]
set = {{ DB_PASSWORD = "{SECRET}", APP_MODE = "worker", DATABASE_URL = "{DSN}" }}
"""


def _run(*words: str) -> tuple[int, str, str]:
    """``hardenkit WORDS`` in a child: main() sets up logging for the whole process."""
    r = subprocess.run(
        [sys.executable, "-m", "hardenkit", *words],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize("command", ["exec", "run"])
def test_print_profile_masks_env_set_secrets(command: str) -> None:
    code, out, error = _run(
        command,
        "--env-set",
        f"TOKEN={SECRET}",
        "--env-set",
        "APP_MODE=worker",
        "--env-set",
        f"DATABASE_URL=postgres://app:{DSN_PW}@db/main",
        "--print-profile",
        "--",
        "/bin/true",
    )
    assert code == 0, error
    assert SECRET not in out + error
    assert DSN_PW not in out + error
    assert 'TOKEN = "***"' in out
    assert 'DATABASE_URL = "***"' in out
    assert 'APP_MODE = "worker"' in out  # not a secret: shown as given
    assert "# masked" in out
    assert "TOKEN, DATABASE_URL" in out


def test_print_profile_of_a_file_masks_and_the_mask_is_refused_on_reading(tmp_path: Path) -> None:
    f = tmp_path / "svc.toml"
    f.write_text(SECRET_FILE)
    code, out, error = _run("exec", "--profile", str(f), "--print-profile")
    assert code == 0, error
    assert SECRET not in out
    assert DSN_PW not in out
    saved = tmp_path / "printed.toml"
    saved.write_text(out)
    # Run as printed, the mask would become the password: refused, naming the key.
    code, _out2, error = _run("exec", "--profile", str(saved), "--", "/bin/true")
    assert code == 2
    assert "environment.set.DB_PASSWORD" in error
    assert "write the value in" in error
    # Filled in, it is the original profile again.
    filled = out.replace('DB_PASSWORD = "***"', f'DB_PASSWORD = "{SECRET}"').replace(
        'DATABASE_URL = "***"', f'DATABASE_URL = "postgres://app:{DSN_PW}@db/main"'
    )
    assert loads_profile(filled) == loads_profile(SECRET_FILE)


def test_profile_show_masks(tmp_path: Path) -> None:
    f = tmp_path / "svc.toml"
    f.write_text(SECRET_FILE)
    code, out, error = _run("profile", "show", str(f))
    assert code == 0, error
    assert SECRET not in out
    assert DSN_PW not in out
    assert 'DB_PASSWORD = "***"' in out


def test_profile_to_toml_masks_by_default_and_shows_on_request() -> None:
    p = loads_profile(SECRET_FILE)
    masked = profile_to_toml(p)
    assert SECRET not in masked
    assert DSN_PW not in masked
    shown = profile_to_toml(p, show_secrets=True)
    assert SECRET in shown
    assert loads_profile(shown) == p
    plain = loads_profile('[environment]\nset = { APP_MODE = "worker", EMPTY_TOKEN = "" }\n')
    assert profile_to_toml(plain) == profile_to_toml(plain, show_secrets=True)


@pytest.mark.parametrize("mask", ["***", "[REDACTED]", "********"])
def test_a_masked_value_is_refused(mask: str) -> None:
    with pytest.raises(ProfileError, match=r"svc.toml:2: environment.set.API_TOKEN: holds a mask"):
        loads_profile(f'[environment]\nset = {{ API_TOKEN = "{mask}" }}\n', source="svc.toml")
    # Empty and blank values are values, not masks.
    assert loads_profile('[environment]\nset = { X = "" }\n').env_set == (("X", ""),)


def test_profile_repr_masks_env_set_values() -> None:
    p = loads_profile(SECRET_FILE)
    text = repr(p)
    assert SECRET not in text
    assert DSN_PW not in text
    assert "worker" not in text
    assert "('DB_PASSWORD', '***')" in text
    assert "user='nobody'" in text
    assert str(p) == text


def test_traceback_locals_do_not_show_env_set_values() -> None:
    p = loads_profile(SECRET_FILE)

    def fail(profile: Profile) -> None:  # noqa: ARG001 -- a local for the traceback
        raise RuntimeError("boom")

    try:
        fail(p)
    except RuntimeError as exc:
        te = traceback.TracebackException.from_exception(exc, capture_locals=True)
        text = "".join(te.format())
    assert "profile = Profile(" in text
    assert SECRET not in text
    assert DSN_PW not in text


def test_profile_with_env_set_cannot_be_pickled_but_copies() -> None:
    p = loads_profile(SECRET_FILE)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(p, protocol=protocol)
    assert copy.copy(p) is p
    assert copy.deepcopy(p) is p
    bare = Profile(user="nobody", umask=0o077)
    assert pickle.loads(pickle.dumps(bare)) == bare  # noqa: S301 -- our own bytes


def test_env_set_errors_do_not_quote_the_value() -> None:
    for word in (SECRET, f"={SECRET}"):
        code, out, error = _run("exec", "--env-set", word, "--", "/bin/true")
        assert code == 2
        assert "--env-set takes KEY=VALUE" in error
        assert SECRET not in out + error


def test_option_errors_are_redacted() -> None:
    code, _, error = _run("exec", "--limit", f"memory=password:{SECRET}", "--", "/bin/true")
    assert code == 2
    assert "--limit memory:" in error
    assert "is not a size" in error
    assert SECRET not in error
    code, _, error = _run("run", "--umask", f"api_key={SECRET}", "--", "/bin/true")
    assert code == 2
    assert "--umask takes an octal number" in error
    assert SECRET not in error


def test_argparse_errors_are_redacted() -> None:
    words = ["run", "--max-output", f"password={SECRET}", "--", "/bin/true"]
    code, _, error = _run(*words)
    assert code == 2
    assert "argument --max-output: invalid int value: <withheld>" in error
    assert SECRET not in error
    code, _, error = _run("audit", "--no-such", f"TOKEN={SECRET}")
    assert code == 2
    assert "unrecognized arguments (2 withheld: an argument may be a value)" in error
    assert SECRET not in error


def test_err_redacts_unless_told(capsys: pytest.CaptureFixture[str]) -> None:
    err(f"bad value password={SECRET}")
    assert capsys.readouterr().err == "hardenkit: bad value password=***\n"
    err("cannot execute /bin/x: Permission denied", redacted=False)
    assert capsys.readouterr().err == "hardenkit: cannot execute /bin/x: Permission denied\n"


def test_fast_path_args_repr_masks_env_set() -> None:
    args = parse_fast(["--env-set", f"TOKEN={SECRET}", "--user", "nobody", "--", "id"])
    assert args is not None
    assert vars(args)["env_set"] == [f"TOKEN={SECRET}"]  # the value itself is kept, for the command
    text = repr(args)
    assert SECRET not in text
    assert "env_set=['TOKEN=***']" in text
    assert "user='nobody'" in text
