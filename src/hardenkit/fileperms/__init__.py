"""File-permission checks without a window between check and use.

The anchors are OpenSSH's StrictModes (every ancestor owned by root or the user and not
writable by others), sudo's ``sudo_secure_*`` and Postfix's ``safe_open`` (check what was
opened, not what a path pointed to a moment ago). Paths are walked from ``/`` one
component at a time relative to verified directory descriptors with ``O_NOFOLLOW``; files
are checked with ``fstat`` on the descriptor that is then used; modes are changed with
``fchmod`` on ``O_NOFOLLOW`` descriptors, never by path.

- :func:`check_path`: report every problem of a path and its parents (raises).
- :func:`open_secure`: open a file and verify the descriptor returned.
- :func:`write_secure`: atomic, durable replace with an exact mode.
- :func:`locked_for_update`: the writers' lock, for a read-modify-write.
- :func:`make_private_dir`: create or verify a private directory, parents included.
- :func:`audit_tree`: find world-writable, setuid/setgid and unowned files below a root.
- :func:`tighten`: remove permission bits (and ACLs) through an O_NOFOLLOW descriptor.

Examples:
    >>> import hardenkit
    >>> hardenkit.check_path is hardenkit.fileperms.check_path
    True
    >>> from hardenkit.fileperms import excess_bits
    >>> oct(excess_bits(0o640, 0o600))
    '0o40'
"""

from __future__ import annotations

from hardenkit import _lazy

# Not typing.TYPE_CHECKING: importing typing costs several ms, and type checkers treat any
# name TYPE_CHECKING as true.
TYPE_CHECKING = False

#: Public name -> the submodule that defines it, loaded on first use (hardenkit/_lazy.py).
_NAMES = {
    "check_path": "_check",
    "make_private_dir": "_dirs",
    "tighten": "_dirs",
    "open_secure": "_io",
    "write_secure": "_io",
    "locked_for_update": "_lock",
    "Finding": "_tree",
    "PathStatus": "_model",
    "excess_bits": "_model",
    "audit_tree": "_tree",
}
__getattr__, __dir__ = _lazy.attach(__name__, _NAMES, ())

__all__ = [
    "Finding",
    "PathStatus",
    "audit_tree",
    "check_path",
    "excess_bits",
    "locked_for_update",
    "make_private_dir",
    "open_secure",
    "tighten",
    "write_secure",
]

if TYPE_CHECKING:  # pragma: no cover - static view of the lazy names
    from hardenkit.fileperms._check import check_path as check_path
    from hardenkit.fileperms._dirs import make_private_dir as make_private_dir, tighten as tighten
    from hardenkit.fileperms._io import open_secure as open_secure, write_secure as write_secure
    from hardenkit.fileperms._lock import locked_for_update as locked_for_update
    from hardenkit.fileperms._model import PathStatus as PathStatus, excess_bits as excess_bits
    from hardenkit.fileperms._tree import Finding as Finding, audit_tree as audit_tree
