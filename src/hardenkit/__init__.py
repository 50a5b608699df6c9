"""hardenkit: Linux process-hardening primitives that verify their effect.

Applications import hardenkit at start-up to stop being root, shed capabilities, refuse
insecure secret files, clean and mask their environment, load encrypted secrets, run
helper commands safely and confine themselves or a child with seccomp, rlimits and
Landlock. When hardenkit says done, the kernel agrees; when it cannot, it raises.

``import hardenkit`` loads the standard library only: every public name is re-exported
lazily from the module that defines it, so psutil, cryptography, pyseccomp and prctl load
on first use.

Examples:
    >>> import hardenkit
    >>> hardenkit.sanitize_env is hardenkit.env.sanitize_env
    True
    >>> issubclass(hardenkit.PolicyError, ValueError)
    True
    >>> "drop_privileges" in hardenkit.__all__
    True
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

logging.getLogger("hardenkit").addHandler(logging.NullHandler())

# Public name -> defining module (relative to this package). One table, pinned by
# tests/test_public_api.py; every name here is also in __all__.
_LAZY: dict[str, str] = {
    # errors
    "CapabilityError": "errors",
    "CommandNotAllowed": "errors",
    "CommandTimeout": "errors",
    "DecryptionError": "errors",
    "EnvError": "errors",
    "HardenkitError": "errors",
    "InsecurePathError": "errors",
    "InvalidEnvError": "errors",
    "MissingDependency": "errors",
    "MissingEnvError": "errors",
    "PolicyError": "errors",
    "PrivilegeError": "errors",
    "SandboxError": "errors",
    "UnsafeArgument": "errors",
    "UnsupportedPlatform": "errors",
    # features
    "Features": "_features",
    "features": "_features",
    # privileges
    "Identity": "privileges",
    "current_identity": "privileges",
    "drop_privileges": "privileges",
    # capabilities
    "Capability": "capabilities",
    "CapabilitySets": "capabilities",
    "drop_capabilities": "capabilities",
    "file_capabilities": "capabilities",
    "get_capabilities": "capabilities",
    "has_capability": "capabilities",
    "require_capabilities": "capabilities",
    "setcap_command": "capabilities",
    # fileperms
    "Finding": "fileperms",
    "PathStatus": "fileperms",
    "audit_tree": "fileperms",
    "check_path": "fileperms",
    "make_private_dir": "fileperms",
    "open_secure": "fileperms",
    "write_secure": "fileperms",
    # env
    "DANGEROUS_ENV": "env",
    "DEFAULT_ALLOW": "env",
    "SAFE_PATH": "env",
    "Secret": "env",
    "is_dangerous": "env",
    "is_secret_name": "env",
    "looks_secret": "env",
    "mask_env": "env",
    "require_env": "env",
    "sanitize_env": "env",
    "scrub_env": "env",
    "validate_env": "env",
    # redaction
    "RedactingFilter": "redaction",
    "install_redaction": "redaction",
    "redact": "redaction",
    "register_secret": "redaction",
    # envcrypt
    "KeyPair": "envcrypt",
    "decrypt_env_file": "envcrypt",
    "decrypted_text": "envcrypt",
    "encrypt_env_file": "envcrypt",
    "generate_keypair": "envcrypt",
    "load_env": "envcrypt",
    "rotate_env_file": "envcrypt",
    "seal_env_file": "envcrypt",
    "set_env_value": "envcrypt",
    # spawn
    "CommandPolicy": "spawn",
    "RunResult": "spawn",
    "run": "spawn",
    # sandbox
    "FilesystemPolicy": "sandbox",
    "ResourceLimits": "sandbox",
    "SeccompPolicy": "sandbox",
    "apply_landlock": "sandbox",
    "apply_limits": "sandbox",
    "apply_seccomp": "sandbox",
    "call_sandboxed": "sandbox",
    "confine": "sandbox",
    "landlock_abi": "sandbox",
    "set_no_new_privs": "sandbox",
    # audit
    "AuditFinding": "audit",
    "AuditReport": "audit",
    "audit_paths": "audit",
    "audit_process": "audit",
}

_SUBMODULES = frozenset(
    {
        "audit",
        "capabilities",
        "cli",
        "env",
        "envcrypt",
        "errors",
        "fileperms",
        "privileges",
        "redaction",
        "sandbox",
        "spawn",
    }
)

__all__ = sorted([*_LAZY, "__version__"])  # noqa: PLE0605 -- computed once, pinned by a test


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first access (PEP 562)."""
    if name == "__version__":
        from hardenkit._version import __version__  # noqa: PLC0415 -- lazy on purpose

        globals()[name] = __version__
        return __version__
    module_name = _LAZY.get(name)
    if module_name is not None:
        value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBMODULES})


if TYPE_CHECKING:  # pragma: no cover - static view of the lazy names
    from hardenkit._features import Features as Features
    from hardenkit._features import features as features
    from hardenkit._version import __version__ as __version__
    from hardenkit.audit import (
        AuditFinding as AuditFinding,
    )
    from hardenkit.audit import (
        AuditReport as AuditReport,
    )
    from hardenkit.audit import (
        audit_paths as audit_paths,
    )
    from hardenkit.audit import (
        audit_process as audit_process,
    )
    from hardenkit.capabilities import (
        Capability as Capability,
    )
    from hardenkit.capabilities import (
        CapabilitySets as CapabilitySets,
    )
    from hardenkit.capabilities import (
        drop_capabilities as drop_capabilities,
    )
    from hardenkit.capabilities import (
        file_capabilities as file_capabilities,
    )
    from hardenkit.capabilities import (
        get_capabilities as get_capabilities,
    )
    from hardenkit.capabilities import (
        has_capability as has_capability,
    )
    from hardenkit.capabilities import (
        require_capabilities as require_capabilities,
    )
    from hardenkit.capabilities import (
        setcap_command as setcap_command,
    )
    from hardenkit.env import (
        DANGEROUS_ENV as DANGEROUS_ENV,
    )
    from hardenkit.env import (
        DEFAULT_ALLOW as DEFAULT_ALLOW,
    )
    from hardenkit.env import (
        SAFE_PATH as SAFE_PATH,
    )
    from hardenkit.env import (
        Secret as Secret,
    )
    from hardenkit.env import (
        is_dangerous as is_dangerous,
    )
    from hardenkit.env import (
        is_secret_name as is_secret_name,
        looks_secret as looks_secret,
    )
    from hardenkit.env import (
        mask_env as mask_env,
    )
    from hardenkit.env import (
        require_env as require_env,
    )
    from hardenkit.env import (
        sanitize_env as sanitize_env,
    )
    from hardenkit.env import (
        scrub_env as scrub_env,
    )
    from hardenkit.env import (
        validate_env as validate_env,
    )
    from hardenkit.envcrypt import (
        KeyPair as KeyPair,
    )
    from hardenkit.envcrypt import (
        decrypt_env_file as decrypt_env_file,
        decrypted_text as decrypted_text,
    )
    from hardenkit.envcrypt import (
        encrypt_env_file as encrypt_env_file,
    )
    from hardenkit.envcrypt import (
        generate_keypair as generate_keypair,
    )
    from hardenkit.envcrypt import (
        load_env as load_env,
        rotate_env_file as rotate_env_file,
        seal_env_file as seal_env_file,
    )
    from hardenkit.envcrypt import (
        set_env_value as set_env_value,
    )
    from hardenkit.errors import (
        CapabilityError as CapabilityError,
    )
    from hardenkit.errors import (
        CommandNotAllowed as CommandNotAllowed,
    )
    from hardenkit.errors import (
        CommandTimeout as CommandTimeout,
    )
    from hardenkit.errors import (
        DecryptionError as DecryptionError,
    )
    from hardenkit.errors import (
        EnvError as EnvError,
    )
    from hardenkit.errors import (
        HardenkitError as HardenkitError,
    )
    from hardenkit.errors import (
        InsecurePathError as InsecurePathError,
    )
    from hardenkit.errors import (
        InvalidEnvError as InvalidEnvError,
    )
    from hardenkit.errors import (
        MissingDependency as MissingDependency,
    )
    from hardenkit.errors import (
        MissingEnvError as MissingEnvError,
    )
    from hardenkit.errors import (
        PolicyError as PolicyError,
    )
    from hardenkit.errors import (
        PrivilegeError as PrivilegeError,
    )
    from hardenkit.errors import (
        SandboxError as SandboxError,
    )
    from hardenkit.errors import (
        UnsafeArgument as UnsafeArgument,
    )
    from hardenkit.errors import (
        UnsupportedPlatform as UnsupportedPlatform,
    )
    from hardenkit.fileperms import (
        Finding as Finding,
    )
    from hardenkit.fileperms import (
        PathStatus as PathStatus,
    )
    from hardenkit.fileperms import (
        audit_tree as audit_tree,
    )
    from hardenkit.fileperms import (
        check_path as check_path,
    )
    from hardenkit.fileperms import (
        make_private_dir as make_private_dir,
    )
    from hardenkit.fileperms import (
        open_secure as open_secure,
    )
    from hardenkit.fileperms import (
        write_secure as write_secure,
    )
    from hardenkit.privileges import (
        Identity as Identity,
    )
    from hardenkit.privileges import (
        current_identity as current_identity,
    )
    from hardenkit.privileges import (
        drop_privileges as drop_privileges,
    )
    from hardenkit.redaction import (
        RedactingFilter as RedactingFilter,
    )
    from hardenkit.redaction import (
        install_redaction as install_redaction,
    )
    from hardenkit.redaction import (
        redact as redact,
    )
    from hardenkit.redaction import (
        register_secret as register_secret,
    )
    from hardenkit.sandbox import (
        FilesystemPolicy as FilesystemPolicy,
    )
    from hardenkit.sandbox import (
        ResourceLimits as ResourceLimits,
    )
    from hardenkit.sandbox import (
        SeccompPolicy as SeccompPolicy,
    )
    from hardenkit.sandbox import (
        apply_landlock as apply_landlock,
    )
    from hardenkit.sandbox import (
        apply_limits as apply_limits,
    )
    from hardenkit.sandbox import (
        apply_seccomp as apply_seccomp,
    )
    from hardenkit.sandbox import (
        call_sandboxed as call_sandboxed,
    )
    from hardenkit.sandbox import (
        confine as confine,
    )
    from hardenkit.sandbox import (
        landlock_abi as landlock_abi,
    )
    from hardenkit.sandbox import (
        set_no_new_privs as set_no_new_privs,
    )
    from hardenkit.spawn import CommandPolicy as CommandPolicy
    from hardenkit.spawn import RunResult as RunResult
    from hardenkit.spawn import run as run
