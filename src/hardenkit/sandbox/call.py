"""``call_sandboxed``: run a function in a confined child and bring back its result as data.

The child is forked, confined with :func:`~hardenkit.sandbox.confinement.prepare_confinement`
(prepared in the parent, entered and verified in the child), runs ``fn`` and sends the
result back as JSON: a compromised child cannot make the parent unpickle anything.

Nothing the child starts outlives the call. Where the kernel allows it (CAP_SYS_ADMIN,
no seccomp filter on the caller) the child is pid 1 of a PID namespace of its own, as
``spawn.run`` does: when it exits or is killed, the kernel kills every process in the
namespace, ``setsid()`` and double-fork escapees included. Otherwise the child leads a
session of its own and, before it is reaped (so its pid cannot be reused), its group,
session and their descendants are killed by the pid the parent forked, never one the
child reports; an escapee that leaves the session and is orphaned survives that
fallback (docs/sandbox.md).

The child inherits nothing it was not given: before it is confined it closes every
descriptor but its result channel (and stdin becomes /dev/null), so sockets, files and
devices the caller holds (the /dev/kmsg reader below included) stay out of its reach.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal

from hardenkit._child import fork_call
from hardenkit._linux import require_linux, sweep
from hardenkit._linux.sweep import check_timeout
from hardenkit._unset import UNSET
from hardenkit.errors import ConfinementFailed, HardenkitError, SandboxError
from hardenkit.sandbox.confinement import ConfinementPlan, prepare_confinement
from hardenkit.sandbox.options import Confinement, resolve

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from hardenkit._child import ChildOutcome
    from hardenkit.sandbox.landlock import FilesystemPolicy
    from hardenkit.sandbox.limits import ResourceLimits
    from hardenkit.sandbox.network import NetworkPolicy
    from hardenkit.sandbox.seccomp import SeccompPolicy

__all__ = ["DEFAULT_TIMEOUT", "ConfinementFailed", "call_sandboxed"]

#: Seconds a sandboxed call may run when ``timeout`` is not given (timeouts are always on).
DEFAULT_TIMEOUT = 30.0

_AUDIT_SECCOMP = re.compile(rb"type=1326 .*?\bpid=(\d+)\b.*?\bsig=(\d+)\b.*?\bsyscall=(\d+)")


def _enter(plan: ConfinementPlan) -> None:
    # Its own session and group (and no controlling terminal), which the parent kills by
    # the pid it forked: nothing the child reports decides what the parent kills.
    os.setsid()
    try:
        plan.enter(verify=True)
    except HardenkitError as err:
        raise ConfinementFailed(f"{type(err).__name__}: {err}") from err
    # The Landlock path descriptors: fn gets none of them either. The isolation plan is
    # shared in the parent (its close() keeps them open), so this copy closes them by number.
    for fd in _plan_fds(plan):
        with contextlib.suppress(OSError):
            os.close(fd)
    plan.close()


def _plan_fds(plan: ConfinementPlan) -> tuple[int, ...]:
    """The descriptors the child needs to enter ``plan`` (closed again right after)."""
    return () if plan.landlock is None else plan.landlock.descriptors()


class _AuditWatch:
    """Best-effort reader of the kernel's seccomp audit records in /dev/kmsg.

    Opened by the caller (root reads the kernel log) before the fork, to be positioned
    before the child can be killed, and only when a seccomp policy could kill it; the
    child closes its inherited copy before it is confined.
    """

    def __init__(self, *, wanted: bool = True) -> None:
        self.fd: int | None = None
        if not wanted:
            return
        with contextlib.suppress(OSError):
            self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            os.lseek(self.fd, 0, os.SEEK_END)

    def syscall_of(self, pid: int) -> str | None:
        if self.fd is None:
            return None
        from hardenkit._linux.seccomp_compile import syscall_name  # noqa: PLC0415 -- for import time: libseccomp (ctypes), only to name a killing syscall

        found = None
        while True:
            try:
                record = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except OSError:  # EPIPE: records were overwritten; keep reading
                continue
            if not record:
                break
            match = _AUDIT_SECCOMP.search(record)
            if match and int(match.group(1)) == pid:
                found = syscall_name(int(match.group(3))) or f"syscall {match.group(3).decode()}"
        return found

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _leave_nothing(pid: int, in_namespace: bool) -> None:
    """Kill what the exited (unreaped) child left behind, unless its namespace did."""
    if in_namespace:
        return  # the kernel killed the whole namespace before the child became reapable
    sweep.sweep(pid)


def call_sandboxed(
    fn: Callable[..., Any],
    *args: Any,
    timeout: float = DEFAULT_TIMEOUT,
    limits: ResourceLimits | None = UNSET,
    seccomp: SeccompPolicy | None = UNSET,
    user: str | int | None = UNSET,
    filesystem: FilesystemPolicy | None = UNSET,
    isolate: bool = UNSET,
    network: NetworkPolicy | None = UNSET,
    confinement: Confinement | None = None,
    **kwargs: Any,
) -> Any:
    """Run ``fn(*args, **kwargs)`` in a confined child and return its (JSON-able) result.

    The child is confined like :func:`~hardenkit.confine` (namespace creation refused),
    with ``limits``, ``seccomp``, ``filesystem`` and a drop to ``user``, or with every
    option of one :class:`~hardenkit.sandbox.options.Confinement` (``confinement=``:
    ``group``, ``groups``, ``keep``, ``no_new_privs``... too; with it no option keyword,
    even one equal to its default). Only these keywords (``timeout``, ``confinement``
    and the six options) are taken from the call and never reach ``fn``; every other
    keyword goes to ``fn``, so the options ``fn`` might
    take itself (``group=``, ``keep=``...) are reached through ``confinement=`` alone and
    are never shadowed. The result must be
    JSON data (dicts, lists, str, numbers, bools, None) and comes back as such, within
    bounds (``hardenkit._child.MAX_RESULT_BYTES`` bytes, ``MAX_RESULT_VALUES`` values,
    the interpreter's nesting limit). ``timeout`` (seconds, :data:`DEFAULT_TIMEOUT` by
    default) is always on. The child keeps no descriptor of the caller's but 0-2 (stdin
    is /dev/null). When it returns or raises, nothing the child started is still running
    (see the module notes). The child is isolated (``isolate``, see
    :func:`~hardenkit.confine`): whatever uid it runs as, it cannot ptrace, read or write
    the memory of this process or any other outside its sandbox.

    Where the kernel allows it the child is pid 1 of its own PID namespace: there
    ``os.getpid()`` returns 1 and ``os.getppid()`` 0 (``/proc`` is still the host's: read
    ``/proc/self``, never ``/proc/<os.getpid()>``), signals it sends itself without a
    handler are ignored (init semantics), and it reaps its orphaned descendants' zombies
    only if it waits for them. docs/sandbox.md has the details.

    Examples:
        >>> call_sandboxed(sum, [1, 2, 3])
        6
        >>> call_sandboxed(int, "x")
        Traceback (most recent call last):
        ...
        hardenkit.errors.SandboxError: int raised ValueError: invalid literal ...

    Raises:
        SandboxError: ``fn`` raised (``.exc_type``), the child was killed (``.signal``,
            and ``.syscall`` when a seccomp kill could be attributed), it timed out
            (killed with SIGKILL and reaped before this returns), or the confinement
            could not be entered, or its result was refused (too large, too many values,
            nested too deeply).
        PolicyError: ``timeout`` is not a positive, finite number.
    """
    require_linux("sandboxed calls")
    seconds = check_timeout(timeout)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    options = resolve(
        confinement,
        user=user,
        limits=limits,
        seccomp=seccomp,
        filesystem=filesystem,
        network=network,
        isolate=isolate,
    )
    plan = prepare_confinement(confinement=options)
    from hardenkit._linux.spawn import ParentDeath  # noqa: PLC0415 -- for import time: _linux.spawn loads libc (ctypes); after the plan, before the fork

    try:
        guard = ParentDeath()
    except BaseException:
        plan.close()
        raise

    def arm() -> None:  # in the child, after the drop (which clears the signal)
        guard.arm()
        guard.close()

    plan.after_drop = arm
    watch = _AuditWatch(wanted=options.seccomp is not None)
    try:
        try:
            outcome = fork_call(
                fn,
                args,
                kwargs,
                timeout=seconds,
                before=lambda: _enter(plan),
                pid_namespace=True,
                before_reap=_leave_nothing,
                only_fds=(*_plan_fds(plan), guard.pidfd),  # the pidfd: closed once armed
            )
        finally:
            plan.close()
            guard.close()
        return _result(name, outcome, seconds, watch, outcome.pid)
    finally:
        watch.close()


def _result(
    name: str, outcome: ChildOutcome, timeout: float | None, watch: _AuditWatch, pid: int | None
) -> Any:
    if outcome.ok:
        return outcome.value
    if outcome.timed_out:
        raise SandboxError(
            f"{name} ran past its {timeout} s timeout; the child was killed",
            signal=int(signal.SIGKILL),
        )
    if outcome.exc_type == ConfinementFailed.__name__:
        raise SandboxError(f"could not confine the child for {name}: {outcome.exc_message}")
    if outcome.exc_type is not None:
        raise SandboxError(
            f"{name} raised {outcome.exc_type}: {outcome.exc_message}", exc_type=outcome.exc_type
        )
    if outcome.signal is not None:
        try:
            signame = signal.Signals(outcome.signal).name
        except ValueError:
            signame = str(outcome.signal)
        syscall = None
        if outcome.signal == signal.SIGSYS:
            syscall = watch.syscall_of(pid) if pid is not None else None
        detail = f" (seccomp violation: {syscall})" if syscall else ""
        raise SandboxError(
            f"{name} was killed by {signame}{detail}", signal=outcome.signal, syscall=syscall
        )
    raise SandboxError(f"{name}: the child {outcome.describe()}")
