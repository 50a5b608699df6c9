"""A NetworkPolicy carried by the compiled exec helper: its steps, and the check of its answers.

:mod:`hardenkit.spawn._helper` encodes the EnterNetworkLandlock and ProbeNetwork steps here.
The steps are those of :func:`hardenkit.sandbox._steps.compile_steps`, as the in-process
executor walks them: after the filesystem domain (entered and probed), the network
ruleset (TCP ports, scopes) is a second, stacked Landlock domain; then the guard filters
and the network filter are loaded, and the probes of :meth:`NetworkPlan.probe
<hardenkit.sandbox.network.NetworkPlan.probe>` run, in the same order, before the
caller's filter (which may forbid sockets and is loaded after the parent's go). The
helper only reports each probe's errnos; :func:`check_report` judges them here with
``NetworkPlan.probe``'s rules and messages. A missing or malformed answer raises: the
parent then never sends "go" and nothing runs.
"""

from __future__ import annotations

import errno
import os
import struct

from hardenkit._linux import exec_helper as xh
from hardenkit.errors import SandboxError
from hardenkit.sandbox import _net_policy as _net

# typing is not imported at run time: it costs every first use several ms (issue 14).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit.sandbox.confinement import ConfinementPlan
    from hardenkit.sandbox.network import NetworkPlan

#: The helper's probe actions (``net_probe`` in hardenkit-exec.c).
NET_SOCKET = 0
NET_PAIR = 1
NET_BIND = 2
NET_CONNECT = 3
NET_LISTEN = 4
_AF_UNIX = 1
_SOCK_STREAM = 1
_SOCK_DGRAM = 2
_PAIR = struct.Struct("<ii")
_REFUSED = (errno.EACCES, errno.EPERM)  # what Python raises PermissionError for


class NetReports:
    """Where the network probes' answers will be.

    Examples:
        >>> NetReports().probes
        []
    """

    __slots__ = ("probes", "signal")

    def __init__(self) -> None:
        #: ``(step index, probe)`` per socket probe, in order (see :func:`probes`).
        self.probes: list[tuple[int, Probe]] = []
        self.signal = -1


def ruleset_fd(plan: ConfinementPlan) -> int | None:
    """Create the network Landlock ruleset in this process (yours to close); None if none.

    Creating it restricts nothing here: the helper calls ``landlock_restrict_self``.

    Raises:
        SandboxError: the kernel refused the ruleset or a port rule.
    """
    net = plan.network
    if net is None or net.ruleset is None:
        return None
    try:
        return net.ruleset.create()
    except OSError as err:
        raise SandboxError(f"Landlock network rules failed: {err.strerror}") from err


def add_landlock(script: xh.Script, net: NetworkPlan, net_fd: int | None) -> None:
    """The EnterNetworkLandlock step: the stacked network domain (ports, scopes)."""
    if net.ruleset is None:
        return
    if net_fd is None:
        raise SandboxError("a network plan with Landlock rules needs its ruleset descriptor")
    if net.abstract_probe:  # the name a probe must then be refused to reach
        script.add(xh.OP_ABSTRACT_LISTEN, "listening on an abstract UNIX name (probe)")
    script.add(xh.OP_LANDLOCK, "landlock_restrict_self (network rules)", net_fd)


def add_probes(script: xh.Script, net: NetworkPlan) -> NetReports:
    """The ProbeNetwork step: the probes, whose answers :func:`check_report` judges."""
    rep = NetReports()
    for probe in probes(net):
        action, family, kind, port, _expect, what = probe
        index = script.add(xh.OP_PROBE_SOCKET, f"network probe: {what}", action, family, kind, port)
        rep.probes.append((index, probe))
    if net.scoped:
        rep.signal = script.add(xh.OP_PROBE_SIGNAL, "network probe: signal to the parent")
    return rep


#: ``(action, family, type, port, expect, what)``; expect is refused, works or denied.
Probe = tuple[int, int, int, int, str, str]


def probes(net: NetworkPlan) -> list[Probe]:
    """``NetworkPlan.probe``'s socket probes, in its order.

    ``refused``: socket() fails with EAFNOSUPPORT; ``works``: it succeeds (a privileged
    family may answer EPERM/EACCES); ``denied``: the socket works and the bind, connect
    or listen fails with EACCES.

    Examples:
        >>> from hardenkit.sandbox.network import NetworkPlan, NetworkPolicy
        >>> [p[4:] for p in probes(NetworkPlan(NetworkPolicy.none(), abi=3))]
        [('refused', 'AF_INET'), ('works', 'socketpair(AF_UNIX)')]
    """
    pol = net.policy
    fams = _net.ADDRESS_FAMILIES
    out: list[Probe] = []
    refused = net._refused  # noqa: SLF001 -- the family NetworkPlan.probe refuses
    if refused is not None:
        out.append((NET_SOCKET, fams[refused], _SOCK_STREAM, 0, "refused", refused))
    open_families = [f for f in pol.families if not (f == "AF_UNIX" and net.unix_refused)]
    if open_families:
        fam = fams[open_families[0]]
        kind = _SOCK_STREAM if fam in (1, 2, 10) else _SOCK_DGRAM
        out.append((NET_SOCKET, fam, kind, 0, "works", open_families[0]))
    out.append((NET_PAIR, _AF_UNIX, _SOCK_STREAM, 0, "works", "socketpair(AF_UNIX)"))
    if net.abstract_probe and net.ruleset is not None:
        # Datagram, as NetworkPlan's probe: no backlog another process could fill.
        out.append((NET_CONNECT, _AF_UNIX, _SOCK_DGRAM, 0, "denied", "abstract UNIX connect"))
    inet = next((f for f in pol.families if f in _net._INET), None)  # noqa: SLF001
    if inet is None:
        return out
    fam = fams[inet]
    if not pol.udp:
        out.append((NET_SOCKET, fam, _SOCK_DGRAM, 0, "refused", f"{inet} UDP"))
    for port, action, what in (
        (net._bind_probe, NET_BIND, "bind"),  # noqa: SLF001
        (net._connect_probe, NET_CONNECT, "connect"),  # noqa: SLF001
    ):
        if port is not None:
            out.append((action, fam, _SOCK_STREAM, port, "denied", f"TCP {what} to port {port}"))
    if _net._refuses_listen(pol):  # noqa: SLF001
        out.append((NET_LISTEN, fam, _SOCK_STREAM, 0, "denied", f"{inet} listen() unbound"))
    return out


def check_report(plan: ConfinementPlan, rep: NetReports, records: dict[int, bytes]) -> None:
    """Judge the probes' answers as ``NetworkPlan.probe`` judges its own; raise if not held.

    Raises:
        SandboxError: the policy is not in force, or an answer is missing or malformed.
    """
    net = plan.network
    if net is None:
        return
    if [p for _i, p in rep.probes] != probes(net) or (net.scoped and rep.signal < 0):
        raise SandboxError("the exec helper's script lacks network probes the policy needs")
    for index, probe in rep.probes:
        data = records.get(index)
        if data is None or len(data) != _PAIR.size:
            raise SandboxError(f"the exec helper's report lacks the network probe ({probe[5]})")
        _judge(probe, *_PAIR.unpack(data))
    if net.scoped:
        data = records.get(rep.signal)
        if data is None or len(data) != _PAIR.size:
            raise SandboxError("the exec helper's report lacks the signal scope probe")
        ppid, err = _PAIR.unpack(data)
        if ppid > 1 and err != errno.EPERM:
            if err == 0:
                raise SandboxError("Landlock signal scope is not in force")
            raise SandboxError(f"network probe: signal scope check failed: {_strerror(err)}")


def _strerror(err: int) -> str:
    return f"[Errno {err}] {os.strerror(err)}" if err > 0 else f"errno {err}"


def _judge(probe: Probe, sock_err: int, act_err: int) -> None:
    """One probe's verdict, with ``NetworkPlan.probe``'s rules and messages."""
    action, family, _kind, _port, expect, what = probe
    if expect == "works":
        if sock_err and not (sock_err in _REFUSED and family not in (1, 2, 10)):
            err = _strerror(sock_err)
            raise SandboxError(f"network probe: an allowed {what} socket failed: {err}")
        return
    if expect == "refused":
        if sock_err == errno.EAFNOSUPPORT:
            return
        if sock_err:
            raise SandboxError(
                f"network probe: {what} socket failed with {_strerror(sock_err)}, not EAFNOSUPPORT"
            )
        raise SandboxError(f"network policy is not in force: a {what} socket could be opened")
    _judge_denied(action, family, what, sock_err, act_err)


def _judge_denied(action: int, family: int, what: str, sock_err: int, act_err: int) -> None:
    """A bind, connect or listen that Landlock (or the listen rule) must refuse."""
    if sock_err:
        raise SandboxError(f"network probe: the socket for {what} failed: {_strerror(sock_err)}")
    if act_err in _REFUSED:
        return
    if action == NET_LISTEN:
        if act_err:
            raise SandboxError(
                f"network probe: listen() failed with {_strerror(act_err)}, not EACCES"
            )
        raise SandboxError("network policy is not in force: listen() bound an ephemeral port")
    if family == _AF_UNIX:
        if act_err:
            raise SandboxError(f"network probe: {what} failed with {_strerror(act_err)}")
        raise SandboxError("Landlock abstract UNIX socket scope is not in force")
    rules = "Landlock TCP " + ("bind" if action == NET_BIND else "connect")
    if act_err:
        raise SandboxError(f"{rules} rules are not in force: {what} gave {_strerror(act_err)}")
    raise SandboxError(f"{rules} rules are not in force: {what} worked")
