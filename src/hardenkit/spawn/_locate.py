"""Where the compiled exec helper is, and whether it may be trusted to run.

Finding the helper needs :func:`hardenkit.fileperms.check_path` (only root or we may
control the file and its directories), so it lives here, above ``fileperms``, and not
in ``hardenkit._linux.exec_helper``, which only speaks the helper's protocol.
"""

from __future__ import annotations

import functools
import os
import stat

from hardenkit._linux import exec_helper as xh
from hardenkit.errors import InsecurePathError


def _candidate() -> str:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(here, "_libexec", xh.NAME)


@functools.cache
def _checked(path: str, euid: int) -> tuple[str | None, str]:
    """``(path, "")`` when the helper may be run by ``euid``, else ``(None, why)``."""
    # Import time: fileperms loads on the first spawn, not with ``import hardenkit.spawn``.
    from hardenkit.fileperms import check_path  # noqa: PLC0415 -- for import time: fileperms loads grp, pwd

    try:
        st = os.stat(path)
    except OSError as err:
        return None, (
            f"{path}: {err.strerror} (built when the package is installed with a C compiler)"
        )
    if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o100:
        return None, f"{path} is not an executable file"
    try:
        # Like the package's own .py files: owned by root or us, writable by nobody else.
        check_path(path, max_mode=0o755, owner=euid)
    except InsecurePathError as err:
        return None, str(err)
    return path, ""


def locate() -> tuple[str | None, str]:
    """Return ``(path, "")`` of a usable helper, or ``(None, why not)``.

    Checked once per effective uid: a regular executable, owned by root or this uid,
    mode at most 0755, in directories only those control.

    Examples:
        >>> path, why = locate()
        >>> (path is None) == bool(why)
        True
    """
    if os.environ.get(xh.DISABLE_ENV) == "0":
        return None, f"{xh.DISABLE_ENV}=0"
    return _checked(_candidate(), os.geteuid())
