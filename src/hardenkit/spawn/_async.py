"""run_async(): run() from asyncio, with cancellation killing every process of the command."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os

from hardenkit._unset import UNSET
from hardenkit.spawn._result import MAX_OUTPUT, Cancelled, RunResult
from hardenkit.spawn._run import _run, spawn_options

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from hardenkit.capabilities import CapLike
    from hardenkit.sandbox.landlock import FilesystemPolicy
    from hardenkit.sandbox.limits import ResourceLimits
    from hardenkit.sandbox.network import NetworkPolicy
    from hardenkit.sandbox.options import Confinement
    from hardenkit.sandbox.seccomp import SeccompPolicy
    from hardenkit.spawn._policy import CommandPolicy

__all__ = ["run_async"]


async def run_async(
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
    r"""Await :func:`run` with the same arguments and guarantees.

    The command runs through the same code as ``run`` in a worker thread (the spawn path
    is thread-safe by design). Cancelling the awaiting task kills the command and
    everything it started before CancelledError propagates.

    Examples:
        >>> import asyncio
        >>> from hardenkit.spawn import CommandPolicy
        >>> policy = CommandPolicy(["echo"])
        >>> asyncio.run(run_async(["echo", "hi"], policy=policy)).stdout
        b'hi\n'
    """
    cancel_r, cancel_w = os.pipe2(os.O_CLOEXEC)
    call = functools.partial(
        _run,
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
        cancel_fd=cancel_r,
        allow_dangerous_env=allow_dangerous_env,
    )
    future = asyncio.get_running_loop().run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        os.write(cancel_w, b"x")
        # Wait until the command and its processes are gone, then let the cancel through.
        with contextlib.suppress(Cancelled, Exception):
            await future
        raise
    finally:
        if future.done():
            os.close(cancel_r)
            os.close(cancel_w)
        else:  # pragma: no cover - only when the loop itself is torn down mid-run

            def _close(_f: object) -> None:
                os.close(cancel_r)
                os.close(cancel_w)

            future.add_done_callback(_close)
