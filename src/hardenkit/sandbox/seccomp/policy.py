""":class:`SeccompPolicy`: what a process may call, as one frozen value.

The policy only describes; :mod:`.resolve` turns it into per-syscall actions,
:mod:`.compiler` into BPF, :mod:`.profiles` reads Docker/OCI profiles into it and
:mod:`.apply` installs it. Those modules never import this one at run time (they take a
policy as an argument), so the package has no import cycle.
"""

from __future__ import annotations

import errno as errno_mod
import os

from hardenkit._dataclass import dataclass, field, replace
from hardenkit.errors import PolicyError
from hardenkit.sandbox.seccomp.compiler import compile_policy
from hardenkit.sandbox.seccomp.groups import check as check_groups
from hardenkit.sandbox.seccomp.resolve import resolve_policy
from hardenkit.sandbox.seccomp.rules import DEFAULTS, MAX_ERRNO, SyscallRule, names_of

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path
    from typing import Any

__all__ = ["SeccompPolicy"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccompPolicy:
    """What the process may call: a default action, lists and rules.

    ``default`` is ``"kill"`` (the whole process, SIGSYS), ``"errno"`` (fail with
    ``errno``), ``"log"`` or ``"allow"``. ``allow`` and ``deny`` take syscall names and
    systemd group names (``@system-service``, ``@network-io``...); ``deny`` fails the call
    with ``errno`` and wins over ``allow``. ``rules`` add argument conditions; ``arches``
    adds ``SCMP_ARCH_*`` ABIs beyond the native one (without them, other ABIs are killed).
    ``block_namespaces`` (on by default: an unprivileged user namespace hands back a full
    capability set) refuses ``setns`` and ``unshare``/``clone`` with any ``CLONE_NEW*`` flag;
    turn it off only for a process that must build namespaces. ``io_uring_*`` calls are
    allowed only when named explicitly, never through a ``@group`` nor, in a policy that
    restricts anything, through an ``allow``/``log`` default: io_uring performs operations
    (``IORING_OP_SOCKET``, ``OPENAT``...) that the filter never sees. Conditions on an
    argument the kernel reads as 32-bit (or 16-bit) compare those bits only. Names the
    local libseccomp does not know are skipped and listed in :attr:`skipped`, never dropped
    silently.

    Examples:
        >>> p = SeccompPolicy(default="errno", allow=["@system-service"], deny=["socket"])
        >>> p.default, p.errno
        ('errno', 1)
        >>> "mseal" in p.skipped  # newer than libseccomp 2.5.4 on this machine
        True
        >>> SeccompPolicy(default="deny")
        Traceback (most recent call last):
        ...
        hardenkit.errors.PolicyError: default must be one of ('kill', ...), not 'deny'
    """

    default: str = "kill"
    # Any sequence is accepted; the stored value is always a tuple.
    allow: Sequence[str] = ()
    deny: Sequence[str] = ()
    errno: int = errno_mod.EPERM
    rules: Sequence[SyscallRule] = ()
    arches: Sequence[str] = ()
    block_namespaces: bool = True
    #: Set by :meth:`from_docker_profile`: the profile, to decide its capability
    #: conditions again against the capabilities a confined process will hold.
    _profile: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.default not in DEFAULTS:
            raise PolicyError(f"default must be one of {DEFAULTS}, not {self.default!r}")
        if not isinstance(self.errno, int) or not 1 <= self.errno <= MAX_ERRNO:
            raise PolicyError(f"errno {self.errno!r} is outside 1..{MAX_ERRNO}")
        object.__setattr__(self, "allow", names_of(self.allow, "SeccompPolicy.allow"))
        object.__setattr__(self, "deny", names_of(self.deny, "SeccompPolicy.deny"))
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "arches", tuple(self.arches))
        for rule in self.rules:
            if not isinstance(rule, SyscallRule):
                raise PolicyError("SeccompPolicy.rules holds SyscallRule values")
            check_groups(rule.names)
        check_groups(self.allow)  # unknown @groups fail here, at construction
        check_groups(self.deny)

    @property
    def skipped(self) -> tuple[str, ...]:
        """Syscall names in this policy that the local libseccomp does not know (sorted)."""
        return resolve_policy(self).skipped

    def to_bpf(self) -> bytes:
        """Return the compiled classic BPF program (cached per policy).

        The bytes are what bubblewrap's ``--seccomp FD`` and ``seccomp(2)`` take.

        Examples:
            >>> prog = SeccompPolicy(default="allow", deny=["mount"]).to_bpf()
            >>> len(prog) % 8
            0
        """
        return compile_policy(self).bpf

    def export_bpf(self, fd: int) -> None:
        """Write :meth:`to_bpf` to a file descriptor (e.g. a pipe for ``bwrap --seccomp``).

        Examples:
            >>> r, w = os.pipe()
            >>> SeccompPolicy(default="allow").export_bpf(w); os.close(w)
            >>> len(os.read(r, 65536)) > 0; os.close(r)
            True
        """
        view = memoryview(self.to_bpf())
        while view:
            view = view[os.write(fd, view) :]

    def with_namespace_block(self) -> SeccompPolicy:
        """Return this policy with namespace creation refused.

        Examples:
            >>> SeccompPolicy(default="allow").with_namespace_block().block_namespaces
            True
        """
        if self.block_namespaces:
            return self
        return replace(self, block_namespaces=True)

    def for_capabilities(self, capabilities: Iterable[str | int]) -> SeccompPolicy:
        """Return this policy as it holds for a process with ``capabilities``.

        A policy from a Docker profile decides the profile's ``includes``/``excludes``
        ``caps`` again, against ``capabilities`` (and, when the profile was loaded with
        explicit ``capabilities=``, against only those of them also in this set): what
        Docker decides against the container's capabilities, hardenkit decides against
        the confined process's. ``confine()``, ``run()`` and ``call_sandboxed()`` call it
        with the capabilities the process holds after the privilege drop. Any other
        policy is returned unchanged.

        Examples:
            >>> p = SeccompPolicy.docker_default(capabilities=["SYS_PTRACE"])
            >>> any("kcmp" in r.names for r in p.rules)
            True
            >>> any("kcmp" in r.names for r in p.for_capabilities([]).rules)
            False
        """
        if self._profile is None:
            return self
        from hardenkit.sandbox.seccomp import profiles  # noqa: PLC0415 -- import time

        return profiles.redecide(self, capabilities)

    @classmethod
    def from_docker_profile(
        cls,
        profile: str | os.PathLike[str] | Path | Mapping[str, Any],
        *,
        capabilities: Iterable[str | int] | None = None,
    ) -> SeccompPolicy:
        """Build a policy from a Docker/OCI seccomp profile (a path or a parsed dict).

        Docker's semantics: ``defaultAction``/``defaultErrnoRet``, the native entry of
        ``archMap``, ``includes``/``excludes`` by ``caps``, ``arches`` and ``minKernel``,
        per-rule ``errnoRet``, and argument conditions (several conditions on one argument
        become separate rules, as runc does). ``caps`` are decided against
        ``capabilities`` (default: this process's bounding set, read now); ``confine()``,
        ``run()`` and ``call_sandboxed()`` decide them again against the capabilities the
        confined process holds after its privilege drop (see :meth:`for_capabilities`).
        The same content with the same capabilities returns the same cached policy
        object, so its compiled program is reused too.

        Stricter than Docker, on purpose (docs/security-model.md lists it): namespace
        creation stays refused (``block_namespaces``), argument conditions compare only
        the bits the kernel reads (Docker's ``socket`` rules pass ``0xffffffff00000026``,
        AF_ALG with high bits set; here they do not), io_uring is refused unless the
        profile names it, and capability conditions follow the confined process.

        Examples:
            >>> p = SeccompPolicy.docker_default(capabilities=())
            >>> p.default, p.errno, len(p.skipped) > 0
            ('errno', 1, True)
        """
        # Lazy for import time: hashlib, json and copy serve profiles only.
        from hardenkit.sandbox.seccomp import profiles  # noqa: PLC0415 -- for import time: the Docker translator, only for Docker profiles

        return profiles.translate(profile, cls, capabilities=capabilities)

    @classmethod
    def docker_default(cls, *, capabilities: Iterable[str | int] | None = None) -> SeccompPolicy:
        """Return Docker's default profile (the bundled copy, moby/profiles) as a policy.

        Examples:
            >>> SeccompPolicy.docker_default(capabilities=()).default
            'errno'
        """
        from hardenkit.sandbox.seccomp import profiles  # noqa: PLC0415 -- import time

        return profiles.translate_bundled(cls, capabilities=capabilities)
