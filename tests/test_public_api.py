"""The public surface of API.md: every name resolves, lazily, and the list is pinned."""

from __future__ import annotations

import importlib

import pytest

import hardenkit
from hardenkit import hazmat
from hardenkit.sandbox import confinement

EXPECTED = sorted(
    [
        "ArgRules",
        "AuditFinding",
        "AuditReport",
        "Capability",
        "CapabilityError",
        "CapabilitySets",
        "CommandFailed",
        "CommandNotAllowed",
        "CommandPolicy",
        "CommandTimeout",
        "Confinement",
        "DANGEROUS_ENV",
        "DEFAULT_ALLOW",
        "DecryptionError",
        "EnvError",
        "Features",
        "FilesystemPolicy",
        "Finding",
        "HardenkitError",
        "Identity",
        "InsecurePathError",
        "InvalidEnvError",
        "KeyPair",
        "MissingDependency",
        "MissingEnvError",
        "PathStatus",
        "PolicyError",
        "PrivilegeError",
        "RedactingFilter",
        "ResourceLimits",
        "RunResult",
        "SAFE_PATH",
        "SandboxError",
        "ScratchDir",
        "SeccompPolicy",
        "Secret",
        "UnsafeArgument",
        "UnsupportedPlatform",
        "__version__",
        "apply_landlock",
        "apply_limits",
        "apply_seccomp",
        "audit_paths",
        "audit_process",
        "audit_tree",
        "call_sandboxed",
        "check_path",
        "confine",
        "current_identity",
        "decrypt_env_file",
        "decrypted_text",
        "drop_capabilities",
        "drop_privileges",
        "encrypt_env_file",
        "features",
        "file_capabilities",
        "generate_keypair",
        "get_capabilities",
        "has_capability",
        "install_redaction",
        "is_dangerous",
        "is_secret_name",
        "landlock_abi",
        "load_env",
        "looks_secret",
        "make_private_dir",
        "mask_env",
        "open_secure",
        "private_tmpdir",
        "redact",
        "register_secret",
        "require_capabilities",
        "require_env",
        "rotate_env_file",
        "run",
        "run_async",
        "sanitize_env",
        "scrub_env",
        "seal_env_file",
        "set_env_value",
        "set_no_new_privs",
        "setcap_command",
        "tighten",
        "validate_env",
        "write_secure",
    ]
)


def test_all_is_pinned_and_sorted() -> None:
    assert hardenkit.__all__ == EXPECTED


@pytest.mark.parametrize("name", [n for n in EXPECTED if n != "__version__"])
def test_name_resolves_to_its_module(name: str) -> None:
    value = getattr(hardenkit, name)
    module = importlib.import_module(f"hardenkit.{hardenkit._LAZY[name]}")
    assert getattr(module, name) is value
    if not name.startswith("_") and hardenkit._LAZY[name] != "_features":
        assert name in module.__all__


def test_version() -> None:
    assert hardenkit.__version__.startswith("0.")


def test_unknown_name() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hardenkit.nope  # noqa: B018


def test_redact_is_the_function_not_a_module() -> None:
    assert callable(hardenkit.redact)
    assert hardenkit.redaction.redact is hardenkit.redact


@pytest.mark.parametrize("name", ["ConfinementPlan", "prepare_confinement"])
def test_sharp_tools_moved_to_hazmat_still_resolve(name: str) -> None:
    assert name not in hardenkit.__all__
    assert name not in dir(hardenkit)
    assert getattr(hardenkit, name) is getattr(hazmat, name) is getattr(confinement, name)


def test_hazmat_names_resolve_to_their_modules() -> None:
    assert hazmat.__all__ == sorted(hazmat._LAZY)
    for name, module_name in hazmat._LAZY.items():
        assert getattr(hazmat, name) is getattr(importlib.import_module(module_name), name)
