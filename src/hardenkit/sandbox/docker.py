"""Docker/OCI seccomp profiles (a thin re-export: the translator is ``seccomp.profiles``).

Kept so that ``hardenkit.sandbox.docker`` imports keep working; the code lives in
:mod:`hardenkit.sandbox.seccomp.profiles`, and these two functions are
:meth:`SeccompPolicy.from_docker_profile` and :meth:`SeccompPolicy.docker_default`.
"""

from __future__ import annotations

from hardenkit.sandbox.seccomp.policy import SeccompPolicy
from hardenkit.sandbox.seccomp.profiles import CAP_NAMES, bundled_default, redecide

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Mapping
    from pathlib import Path
    from typing import Any

__all__ = [
    "CAP_NAMES",
    "bundled_default",
    "default_policy",
    "policy_from_profile",
    "redecide",
]


def default_policy(*, capabilities: Iterable[str | int] | None = None) -> SeccompPolicy:
    """Return the bundled Docker default profile as a policy (cached like any profile).

    Examples:
        >>> default_policy(capabilities=()) is default_policy(capabilities=[])
        True
    """
    return SeccompPolicy.docker_default(capabilities=capabilities)


def policy_from_profile(
    profile: str | os.PathLike[str] | Path | Mapping[str, Any],
    *,
    capabilities: Iterable[str | int] | None = None,
) -> SeccompPolicy:
    """Translate a Docker/OCI profile; see :meth:`SeccompPolicy.from_docker_profile`.

    Examples:
        >>> prof = {"defaultAction": "SCMP_ACT_ERRNO",
        ...         "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
        >>> policy_from_profile(prof, capabilities=[]) is policy_from_profile(
        ...     dict(prof), capabilities=())
        True
    """
    return SeccompPolicy.from_docker_profile(profile, capabilities=capabilities)
