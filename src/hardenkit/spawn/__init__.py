"""Safe subprocess spawning: allowlists, pinned executables, clean env, nothing left behind.

No shell, ever: ``argv`` is a sequence. Executables are resolved once against a trusted
search path and checked (root-owned, not writable by others); pinned digests are verified
through the descriptor that is then executed. The child gets a sanitized environment,
/dev/null as stdin, no inherited descriptors, a new session, and (when asked) the same
confinement as ``confine()``, applied and checked before exec (by the compiled exec
helper, else by Python between fork and exec). On timeout, cancellation or exit, every
process it started is killed. See docs/spawn.md.

Examples:
    >>> from hardenkit.spawn import CommandPolicy, run
    >>> run(["true"], policy=CommandPolicy(["true"])).returncode
    0
"""

from __future__ import annotations

from hardenkit import _lazy

# Not typing.TYPE_CHECKING: importing typing costs several ms, and type checkers treat any
# name TYPE_CHECKING as true.
TYPE_CHECKING = False

#: Public name -> the submodule that defines it, loaded on first use (hardenkit/_lazy.py).
_NAMES = {
    "run_async": "_async",
    "METACHARACTERS": "_args",
    "ArgRules": "_args",
    "CommandPolicy": "_policy",
    "trusted_binary": "_trusted",
    "MAX_OUTPUT": "_run",
    "RunResult": "_run",
    "run": "_run",
    "CommandFailed": "_run",
    "ScratchDir": "_scratch",
    "private_tmpdir": "_scratch",
}
__getattr__, __dir__ = _lazy.attach(__name__, _NAMES, ())

__all__ = [
    "MAX_OUTPUT",
    "METACHARACTERS",
    "ArgRules",
    "CommandFailed",
    "CommandPolicy",
    "RunResult",
    "ScratchDir",
    "private_tmpdir",
    "run",
    "run_async",
    "trusted_binary",
]

if TYPE_CHECKING:  # pragma: no cover - static view of the lazy names
    from hardenkit.spawn._args import METACHARACTERS as METACHARACTERS, ArgRules as ArgRules
    from hardenkit.spawn._async import run_async as run_async
    from hardenkit.spawn._policy import CommandPolicy as CommandPolicy
    from hardenkit.spawn._run import (
        MAX_OUTPUT as MAX_OUTPUT,
        CommandFailed as CommandFailed,
        RunResult as RunResult,
        run as run,
    )
    from hardenkit.spawn._scratch import ScratchDir as ScratchDir, private_tmpdir as private_tmpdir
    from hardenkit.spawn._trusted import trusted_binary as trusted_binary
