"""Which files may run, and the file that was checked is the file that runs.

:func:`trusted_binary` checks owner, mode, file capabilities and the ``#!`` chain;
:func:`open_pinned` hashes through the fd that is executed.
"""

from __future__ import annotations

import errno
import os
import stat

from hardenkit.errors import CommandNotAllowed, InsecurePathError

__all__ = ["trusted_binary"]

_CHUNK = 1 << 20


def file_capabilities_of(real: str) -> str | None:
    """Describe the file capabilities ``real`` grants on exec, or None when it has none.

    Any ``security.capability`` attribute counts (an empty permitted set with an
    inheritable one still grants through the caller's inheritable set).

    Examples:
        >>> file_capabilities_of("/bin/true") is None
        True

    Raises:
        InsecurePathError: the attribute cannot be read (fail closed).
    """
    try:
        raw = os.getxattr(real, "security.capability")
    except OSError as err:
        if err.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            return None
        problem = f"file capabilities unreadable ({err.strerror})"
        raise InsecurePathError(
            f"{real} failed the trusted-binary checks: {problem}",
            path=real,
            problems=(problem,),
        ) from err
    from hardenkit._linux.privfilecaps import decode  # noqa: PLC0415 -- rarely needed
    from hardenkit.capabilities import KNOWN_NAMES  # noqa: PLC0415 -- for import time: capabilities loads ctypes

    try:
        cap = decode(raw)
    except ValueError:
        return "a malformed security.capability attribute"
    mask = cap.permitted | cap.inheritable
    names = [
        KNOWN_NAMES[b] if b < len(KNOWN_NAMES) else f"CAP_{b}" for b in range(64) if mask >> b & 1
    ]
    flags = "e" * cap.effective + "p" * bool(cap.permitted) + "i" * bool(cap.inheritable)
    return f"{','.join(names).lower()}+{flags}" if names else "an empty capability set"


def _refuse_file_caps(real: str) -> None:
    """Raise InsecurePathError, as the check of a setuid binary does, if ``real`` has caps.

    A script counts with its ``#!`` interpreters: the kernel computes the new credentials
    from the file it finally runs, so a root-owned script whose interpreter carries file
    capabilities (or is setuid/setgid) runs that interpreter with them.
    """
    for hop, path in enumerate(_exec_chain(real)):
        found = file_capabilities_of(path)
        problem = None if found is None else f"file capabilities {found}"
        if hop and os.stat(path).st_mode & (stat.S_ISUID | stat.S_ISGID):
            problem = "a setuid/setgid bit"  # the script itself is checked by check_path
        if problem is not None:
            via = f" (the #! interpreter of {real})" if hop else ""
            raise InsecurePathError(
                f"{path}{via} failed the trusted-binary checks: it carries {problem} and, "
                "like a setuid binary, would run with privileges the caller lacks (allow it "
                "by name with CommandPolicy(allow_file_caps=...))",
                path=path,
                problems=(problem,),
            )


#: binfmt_script reads this much of a file; the kernel follows at most 5 rewrites.
_BINPRM_BUF_SIZE = 256
_MAX_INTERPRETERS = 4


def _exec_chain(real: str) -> list[str]:
    """``real`` and the real paths of the ``#!`` interpreters the kernel would run for it."""
    chain = [real]
    while True:
        try:
            with open(chain[-1], "rb") as fh:
                head = fh.read(_BINPRM_BUF_SIZE)
        except OSError as err:
            problem = f"unreadable, so its #! interpreter cannot be checked ({err.strerror})"
            raise InsecurePathError(
                f"{chain[-1]} failed the trusted-binary checks: {problem}",
                path=chain[-1],
                problems=(problem,),
            ) from err
        if not head.startswith(b"#!"):
            return chain
        token = head[2:].lstrip(b" \t").split(b"\n", 1)[0].split(b"\0", 1)[0]
        interp = token.replace(b"\t", b" ").split(b" ", 1)[0]
        if not interp.startswith(b"/") or len(chain) > _MAX_INTERPRETERS:
            problem = f"#! interpreter {interp!r} is not an absolute path (or nests too deep)"
            raise InsecurePathError(
                f"{real} failed the trusted-binary checks: {problem}",
                path=real,
                problems=(problem,),
            )
        chain.append(os.path.realpath(os.fsdecode(interp)))


def trusted_binary(path: str, *, allow_file_caps: bool = False) -> str:
    """Return the real path of ``path`` after the trusted-binary checks, or raise.

    The real path must be a regular executable file, owned by root, mode at most 0755
    (no setuid/setgid, nothing writable by group or other), in root-owned directories
    that others cannot write (``check_path(real, max_mode=0o755, owner=0)``), and carry
    no file capabilities (``security.capability``: privileges on exec, as setuid gives)
    unless ``allow_file_caps``.

    Examples:
        >>> trusted_binary("/bin/true") == os.path.realpath("/bin/true")
        True
        >>> trusted_binary("true")
        Traceback (most recent call last):
        ...
        hardenkit.errors.CommandNotAllowed: true is not an absolute path...
    """
    from hardenkit.fileperms import check_path  # noqa: PLC0415 -- keeps import light

    if not os.path.isabs(path):
        raise CommandNotAllowed(
            f"{path} is not an absolute path: without a policy only absolute paths run",
            argv=(path,),
        )
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as err:
        raise CommandNotAllowed(f"{path} cannot be run: {err.strerror}", argv=(path,)) from err
    if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o111:
        raise CommandNotAllowed(f"{real} is not an executable regular file", argv=(path,))
    check_path(real, max_mode=0o755, owner=0)
    if not allow_file_caps:
        _refuse_file_caps(real)
    return real


def open_pinned(real: str, digest: str) -> tuple[int, bool]:
    """Open ``real`` without following symlinks, hash it through the fd, return (fd, script).

    The fd is what gets executed (``/proc/self/fd/N``), so the file that was hashed is the
    file that runs. ``script`` tells whether it starts with ``#!`` (the interpreter then
    needs the fd open across exec).
    """
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        raise CommandNotAllowed(f"{real} cannot be opened: {err.strerror}", argv=(real,)) from err
    try:
        st = os.fstat(fd)
        problems = []
        if not stat.S_ISREG(st.st_mode):
            problems.append("not a regular file")
        if st.st_uid != 0:
            problems.append(f"owned by uid {st.st_uid}, not root")
        if st.st_mode & 0o7022:
            problems.append(f"mode {stat.S_IMODE(st.st_mode):04o} exceeds 0755")
        if problems:
            raise InsecurePathError(  # noqa: TRY301 -- the fd is closed by the handler below
                f"{real} failed the trusted-binary checks: {'; '.join(problems)}",
                path=real,
                problems=tuple(problems),
            )
        import hashlib  # noqa: PLC0415 -- for import time: loads OpenSSL, only for pins

        h = hashlib.sha256()
        head = b""
        offset = 0
        while chunk := os.pread(fd, _CHUNK, offset):
            if not offset:
                head = chunk[:2]
            h.update(chunk)
            offset += len(chunk)
        if h.hexdigest() != digest:
            raise CommandNotAllowed(  # noqa: TRY301 -- the fd is closed by the handler below
                f"{real} does not match its pinned sha256 (expected {digest[:12]}..., "
                f"found {h.hexdigest()[:12]}...): refusing to run it",
                argv=(real,),
            )
    except BaseException:
        os.close(fd)
        raise
    return fd, head == b"#!"
