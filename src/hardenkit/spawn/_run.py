"""run(): start one allowed command, read its output within bounds, leave nothing behind.

This module resolves the command, prepares its confinement and starts it (through the
exec helper or a Python fork); the rest is split by job: ``_result`` (RunResult),
``_childenv`` (the child's environment), ``_pump`` (the I/O pump) and ``_supervise``
(timeouts, kills, sweeps, reaping).
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import time

from hardenkit._linux.sweep import check_timeout
from hardenkit._log import get_logger
from hardenkit._unset import UNSET
from hardenkit.errors import (
    CommandFailed,
    PolicyError,
    SandboxError,
)
from hardenkit.spawn._argv import _as_argv
from hardenkit.spawn._childenv import allowed_dangerous, child_env
from hardenkit.spawn._result import MAX_OUTPUT, RunResult
from hardenkit.spawn._supervise import supervise
from hardenkit.spawn._trusted import open_pinned, trusted_binary

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from typing import Any

    from hardenkit.capabilities import CapLike
    from hardenkit.sandbox.confinement import ConfinementPlan
    from hardenkit.sandbox.landlock import FilesystemPolicy
    from hardenkit.sandbox.limits import ResourceLimits
    from hardenkit.sandbox.network import NetworkPolicy
    from hardenkit.sandbox.options import Confinement
    from hardenkit.sandbox.seccomp import SeccompPolicy
    from hardenkit.spawn._policy import CommandPolicy

__all__ = ["MAX_OUTPUT", "CommandFailed", "RunResult", "run"]

_log = get_logger("hardenkit.spawn")
_LINUX = sys.platform.startswith("linux")


def spawn_options(confinement: Confinement | None, **keywords: Any) -> Confinement | None:
    """The child's :class:`Confinement`, or None when it runs unconfined.

    An explicit ``confinement=`` always confines; keywords only when one of them asks
    for more than the defaults (``user``, ``group``, ``groups``, ``keep``, ``limits``,
    ``filesystem``, ``seccomp``, ``network``).
    """
    from hardenkit.sandbox.options import resolve  # noqa: PLC0415 -- import time: first use

    options = resolve(confinement, **keywords)
    return options if confinement is not None or options.restricts else None


def _prepare(options: Confinement) -> ConfinementPlan:
    # Everything the child will need is imported here: the child must not import.
    import hardenkit._linux.libc  # noqa: F401, PLC0415 -- for import time: ctypes, only for confined runs; loaded here so the child does not import
    from hardenkit.sandbox.confinement import prepare_confinement  # noqa: PLC0415 -- first use

    return prepare_confinement(confinement=options)


def _make_preexec(
    enter: Callable[[], object] | None,
    errfd: int,
    exe_fd: int | None,
    arm: Callable[[], None] | None = None,
    keep_fd: int | None = None,
) -> Callable[[], None]:
    """Build the code run between fork and exec: syscalls only (no locks, imports, logs).

    Every descriptor >= 3 is marked close-on-exec first, before any confinement step
    (CPython's close_fds would run after this function, inside the confinement: the
    fork path passes close_fds=False); ``keep_fd`` (a pinned script's descriptor) is
    then made inheritable again. ``arm`` (the parent-death signal) runs first when
    there is no ``enter``; otherwise ``enter`` runs it after the drop (see
    ``ConfinementPlan.after_drop``).
    """
    from hardenkit._linux import fds as _fds  # noqa: PLC0415 -- fork path only (import time)

    _fds.prepare()
    cloexec_from = _fds.cloexec_from

    def _preexec() -> None:  # pragma: no cover - runs in the forked child
        try:
            cloexec_from(3)
            if keep_fd is not None:
                os.set_inheritable(keep_fd, True)  # noqa: FBT003 -- the kernel reads the script through it
            if exe_fd is not None:
                os.set_inheritable(exe_fd, False)  # noqa: FBT003 -- closed by exec once the kernel has it
            if enter is not None:
                enter()
            elif arm is not None:
                arm()
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(errfd, f"{type(exc).__name__}: {exc}".encode(errors="replace")[:4000])
            raise

    return _preexec


@contextlib.contextmanager
def _contained() -> Iterator[bool]:
    if not _LINUX:
        yield False
        return
    from hardenkit._linux.spawn import pid_namespace_for_children  # noqa: PLC0415 -- for import time: _linux.spawn loads libc (ctypes)

    with pid_namespace_for_children() as active:
        yield active


def _spawn(
    argv: tuple[str, ...],
    executable: str,
    *,
    env: dict[str, str],
    cwd: str | os.PathLike[str] | None,
    has_input: bool,
    plan: ConfinementPlan | None,
    exe_fd: int | None,
    keep_exe_fd: bool,
    deadline: float,
) -> tuple[subprocess.Popen[bytes], bool]:
    """Start the child; return it and whether a PID namespace contains it.

    A confined child goes through the compiled exec helper when it can (vfork + exec,
    then syscalls only: see :mod:`hardenkit.spawn._helper`); otherwise, and for a pinned
    binary that must be marked close-on-exec, Python runs between fork and exec.
    """
    in_namespace = False

    def popen(
        args: list[str],
        exe: str,
        pass_fds: tuple[int, ...],
        preexec: Callable[[], None] | None,
        close_fds: bool = True,
    ) -> subprocess.Popen[bytes]:
        nonlocal in_namespace
        with _contained() as in_namespace:
            return subprocess.Popen(  # noqa: S603 -- argv is a checked sequence, never a shell
                args,
                executable=exe,
                stdin=subprocess.PIPE if has_input else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                close_fds=close_fds,
                pass_fds=pass_fds,
                start_new_session=True,
                env=env,
                cwd=cwd,
                preexec_fn=preexec,  # noqa: PLW1509 -- syscalls only; see docs/spawn.md
            )

    if plan is not None and _use_helper(plan):
        from hardenkit.spawn import _helper  # noqa: PLC0415 -- confined spawns only

        proc = _helper.spawn(
            lambda args, exe, fds: popen(args, exe, fds, None),
            argv,
            executable,
            plan=plan,
            exe_fd=exe_fd,
            keep_exe_fd=keep_exe_fd,
            deadline=deadline,
        )
        if proc is not None:
            return proc, in_namespace
    if plan is None and FORCE_PATH != "fork":
        proc = _plain_via_helper(
            lambda args, exe, fds: popen(args, exe, fds, None),
            argv,
            executable,
            exe_fd=exe_fd,
            keep_exe_fd=keep_exe_fd,
        )
        if proc is not None:
            return proc, in_namespace
    enter = None if plan is None else plan.enter_checked
    guard = _parent_death()
    if plan is not None and guard is not None:
        plan.after_drop = guard.arm
    errr, errw = os.pipe2(os.O_CLOEXEC)
    preexec = _make_preexec(
        enter,
        errw,
        exe_fd if not keep_exe_fd else None,
        None if guard is None else guard.arm,
        keep_fd=exe_fd if keep_exe_fd else None,
    )
    try:
        # close_fds=False: the preexec marked every descriptor close-on-exec before the
        # confinement; CPython's close_fds would run after it, inside the confinement.
        proc = popen(list(argv), executable, (), preexec, close_fds=False)
    except subprocess.SubprocessError as err:
        os.close(errw)
        errw = -1
        detail = _read_all(errr) or str(err)
        raise SandboxError(
            f"confining the child of {argv[0]} failed before exec: {detail}"
        ) from err
    finally:
        if errw != -1:
            os.close(errw)
        os.close(errr)
        if guard is not None:
            guard.close()
    return proc, in_namespace


def _plain_via_helper(
    popen: Callable[[list[str], str, tuple[int, ...]], subprocess.Popen[bytes]],
    argv: tuple[str, ...],
    executable: str,
    *,
    exe_fd: int | None,
    keep_exe_fd: bool,
) -> subprocess.Popen[bytes] | None:
    """Start an unconfined command through ``hardenkit-exec --pdeathsig``; None: cannot.

    The helper sets the parent-death signal and checks the parent still lives before
    it execs the command: the command dies with a killed caller. Through the helper the
    spawn stays vfork + exec (a Python ``preexec_fn`` would fork the whole interpreter,
    several times slower). None when there is no usable helper or it cannot be exec'd.
    """
    if not _LINUX:
        return None
    from hardenkit.spawn import _locate  # noqa: PLC0415 -- for import time: the exec helper protocol, only for the helper path

    helper, _why = _locate.locate()
    if helper is None:
        return None
    pidfd = os.pidfd_open(os.getpid())
    try:
        cloexec = -1 if exe_fd is None or keep_exe_fd else exe_fd
        fds = (pidfd,) if exe_fd is None else (pidfd, exe_fd)
        args = [helper, "--pdeathsig", str(os.getpid()), str(pidfd), str(cloexec), executable]
        try:
            return popen([*args, *argv], helper, fds)
        except OSError as err:
            if err.filename not in (helper, None):
                raise
            _log.info("cannot exec %s (%s): using the Python path", helper, err.strerror)
            return None
    finally:
        os.close(pidfd)


def _parent_death() -> Any:
    """The parent-death guard for a child forked by Python (None off Linux)."""
    if not _LINUX:
        return None
    from hardenkit._linux.spawn import ParentDeath  # noqa: PLC0415 -- for import time: _linux.spawn loads libc (ctypes)

    return ParentDeath()


#: Tests set this to "helper" or "fork" to pin the confinement path; None chooses.
FORCE_PATH: str | None = None


def _use_helper(plan: ConfinementPlan) -> bool:
    """Whether the compiled exec helper confines this child (logged when it cannot)."""
    if FORCE_PATH is not None:
        return FORCE_PATH == "helper"
    from hardenkit.spawn._helper import why_not  # noqa: PLC0415 -- confined spawns only

    why = why_not(plan)
    _log_path(why)
    return why is None


@functools.cache
def _log_path(why: str | None) -> None:
    """Say once per reason at INFO which confinement path confined spawns take, and why."""
    if why is None:
        _log.info("confining children with the compiled exec helper (no Python before exec)")
    else:
        _log.info("confining children in Python between fork and exec (slower path): %s", why)


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def run(
    argv: Iterable[str | bytes | os.PathLike[str]],
    *,
    policy: CommandPolicy | None = None,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: bytes | None = None,  # noqa: A002 -- the name subprocess.run uses
    max_output: int = MAX_OUTPUT,
    user: str | int | None = UNSET,
    group: str | int | None = UNSET,
    keep: Iterable[CapLike] = UNSET,
    limits: ResourceLimits | None = UNSET,
    filesystem: FilesystemPolicy | None = UNSET,
    seccomp: SeccompPolicy | None = UNSET,
    check: bool = False,
    allow_dangerous_env: Iterable[str] = (),
    isolate: bool = UNSET,
    allow_root_equivalent: bool = UNSET,
    network: NetworkPolicy | None = UNSET,
    groups: Iterable[str | int] | None = UNSET,
    no_new_privs: bool = UNSET,
    block_namespaces: bool = UNSET,
    confinement: Confinement | None = None,
) -> RunResult:
    r"""Run an allowed command without a shell and return its bounded output.

    ``argv`` is a sequence (a string is refused). The executable is resolved by
    ``policy`` (or, without one, must be an absolute path passing the trusted-binary
    checks); nothing starts if it is not allowed. The child gets ``env`` (default
    ``sanitize_env()``), stdin from /dev/null unless ``input``, no descriptor beyond
    0-2 and a new session. An explicit ``env`` with a name or value that
    :func:`hardenkit.env.is_dangerous` flags is refused, except ``TMPDIR`` and the names
    in ``allow_dangerous_env`` (loader and shell-code variables such as ``LD_PRELOAD``,
    ``SHELLOPTS`` and ``PS4`` can never be allowed); its ``PATH`` is replaced by the
    trusted one (the policy's ``search_path``, else ``SAFE_PATH``) unless
    ``allow_dangerous_env`` names ``PATH``. With ``user``/``group``/``groups``/``keep``/
    ``limits``/``filesystem``/``seccomp``/``network`` (or one
    :class:`~hardenkit.sandbox.options.Confinement` as ``confinement=``, which always
    confines; not both) it is confined before exec in
    ``confine()``'s order and checked from the kernel's side (a ``keep`` that amounts
    to root needs ``allow_root_equivalent=True``); such a child is also isolated
    (``isolate``, see :func:`hardenkit.confine`): it cannot ptrace, read or write the
    memory of processes outside its sandbox. It runs in its own PID
    namespace when we may create one (root), so when it exits or times out every
    process it started dies with it; otherwise its group, session, descendants and pipe
    holders are swept.
    ``stdout``/``stderr`` keep at most ``max_output`` bytes each.

    Examples:
        >>> from hardenkit.spawn import CommandPolicy
        >>> policy = CommandPolicy(["echo"])
        >>> run(["echo", "hello"], policy=policy).stdout
        b'hello\n'
        >>> run("echo hello", policy=policy)
        Traceback (most recent call last):
        ...
        hardenkit.errors.PolicyError: argv must be a sequence of arguments, not a string...
        >>> run(["/bin/sh", "-c", "sleep 5 & sleep 5"], timeout=0.2)
        Traceback (most recent call last):
        ...
        hardenkit.errors.CommandTimeout: /bin/sh ran past its 0.2 s timeout...
        >>> run(["/usr/bin/env"], env={"HTTPS_PROXY": "http://proxy:3128"}).returncode
        Traceback (most recent call last):
        ...
        hardenkit.errors.PolicyError: env holds HTTPS_PROXY, which hardenkit.env.is_dangerous...
        >>> run(["/usr/bin/env"], env={"HTTPS_PROXY": "http://proxy:3128"},
        ...     allow_dangerous_env={"HTTPS_PROXY"}).stdout
        b'HTTPS_PROXY=http://proxy:3128\n'

    Raises:
        PolicyError: a malformed argv (string, empty), env or timeout, or a dangerous
            variable in ``env`` that ``allow_dangerous_env`` does not name.
        CommandNotAllowed: the executable is not allowed or its pin does not match.
        UnsafeArgument: an argument failed the policy's rules (or holds a NUL byte).
        InsecurePathError: the binary fails the trusted-binary checks.
        SandboxError: confining the child failed before exec (nothing ran).
        CommandTimeout: the deadline passed; everything was killed (``.result``).
        CommandFailed: ``check=True`` and a non-zero exit.
    """
    return _run(
        argv,
        policy=policy,
        timeout=timeout,
        env=env,
        cwd=cwd,
        input=input,
        max_output=max_output,
        options=spawn_options(
            confinement,
            user=user,
            group=group,
            groups=groups,
            keep=keep,
            limits=limits,
            no_new_privs=no_new_privs,
            filesystem=filesystem,
            seccomp=seccomp,
            block_namespaces=block_namespaces,
            isolate=isolate,
            allow_root_equivalent=allow_root_equivalent,
            network=network,
        ),
        check=check,
        cancel_fd=None,
        allow_dangerous_env=allow_dangerous_env,
    )


def _run(
    argv: Iterable[str | bytes | os.PathLike[str]],
    *,
    policy: CommandPolicy | None,
    timeout: float,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
    input: bytes | None,  # noqa: A002 -- the name subprocess.run uses
    max_output: int,
    options: Confinement | None,
    check: bool,
    cancel_fd: int | None,
    allow_dangerous_env: Iterable[str] = (),
) -> RunResult:
    """Run's body; ``cancel_fd`` becoming readable kills the command (run_async)."""
    args = _as_argv(argv)
    seconds = check_timeout(timeout)
    if isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 0:
        raise PolicyError("max_output must be a non-negative int (bytes per stream)")
    if input is not None and not isinstance(input, (bytes, bytearray, memoryview)):
        raise PolicyError("input must be bytes (or None for /dev/null)")
    if policy is None:
        real = trusted_binary(args[0])
    else:
        real = policy.resolve(args[0])
        args = policy.check_arguments((policy.argv0(args[0], real), *args[1:]), real)
    environment = child_env(
        env,
        None if options is None else options.user,
        allowed_dangerous(allow_dangerous_env),
        None if policy is None else str(policy.search_path),
    )
    plan = _prepare(options) if options is not None else None
    digest = policy.pinned_digest(real) if policy is not None else None
    exe_fd, script = (None, False)
    start = time.monotonic()
    try:
        if digest is not None:
            exe_fd, script = open_pinned(real, digest)
        executable = real if exe_fd is None else f"/proc/self/fd/{exe_fd}"
        proc, in_namespace = _spawn(
            args,
            executable,
            env=environment,
            cwd=cwd,
            has_input=input is not None,
            plan=plan,
            exe_fd=exe_fd,
            keep_exe_fd=script,
            deadline=start + seconds,
        )
    finally:
        if exe_fd is not None:
            os.close(exe_fd)
        if plan is not None:
            plan.close()
    _log.debug("started %s (pid %d, pid namespace: %s)", real, proc.pid, in_namespace)
    return supervise(proc, args, start, seconds, input, max_output, in_namespace, check, cancel_fd)
