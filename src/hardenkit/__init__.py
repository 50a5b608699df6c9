"""hardenkit: Linux process-hardening primitives that verify their effect.

Applications import hardenkit at start-up to stop being root, shed capabilities, refuse
insecure secret files, clean and mask their environment, load encrypted secrets, run
helper commands safely and confine themselves or a child with seccomp, rlimits and
Landlock. When hardenkit says done, the kernel agrees; when it cannot, it raises.

``import hardenkit`` loads the standard library only: every public name is re-exported
lazily from the module that defines it, so psutil, cryptography, python-dotenv and libseccomp load
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

import sys

# Not typing.TYPE_CHECKING: importing typing costs several ms, and type checkers treat any
# name TYPE_CHECKING as true.
TYPE_CHECKING = False

# Public name -> defining module (relative to this package). One table, pinned by
# tests/test_public_api.py; every name here is also in __all__.
_LAZY: dict[str, str] = {
    # errors
    "CapabilityError": "errors",
    "CommandFailed": "errors",
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
    "tighten": "fileperms",
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
    "run_async": "spawn",
    "private_tmpdir": "spawn",
    "ScratchDir": "spawn",
    "ArgRules": "spawn",
    "CommandPolicy": "spawn",
    "RunResult": "spawn",
    "run": "spawn",
    # sandbox
    "Confinement": "sandbox",
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

# Sharp tools that moved to hardenkit.hazmat (CHANGELOG, 0.x): still resolved here so old
# code keeps working, but no longer in __all__ or dir().
_MOVED: dict[str, str] = {
    "ConfinementPlan": "hazmat",
    "prepare_confinement": "hazmat",
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
        "hazmat",
        "privileges",
        "redaction",
        "sandbox",
        "spawn",
    }
)

__all__ = sorted([*_LAZY, "__version__"])  # noqa: PLE0605 -- computed once, pinned by a test


def _import(name: str) -> Any:
    """``importlib.import_module(name)``; importlib itself costs ~1 ms (with warnings)."""
    __import__(name)
    return sys.modules[name]


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first access (PEP 562)."""
    if name == "__version__":
        from hardenkit._version import __version__  # noqa: PLC0415 -- lazy on purpose

        globals()[name] = __version__
        return __version__
    module_name = _LAZY.get(name) or _MOVED.get(name)
    if module_name is not None:
        value = getattr(_import(f"{__name__}.{module_name}"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return _import(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBMODULES})


if TYPE_CHECKING:  # pragma: no cover - static view of the lazy names
    from typing import Any

    from hardenkit._features import (
        Features as Features,
        features as features,
    )
    from hardenkit._version import (
        __version__ as __version__,
    )
    from hardenkit.audit import (
        AuditFinding as AuditFinding,
        AuditReport as AuditReport,
        audit_paths as audit_paths,
        audit_process as audit_process,
    )
    from hardenkit.capabilities import (
        Capability as Capability,
        CapabilitySets as CapabilitySets,
        drop_capabilities as drop_capabilities,
        file_capabilities as file_capabilities,
        get_capabilities as get_capabilities,
        has_capability as has_capability,
        require_capabilities as require_capabilities,
        setcap_command as setcap_command,
    )
    from hardenkit.env import (
        DANGEROUS_ENV as DANGEROUS_ENV,
        DEFAULT_ALLOW as DEFAULT_ALLOW,
        SAFE_PATH as SAFE_PATH,
        Secret as Secret,
        is_dangerous as is_dangerous,
        is_secret_name as is_secret_name,
        looks_secret as looks_secret,
        mask_env as mask_env,
        require_env as require_env,
        sanitize_env as sanitize_env,
        scrub_env as scrub_env,
        validate_env as validate_env,
    )
    from hardenkit.envcrypt import (
        KeyPair as KeyPair,
        decrypt_env_file as decrypt_env_file,
        decrypted_text as decrypted_text,
        encrypt_env_file as encrypt_env_file,
        generate_keypair as generate_keypair,
        load_env as load_env,
        rotate_env_file as rotate_env_file,
        seal_env_file as seal_env_file,
        set_env_value as set_env_value,
    )
    from hardenkit.errors import (
        CapabilityError as CapabilityError,
        CommandFailed as CommandFailed,
        CommandNotAllowed as CommandNotAllowed,
        CommandTimeout as CommandTimeout,
        DecryptionError as DecryptionError,
        EnvError as EnvError,
        HardenkitError as HardenkitError,
        InsecurePathError as InsecurePathError,
        InvalidEnvError as InvalidEnvError,
        MissingDependency as MissingDependency,
        MissingEnvError as MissingEnvError,
        PolicyError as PolicyError,
        PrivilegeError as PrivilegeError,
        SandboxError as SandboxError,
        UnsafeArgument as UnsafeArgument,
        UnsupportedPlatform as UnsupportedPlatform,
    )
    from hardenkit.fileperms import (
        Finding as Finding,
        PathStatus as PathStatus,
        audit_tree as audit_tree,
        check_path as check_path,
        make_private_dir as make_private_dir,
        open_secure as open_secure,
        tighten as tighten,
        write_secure as write_secure,
    )
    from hardenkit.privileges import (
        Identity as Identity,
        current_identity as current_identity,
        drop_privileges as drop_privileges,
    )
    from hardenkit.redaction import (
        RedactingFilter as RedactingFilter,
        install_redaction as install_redaction,
        redact as redact,
        register_secret as register_secret,
    )
    from hardenkit.sandbox import (
        Confinement as Confinement,
        ConfinementPlan as ConfinementPlan,
        FilesystemPolicy as FilesystemPolicy,
        ResourceLimits as ResourceLimits,
        SeccompPolicy as SeccompPolicy,
        apply_landlock as apply_landlock,
        apply_limits as apply_limits,
        apply_seccomp as apply_seccomp,
        call_sandboxed as call_sandboxed,
        confine as confine,
        landlock_abi as landlock_abi,
        prepare_confinement as prepare_confinement,
        set_no_new_privs as set_no_new_privs,
    )
    from hardenkit.spawn import (
        ArgRules as ArgRules,
        CommandPolicy as CommandPolicy,
        RunResult as RunResult,
        ScratchDir as ScratchDir,
        private_tmpdir as private_tmpdir,
        run as run,
        run_async as run_async,
    )
