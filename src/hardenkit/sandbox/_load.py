"""Loading what a confinement needs, in the parent, before any step: or a clear error.

Split from :mod:`hardenkit.sandbox._prepare` so that every part of the preparation (and
:mod:`hardenkit.sandbox.confinement`) loads through the one function.
"""

from __future__ import annotations

import sys

from hardenkit._lazy import import_module
from hardenkit.errors import HardenkitError, SandboxError

__all__ = ["load_for_confinement"]


def load_for_confinement(*modules: str) -> None:
    """Import what a confinement's options need, in the parent, before any step runs.

    Every parent-side lazy load of a confinement goes through here. A process confined
    earlier (a Landlock domain whose read list leaves out hardenkit's install directory,
    or a dropped user that cannot read it) can no longer load modules it has not loaded
    yet: that is a SandboxError naming the module and the likely cause, raised before
    anything changes, not a raw ImportError after some steps are in force.

    Examples:
        >>> load_for_confinement("hardenkit.sandbox.limits")
        >>> load_for_confinement("hardenkit.sandbox.no_such_module")
        Traceback (most recent call last):
        ...
        hardenkit.errors.SandboxError: cannot load hardenkit.sandbox.no_such_module, ...
    """
    for module in modules:
        if module in sys.modules:
            continue
        try:
            import_module(module)
        except HardenkitError:
            raise  # MissingDependency: its message names what to install
        except (ImportError, OSError) as err:
            raise _load_error(module, err) from err


def _load_error(module: str, err: BaseException) -> SandboxError:
    return SandboxError(
        f"cannot load {module}, which this confinement needs "
        f"({type(err).__name__}: {err}): this process can probably no longer read "
        "hardenkit's files (a Landlock domain from an earlier confine() whose read "
        "list leaves out hardenkit's install directory, or a dropped user that "
        "cannot read it). Nothing was changed; allow reading that directory in the "
        "earlier policy, or import what the later confinement needs before it"
    )
