"""Sharp tools: the parts the safe recipes are built from. Read docs/sandbox.md first.

The top namespace (``hardenkit.confine``, ``hardenkit.run``, ``hardenkit.call_sandboxed``...)
holds recipes that apply a whole confinement in the right order and check it from the
kernel's side. The names here are the pieces those recipes use, for callers who need one
step on its own: a plan prepared now and entered later in a forked child, a seccomp rule
with argument conditions, a compiled BPF program. Like cryptography's ``hazmat``, they
are correct and tested, but they leave the order, the verification and the cleanup to
you: a plan never entered confines nothing; a BPF program loaded without no_new_privs or
before the privilege drop is the mistake the recipes exist to prevent.

Every name is also importable from the module that defines it (listed in ``_LAZY``), and
loads on first access, like the top namespace.

Examples:
    >>> from hardenkit import hazmat
    >>> rule = hazmat.SyscallRule(names=("socket",), action="allow",
    ...                           args=(hazmat.ArgCondition(index=0, op="eq", value=1),))
    >>> rule.names
    ('socket',)
    >>> from hardenkit.sandbox import SeccompPolicy
    >>> compiled = hazmat.compile_policy(SeccompPolicy(default="allow", deny=["mount"]))
    >>> compiled.program.instructions > 0
    True
"""

from __future__ import annotations

import importlib

# Not typing.TYPE_CHECKING: importing typing costs several ms, and type checkers treat any
# name TYPE_CHECKING as true.
TYPE_CHECKING = False

#: Name -> the module that defines it.
_LAZY: dict[str, str] = {
    # A confinement prepared in the parent, entered (and checked) in a child.
    "ConfinementPlan": "hardenkit.sandbox.confinement",
    "prepare_confinement": "hardenkit.sandbox.confinement",
    # Landlock: a prepared ruleset (path descriptors open) to enforce later.
    "LandlockPlan": "hardenkit.sandbox.landlock",
    # Raw rlimit pairs: set and read back without the ResourceLimits checks.
    "set_rlimits": "hardenkit.sandbox.limits",
    "verify_limits": "hardenkit.sandbox.limits",
    # seccomp: rules with argument conditions, compilation, raw BPF.
    "ArgCondition": "hardenkit.sandbox.seccomp",
    "SyscallRule": "hardenkit.sandbox.seccomp",
    "CompiledPolicy": "hardenkit.sandbox.seccomp",
    "compile_policy": "hardenkit.sandbox.seccomp",
    "verify_seccomp": "hardenkit.sandbox.seccomp",
    "BpfProgram": "hardenkit._linux.seccomp_load",
}

__all__ = sorted(_LAZY)  # noqa: PLE0605 -- computed once


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first access (PEP 562)."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)


if TYPE_CHECKING:  # pragma: no cover - static view of the lazy names
    from typing import Any

    from hardenkit._linux.seccomp_load import BpfProgram as BpfProgram
    from hardenkit.sandbox.confinement import (
        ConfinementPlan as ConfinementPlan,
        prepare_confinement as prepare_confinement,
    )
    from hardenkit.sandbox.landlock import LandlockPlan as LandlockPlan
    from hardenkit.sandbox.limits import (
        set_rlimits as set_rlimits,
        verify_limits as verify_limits,
    )
    from hardenkit.sandbox.seccomp import (
        ArgCondition as ArgCondition,
        CompiledPolicy as CompiledPolicy,
        SyscallRule as SyscallRule,
        compile_policy as compile_policy,
        verify_seccomp as verify_seccomp,
    )
