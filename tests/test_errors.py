"""The error tree: one root, builtins where they fit, fields that survive pickling."""

from __future__ import annotations

import pickle
import subprocess

import pytest

from hardenkit import errors
from hardenkit.errors import (
    CapabilityError,
    CommandFailed,
    CommandNotAllowed,
    CommandTimeout,
    ConfinementFailed,
    DecryptionError,
    EnvError,
    HardenkitError,
    InsecurePathError,
    InvalidEnvError,
    MissingDependency,
    MissingEnvError,
    PolicyError,
    PrivilegeError,
    ProfileError,
    RootEquivalentError,
    SandboxError,
    SecretTooShortError,
    UnsafeArgument,
    UnsupportedPlatform,
)

TREE: dict[type[HardenkitError], tuple[type[BaseException], ...]] = {
    PrivilegeError: (PermissionError,),
    CapabilityError: (PrivilegeError, PermissionError),
    RootEquivalentError: (PrivilegeError, PermissionError),
    InsecurePathError: (PermissionError,),
    EnvError: (),
    MissingEnvError: (EnvError, LookupError),
    InvalidEnvError: (EnvError, ValueError),
    DecryptionError: (ValueError,),
    PolicyError: (ValueError,),
    SecretTooShortError: (ValueError,),
    CommandNotAllowed: (PolicyError, ValueError),
    UnsafeArgument: (PolicyError, ValueError),
    ProfileError: (PolicyError, ValueError),
    CommandTimeout: (TimeoutError,),
    CommandFailed: (subprocess.CalledProcessError,),
    SandboxError: (RuntimeError,),
    ConfinementFailed: (SandboxError, RuntimeError),
    UnsupportedPlatform: (NotImplementedError,),
    MissingDependency: (ImportError,),
}


@pytest.mark.parametrize(("cls", "bases"), TREE.items(), ids=lambda v: getattr(v, "__name__", ""))
def test_tree(cls: type[HardenkitError], bases: tuple[type[BaseException], ...]) -> None:
    assert issubclass(cls, HardenkitError)
    for base in bases:
        assert issubclass(cls, base)


def test_every_exported_error_is_in_the_tree() -> None:
    exported = {getattr(errors, n) for n in errors.__all__} - {HardenkitError}
    assert exported == set(TREE)


SAMPLES: list[HardenkitError] = [
    CapabilityError("missing NET_ADMIN", missing=frozenset({"NET_ADMIN"})),
    RootEquivalentError("SYS_ADMIN is root", capabilities=frozenset({"SYS_ADMIN"})),
    InsecurePathError("bad", path="/x", problems=["a", "b"]),
    MissingEnvError("missing A, B", names=["A", "B"]),
    InvalidEnvError("invalid PORT", names=("PORT",)),
    DecryptionError("cannot decrypt API_KEY in .env", names=("API_KEY",), path=".env"),
    CommandNotAllowed("curl is not allowed", argv=["curl", "x"]),
    CommandTimeout("timed out after 1.0 s", timeout=1.0, result=None),
    CommandFailed("/bin/false exited with status 1", result=None),
    ConfinementFailed("SandboxError: Landlock probe failed"),
    SandboxError("killed by SIGSYS", signal=31, syscall="socket", exc_type=None),
    MissingDependency("install libseccomp2", package="libseccomp2", extra=None),
    UnsupportedPlatform("needs Linux"),
]


@pytest.mark.parametrize("err", SAMPLES, ids=lambda e: type(e).__name__)
def test_pickle_round_trip(err: HardenkitError) -> None:
    back = pickle.loads(pickle.dumps(err))  # noqa: S301 -- our own object, in-process
    assert type(back) is type(err)
    assert str(back) == str(err)
    for name in type(err)._fields:
        assert getattr(back, name) == getattr(err, name)


def test_fields_are_normalised() -> None:
    err = InsecurePathError("bad", path="/x", problems=["a", "b"])
    assert err.problems == ("a", "b")
    assert MissingEnvError("m").names == ()


def test_unknown_field_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unknown fields"):
        SandboxError("x", colour="red")


def test_message_is_str_and_repr() -> None:
    err = PolicyError("not allowed")
    assert str(err) == "not allowed"
    assert repr(err) == "PolicyError('not allowed')"
