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

from hardenkit.sandbox.call import call_sandboxed
from hardenkit.sandbox.confinement import (
    ConfinementPlan,
    confine,
    prepare_confinement,
    set_no_new_privs,
)
from hardenkit.sandbox.landlock import FilesystemPolicy, apply_landlock, landlock_abi
from hardenkit.sandbox.limits import ResourceLimits, apply_limits
from hardenkit.sandbox.network import NetworkPolicy
from hardenkit.sandbox.profile import Profile, load_profile, loads_profile, preset
from hardenkit.sandbox.seccomp import SeccompPolicy, apply_seccomp

__all__ = [
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
