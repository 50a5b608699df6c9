"""``NetworkPolicy``: which sockets a confined process may open, and which TCP ports it may use.

Two kernel mechanisms, each for what it can see (see ``docs/network.md``):

- a seccomp filter decides ``socket()`` and ``socketpair()`` by address family, type and
  protocol, compared on the low 32 bits the kernel reads with ``SOCK_NONBLOCK`` and
  ``SOCK_CLOEXEC`` masked; ``io_uring_setup`` (``IORING_OP_SOCKET`` bypasses seccomp) is
  refused, and every other ABI (i386, whose ``socketcall`` hides its arguments behind a
  pointer seccomp cannot read, and x32) is killed, whatever the caller's filter allows;
- Landlock (ABI 4) restricts TCP ``bind`` and ``connect`` by port, and (ABI 6) scopes
  abstract UNIX sockets and signals to the sandbox.

A refused ``socket()`` fails with ``EAFNOSUPPORT``; a refused TCP port with ``EACCES``.
UDP cannot be restricted by port (Landlock has no UDP rules): it is off unless
``udp=True``. Everything is probed from the confined process before the call returns.

Examples:
    >>> NetworkPolicy.none().mode
    'none'
    >>> NetworkPolicy.parse(["connect=443,5432", "bind=8080"]).families
    ('AF_UNIX', 'AF_INET', 'AF_INET6')
    >>> NetworkPolicy(families=["AF_BOGUS"])
    Traceback (most recent call last):
    ...
    hardenkit.errors.PolicyError: unknown address family 'AF_BOGUS' ...
"""

from __future__ import annotations

import _socket  # not socket, for import time: its enums and selectors cost ~2 ms
import errno as errno_mod
import os

from hardenkit._log import get_logger
from hardenkit.errors import SandboxError
from hardenkit.sandbox._net_filter import network_filter
from hardenkit.sandbox._net_policy import (
    _INET,
    _MAX_PORT,
    ADDRESS_FAMILIES,
    NetworkPolicy,
    _refuses_listen,
)

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from hardenkit._linux.landlock_net import NetRuleset

__all__ = ["ADDRESS_FAMILIES", "NetworkPlan", "NetworkPolicy", "network_filter"]

_log = get_logger(__name__)

#: Ports tried first for the "a port outside the list is refused" probes; then every
#: other port downwards, so a list covering this range still leaves one to try.
_PROBE_PORTS = range(65001, _MAX_PORT + 1)
_ABI_NET = 4
_ABI_SCOPE = 6


class NetworkPlan:
    """A NetworkPolicy prepared in the parent: the Landlock part built, probes decided.

    :meth:`enforce_landlock` runs with the other Landlock step; :meth:`probe` right after
    the network filter is loaded (before the caller's filter, which may forbid sockets).
    """

    def __init__(self, policy: NetworkPolicy, *, abi: int, unix_refused: bool = False) -> None:
        from hardenkit._linux import landlock_net as ln  # noqa: PLC0415 -- for import time: Landlock loads libc (ctypes)

        self.policy = policy
        #: AF_UNIX sockets are refused by the FilesystemPolicy's guard, whatever this allows.
        self.unix_refused = unix_refused
        handled = 0
        ports: dict[int, int] = {}
        if policy.bind is not None:
            handled |= ln.ACCESS_NET_BIND_TCP
            for p in policy.bind:
                ports[p] = ports.get(p, 0) | ln.ACCESS_NET_BIND_TCP
        if policy.connect is not None:
            handled |= ln.ACCESS_NET_CONNECT_TCP
            for p in policy.connect:
                ports[p] = ports.get(p, 0) | ln.ACCESS_NET_CONNECT_TCP
        if handled and abi < _ABI_NET:
            raise SandboxError(
                f"TCP port rules need Landlock ABI {_ABI_NET}; this kernel has ABI {abi}: "
                "refusing rather than leaving the ports open"
            )
        inet = any(f in _INET for f in policy.families)
        if not inet and abi >= _ABI_NET:
            # No TCP socket can be made; deny TCP bind/connect in Landlock too (io_uring).
            handled = ln.ACCESS_NET_BIND_TCP | ln.ACCESS_NET_CONNECT_TCP
            ports = {}
        scoped = 0
        if policy.scope:
            if abi >= _ABI_SCOPE:
                scoped = ln.SCOPE_ABSTRACT_UNIX_SOCKET | ln.SCOPE_SIGNAL
            else:
                _log.warning(
                    "Landlock ABI %d < %d: abstract UNIX sockets and signals outside the "
                    "sandbox are not scoped",
                    abi,
                    _ABI_SCOPE,
                )
        self.scoped = scoped
        #: Probe the abstract UNIX socket scope: only where an AF_UNIX socket can be made.
        self.abstract_probe = bool(scoped & ln.SCOPE_ABSTRACT_UNIX_SOCKET) and (
            "AF_UNIX" in policy.families and not unix_refused
        )
        self._abstract: _socket.socket | None = None
        self.handled = handled
        self.ruleset: NetRuleset | None = None
        if handled or scoped:
            self.ruleset = ln.NetRuleset(
                handled_net=handled,
                scoped=scoped,
                attr_size=24 if abi >= _ABI_SCOPE else 16,
                ports=sorted(ports.items()),
            )
        self._refused = next(
            (f for f in ("AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET", "AF_UNIX")
             if f not in policy.families),
            None,
        )  # fmt: skip
        self._bind_probe = self._free_port(policy.bind)
        self._connect_probe = self._free_port(policy.connect)

    @staticmethod
    def _free_port(allowed: Sequence[int] | None) -> int | None:
        """A port outside ``allowed`` for the refusal probe; None when nothing is refused.

        A list naming all 65535 ports refuses nothing (the rule is then the same as no
        rule), so there is no refusal to probe.
        """
        if allowed is None:
            return None
        taken = set(allowed)
        for ports in (_PROBE_PORTS, range(_PROBE_PORTS.start - 1, 0, -1)):
            port = next((p for p in ports if p not in taken), None)
            if port is not None:
                return port
        return None

    def __repr__(self) -> str:
        return f"NetworkPlan(mode={self.policy.mode!r}, landlock={self.ruleset is not None})"

    def enforce_landlock(self) -> None:
        """Restrict TCP ports and scopes (no-op when neither is needed).

        Under the abstract UNIX socket scope, first binds a datagram socket to an
        abstract name (chosen by the kernel) that :meth:`probe` must then be refused to
        connect to. A datagram socket, not a listener: anyone on the host can see the
        name in /proc/net/unix, and a stream listener's backlog filled from outside
        would make the probe's connect block or fail before Landlock is asked; a
        datagram connect queues nothing and goes straight to the scope's check.
        """
        if self.ruleset is None:
            return
        if self.abstract_probe:
            target = None
            try:
                target = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
                target.bind("")  # autobind: an abstract name outside the domain
            except OSError as err:
                if target is not None:
                    target.close()
                raise SandboxError(f"network probe: abstract UNIX socket: {err}") from err
            self._abstract = target
        try:
            self.ruleset.enforce()
        except OSError as err:
            if self._abstract is not None:
                self._abstract.close()
                self._abstract = None
            raise SandboxError(f"Landlock network rules failed: {err.strerror}") from err

    def probe(self) -> None:  # noqa: C901, PLR0912 -- one probe per promise
        """Check from this process that the policy holds; raise SandboxError if not.

        A socket of a refused family must fail with EAFNOSUPPORT, one of an allowed
        family (or an AF_UNIX socketpair) must work, UDP must fail unless allowed, a TCP
        bind or connect to a port outside the lists must fail with EACCES, a connect to
        an abstract UNIX name bound outside the domain and a signal to the parent must be
        refused under the scopes.
        """
        pol = self.policy
        if self._refused is not None:
            _expect_refused(ADDRESS_FAMILIES[self._refused], _socket.SOCK_STREAM, self._refused)
        # A FilesystemPolicy without sockets= refuses AF_UNIX sockets on its own (a path
        # outside it must not be reachable through a socket): not a family to probe as open.
        open_families = [f for f in pol.families if not (f == "AF_UNIX" and self.unix_refused)]
        if open_families:
            fam = ADDRESS_FAMILIES[open_families[0]]
            kind = _socket.SOCK_STREAM if fam in (1, 2, 10) else _socket.SOCK_DGRAM
            _expect_works(fam, kind, open_families[0])
        try:
            a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        except OSError as err:
            raise SandboxError(f"network probe: socketpair(AF_UNIX) failed: {err}") from err
        a.close()
        b.close()
        if self._abstract is not None:
            _expect_abstract_refused(self._abstract)
            self._abstract = None
        inet = next((f for f in pol.families if f in _INET), None)
        if inet is None:
            return
        fam = ADDRESS_FAMILIES[inet]
        if not pol.udp:
            _expect_refused(fam, _socket.SOCK_DGRAM, f"{inet} UDP")
        host = b"127.0.0.1" if fam == _socket.AF_INET else b"::1"  # bytes: no idna codec
        for port, what in ((self._bind_probe, "bind"), (self._connect_probe, "connect")):
            if port is not None:
                _expect_port_refused(fam, host, port, what)
        if _refuses_listen(pol):
            _expect_listen_refused(fam)
        if self.scoped:
            ppid = os.getppid()
            if ppid > 1:
                try:
                    os.kill(ppid, 0)
                except PermissionError:
                    pass
                except OSError as err:
                    raise SandboxError(f"network probe: signal scope check failed: {err}") from err
                else:
                    raise SandboxError("Landlock signal scope is not in force")


def _expect_refused(family: int, kind: int, what: str) -> None:
    try:
        s = _socket.socket(family, kind)
    except OSError as err:
        if err.errno == errno_mod.EAFNOSUPPORT:
            return
        raise SandboxError(
            f"network probe: {what} socket failed with {err}, not EAFNOSUPPORT"
        ) from err
    s.close()
    raise SandboxError(f"network policy is not in force: a {what} socket could be opened")


def _expect_works(family: int, kind: int, what: str) -> None:
    try:
        s = _socket.socket(family, kind)
    except OSError as err:
        if err.errno in (errno_mod.EPERM, errno_mod.EACCES) and family not in (1, 2, 10):
            return  # a privileged family (AF_PACKET...) may need a capability
        raise SandboxError(f"network probe: an allowed {what} socket failed: {err}") from err
    s.close()


def _expect_abstract_refused(target: _socket.socket) -> None:
    """A connect to an abstract name bound outside the domain must fail with EPERM.

    Datagram and non-blocking: the connect never waits, whatever another process does
    to ``target`` (see :meth:`NetworkPlan.enforce_landlock`).
    """
    try:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_NONBLOCK)
        try:  # _socket's sockets are no context managers
            s.connect(target.getsockname())
        finally:
            s.close()
    except PermissionError:
        return
    except OSError as err:
        raise SandboxError(f"network probe: abstract UNIX connect failed with {err}") from err
    finally:
        target.close()
    raise SandboxError("Landlock abstract UNIX socket scope is not in force")


def _expect_listen_refused(family: int) -> None:
    s = _socket.socket(family, _socket.SOCK_STREAM)
    try:
        s.listen(1)  # unbound: would bind an ephemeral port Landlock never sees
    except PermissionError:
        return
    except OSError as err:
        raise SandboxError(f"network probe: listen() failed with {err}, not EACCES") from err
    finally:
        s.close()
    raise SandboxError("network policy is not in force: listen() bound an ephemeral port")


def _expect_port_refused(family: int, host: bytes, port: int, what: str) -> None:
    s = _socket.socket(family, _socket.SOCK_STREAM)
    try:
        s.setblocking(False)  # noqa: FBT003 -- the socket API
        try:
            if what == "bind":
                s.bind((host, port))
            else:
                s.connect((host, port))
        except PermissionError:
            return  # EACCES: Landlock refused it
        except OSError as err:
            raise SandboxError(
                f"Landlock TCP {what} rules are not in force: port {port} gave {err}"
            ) from err
        raise SandboxError(f"Landlock TCP {what} rules are not in force: port {port} worked")
    finally:
        s.close()
