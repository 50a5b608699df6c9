"""The rules themselves: what makes a parent directory or a checked file unsafe.

Kept apart from the walking code so that each rule reads in one place and is tested alone.
"""

from __future__ import annotations

import stat

from hardenkit.errors import InsecurePathError
from hardenkit.fileperms._acl import describe_grants
from hardenkit.fileperms._model import describe_uid, excess_bits

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import NoReturn

    from hardenkit.fileperms._acl import AclEntry

__all__ = ["dir_problems", "fail", "leaf_problems", "writable_by"]


def _quote(path: str) -> str:
    """``shlex.quote``, imported here: only a problem's advice quotes (for import time)."""
    import shlex  # noqa: PLC0415 -- for import time

    return shlex.quote(path)


def writable_by(mode: int) -> str | None:
    """Say who besides the owner may write (``group``, ``others``, ``group and others``).

    Examples:
        >>> writable_by(0o777), writable_by(0o775), writable_by(0o755)
        ('group and others', 'group', None)
    """
    who = [name for bit, name in ((0o020, "group"), (0o002, "others")) if mode & bit]
    return " and ".join(who) or None


def dir_problems(
    path: str, st: os.stat_result, *, owner: int, acl: tuple[AclEntry, ...] | None
) -> list[str]:
    """Apply the StrictModes rule to one ancestor directory.

    The directory must be owned by root or ``owner`` and must not be writable by group or
    others, unless its sticky bit is set (like /tmp): in a sticky directory only the
    directory's owner (checked above: root or ``owner``), the entry's owner (checked on the
    next component) and root can rename or remove an entry, so ours cannot be swapped.

    Examples:
        >>> import os
        >>> st = os.stat_result((0o40777, 0, 0, 2, 0, 0, 0, 0, 0, 0))
        >>> dir_problems("/srv", st, owner=0, acl=None)
        ['parent directory /srv is writable by group and others (mode 0777) without the sticky bit: chmod go-w /srv']
        >>> sticky = os.stat_result((0o41777, 0, 0, 2, 0, 0, 0, 0, 0, 0))
        >>> dir_problems("/tmp", sticky, owner=1000, acl=None)
        []
    """  # noqa: E501 -- a doctest output line cannot be wrapped
    problems = []
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid not in (0, owner):
        problems.append(
            f"parent directory {path} is owned by {describe_uid(st.st_uid)}, not by "
            f"{'root' if owner == 0 else 'root or ' + describe_uid(owner)}: its owner can "
            "replace anything inside it"
        )
    sticky = bool(mode & stat.S_ISVTX)
    who = writable_by(mode)
    if who and not sticky:
        problems.append(
            f"parent directory {path} is writable by {who} (mode {mode:04o}) without the "
            f"sticky bit: chmod go-w {_quote(path)}"
        )
    if acl and not sticky:
        grants = describe_grants(acl, perms=0o2)
        if grants:
            problems.append(
                f"parent directory {path} has a POSIX ACL letting {', '.join(grants)} write "
                f"to it: setfacl -b {_quote(path)}"
            )
    return problems


def leaf_problems(
    path: str,
    st: os.stat_result,
    *,
    max_mode: int,
    owner: int,
    acl: tuple[AclEntry, ...] | None,
) -> tuple[list[str], list[str]]:
    """Check the path itself: mode bits inside ``max_mode``, owner, ACL; (problems, notices).

    Examples:
        >>> import os
        >>> st = os.stat_result((0o100644, 0, 0, 1, 0, 0, 0, 0, 0, 0))
        >>> leaf_problems("/k", st, max_mode=0o600, owner=0, acl=None)[0]
        ['/k is mode 0644, at most 0600 allowed (bits 0044 are outside it): chmod 0600 /k or pass max_mode=']
    """  # noqa: E501 -- a doctest output line cannot be wrapped
    problems: list[str] = []
    notices: list[str] = []
    mode = stat.S_IMODE(st.st_mode)
    extra = excess_bits(mode, max_mode)
    if extra:
        problems.append(
            f"{path} is mode {mode:04o}, at most {max_mode:04o} allowed (bits {extra:04o} are "
            f"outside it): {_mode_advice(path, st.st_mode, max_mode)}"
        )
    if st.st_uid not in (0, owner):
        expected = "root" if owner == 0 else f"{describe_uid(owner)} or root"
        problems.append(
            f"{path} is owned by {describe_uid(st.st_uid)}, expected {expected}: "
            "chown it or pass owner="
        )
    if acl:
        grants = describe_grants(acl)
        if grants:
            problems.append(
                f"{path} has a POSIX ACL granting {', '.join(grants)} (the group bits show "
                f"only the ACL mask): remove it with setfacl -b {_quote(path)}"
            )
        else:
            notices.append(f"{path} has a POSIX ACL whose named entries are all masked out")
    return problems, notices


def _mode_advice(path: str, st_mode: int, max_mode: int) -> str:
    """What to do about a mode outside ``max_mode``: right for files and for directories.

    Examples:
        >>> _mode_advice("/k", 0o100644, 0o600)
        'chmod 0600 /k or pass max_mode='
        >>> _mode_advice("/srv/app", 0o040755, 0o600)
        'chmod 0700 /srv/app and pass max_mode=0700 (a directory needs x to be entered)'
        >>> _mode_advice("/tmp", 0o041777, 0o600)[:55]
        'a shared sticky directory (world-writable, like /tmp): '
    """
    mode = stat.S_IMODE(st_mode)
    quoted = _quote(path)
    if not stat.S_ISDIR(st_mode):
        return f"chmod {mode & max_mode:04o} {quoted} or pass max_mode="
    if mode & stat.S_ISVTX and mode & 0o002:
        return (
            "a shared sticky directory (world-writable, like /tmp): leave its mode alone; "
            "keep secrets in a private directory (make_private_dir) and check the files "
            "themselves"
        )
    # A directory is entered through its x bit: wherever reading is allowed, allow x too.
    wanted = mode & (max_mode | (max_mode & 0o444) >> 2)
    if wanted & ~max_mode:
        return (
            f"chmod {wanted:04o} {quoted} and pass max_mode={wanted:04o} (a directory needs "
            "x to be entered)"
        )
    return f"chmod {wanted:04o} {quoted} or pass max_mode="


def fail(
    path: str, problems: list[str] | tuple[str, ...], cause: BaseException | None = None
) -> NoReturn:
    """Raise one InsecurePathError carrying every problem (deduplicated, in order)."""
    unique = tuple(dict.fromkeys(problems))
    count = f"{len(unique)} problems" if len(unique) > 1 else "1 problem"
    message = f"{path} failed the permission check ({count}): " + "; ".join(unique)
    raise InsecurePathError(message, path=path, problems=unique) from cause
