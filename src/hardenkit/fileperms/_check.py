"""check_path: report every permission problem of a path and of the directories above it."""

from __future__ import annotations

from hardenkit.fileperms._model import PathStatus, resolve_owner, validate_mode
from hardenkit.fileperms._rules import fail, leaf_problems
from hardenkit.fileperms._walk import Walk, acl_of_entry, acl_of_fd

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import os

    from hardenkit.fileperms._acl import AclEntry

__all__ = ["check_path"]


def check_path(
    path: str | os.PathLike[str],
    *,
    max_mode: int = 0o600,
    owner: int | str | None = None,
    parents: bool = True,
    allow_symlinks: bool = False,
) -> PathStatus:
    """Verify that only ``owner`` (or root) controls ``path``; raise listing every problem.

    Checks, all of them every time: the permission bits are inside ``max_mode`` (bitwise,
    setuid/setgid/sticky included); the owner is ``owner`` (a uid or user name; default the
    effective uid) or root; a POSIX ACL grants nobody else anything; with ``parents``,
    every directory from ``/`` down is owned by root or ``owner`` and not writable by group
    or others unless sticky (see docs/fileperms.md for the sticky rule); and, unless
    ``allow_symlinks``, no component of ``path`` as given is a symlink. Relative paths are
    taken from the current directory, whose ancestors are checked too.

    ``allow_symlinks`` governs the links in the path you pass: with it, links are followed
    (the directories holding them must pass the parent rule). On merged-/usr systems
    ``/bin`` is a link to ``usr/bin``, so resolve system paths with ``os.path.realpath``
    first when you trust the system's own links.

    Nothing is opened: the leaf is examined with ``fstatat(AT_SYMLINK_NOFOLLOW)`` from a
    verified directory descriptor, so a FIFO or a device cannot block or be triggered.
    Read what you checked with :func:`open_secure`, which checks the descriptor it returns.

    Examples:
        >>> import os, tempfile
        >>> from hardenkit.fileperms import check_path, write_secure
        >>> d = tempfile.mkdtemp()
        >>> write_secure(os.path.join(d, "token"), b"...", mode=0o600)
        >>> check_path(os.path.join(d, "token")).mode_text
        '0600'
        >>> os.chmod(os.path.join(d, "token"), 0o077)  # numerically below 600, still refused
        >>> check_path(os.path.join(d, "token"), max_mode=0o600)
        Traceback (most recent call last):
        ...
        hardenkit.errors.InsecurePathError: ... is mode 0077, at most 0600 allowed ...
        >>> import shutil; shutil.rmtree(d)

    Raises:
        InsecurePathError: with ``.problems`` listing every problem found; also when the
            check cannot be completed (missing path, unreadable directory).
        ValueError: ``max_mode`` is not a mode, or ``owner`` names no user.
    """
    validate_mode(max_mode, "max_mode")
    owner_uid = resolve_owner(owner)
    with Walk(
        path,
        owner=owner_uid,
        parents=parents,
        allow_symlinks=allow_symlinks,
        through_symlinks=True,
    ) as walk:
        problems = list(walk.problems)
        notices = list(walk.notices)
        st = walk.leaf_st
        if walk.complete and st is None:
            problems.append(f"{walk.leaf_path} does not exist")
        if not walk.complete or st is None:
            fail(walk.leaf_path, problems, walk.error)
        acl: tuple[AclEntry, ...] | None = None
        try:
            if walk.leaf_name is None or walk.parent is None:
                acl = acl_of_fd(walk.top_fd, walk.leaf_path)
            else:
                acl = acl_of_entry(walk.parent.fd, walk.leaf_name, walk.leaf_path)
        except (OSError, ValueError) as err:
            problems.append(f"{walk.leaf_path}: its ACL could not be read ({err})")
        leaf, leaf_notices = leaf_problems(
            walk.leaf_path, st, max_mode=max_mode, owner=owner_uid, acl=acl
        )
        problems.extend(leaf)
        notices.extend(leaf_notices)
        if problems:
            fail(walk.leaf_path, problems)
        return PathStatus.from_stat(
            walk.leaf_path,
            st,
            acl=acl is not None,
            parents=tuple(walk.checked),
            notices=tuple(notices),
        )
