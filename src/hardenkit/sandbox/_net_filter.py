"""The seccomp half of a NetworkPolicy: which ``socket()`` and ``socketpair()`` calls pass."""

from __future__ import annotations

import errno as errno_mod

from hardenkit._memo import cache
from hardenkit.sandbox._net_policy import (
    _INET,
    _IPPROTO_TCP,
    _IPPROTO_UDP,
    _LOW32,
    _SOCK_DGRAM,
    _SOCK_STREAM,
    _TYPE_MASK,
    _UNIX_PAIR_TYPES,
    ADDRESS_FAMILIES,
    NetworkPolicy,
    _refuses_listen,
)

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit.sandbox.seccomp import SeccompPolicy


def _rule(family: int, *conds: tuple[int, int, int]) -> object:
    from hardenkit.sandbox.seccomp import ArgCondition, SyscallRule  # noqa: PLC0415 -- for import time: the seccomp package

    args = [ArgCondition(index=0, op="masked_eq", mask=_LOW32, value=family)]
    args += [ArgCondition(index=i, op="masked_eq", mask=m, value=v) for i, m, v in conds]
    return SyscallRule(names=["socket"], action="allow", args=args)


@cache
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
    from hardenkit._linux.seccomp_compile import resolve_many  # noqa: PLC0415 -- for import time: libseccomp (ctypes)
    from hardenkit.sandbox.seccomp import ArgCondition, SeccompPolicy, SyscallRule  # noqa: PLC0415 -- for import time: the seccomp package
    from hardenkit.sandbox.seccomp.groups import expand  # noqa: PLC0415 -- for import time: the seccomp package

    closed = {"socket", "socketpair", "socketcall", "io_uring_setup", "io_uring_enter"}
    closed |= {"io_uring_register"}
    if _refuses_listen(policy):
        closed.add("listen")
    names = expand(["@known"]) - closed
    numbers = resolve_many(names)  # one loop, not a call per name (hardenkit exec's start)
    allow = sorted(n for n in names if numbers[n] is not None)
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
