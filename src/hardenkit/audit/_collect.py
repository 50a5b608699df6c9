"""Read what the kernel shows about one process, once, into :class:`ProcessFacts`.

Every file is read relative to one descriptor of ``/proc/<pid>``: if the pid dies and is
reused during the audit, the reads fail (ESRCH) instead of silently describing another
process. Anything the target's own files do not let us read raises; only the comparison with
pid 1 (whose namespaces an unprivileged auditor may not read) and the dumpable flag of
another root process can fall back, and then they are scored as the worst case and listed in
``unknown``.
"""

from __future__ import annotations

import errno
import os
import re
import stat

from hardenkit._linux import procfs
from hardenkit._linux.procfs import PROC_ROOT, ProcStatus, parse_status, self_pid
from hardenkit.audit import _filter
from hardenkit.audit._environ import _environment
from hardenkit.errors import HardenkitError, PrivilegeError

#: Namespaces compared with pid 1's (each maps to a check).
NAMESPACES: tuple[str, ...] = ("user", "net", "pid")
# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from dataclasses import dataclass as record

    from hardenkit.audit._filter import FilterRows
else:
    from hardenkit._record import record

_CORE_RE = re.compile(r"^Max core file size\s+(\S+)\s+(\S+)", re.MULTILINE)
_PF_KTHREAD = 0x00200000  # include/linux/sched.h


# A record (hardenkit._record), internal: a dataclass costs every first audit ~1.5 ms of
# import time. Every field is given (collect() is the one maker).
@record(frozen=True, slots=True)
class ProcessFacts:
    """What procfs showed about one process; environment values are never kept.

    ``statuses`` holds the main thread first, then every other thread. ``ns_shared`` maps a
    namespace to True/False (same as ``ns_reference``'s), or None when that could not be
    read. ``dumpable`` is None when it could not be told; ``exe_dir_checked`` is False when
    the executable's directory was out of the auditor's reach. ``core_soft``/``core_hard`` are
    None for unlimited.
    """

    pid: int
    statuses: tuple[ProcStatus, ...]
    ns_shared: dict[str, bool | None]
    ns_reference: str
    dumpable: bool | None
    core_soft: int | None
    core_hard: int | None
    env_names: tuple[str, ...]
    env_dangerous: tuple[str, ...]
    env_secret: tuple[str, ...]
    cwd: str
    cwd_mode: int
    exe: str
    exe_mode: int
    exe_dir_mode: int | None
    exe_dir_checked: bool
    listening: tuple[str, ...]
    filters: FilterRows
    root_shared: bool | None
    landlock: str

    @property
    def main(self) -> ProcStatus:
        """The main thread's status."""
        return self.statuses[0]


class Context:
    """What every audit of one run shares: read once, not once per process.

    The reference namespaces and root (pid 1's, or kthreadd's), and per network namespace
    the sockets listening on every interface (``/proc/<pid>/net/{tcp,udp}{,6}``, inode ->
    description), so that auditing every process costs one socket table, not one each.
    """

    def __init__(self, proc_root: str = PROC_ROOT) -> None:
        self.proc_root = proc_root
        self.ns_reference, self.ns_links = reference_namespaces(proc_root)
        self.root_ref = _reference_root(proc_root)
        self.sockets: dict[str, dict[int, str]] = {}
        self.me = self_pid()
        self.env_key = os.urandom(32)
        self.env_verdicts: dict[bytes, tuple[bool, bool]] = {}

    def listeners(self, reader: _Reader, netns: str) -> dict[int, str]:
        """The wildcard listeners of ``netns``, read through this process's view of it."""
        table = self.sockets.get(netns)
        if table is None:
            table = {}
            for proto in ("tcp", "tcp6", "udp", "udp6"):
                try:
                    text = reader.read(f"net/{proto}").decode("ascii", "replace")
                except PrivilegeError:
                    raise
                except HardenkitError:
                    continue  # no IPv6, no such table, or the process exited: checked below
                table.update(_wildcard_sockets(proto, text))
            # A table that could not be read because the process exited must not stand for
            # its namespace: this raises (the process vanished) and nothing is cached.
            reader.stat("status")
            self.sockets[netns] = table
        return table


class _Reader:
    """Reads files under one ``/proc/<pid>`` descriptor, translating errors once."""

    def __init__(self, pid: int, proc_root: str) -> None:
        self.pid = pid
        self.proc_root = proc_root
        try:
            self.fd = os.open(
                os.path.join(proc_root, str(pid)), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
            )
        except FileNotFoundError as err:
            raise HardenkitError(f"no such process: pid {pid} does not exist") from err
        except PermissionError as err:
            raise PrivilegeError(f"cannot open /proc/{pid}: permission denied") from err

    def close(self) -> None:
        os.close(self.fd)

    def fail(self, name: str, err: OSError) -> HardenkitError:
        """Translate an OSError raised while reading ``/proc/<pid>/<name>``."""
        where = f"/proc/{self.pid}/{name}"
        if isinstance(err, PermissionError):
            return PrivilegeError(
                f"cannot read {where}: permission denied (another user's process needs root "
                "with CAP_SYS_PTRACE, and some hosts deny even that); nothing was reported"
            )
        if isinstance(err, (FileNotFoundError, ProcessLookupError)) or err.errno == errno.ESRCH:
            return HardenkitError(f"pid {self.pid} exited during the audit (reading {where})")
        return HardenkitError(f"cannot read {where}: {err.strerror or err}")

    def read(self, name: str) -> bytes:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.fd)
        except OSError as err:
            raise self.fail(name, err) from err
        try:
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        except OSError as err:
            raise self.fail(name, err) from err
        finally:
            os.close(fd)

    def readlink(self, name: str) -> str:
        try:
            return os.readlink(name, dir_fd=self.fd)
        except OSError as err:
            raise self.fail(name, err) from err

    def stat(self, name: str) -> os.stat_result:
        try:
            return os.stat(name, dir_fd=self.fd)
        except OSError as err:
            raise self.fail(name, err) from err


def collect(
    pid: int, *, proc_root: str = PROC_ROOT, context: Context | None = None
) -> ProcessFacts:
    """Gather the facts about ``pid``; raise rather than return a partial picture.

    Raises:
        HardenkitError: the process does not exist, is a kernel thread, or exited meanwhile.
        PrivilegeError: one of its files cannot be read (another user's process).
    """
    ctx = context or Context(proc_root)
    reader = _Reader(pid, ctx.proc_root)
    try:
        main = _status(reader, "status")
        statuses = (main, *_thread_statuses(reader, main.pid))
        exe = _exe(reader)
        cwd = reader.readlink("cwd")
        cwd_mode = reader.stat("cwd").st_mode
        exe_mode = reader.stat("exe").st_mode
        exe_dir_mode, exe_dir_checked = _exe_dir_mode(reader, exe)
        names, dangerous, secret = _environment(reader, ctx.env_verdicts, ctx.env_key)
        core_soft, core_hard = _core_limit(reader)
        ns_reference = ctx.ns_reference
        ns_links = {kind: reader.readlink(f"ns/{kind}") for kind in NAMESPACES}
        ns_shared = {k: _ns_shared(ns_links[k], k, ctx.ns_links) for k in NAMESPACES}
        root_shared = _root_shared(reader, ctx.root_ref)
        listening = _listening(reader, lambda: ctx.listeners(reader, ns_links["net"]))
        myself = pid == ctx.me
        filters = _filter.assess_filters(pid, statuses, myself=myself)
        # Last: the descriptor still names the same process (it did not exit meanwhile).
        dumpable = _dumpable(reader, main, myself=myself)
    finally:
        reader.close()
    return ProcessFacts(
        pid=pid,
        statuses=statuses,
        ns_shared=ns_shared,
        ns_reference=ns_reference,
        dumpable=dumpable,
        core_soft=core_soft,
        core_hard=core_hard,
        env_names=names,
        env_dangerous=dangerous,
        env_secret=secret,
        cwd=cwd,
        cwd_mode=cwd_mode,
        exe=exe,
        exe_mode=exe_mode,
        exe_dir_mode=exe_dir_mode,
        exe_dir_checked=exe_dir_checked,
        listening=listening,
        filters=filters,
        root_shared=root_shared,
        landlock=_landlock(myself=myself),
    )


def _reference_root(proc_root: str) -> tuple[int, int] | None:
    """(dev, inode) of pid 1's root directory, else kthreadd's; None when neither shows."""
    for ref in (1, 2):
        if ref == 2 and not _is_kernel_thread(proc_root, ref):  # noqa: PLR2004 -- kthreadd
            break
        try:
            theirs = os.stat(os.path.join(proc_root, str(ref), "root"))
        except OSError:
            continue
        return theirs.st_dev, theirs.st_ino
    return None


def _root_shared(reader: _Reader, reference: tuple[int, int] | None) -> bool | None:
    """Whether the process's root directory is the reference's (None: not known)."""
    mine = reader.stat("root")
    if reference is None:
        return None
    return (mine.st_dev, mine.st_ino) == reference


def _landlock(*, myself: bool) -> str:
    """What hardenkit recorded of the Landlock domains it entered (only known for itself)."""
    if not myself:
        return "unknown"
    from hardenkit import _applied  # noqa: PLC0415 -- import time: only an audit of itself reads it

    if not _applied.LANDLOCK:
        return "none applied by hardenkit in this process"
    return "; ".join(_applied.LANDLOCK)


def _status(reader: _Reader, name: str) -> ProcStatus:
    text = reader.read(name).decode("ascii", "replace")
    try:
        return parse_status(text, reader.pid)
    except ValueError as err:
        raise HardenkitError(f"cannot parse /proc/{reader.pid}/{name}: {err}") from err


def _thread_statuses(reader: _Reader, main_tid: int) -> list[ProcStatus]:
    """Every thread but the main one; a thread that exited meanwhile is left out."""
    try:
        return procfs.task_statuses(dir_fd=reader.fd, skip=main_tid)
    except OSError as err:
        name = err.filename if isinstance(err.filename, str) else "task"
        raise reader.fail(name, err) from err
    except ValueError as err:
        raise HardenkitError(f"cannot parse a thread status of /proc/{reader.pid}: {err}") from err


def _exe(reader: _Reader) -> str:
    try:
        return os.readlink("exe", dir_fd=reader.fd)
    except FileNotFoundError as err:
        # No executable: a kernel thread, or a zombie that has already released its mm.
        raise HardenkitError(
            f"pid {reader.pid} has no executable (a kernel thread or a zombie): "
            "there is no user-space posture to audit"
        ) from err
    except OSError as err:
        raise reader.fail("exe", err) from err


def _exe_dir_mode(reader: _Reader, exe: str) -> tuple[int | None, bool]:
    """(mode, checked) of the executable's directory, seen through the process's own root.

    The mode is None when the directory is gone; ``checked`` is False when the auditor may
    not walk to it (its own permissions, not the process's: e.g. a venv under /root audited
    by a process that has dropped root).
    """
    reader.stat("root")  # the process's root is ours to see, or this raises PrivilegeError
    directory = os.path.dirname(exe.removesuffix(" (deleted)"))
    if not directory.startswith("/"):
        return None, True
    try:
        return os.stat(f"root{directory}", dir_fd=reader.fd).st_mode, True
    except (FileNotFoundError, NotADirectoryError):
        return None, True  # the directory is gone: nobody can plant a file in it
    except PermissionError:
        return None, False
    except OSError as err:
        raise reader.fail("root", err) from err


def _limit(text: str) -> int | None:
    return None if text == "unlimited" else int(text)


def _core_limit(reader: _Reader) -> tuple[int | None, int | None]:
    text = reader.read("limits").decode("ascii", "replace")
    match = _CORE_RE.search(text)
    if match is None:
        raise HardenkitError(f"/proc/{reader.pid}/limits has no 'Max core file size' line")
    try:
        return _limit(match.group(1)), _limit(match.group(2))
    except ValueError as err:
        raise HardenkitError(f"cannot parse the core limit in /proc/{reader.pid}/limits") from err


def _is_kernel_thread(proc_root: str, pid: int) -> bool:
    try:
        return bool(int(procfs.read_stat(pid, proc_root=proc_root)[6]) & _PF_KTHREAD)
    except (OSError, IndexError, ValueError):
        return False


def _link_or_none(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def reference_namespaces(proc_root: str = PROC_ROOT) -> tuple[str, dict[str, str | None]]:
    """Return (who, {kind: ns link}) for the namespaces a process is compared with.

    pid 1's, as ``readlink /proc/1/ns/*`` shows them. Some hosts deny even root that read
    (a sandboxing init); then kthreadd (pid 2, a kernel thread, always in the initial
    namespaces) stands in. A kind neither can show maps to None.
    """
    for pid, who in ((1, "pid 1"), (2, "kthreadd (pid 2)")):
        if pid == 2 and not _is_kernel_thread(proc_root, pid):  # noqa: PLR2004
            break
        links = {k: _link_or_none(os.path.join(proc_root, str(pid), "ns", k)) for k in NAMESPACES}
        if all(v is not None for v in links.values()):
            return who, links
    return "pid 1", dict.fromkeys(NAMESPACES)


def _ns_shared(mine: str, kind: str, reference: dict[str, str | None]) -> bool | None:
    theirs = reference.get(kind)
    if theirs is None:
        return None  # nothing to compare with: scored as shared, and said so
    return mine == theirs


def _dumpable(reader: _Reader, main: ProcStatus, *, myself: bool) -> bool | None:
    # Also the last look at the process: the stat fails if it exited during the audit.
    st = reader.stat("status")
    if myself:
        from hardenkit._linux.libc import PR_GET_DUMPABLE, prctl  # noqa: PLC0415 -- ctypes on use

        return prctl(PR_GET_DUMPABLE) == 1
    # procfs gives the files of a dumpable process its euid/egid, and root's to any other
    # (the /proc/<pid> directory itself keeps the euid either way).
    euid, egid = main.uids[1], main.gids[1]
    if (st.st_uid, st.st_gid) != (euid, egid):
        return False
    if (euid, egid) == (0, 0):
        return None  # a root process's files are root's either way
    return True


_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"


def _wildcard_sockets(proto: str, text: str) -> dict[int, str]:
    """Map inode -> "tcp 0.0.0.0:22" for the sockets of one /proc/net table bound everywhere."""
    found = {}
    want = _TCP_LISTEN if proto.startswith("tcp") else _UDP_UNCONNECTED
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != want:  # noqa: PLR2004 -- the inode column
            continue
        address, _, port = fields[1].partition(":")
        if address.strip("0"):
            continue  # bound to one address, not every one
        if fields[2].partition(":")[0].strip("0") or fields[2].partition(":")[2].strip("0"):
            continue  # a connected UDP socket
        host = "[::]" if proto.endswith("6") else "0.0.0.0"  # noqa: S104 -- a report
        found[int(fields[9])] = f"{proto} {host}:{int(port, 16)}"
    return found


def _listening(reader: _Reader, listeners: Callable[[], dict[int, str]]) -> tuple[str, ...]:
    """Sockets of the process listening on every interface (TCP LISTEN, unconnected UDP).

    The process's descriptors first: only when it holds a socket is the network
    namespace's socket table needed (read once per run and namespace by ``listeners``).
    """
    try:
        fd_dir = os.open("fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=reader.fd)
    except OSError as err:
        raise reader.fail("fd", err) from err
    inodes = []
    try:
        for name in os.listdir(fd_dir):
            try:
                target = os.readlink(name, dir_fd=fd_dir)
            except FileNotFoundError:  # closed meanwhile
                continue
            if target.startswith("socket:["):
                inodes.append(int(target[8:-1]))
    except OSError as err:
        raise reader.fail("fd", err) from err
    finally:
        os.close(fd_dir)
    if not inodes:
        return ()
    table = listeners()
    return tuple(sorted({table[i] for i in inodes if i in table}))


def world_writable(mode: int) -> bool:
    """Tell whether a mode lets everyone write."""
    return bool(mode & stat.S_IWOTH)


def sticky(mode: int) -> bool:
    """Tell whether a directory mode has the sticky bit."""
    return bool(mode & stat.S_ISVTX)
