"""Installing a compiled policy: one ``seccomp(2)`` call with TSYNC, then checked.

:func:`apply_seccomp` loads the program with one ``seccomp(2)`` call and TSYNC, so every
thread is covered or nothing is installed, and then checks ``/proc/self/task/*/status``
(:func:`verify_seccomp`).
"""

from __future__ import annotations

from hardenkit._linux import require_linux
from hardenkit.errors import SandboxError
from hardenkit.sandbox.seccomp.compiler import compile_policy

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit.sandbox.seccomp.policy import SeccompPolicy

__all__ = ["apply_seccomp", "verify_seccomp"]


def apply_seccomp(policy: SeccompPolicy) -> None:
    """Install ``policy`` on the calling process, every thread included (TSYNC).

    Sets no_new_privs first (as libseccomp's loader does; TSYNC carries it to every
    thread). If a thread cannot be synchronised, the kernel installs nothing and this
    raises. Afterwards every thread must show ``Seccomp: 2`` and one more filter. A
    policy from a Docker profile is decided again for the capabilities this process
    holds now (its permitted set, see :meth:`SeccompPolicy.for_capabilities`): a profile
    built by root and applied after a drop gives none of the calls Docker grants only
    with capabilities.

    Examples:
        >>> import os
        >>> from hardenkit._child import fork_call
        >>> from hardenkit.sandbox.seccomp import SeccompPolicy
        >>> def child():
        ...     apply_seccomp(SeccompPolicy(default="allow", deny=["mkdir"]))
        ...     os.mkdir("/tmp/never-created-by-doctest")
        >>> fork_call(child).exc_type
        'PermissionError'

    Raises:
        SandboxError: the filter could not be installed or verified.
    """
    require_linux("seccomp")
    from hardenkit._linux.libc import PR_SET_NO_NEW_PRIVS, prctl  # noqa: PLC0415 -- for import time: libc loads ctypes
    from hardenkit._linux.procfs import read_status  # noqa: PLC0415 -- for import time: procfs, only when a filter is applied

    try:
        status = read_status()  # the capabilities and the filters before this one
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot read this process's status: {err}") from err
    if policy._profile is not None:  # noqa: SLF001 -- decided for the process it confines
        from hardenkit.sandbox.seccomp import profiles  # noqa: PLC0415 -- loaded with the profile

        permitted = status.cap_permitted
        held = [bit for bit in range(permitted.bit_length()) if permitted >> bit & 1]
        if not profiles.decided_alike(policy, held):  # else: the same rules, compiled as is
            policy = policy.for_capabilities(held)
    compiled = compile_policy(policy)
    before = status.seccomp_filters
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError as err:
        raise SandboxError(f"prctl(PR_SET_NO_NEW_PRIVS) failed: {err.strerror}") from err
    try:
        compiled.program.load(tsync=True)
    except OSError as err:
        raise SandboxError(
            f"seccomp(SECCOMP_SET_MODE_FILTER, TSYNC) failed, nothing installed: {err.strerror}"
        ) from err
    verify_seccomp(min_filters=before + 1)


def verify_seccomp(*, min_filters: int = 1, no_new_privs: bool = True) -> None:
    """Check from procfs that every thread is in filter mode with enough filters.

    Examples:
        >>> verify_seccomp()  # the test process itself is never confined
        Traceback (most recent call last):
        ...
        hardenkit.errors.SandboxError: thread ... is not in seccomp filter mode (Seccomp: 0)
    """
    from hardenkit._linux.procfs import read_task_status, task_ids  # noqa: PLC0415 -- for import time: procfs, only when a filter is verified

    statuses = []
    try:
        for tid in task_ids():
            try:
                statuses.append(read_task_status(tid))
            except (FileNotFoundError, ProcessLookupError):  # noqa: PERF203 -- per thread
                continue  # the thread exited after the listing: nothing left to check
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot read /proc/self/task to verify seccomp: {err}") from err
    if not statuses:
        raise SandboxError("no thread of this process could be read to verify seccomp")
    seccomp_mode_filter = 2
    for st in statuses:
        if st.seccomp != seccomp_mode_filter:
            raise SandboxError(
                f"thread {st.pid} is not in seccomp filter mode (Seccomp: {st.seccomp})"
            )
        if st.seccomp_filters < min_filters:
            raise SandboxError(
                f"thread {st.pid} has {st.seccomp_filters} seccomp filter(s), "
                f"expected at least {min_filters}"
            )
        if no_new_privs and not st.no_new_privs:
            raise SandboxError(f"thread {st.pid} lacks no_new_privs after seccomp")
