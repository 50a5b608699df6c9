"""The one reader of /proc: status and stat parsing, thread listing and counting.

Every module that looks at /proc (privileges, capabilities, sandbox verification, the audit,
the process sweep, envcrypt's thread reaping) goes through here, so a format quirk or a
thread that exits mid-listing is handled once. Every reader takes ``proc_root`` so tests can
point it at a fixture tree.
"""

from __future__ import annotations

import errno
import os

from hardenkit.errors import PrivilegeError

# Not typing.TYPE_CHECKING, for import time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from dataclasses import dataclass as record
else:
    from hardenkit._record import record

PROC_ROOT = "/proc"


# A record (hardenkit._record): a frozen dataclass's behaviour without its ~1 ms of import
# time (every first audit, capability or confinement check parses a status).
@record(frozen=True, slots=True)
class ProcStatus:
    """What the kernel reports about one task in ``/proc/<pid>/status``.

    Capability fields are raw bit masks; ``umask`` is None on kernels older than 4.7.
    """

    pid: int
    name: str
    uids: tuple[int, int, int, int]
    gids: tuple[int, int, int, int]
    groups: tuple[int, ...]
    cap_inheritable: int
    cap_permitted: int
    cap_effective: int
    cap_bounding: int
    cap_ambient: int
    no_new_privs: bool
    seccomp: int
    seccomp_filters: int
    umask: int | None
    threads: int


def _ids(value: str) -> tuple[int, int, int, int]:
    real, eff, saved, fs = (int(x) for x in value.split())
    return (real, eff, saved, fs)


def parse_status(text: str, pid: int = 0) -> ProcStatus:
    """Parse the text of a ``/proc/<pid>/status`` file.

    Examples:
        >>> from pathlib import Path
        >>> st = parse_status(Path("/proc/self/status").read_text())
        >>> st.uids[1] == os.geteuid()
        True
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.strip()
    try:
        umask = fields.get("Umask")
        return ProcStatus(
            pid=int(fields.get("Pid", pid)),
            name=fields.get("Name", ""),
            uids=_ids(fields["Uid"]),
            gids=_ids(fields["Gid"]),
            groups=tuple(int(g) for g in fields.get("Groups", "").split()),
            cap_inheritable=int(fields["CapInh"], 16),
            cap_permitted=int(fields["CapPrm"], 16),
            cap_effective=int(fields["CapEff"], 16),
            cap_bounding=int(fields["CapBnd"], 16),
            cap_ambient=int(fields.get("CapAmb", "0"), 16),
            no_new_privs=fields.get("NoNewPrivs", "0") == "1",
            seccomp=int(fields.get("Seccomp", "0")),
            seccomp_filters=int(fields.get("Seccomp_filters", "0")),
            umask=None if umask is None else int(umask, 8),
            threads=int(fields.get("Threads", "1")),
        )
    except (KeyError, ValueError) as err:
        msg = f"unexpected format in /proc/{pid or 'self'}/status: {err}"
        raise ValueError(msg) from err


def read_status(pid: int | None = None, *, proc_root: str = PROC_ROOT) -> ProcStatus:
    """Read and parse the status of ``pid`` (default: this process).

    Raises OSError (ProcessLookupError, PermissionError...) when it cannot be read.

    Examples:
        >>> read_status().pid == os.getpid()
        True
    """
    target = "self" if pid is None else str(pid)
    path = os.path.join(proc_root, target, "status")
    try:
        # Bytes, decoded here: bytes.decode("ascii") needs no codec module (a text file
        # would import encodings.ascii, ~0.4 ms of every confine).
        with open(path, "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except FileNotFoundError as err:
        raise ProcessLookupError(err.errno, f"no such process: {target}") from err
    return parse_status(text, pid or 0)


#: The calling thread's status: ids and capabilities are per-thread.
THREAD_STATUS = "/proc/thread-self/status"


def read_thread_status_bytes() -> bytes:
    r"""The calling thread's status, unparsed (fork-child safe: no imports, no decoding).

    Page-sized reads: one 64 KiB buffer costs a fresh child page faults.

    Examples:
        >>> b"\nUid:\t" in read_thread_status_bytes()
        True
    """
    fd = os.open(THREAD_STATUS, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, 4096)
        while chunk := os.read(fd, 4096):
            data += chunk
    finally:
        os.close(fd)
    return data


def self_pid(*, proc_root: str = PROC_ROOT) -> int:
    """Return this process's pid as ``proc_root`` numbers it.

    Differs from ``os.getpid()`` inside a PID namespace that still sees the host's /proc
    (a ``call_sandboxed`` child is pid 1 of its own namespace): compare /proc paths with this.

    Examples:
        >>> self_pid() == os.getpid()  # outside a PID namespace
        True
    """
    return int(os.readlink(os.path.join(proc_root, "self")))


def task_ids(pid: int | None = None, *, proc_root: str = PROC_ROOT) -> list[int]:
    """List the thread ids of ``pid`` (default: this process).

    Examples:
        >>> os.getpid() in task_ids()
        True
    """
    target = "self" if pid is None else str(pid)
    return sorted(int(t) for t in os.listdir(os.path.join(proc_root, target, "task")))


def thread_count(pid: int | None = None, *, proc_root: str = PROC_ROOT) -> int:
    """Count the live threads of ``pid`` (default: this process): the one thread counter.

    Counts ``/proc/<pid>/task`` entries, the same listing :func:`task_statuses` walks, so
    "no other threads" means the same thing to every caller (a thread still being reaped is
    counted). Raises OSError when the listing cannot be read.

    Examples:
        >>> thread_count()  # the single-threaded doctest process
        1
    """
    target = "self" if pid is None else str(pid)
    return sum(1 for t in os.listdir(os.path.join(proc_root, target, "task")) if t.isdecimal())


def _gone(err: OSError) -> bool:
    """The task (or process) exited: ENOENT from a vanished directory, or ESRCH."""
    return err.errno in (errno.ENOENT, errno.ESRCH)


def _read_at(path: str, dir_fd: int | None) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as fh:  # bytes: as in read_status
        return fh.read().decode("ascii", "replace")


def task_statuses(
    pid: int | None = None,
    *,
    proc_root: str = PROC_ROOT,
    dir_fd: int | None = None,
    skip: int | None = None,
) -> list[ProcStatus]:
    """Read every thread's status of ``pid`` (default: this process), sorted by thread id.

    A thread that exits between the listing and its read is left out (it runs nothing, so it
    holds nothing); every other failure raises OSError (with the path as ``filename``) or
    ValueError. With ``dir_fd`` (a descriptor of ``/proc/<pid>``) paths are read relative to
    it, so a pid reused meanwhile fails instead of describing another process. ``skip`` leaves
    out one thread id (a caller that already read the main thread).

    Examples:
        >>> [st.pid for st in task_statuses()] == [os.getpid()]
        True
    """
    if dir_fd is None:
        target = "self" if pid is None else str(pid)
        base = os.path.join(proc_root, target, "task")
        tids = os.listdir(base)
    else:
        base = "task"
        task_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            tids = os.listdir(task_fd)
        finally:
            os.close(task_fd)
    found = []
    for tid in sorted(int(t) for t in tids if t.isdecimal()):
        if tid == skip:
            continue
        try:
            text = _read_at(os.path.join(base, str(tid), "status"), dir_fd)
        except OSError as err:
            if _gone(err):
                continue
            raise
        found.append(parse_status(text, tid))
    return found


def stat_fields(data: bytes) -> list[bytes]:
    """Split the text of ``/proc/<pid>/stat`` after the command name.

    The name may hold spaces and parentheses, so the split is after the last ``)``: index 0
    is the state (field 3 in proc(5)), index 1 the parent pid, and so on.

    Examples:
        >>> stat_fields(b"42 (a) b) S 1 42 42 0")[:4]
        [b'S', b'1', b'42', b'42']
    """
    return data[data.rfind(b")") + 1 :].split()


def read_stat(pid: int | None = None, *, proc_root: str = PROC_ROOT) -> list[bytes]:
    """Read ``/proc/<pid>/stat`` (default: this process) as :func:`stat_fields`.

    Raises OSError when it cannot be read (the process is gone, or not ours to see).

    Examples:
        >>> read_stat()[0] in (b"R", b"S")
        True
    """
    target = "self" if pid is None else str(pid)
    with open(os.path.join(proc_root, target, "stat"), "rb") as fh:
        return stat_fields(fh.read())


def pids(*, proc_root: str = PROC_ROOT) -> list[int]:
    """List the pids ``proc_root`` shows, in increasing order.

    Examples:
        >>> os.getpid() in pids()
        True
    """
    return sorted(int(name) for name in os.listdir(proc_root) if name.isdecimal())


def read_task_status(tid: int, pid: int | None = None, *, proc_root: str = PROC_ROOT) -> ProcStatus:
    """Read the status of one thread ``tid`` of ``pid`` (default: this process).

    Examples:
        >>> read_task_status(os.getpid()).pid == os.getpid()
        True
    """
    target = "self" if pid is None else str(pid)
    path = os.path.join(proc_root, target, "task", str(tid), "status")
    with open(path, "rb") as fh:  # bytes: as in read_status
        return parse_status(fh.read().decode("ascii", "replace"), tid)


def cap_last_cap(*, proc_root: str = PROC_ROOT) -> int:
    """Return the highest capability number the running kernel knows.

    Examples:
        >>> cap_last_cap() >= 40
        True
    """
    # Bytes: int() takes them (and the newline), and no codec is loaded for one number.
    with open(os.path.join(proc_root, "sys/kernel/cap_last_cap"), "rb") as fh:
        return int(fh.read())


def refuse_threads(what: str) -> None:
    """Raise PrivilegeError when this process has other live threads (per-thread state).

    Capabilities, securebits and no_new_privs are per-thread: a drop made while other
    threads run leaves them privileged. One check for every drop (capabilities,
    privileges), here so that neither imports the other.

    Examples:
        >>> refuse_threads("a test")  # single-threaded doctest process
    """
    try:
        threads = thread_count()
    except OSError as err:
        raise PrivilegeError(f"{what}: cannot list this process's threads: {err}") from err
    if threads > 1:
        raise PrivilegeError(
            f"{what} refused: {threads - 1} other live thread(s); capabilities, "
            "securebits and no_new_privs are per-thread, so the others would keep their "
            "privileges. Call it before starting threads, or in a child process. "
            "Nothing was changed."
        )
