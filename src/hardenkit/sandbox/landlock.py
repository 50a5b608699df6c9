"""Landlock filesystem confinement: ``FilesystemPolicy``, ``landlock_abi``, ``apply_landlock``.

Paths not listed get no access at all. Rights are the ones the running ABI can enforce
(best effort above the policy's ``min_abi``; below it, a clear error). Rules on files
get only file rights. Landlock (ABI < 8) restricts the calling thread only, so a process
with other live threads is refused.
"""

from __future__ import annotations

import _thread  # not threading, for import time (~1 ms): one lock
import errno
import os
import stat
from _weakref import ref as _weak_ref  # not weakref, for import time (~1.3 ms): see _OPEN

from hardenkit import _applied
from hardenkit._dataclass import dataclass
from hardenkit._linux import require_linux
from hardenkit.errors import SandboxError
from hardenkit.sandbox._landlock_probe import (
    probe_mkdir_refused,
    probe_mknod_refused,
    probe_read_refused,
)

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from hardenkit._linux.landlock import PreparedRuleset

__all__ = ["FilesystemPolicy", "LandlockPlan", "apply_landlock", "landlock_abi"]

# Access rights (linux/landlock.h), by the ABI that introduced them.
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5

_ABI_FS_RIGHTS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
_ABI_FS_RIGHTS.update({5: (1 << 16) - 1, 6: (1 << 16) - 1, 7: (1 << 16) - 1})
#: The newest ABI whose rights hardenkit knows; a newer kernel is used at this level.
KNOWN_ABI = 7
#: Rights that make sense on a file (not a directory); others are rejected there.
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

READ_RIGHTS = READ_FILE | READ_DIR
#: Creating device nodes: never part of ``write``, only of ``FilesystemPolicy.devices``
#: (a root child that makes a node for a disk reads every file on it).
DEVICE_RIGHTS = MAKE_CHAR | MAKE_BLOCK
WRITE_RIGHTS = (
    WRITE_FILE
    | REMOVE_DIR
    | REMOVE_FILE
    | MAKE_DIR
    | MAKE_REG
    | MAKE_SOCK
    | MAKE_FIFO
    | MAKE_SYM
    | REFER
    | TRUNCATE
    | IOCTL_DEV
)
EXECUTE_RIGHTS = EXECUTE | READ_FILE  # exec needs to read the file too
# The ruleset attribute grew with the ABI: fs only (1-3), + net (4-5), + scoped (6+).
_ATTR_SIZE = {1: 8, 2: 8, 3: 8, 4: 16, 5: 16, 6: 24, 7: 24}
#: Scopes (ABI 6): no connecting to abstract UNIX sockets, no signals, outside the domain.
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1
#: The first ABI with scopes.
SCOPE_ABI = 6
#: What a domain without a FilesystemPolicy handles: device-node creation (granted
#: nowhere) and, from ABI 2, REFER (which every domain handles implicitly), granted on
#: "/" so that renames across directories keep working.
ISOLATION_RIGHTS = DEVICE_RIGHTS | REFER


def landlock_abi() -> int:
    """Return the Landlock ABI version of the running kernel (0: no Landlock).

    Probed with ``landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)``,
    not securityfs (which may be unmounted).

    Examples:
        >>> landlock_abi() >= 0
        True
    """
    require_linux("Landlock")
    from hardenkit._linux.landlock import abi_version  # noqa: PLC0415 -- ctypes on use

    try:
        return abi_version()
    except OSError as err:
        raise SandboxError(f"probing the Landlock ABI failed: {err.strerror}") from err


def _paths(value: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> tuple[str, ...]:
    items = (value,) if isinstance(value, (str, os.PathLike)) else tuple(value)
    out = []
    for item in items:
        path = os.fspath(item)
        if not isinstance(path, str) or not path:
            raise ValueError(f"FilesystemPolicy paths must be non-empty str paths, not {item!r}")
        out.append(os.path.abspath(path))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True, kw_only=True)
class FilesystemPolicy:
    """Where the process may read, write and execute; everything else is refused.

    ``read`` allows reading files and listing directories beneath each path; ``write``
    allows writing, creating, removing, renaming into and truncating; ``execute`` allows
    executing (and reading) files. ``min_abi`` is the lowest Landlock ABI the policy
    accepts: 3 by default, because before ABI 3 truncate(2) cannot be restricted.

    ``devices`` are the directories where character and block device nodes may be
    created: ``write`` never grants that (a root child would make a node for a disk and
    read every file on it), and under ``confine()``/``run()`` a child that keeps root
    keeps CAP_MKNOD only when ``devices`` names a place.

    ``sockets`` names the pathname UNIX sockets the process means to connect to. Without
    it, ``confine()``/``run()``/``call_sandboxed`` refuse ``socket(AF_UNIX, ...)`` under
    the policy (``socketpair`` still works): Landlock (ABI <= 7) does not govern
    ``connect()``, so a socket outside the policy (docker.sock, D-Bus) would otherwise
    be reachable. The kernel cannot tell one socket path from another: naming any socket
    lets the process connect to every pathname socket its uid may reach (abstract
    sockets outside the sandbox stay refused from ABI 6). See docs/security-model.md.

    Examples:
        >>> FilesystemPolicy(read=["/usr", "/etc"], write="/tmp").write
        ('/tmp',)
        >>> FilesystemPolicy(sockets="/run/app.sock").sockets
        ('/run/app.sock',)
        >>> FilesystemPolicy(min_abi=0)
        Traceback (most recent call last):
        ...
        ValueError: FilesystemPolicy.min_abi must be between 1 and 7, not 0
    """

    # Any path or sequence of paths is accepted; the stored value is a tuple of str.
    read: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] = ()
    write: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] = ()
    execute: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] = ()
    min_abi: int = 3
    devices: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] = ()
    sockets: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] = ()

    def __post_init__(self) -> None:
        for name in ("read", "write", "execute", "devices", "sockets"):
            object.__setattr__(self, name, _paths(getattr(self, name)))
        if not 1 <= self.min_abi <= KNOWN_ABI:
            raise ValueError(
                f"FilesystemPolicy.min_abi must be between 1 and {KNOWN_ABI}, not {self.min_abi}"
            )

    def requested(self) -> dict[str, int]:
        """Return path -> requested rights (before masking by ABI or file type)."""
        out: dict[str, int] = {}
        for paths, rights in (
            (self.read, READ_RIGHTS),
            (self.write, WRITE_RIGHTS),
            (self.execute, EXECUTE_RIGHTS),
            (self.devices, DEVICE_RIGHTS),
        ):
            for path in _paths(paths):
                out[path] = out.get(path, 0) | rights
        return out

    def restricts_execute(self) -> bool:
        """Tell whether executing is limited to ``execute`` (it is unless "/" is listed).

        Examples:
            >>> FilesystemPolicy(execute=["/usr/bin/true"]).restricts_execute()
            True
            >>> FilesystemPolicy(execute=["/"]).restricts_execute()
            False
        """
        return "/" not in _paths(self.execute)


def _threads() -> int:
    from hardenkit._linux.procfs import thread_count  # noqa: PLC0415 -- for import time: procfs, only when Landlock is applied

    try:
        return thread_count()
    except (OSError, ValueError) as err:
        raise SandboxError(f"cannot count this process's threads: {err}") from err


class LandlockPlan:
    """A Landlock ruleset prepared in the parent: path descriptors open, rights decided.

    With ``policy=None`` the domain restricts no path access: it is what every
    confinement enters to keep the process away from others (Landlock refuses ptrace,
    ``/proc/<pid>/mem`` and ``process_vm_*`` across domains from ABI 1) and it refuses
    device-node creation everywhere. ``scope_signals`` (ABI 6+) refuses signals to
    processes outside the domain; with a policy, connecting to abstract UNIX sockets
    created outside the domain is refused too (ABI 6+).

    :meth:`enforce` is fork-child safe (no imports, lookups or logging). Close the plan
    (or let it be collected) to release the path descriptors.
    """

    def __init__(self, policy: FilesystemPolicy | None, *, scope_signals: bool = False) -> None:
        require_linux("Landlock")
        from hardenkit._linux.landlock import PreparedRuleset  # noqa: PLC0415 -- for import time: _linux.landlock loads libc (ctypes)

        self.policy = policy
        running = landlock_abi()
        min_abi = policy.min_abi if policy is not None else 1
        if running < min_abi:
            raise SandboxError(
                f"Landlock ABI {running} is below the "
                + (f"policy's minimum {min_abi}" if policy is not None else "minimum 1")
                + (" (Landlock is absent or disabled)" if running == 0 else "")
            )
        self.abi = min(running, KNOWN_ABI)
        self.scoped = 0
        if self.abi >= SCOPE_ABI:
            self.scoped = (SCOPE_SIGNAL if scope_signals else 0) | (
                SCOPE_ABSTRACT_UNIX_SOCKET if policy is not None else 0
            )
        self._fds: list[int] = []
        self._shared = False
        self._ref = _weak_ref(self, _collected)  # weakref.finalize's job: see _OPEN
        _OPEN[id(self._ref)] = (self._ref, self._fds)
        rules: list[tuple[int, int]] = []
        self.rights: dict[str, int] = {}
        if policy is None:
            self.handled = ISOLATION_RIGHTS & _ABI_FS_RIGHTS[self.abi]
            requested = {"/": REFER & self.handled}
        else:
            self.handled = _ABI_FS_RIGHTS[self.abi]
            requested = policy.requested()
        try:
            for path, wanted in requested.items():
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                self._fds.append(fd)
                rights = wanted & self.handled
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    rights &= FILE_RIGHTS
                self.rights[path] = rights
                if rights:
                    rules.append((fd, rights))
        except OSError as err:
            self.close()
            raise SandboxError(
                f"Landlock rule path {err.filename or path} cannot be opened: {err.strerror}"
            ) from err
        self._ruleset: PreparedRuleset = PreparedRuleset(
            handled_fs=self.handled,
            attr_size=_ATTR_SIZE[self.abi],
            rules=rules,
            scoped=self.scoped,
        )
        self._probe_dir = _mkdir_probe_dir(self.rights)
        self._mknod_dir = _mkdir_probe_dir(self.rights, DEVICE_RIGHTS)
        granted = ", ".join(f"{p}={r:#x}" for p, r in self.rights.items()) or "nothing"
        self._record = f"Landlock ABI {self.abi}, handled rights {self.handled:#x}: {granted}"

    @classmethod
    def isolation(cls, *, scope_signals: bool = True) -> LandlockPlan:
        """The plan without a policy, built once per process and shared (never closed).

        Every confinement without a FilesystemPolicy enters this same domain description:
        building it (ABI probe, "/" opened, probe directories chosen) costs more than a
        spawn can afford each time. :meth:`close` on it does nothing.

        Examples:
            >>> LandlockPlan.isolation() is LandlockPlan.isolation()
            True
            >>> LandlockPlan.isolation().probe()[0]
            'mknod'
        """
        with _SHARED_LOCK:
            plan = _SHARED.get(scope_signals)
            if plan is None:
                plan = cls(None, scope_signals=scope_signals)
                plan._shared = True  # set once, before it is shared
                _SHARED[scope_signals] = plan
        return plan

    def enforce(self) -> None:
        """Restrict the calling (single-threaded) process; raises SandboxError."""
        try:
            self._ruleset.enforce()
        except OSError as err:
            hint = ""
            if err.errno == errno.EPERM:
                hint = " (Landlock needs no_new_privs or CAP_SYS_ADMIN)"
            raise SandboxError(f"Landlock enforcement failed: {err.strerror}{hint}") from err
        _applied.LANDLOCK.append(self._record)  # for audit_process() of this process

    def verify(self) -> None:
        """Probe that Landlock is in force: something outside the policy must be refused.

        Raises:
            SandboxError: the probe got access it should not have, or could not run.
        """
        probe = self.probe()
        if probe is None:
            return  # everything, devices included, is granted on "/": nothing to probe
        kind, path = probe
        if kind == "open":
            probe_read_refused(path)
        elif kind == "mkdir":
            probe_mkdir_refused(os.path.dirname(path))
        else:
            probe_mknod_refused(os.path.dirname(path))

    def ruleset_fd(self) -> int:
        """Create the ruleset in this process and return its descriptor (yours to close).

        For the spawn exec helper, which only calls ``landlock_restrict_self`` on it in
        the child. Creating it restricts nothing here.

        Raises:
            SandboxError: the kernel refused the ruleset or a rule.
        """
        try:
            return self._ruleset.create()
        except OSError as err:
            raise SandboxError(f"Landlock ruleset could not be built: {err.strerror}") from err

    def probe(self) -> tuple[str, str] | None:
        """What :meth:`verify` tries: ``("open"|"mkdir"|"mknod", path)`` or None.

        ``("open", "/")`` when "/" may not be listed. A mkdir or mknod probe path is
        fresh each time (random name in a world-writable directory the policy does not
        open); the mknod probe (a character device node, refused by Landlock with
        EACCES before any capability check) is used when the domain restricts no path
        access or "/" is granted. None means everything is
        granted on "/": nothing to probe.
        """
        root = self.rights.get("/", 0)
        name = f".hardenkit-landlock-probe-{os.urandom(8).hex()}"
        if self.policy is not None:
            if not root & READ_DIR:
                return ("open", "/")
            if not root & MAKE_DIR:
                return ("mkdir", os.path.join(self._probe_dir, name))
        if self.handled & MAKE_CHAR and not root & MAKE_CHAR:
            return ("mknod", os.path.join(self._mknod_dir, name))
        return None

    def descriptors(self) -> tuple[int, ...]:
        """The open path descriptors :meth:`enforce` needs (a forked child keeps them)."""
        return tuple(self._fds)

    def close(self) -> None:
        """Close the path descriptors (not those of the shared :meth:`isolation` plan)."""
        if not self._shared:
            _collected(self._ref)


_SHARED: dict[bool, LandlockPlan] = {}
_SHARED_LOCK = _thread.allocate_lock()


#: World-writable directories where mkdir is refused by Landlock alone (not by file modes).
_PROBE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 -- probed, never written to


def _mkdir_probe_dir(rights: dict[str, int], right: int = MAKE_DIR) -> str:
    """Pick where verify() probes: a world-writable directory the policy grants no ``right``."""
    for candidate in _PROBE_DIRS:
        granted = any(
            r & right and (p in ("/", candidate) or candidate.startswith(p + "/"))
            for p, r in rights.items()
        )
        try:
            st = os.stat(candidate)
            read_only = bool(os.statvfs(candidate).f_flag & os.ST_RDONLY)
        except OSError:
            continue
        if not granted and not read_only and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_IWOTH:
            return candidate
    return "/"


#: Each open plan's descriptors with a weak reference to the plan, whose callback
#: (:func:`_collected`) closes them when the plan is collected, or on close(): what
#: ``weakref.finalize`` does, without importing :mod:`weakref` (with ``_weakrefset`` and
#: ``itertools``, ~1.3 ms of every ``hardenkit exec``). Held here, the reference outlives
#: a plan collected in a cycle (its callback runs); keyed by its id, as a weak reference
#: hashes like its plan. Descriptors still open at exit are closed by the kernel.
_OPEN: dict[int, tuple[object, list[int]]] = {}


def _collected(plan_ref: object) -> None:
    """Close a plan's descriptors, once (close() and the collection callback both call it)."""
    entry = _OPEN.pop(id(plan_ref), None)
    if entry is not None:
        _close_all(entry[1])


def _close_all(fds: list[int]) -> None:
    while fds:
        try:  # noqa: SIM105 -- not contextlib.suppress, for import time (it loads functools)
            os.close(fds.pop())
        except OSError:  # noqa: PERF203 -- one per descriptor, each closed
            pass


def apply_landlock(policy: FilesystemPolicy) -> None:
    """Restrict the calling process to the paths in ``policy``, then probe that it holds.

    Sets no_new_privs (Landlock requires it unless CAP_SYS_ADMIN is held; hardenkit
    always sets it). Refuses with other live threads: before ABI 8 a ruleset covers the
    calling thread only.

    Examples:
        >>> from hardenkit._child import fork_call
        >>> def child():
        ...     apply_landlock(FilesystemPolicy(read=["/usr"]))
        ...     os.listdir("/usr")  # inside: works
        ...     open("/etc/passwd").close()  # outside: refused
        >>> fork_call(child).exc_type
        'PermissionError'

    Raises:
        SandboxError: the ABI is below ``min_abi``, a path is missing, other threads
            exist, or enforcement failed.
    """
    require_linux("Landlock")
    from hardenkit._linux.libc import PR_SET_NO_NEW_PRIVS, prctl  # noqa: PLC0415 -- for import time: libc loads ctypes

    plan = LandlockPlan(policy)
    try:
        threads = _threads()
        if threads != 1:
            raise SandboxError(
                f"{threads} threads are running: Landlock (ABI {plan.abi} < 8) restricts "
                "only the calling thread; apply it before starting threads"
            )
        try:
            prctl(PR_SET_NO_NEW_PRIVS, 1)
        except OSError as err:
            raise SandboxError(f"prctl(PR_SET_NO_NEW_PRIVS) failed: {err.strerror}") from err
        plan.enforce()
        plan.verify()
    finally:
        plan.close()
