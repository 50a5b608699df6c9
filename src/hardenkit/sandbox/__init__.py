"""Kernel-enforced sandboxing: rlimits, no_new_privs, seccomp, Landlock, ``confine()``.

Everything here is enforced by the kernel and checked from its side afterwards. The one
correct order lives in :func:`confine`: ids and capabilities, rlimits, no_new_privs,
Landlock, seccomp last. :func:`call_sandboxed` runs a function in a confined child and
brings its result back as data. See ``docs/sandbox.md``.

Examples:
    >>> from hardenkit.sandbox import SeccompPolicy, call_sandboxed
    >>> call_sandboxed(len, "abc", seccomp=SeccompPolicy(default="allow", deny=["@mount"]))
    3
"""

from __future__ import annotations

from hardenkit import _lazy

# Not typing.TYPE_CHECKING: importing typing costs several ms, and type checkers treat any
# name TYPE_CHECKING as true.
TYPE_CHECKING = False

#: Public name -> the submodule that defines it, loaded on first use (hardenkit/_lazy.py).
_NAMES = {
    "call_sandboxed": "call",
    "Confinement": "options",
    "ConfinementPlan": "confinement",
    "confine": "confinement",
    "prepare_confinement": "confinement",
    "set_no_new_privs": "confinement",
    "FilesystemPolicy": "landlock",
    "apply_landlock": "landlock",
    "landlock_abi": "landlock",
    "ResourceLimits": "limits",
    "apply_limits": "limits",
    "NetworkPolicy": "network",
    "Profile": "profile",
    "load_profile": "profile",
    "loads_profile": "profile",
    "preset": "profile",
    "SeccompPolicy": "seccomp",
    "apply_seccomp": "seccomp",
}
__getattr__, __dir__ = _lazy.attach(
    __name__,
    _NAMES,
    (
        "call",
        "confinement",
        "docker",
        "groups",
        "landlock",
        "limits",
        "network",
        "options",
        "profile",
        "seccomp",
    ),
)

__all__ = [
    "Confinement",
    "ConfinementPlan",
    "FilesystemPolicy",
    "NetworkPolicy",
    "Profile",
    "ResourceLimits",
    "SeccompPolicy",
    "apply_landlock",
    "apply_limits",
    "apply_seccomp",
    "call_sandboxed",
    "confine",
    "landlock_abi",
    "load_profile",
    "loads_profile",
    "prepare_confinement",
    "preset",
    "set_no_new_privs",
]

if TYPE_CHECKING:  # pragma: no cover - static view of the lazy names
    from hardenkit.sandbox.call import call_sandboxed as call_sandboxed
    from hardenkit.sandbox.confinement import (
        ConfinementPlan as ConfinementPlan,
        confine as confine,
        prepare_confinement as prepare_confinement,
        set_no_new_privs as set_no_new_privs,
    )
    from hardenkit.sandbox.landlock import (
        FilesystemPolicy as FilesystemPolicy,
        apply_landlock as apply_landlock,
        landlock_abi as landlock_abi,
    )
    from hardenkit.sandbox.limits import (
        ResourceLimits as ResourceLimits,
        apply_limits as apply_limits,
    )
    from hardenkit.sandbox.network import NetworkPolicy as NetworkPolicy
    from hardenkit.sandbox.options import Confinement as Confinement
    from hardenkit.sandbox.profile import (
        Profile as Profile,
        load_profile as load_profile,
        loads_profile as loads_profile,
        preset as preset,
    )
    from hardenkit.sandbox.seccomp import (
        SeccompPolicy as SeccompPolicy,
        apply_seccomp as apply_seccomp,
    )
