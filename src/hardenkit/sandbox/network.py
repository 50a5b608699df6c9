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
import functools
import os
from dataclasses import dataclass

from hardenkit._log import get_logger
from hardenkit.errors import PolicyError, SandboxError

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from hardenkit._linux.landlock_net import NetRuleset
    from hardenkit.sandbox.seccomp import SeccompPolicy

__all__ = ["ADDRESS_FAMILIES", "NetworkPlan", "NetworkPolicy"]

_log = get_logger(__name__)

#: systemd's RestrictAddressFamilies= names -> Linux AF_* numbers.
ADDRESS_FAMILIES: dict[str, int] = {
    "AF_UNIX": 1,
    "AF_INET": 2,
    "AF_AX25": 3,
    "AF_IPX": 4,
    "AF_APPLETALK": 5,
    "AF_NETROM": 6,
    "AF_BRIDGE": 7,
    "AF_ATMPVC": 8,
    "AF_X25": 9,
    "AF_INET6": 10,
    "AF_ROSE": 11,
    "AF_DECnet": 12,
    "AF_NETBEUI": 13,
    "AF_SECURITY": 14,
    "AF_KEY": 15,
    "AF_NETLINK": 16,
    "AF_PACKET": 17,
    "AF_ECONET": 19,
    "AF_ATMSVC": 20,
    "AF_RDS": 21,
    "AF_IRDA": 23,
    "AF_PPPOX": 24,
    "AF_WANPIPE": 25,
    "AF_LLC": 26,
    "AF_IB": 27,
    "AF_MPLS": 28,
    "AF_CAN": 29,
    "AF_TIPC": 30,
    "AF_BLUETOOTH": 31,
    "AF_IUCV": 32,
    "AF_RXRPC": 33,
    "AF_ISDN": 34,
    "AF_PHONET": 35,
    "AF_IEEE802154": 36,
    "AF_CAIF": 37,
    "AF_ALG": 38,
    "AF_NFC": 39,
    "AF_VSOCK": 40,
    "AF_KCM": 41,
    "AF_QIPCRTR": 42,
    "AF_SMC": 43,
    "AF_XDP": 44,
    "AF_MCTP": 45,
}
_ALIASES = {"AF_LOCAL": "AF_UNIX", "AF_FILE": "AF_UNIX", "AF_ROUTE": "AF_NETLINK"}
_INET = ("AF_INET", "AF_INET6")
_SOCK_STREAM = 1
_SOCK_DGRAM = 2
#: socketpair types (type & SOCK_TYPE_MASK) that stay connected to each other only.
_UNIX_PAIR_TYPES = (1, 5)  # SOCK_STREAM, SOCK_SEQPACKET
_IPPROTO_TCP = 6
_IPPROTO_UDP = 17
_LOW32 = 0xFFFFFFFF
#: The type argument as the kernel reads it: an int, with SOCK_NONBLOCK|SOCK_CLOEXEC flags.
_TYPE_MASK = _LOW32 & ~(0o4000 | 0o2000000)
_MAX_PORT = 65535
#: Ports tried first for the "a port outside the list is refused" probes; then every
#: other port downwards, so a list covering this range still leaves one to try.
_PROBE_PORTS = range(65001, _MAX_PORT + 1)
_ABI_NET = 4
_ABI_SCOPE = 6


def _family(name: object) -> str:
    if not isinstance(name, str):
        raise PolicyError(f"an address family is a name such as 'AF_INET', not {name!r}")
    text = name.strip()
    if not text.upper().startswith("AF_"):
        text = "AF_" + text
    canon = next((k for k in ADDRESS_FAMILIES if k.upper() == text.upper()), None)
    canon = canon or _ALIASES.get(text.upper())
    if canon is None:
        raise PolicyError(
            f"unknown address family {name!r} (systemd RestrictAddressFamilies= names, "
            "such as AF_UNIX, AF_INET, AF_INET6, AF_NETLINK)"
        )
    return canon


def _ports(value: Iterable[int] | None, what: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        raise PolicyError(f"NetworkPolicy.{what} takes port numbers, not a string")
    out = []
    for port in value:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= _MAX_PORT:
            raise PolicyError(f"NetworkPolicy.{what}: {port!r} is not a TCP port (1-65535)")
        out.append(port)
    return tuple(sorted(set(out)))


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicy:
    """Which address families, socket types and TCP ports the confined process may use.

    ``families`` are systemd ``RestrictAddressFamilies=`` names; empty means no socket
    at all (``socketpair(AF_UNIX)`` stays, as in Codex's sandbox). ``AF_INET``/``AF_INET6``
    allow TCP only, plus UDP with ``udp=True`` (Landlock cannot limit UDP by port).
    ``bind``/``connect`` list the TCP ports allowed (Landlock ABI 4, refused on older
    kernels); None leaves that direction unrestricted by port, ``()`` allows no port.
    ``scope`` (default on) refuses abstract UNIX sockets and signals to processes
    outside the sandbox where the kernel has Landlock ABI 6.

    Examples:
        >>> NetworkPolicy(families=["inet", "AF_UNIX"], connect=[443]).families
        ('AF_INET', 'AF_UNIX')
        >>> NetworkPolicy(connect=[443])
        Traceback (most recent call last):
        ...
        hardenkit.errors.PolicyError: TCP ports need AF_INET or AF_INET6 in families
    """

    families: Sequence[str] = ()
    bind: Sequence[int] | None = None
    connect: Sequence[int] | None = None
    udp: bool = False
    scope: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.families, str):
            raise PolicyError("NetworkPolicy.families takes a list of names")
        fams = tuple(dict.fromkeys(_family(f) for f in self.families))
        object.__setattr__(self, "families", fams)
        object.__setattr__(self, "bind", _ports(self.bind, "bind"))
        object.__setattr__(self, "connect", _ports(self.connect, "connect"))
        for name in ("udp", "scope"):
            if not isinstance(getattr(self, name), bool):
                raise PolicyError(f"NetworkPolicy.{name} is a bool")
        inet = any(f in _INET for f in fams)
        if (self.bind is not None or self.connect is not None) and not inet:
            raise PolicyError("TCP ports need AF_INET or AF_INET6 in families")
        if self.udp and not inet:
            raise PolicyError("udp=True needs AF_INET or AF_INET6 in families")

    @classmethod
    def none(cls, *, scope: bool = True) -> NetworkPolicy:
        """No sockets; ``socketpair(AF_UNIX)`` only."""
        return cls(families=(), scope=scope)

    @classmethod
    def unix(cls, *, scope: bool = True) -> NetworkPolicy:
        """AF_UNIX sockets only."""
        return cls(families=("AF_UNIX",), scope=scope)

    @property
    def mode(self) -> str:
        """``none``, ``unix`` or ``allow`` (an allow list)."""
        if not self.families:
            return "none"
        return "unix" if self.families == ("AF_UNIX",) else "allow"

    @classmethod
    def parse(cls, items: Iterable[str]) -> NetworkPolicy:  # noqa: C901, PLR0912 -- word by word
        """Build a policy from ``--net`` words.

        The words: ``none``, ``unix``, ``connect=443,5432``, ``bind=8080``,
        ``families=AF_INET,AF_UNIX``, ``udp``, ``keep-scope``. Ports without ``families=``
        allow AF_UNIX, AF_INET and AF_INET6.

        Examples:
            >>> NetworkPolicy.parse(["unix"]).mode
            'unix'
            >>> NetworkPolicy.parse(["connect=53", "udp"]).udp
            True
        """
        families: list[str] | None = None
        bind: list[int] | None = None
        connect: list[int] | None = None
        udp = False
        scope = True
        for raw in items:
            for word in [raw] if "=" in raw else raw.split(","):
                key, sep, value = word.strip().partition("=")
                if key == "none" and not sep:
                    families = []
                elif key == "unix" and not sep:
                    families = ["AF_UNIX"]
                elif key == "udp" and not sep:
                    udp = True
                elif key in ("keep-scope", "no-scope") and not sep:
                    scope = False
                elif key in ("families", "family") and sep:
                    families = [*(families or []), *(v for v in value.split(",") if v)]
                elif key in ("bind", "connect") and sep:
                    try:
                        ports = [int(v) for v in value.split(",") if v]
                    except ValueError:
                        raise PolicyError(f"--net {word}: ports are numbers") from None
                    if key == "bind":
                        bind = [*(bind or []), *ports]
                    else:
                        connect = [*(connect or []), *ports]
                else:
                    raise PolicyError(
                        f"--net {word!r}: use none, unix, connect=PORTS, bind=PORTS, "
                        "families=AF_...,..., udp or keep-scope"
                    )
        if families is None:
            families = ["AF_UNIX", *_INET] if (bind, connect) != (None, None) or udp else []
        return cls(families=families, bind=bind, connect=connect, udp=udp, scope=scope)

    def to_toml_lines(self) -> list[str]:
        """This policy as a profile's ``[network]`` table."""
        lines = ["[network]"]
        if self.mode in ("none", "unix"):
            lines.append(f'mode = "{self.mode}"')
        else:
            lines.append("families = [" + ", ".join(f'"{f}"' for f in self.families) + "]")
        for name in ("bind", "connect"):
            ports = getattr(self, name)
            if ports is not None:
                lines.append(f"{name} = [" + ", ".join(str(p) for p in ports) + "]")
        if self.udp:
            lines.append("udp = true")
        if not self.scope:
            lines.append("scope = false")
        return lines


def _rule(family: int, *conds: tuple[int, int, int]) -> object:
    from hardenkit.sandbox.seccomp import ArgCondition, SyscallRule  # noqa: PLC0415

    args = [ArgCondition(index=0, op="masked_eq", mask=_LOW32, value=family)]
    args += [ArgCondition(index=i, op="masked_eq", mask=m, value=v) for i, m, v in conds]
    return SyscallRule(names=["socket"], action="allow", args=args)


@functools.cache
def network_filter(policy: NetworkPolicy) -> SeccompPolicy:
    """The seccomp policy that enforces ``policy``'s families and socket types.

    Native ABI only: other ABIs (i386 and its ``socketcall``, x32) are killed. Every
    syscall the local libseccomp knows is allowed except ``socket`` (allowed by rule),
    ``socketpair`` (AF_UNIX only), ``socketcall`` and ``io_uring_*``; the default fails
    with ``EAFNOSUPPORT`` (the caller's own filter decides the rest).

    Examples:
        >>> p = network_filter(NetworkPolicy.unix())
        >>> p.default, "socket" in p.allow, [r.names for r in p.rules][-1]
        ('errno', False, ('socket',))
    """
    from hardenkit._linux.seccomp_compile import resolve  # noqa: PLC0415
    from hardenkit.sandbox.groups import expand  # noqa: PLC0415
    from hardenkit.sandbox.seccomp import ArgCondition, SeccompPolicy, SyscallRule  # noqa: PLC0415

    closed = {"socket", "socketpair", "socketcall", "io_uring_setup", "io_uring_enter"}
    closed |= {"io_uring_register"}
    if _refuses_listen(policy):
        closed.add("listen")
    allow = sorted(n for n in expand(["@known"]) - closed if resolve(n) is not None)
    # Without AF_UNIX sockets, only stream and seqpacket pairs: a datagram pair (SOCK_RAW
    # is SOCK_DGRAM in AF_UNIX) can sendto() or connect() any named socket on the host.
    pair_types = [None] if "AF_UNIX" in policy.families else list(_UNIX_PAIR_TYPES)
    rules: list[object] = [
        SyscallRule(
            names=["socketpair"],
            action="allow",
            args=[ArgCondition(index=0, op="masked_eq", mask=_LOW32, value=1)]
            + ([] if t is None else [ArgCondition(index=1, op="masked_eq", mask=0xF, value=t)]),
        )
        for t in pair_types
    ]
    rules.append(SyscallRule(names=["io_uring_setup"], action="errno", errno=errno_mod.EPERM))
    if _refuses_listen(policy):
        rules.append(SyscallRule(names=["listen"], action="errno", errno=errno_mod.EACCES))
    for name in policy.families:
        fam = ADDRESS_FAMILIES[name]
        if name not in _INET:
            rules.append(_rule(fam))
            continue
        kinds = [(_SOCK_STREAM, _IPPROTO_TCP)]
        if policy.udp:
            kinds.append((_SOCK_DGRAM, _IPPROTO_UDP))
        rules.extend(
            _rule(fam, (1, _TYPE_MASK, sock_type), (2, _LOW32, p))
            for sock_type, proto in kinds
            for p in (0, proto)
        )
    return SeccompPolicy(
        default="errno",
        errno=errno_mod.EAFNOSUPPORT,
        allow=allow,
        rules=rules,  # type: ignore[arg-type]
        block_namespaces=False,  # the caller's filter decides that
    )


def _refuses_listen(policy: NetworkPolicy) -> bool:
    """True when ``listen()`` must be refused outright: TCP may bind no port at all.

    ``listen()`` on an unbound TCP socket binds it to an ephemeral port without going
    through ``bind()``, which is all Landlock's BIND_TCP right governs: under ``bind=()``
    the process could otherwise serve on 0.0.0.0:<random>. With only inet families (TCP,
    and UDP which never listens) no listen() can be legitimate then; with AF_UNIX or
    another family allowed, seccomp cannot tell the sockets apart (docs/network.md).
    """
    return policy.bind == () and bool(policy.families) and set(policy.families) <= set(_INET)


class NetworkPlan:
    """A NetworkPolicy prepared in the parent: the Landlock part built, probes decided.

    :meth:`enforce_landlock` runs with the other Landlock step; :meth:`probe` right after
    the network filter is loaded (before the caller's filter, which may forbid sockets).
    """

    def __init__(self, policy: NetworkPolicy, *, abi: int, unix_refused: bool = False) -> None:
        from hardenkit._linux import landlock_net as ln  # noqa: PLC0415

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
