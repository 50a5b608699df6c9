"""Secret hygiene of the environment module (issue 16): frames, interpolation, KeyPair, set=."""

from __future__ import annotations

import copy
import dataclasses
import logging
import pickle
import traceback
from typing import TYPE_CHECKING

import pytest

from hardenkit.cli import main
from hardenkit.env import Secret, sanitize_env, validate_env
from hardenkit.envcrypt import decrypt_env_file, generate_keypair, load_env, set_env_value
from hardenkit.errors import InvalidEnvError
from hardenkit.redaction import redact

if TYPE_CHECKING:
    from pathlib import Path

VALUE = "rule-frame-s3cr3t-9f2a"


class _Stop(BaseException):
    """A BaseException from a rule (as KeyboardInterrupt is): not caught as a failure."""


def _frame_text(exc: BaseException) -> str:
    """Every local of every frame in the traceback and its chain, as pytest -l shows them.

    The test's own frame (which holds the environment it passed) is left out.
    """
    out: list[str] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None:
            continue
        frames = list(traceback.walk_tb(err.__traceback__))
        for frame, _ in frames[1:] if err is exc else frames:
            out.extend(f"{k}={v!r}" for k, v in frame.f_locals.items())
        todo += [err.__cause__, err.__context__]
    return "\n".join(out)


def _stop(value: str) -> bool:  # noqa: ARG001 -- a rule takes the value
    raise _Stop


def _bad_bool(value: str) -> object:
    class Weird:
        def __bool__(self) -> bool:
            raise RuntimeError(value)

    return Weird()


@pytest.mark.parametrize(
    "rule", [_stop, _bad_bool, int, 42], ids=["base-exception", "bool-raises", "int", "bad-rule"]
)
def test_rule_exceptions_leave_no_value_in_any_frame(rule: object) -> None:
    env = {"API_TOKEN": VALUE, "OTHER": VALUE + "-other"}
    with pytest.raises((_Stop, InvalidEnvError, TypeError)) as info:
        validate_env({"API_TOKEN": rule}, env)  # type: ignore[dict-item]
    text = _frame_text(info.value)
    assert VALUE not in text
    assert VALUE not in "".join(traceback.format_exception(info.value))


def _callers_work() -> None:
    state = {"order": 42}  # what the caller's error tracker wants to see
    raise ValueError(state)


def test_validate_env_leaves_the_callers_exception_frames_alone() -> None:
    """The rule's exception has the caller's in-flight one as context: not ours to clear."""
    kept: dict[str, object] = {}
    try:
        _callers_work()
    except ValueError as outer:
        below = outer.__traceback__.tb_next if outer.__traceback__ else None
        with pytest.raises(_Stop) as info:
            validate_env({"API_TOKEN": _stop}, {"API_TOKEN": VALUE})
        kept = dict(below.tb_frame.f_locals) if below else {}
        chained = info.value.__context__ is outer
    assert chained
    assert kept.get("state") == {"order": 42}
    assert VALUE not in _frame_text(info.value)


def test_sanitize_env_set_applies_the_copy_checks() -> None:
    for name, value in (("TZ", "/tmp/planted/tzfile"), ("LC_ALL", "../../tmp/x"), ("TERM", "a/b")):
        assert name not in sanitize_env([name], env={name: value})  # copying drops it
        with pytest.raises(InvalidEnvError) as info:
            sanitize_env(set={name: value})
        assert info.value.names == (name,)
    assert sanitize_env(set={"TZ": "Europe/Paris", "LC_ALL": "C.UTF-8"})["TZ"] == "Europe/Paris"


def test_keypair_masks_and_refuses_pickling() -> None:
    pair = generate_keypair()
    for attempt in (
        lambda: pickle.dumps(pair),
        lambda: copy.copy(pair),
        lambda: copy.deepcopy(pair),
        lambda: dataclasses.asdict(pair),  # type: ignore[call-overload]
        pair.__getstate__,  # object's default returns the slots, private key included
        lambda: pair.__reduce_ex__(2),
    ):
        with pytest.raises(TypeError):
            attempt()
    assert pair.private_key not in repr(pair)
    assert redact(f"key is {pair.private_key}") == "key is ***"
    with pytest.raises(AttributeError):
        pair.public_key = "x"
    same = type(pair)(public_key=pair.public_key, private_key=pair.private_key)
    assert same == pair
    assert hash(same) == hash(pair)


def _encrypted(tmp_path: Path, lines: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(lines)
    # strict=False: "$" outside single quotes is read alike only when interpolating.
    set_env_value(str(path), "API_TOKEN", "tok-" + "z" * 20, strict=False)
    return path


def test_interpolation_never_reads_private_keys_nor_expands_single_quotes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _encrypted(
        tmp_path,
        "HOME_COPY=${HOME}\nLITERAL='${HOME}'\nLEAK=${DOTENV_PRIVATE_KEY}\n"
        "LEAK2=x${DOTENV_PRIVATE_KEY_PRODUCTION:-none}\n",
    )
    monkeypatch.setenv("HOME", "/home/ann")
    monkeypatch.setenv("DOTENV_PRIVATE_KEY_PRODUCTION", "ab" * 32)
    # python-dotenv's default reading expands '${HOME}' in single quotes, dotenvx does not.
    with pytest.raises(InvalidEnvError, match="LITERAL"):
        decrypt_env_file(path, interpolate=True)
    # dotenvx would expand a private key's name into the value: strict mode refuses it.
    other = tmp_path / "other"
    other.mkdir()
    leaky = _encrypted(other, "HOME_COPY=${HOME}\nLEAK=${DOTENV_PRIVATE_KEY}\n")
    with pytest.raises(InvalidEnvError, match="LEAK"):
        decrypt_env_file(leaky, interpolate=True)
    values = decrypt_env_file(path, interpolate=True, strict=False)
    assert values["HOME_COPY"] == "/home/ann"
    assert values["LITERAL"] == "${HOME}"
    assert values["LEAK"] == ""
    assert values["LEAK2"] == "xnone"
    target: dict[str, str] = {"DOTENV_PRIVATE_KEY": "cd" * 32}
    loaded = load_env(path, environ=target, interpolate=True, strict=False)
    assert "cd" * 32 not in loaded["LEAK"]


def test_env_run_refuses_path_and_file_naming_values(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    for name, value in (("PATH", "/tmp/evil:/usr/bin"), ("TZ", "/tmp/tz"), ("LC_ALL", "../x")):
        path = tmp_path / f"{name}.env"
        path.write_text(f"{name}={value}\n")
        set_env_value(str(path), "API_TOKEN", "tok-" + "y" * 20)
        assert main(["env", "run", "-f", str(path), "--", "/bin/true"]) == 1, name
        assert name in capfd.readouterr().err
        code = main(["env", "run", "-f", str(path), "--allow-dangerous", "--", "printenv", name])
        assert code == 0
        assert capfd.readouterr().out == value + "\n"


def test_strict_interpolation_accepts_only_what_every_peer_expands_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_ENV", "y")
    path = _encrypted(tmp_path, 'A="x-${FROM_ENV}"\nC=${MISSING:-dflt}\n')
    values = decrypt_env_file(path, interpolate=True)  # strict: ${NAME} forms read alike
    assert (values["A"], values["C"]) == ("x-y", "dflt")
    with pytest.raises(InvalidEnvError, match="A"):  # without interpolation they differ
        decrypt_env_file(path)
    # The file's own names: python-dotenv reads earlier lines only, dotenvx all of them
    # and prefers the environment; $NAME, $(cmd) and other ${...} forms: dotenvx only.
    for line in (
        "B=y\nD=${B}\n", "D=${B}\nB=y\n", "D=$B\n", "D=$(id)\n", 'D="${B/x/y}"\n',
        "D=${B:=z}\n",
    ):  # fmt: skip
        bad = _encrypted(tmp_path, line)
        with pytest.raises(InvalidEnvError, match="D"):
            decrypt_env_file(bad, interpolate=True)


def test_interpolation_is_self_consistent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 17: with b=c in the environment and b=d, a=${b} in the file the old code
    # returned {"b": "d", "a": "c"}: a used a b the result did not hold.
    # strict=False (python-dotenv's reading): strict mode refuses ${b} of a name the
    # file sets, which dotenvx resolves against the environment first.
    path = _encrypted(tmp_path, "b=d\na=${b}\n")
    monkeypatch.setenv("b", "c")
    with pytest.raises(InvalidEnvError, match="a"):
        decrypt_env_file(path, interpolate=True)
    values = decrypt_env_file(path, interpolate=True, strict=False)
    assert (values["b"], values["a"]) == ("d", "d")  # the file's values, as dotenv_values
    target = {"b": "c"}
    load_env(path, environ=target, interpolate=True, strict=False)  # b stays c ...
    assert (target["b"], target["a"]) == ("c", "c")  # ... and a reads the b it sees
    target = {"b": "c"}
    load_env(path, environ=target, interpolate=True, override=True, strict=False)
    assert (target["b"], target["a"]) == ("d", "d")


SHORT = "q7z"  # shorter than MIN_SECRET_LENGTH: register_secret cannot take it


def test_short_decrypted_values_are_named_in_a_warning_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Too short to be masked by value: one warning per value, naming only the variable."""
    path = str(tmp_path / ".env")
    set_env_value(path, "A_PASSWORD", SHORT)
    set_env_value(path, "B_TOKEN", "long-enough-value-77")
    for loads in (True, False):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="hardenkit"):
            _ = load_env(path, environ={}) if loads else decrypt_env_file(path)
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warned) == 1
        assert "A_PASSWORD" in warned[0]
        assert SHORT not in warned[0]
        assert "B_TOKEN" not in warned[0]


def test_a_short_secret_is_said_not_masked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hardenkit"):
        assert str(Secret(SHORT)) == "***"
        Secret("")  # nothing to mask, nothing to say
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert "not masked" in warned[0]
    assert SHORT not in warned[0]
