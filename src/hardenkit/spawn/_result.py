"""How a command ended: ``RunResult`` (and the cancel signal of run_async)."""

from __future__ import annotations

from hardenkit._dataclass import dataclass

__all__ = ["MAX_OUTPUT", "Cancelled", "RunResult"]

MAX_OUTPUT = 10 * 1024 * 1024


# repr=False: the class writes its own (no output, no arguments); the generated one would
# only cost import time.
@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RunResult:
    r"""How a command ended. ``stdout``/``stderr`` hold at most ``max_output`` bytes each.

    The repr shows the executable, sizes and status, never the output or the arguments
    (either may hold a secret).

    Examples:
        >>> RunResult(argv=("echo", "pw"), returncode=0, stdout=b"pw\n", stderr=b"",
        ...           truncated=False, duration=0.001)
        RunResult(argv=('echo', <1 more>), returncode=0, stdout=<3 bytes>, stderr=<0 bytes>, ...)
    """

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes
    truncated: bool
    duration: float

    def __post_init__(self) -> None:
        if not isinstance(self.stdout, bytes) or not isinstance(self.stderr, bytes):
            raise TypeError("RunResult.stdout and .stderr must be bytes")
        object.__setattr__(self, "argv", tuple(self.argv))

    def __repr__(self) -> str:
        more = f", <{len(self.argv) - 1} more>" if len(self.argv) > 1 else ","
        head = repr(self.argv[0]) if self.argv else ""
        return (
            f"RunResult(argv=({head}{more}), returncode={self.returncode}, "
            f"stdout=<{len(self.stdout)} bytes>, stderr=<{len(self.stderr)} bytes>, "
            f"truncated={self.truncated}, duration={self.duration:.3f})"
        )


class Cancelled(Exception):
    """The cancel descriptor fired (run_async was cancelled)."""
