"""Turn :class:`ProcessFacts` into findings and scored assessments (no I/O here).

Every check looks at every thread and keeps the worst: capabilities, no_new_privs and
seccomp are per-thread, and one unconfined thread is an unconfined process. The checks
live by area: ``_check_ids`` (ids, capabilities, no_new_privs, root), ``_check_confine``
(seccomp, namespaces, dumpable, core, umask) and ``_check_exposure`` (environment,
files, sockets, threads); :class:`Outcome` is in ``_outcome``.
"""

from __future__ import annotations

from hardenkit.audit._check_confine import _core, _dumpable, _namespaces, _seccomp, _umask
from hardenkit.audit._check_exposure import _environment, _files, _listening, _threads
from hardenkit.audit._check_ids import (
    _capabilities,
    _identity,
    _no_new_privs,
    _root,
    cap_table,
)
from hardenkit.audit._outcome import Outcome

# Not typing.TYPE_CHECKING, for import time (typing costs a first use several ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from hardenkit.audit._collect import ProcessFacts

__all__ = ["Outcome", "assess", "cap_table"]  # cap_table moved to _check_ids


def assess(facts: ProcessFacts) -> Outcome:
    """Run every check over the facts.

    Examples:
        >>> from hardenkit.audit._collect import collect
        >>> import os
        >>> out = assess(collect(os.getpid()))
        >>> len(out.assessments) > 40
        True
    """
    out = Outcome()
    _identity(facts, out)
    _capabilities(facts, out)
    _no_new_privs(facts, out)
    _seccomp(facts, out)
    _namespaces(facts, out)
    _root(facts, out)
    _dumpable(facts, out)
    _core(facts, out)
    _umask(facts, out)
    _environment(facts, out)
    _files(facts, out)
    _listening(facts, out)
    _threads(facts, out)
    return out
