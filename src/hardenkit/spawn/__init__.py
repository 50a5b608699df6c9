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

from hardenkit.spawn._async import run_async
from hardenkit.spawn._policy import METACHARACTERS, ArgRules, CommandPolicy, trusted_binary
from hardenkit.spawn._run import MAX_OUTPUT, CommandFailed, RunResult, run
from hardenkit.spawn._scratch import ScratchDir, private_tmpdir

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
