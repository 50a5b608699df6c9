"""NetworkPolicy: which sockets a confined process may open, and which TCP ports it may use.

The policy, checked at construction; ``hardenkit.sandbox.network`` (which also holds
the plan and its probes) documents the whole; the seccomp filter is in ``_net_filter``.

Examples:
    >>> NetworkPolicy.none().mode
    'none'
"""

from __future__ import annotations

from hardenkit._dataclass import dataclass
from hardenkit._log import get_logger
from hardenkit.errors import PolicyError

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


__all__ = ["ADDRESS_FAMILIES", "NetworkPolicy"]


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


def _refuses_listen(policy: NetworkPolicy) -> bool:
    """True when ``listen()`` must be refused outright: TCP may bind no port at all.

    ``listen()`` on an unbound TCP socket binds it to an ephemeral port without going
    through ``bind()``, which is all Landlock's BIND_TCP right governs: under ``bind=()``
    the process could otherwise serve on 0.0.0.0:<random>. With only inet families (TCP,
    and UDP which never listens) no listen() can be legitimate then; with AF_UNIX or
    another family allowed, seccomp cannot tell the sockets apart (docs/network.md).
    """
    return policy.bind == () and bool(policy.families) and set(policy.families) <= set(_INET)
