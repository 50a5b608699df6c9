"""hardenkit's capability reads against python-prctl's (a test-only oracle, the dev group).

hardenkit reads the bounding set, securebits and keep-caps with its own prctl(2) calls
(python-prctl lacks ambient capabilities and stops at the capabilities it was compiled
with). Here both read the same thread after changes made by each side, in a forked child.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.linux, pytest.mark.root, pytest.mark.caps]

SECBIT_NOROOT = 1 << 0
SECBIT_NO_SETUID_FIXUP = 1 << 2
SECBIT_KEEP_CAPS = 1 << 4


def _states() -> list[dict[str, Any]]:
    import prctl  # noqa: PLC0415 -- the oracle, in the child only

    from hardenkit._linux import caps  # noqa: PLC0415
    from hardenkit._linux.procfs import cap_last_cap  # noqa: PLC0415
    from hardenkit.capabilities import caps_to_mask, get_capabilities  # noqa: PLC0415

    last = cap_last_cap()
    known = [c for c in prctl.ALL_CAPS if c <= last]  # python-prctl's compiled-in list
    known_mask = sum(1 << c for c in known)

    def read(label: str) -> dict[str, Any]:
        bits = caps.get_securebits()
        return {
            "label": label,
            "bounding": (
                sum(1 << c for c in known if prctl.capbset_read(c)),
                caps.bounding_mask(last) & known_mask,
                caps_to_mask(get_capabilities().bounding) & known_mask,
            ),
            "securebits": (prctl.get_securebits(), bits),
            "keepcaps": (bool(prctl.get_keepcaps()), bool(bits & SECBIT_KEEP_CAPS)),
        }

    out = [read("start")]
    caps.bounding_drop(prctl.CAP_SYS_BOOT)
    caps.bounding_drop(prctl.CAP_NET_RAW)
    caps.set_keepcaps(True)
    out.append(read("hardenkit dropped two bounding caps, set keep-caps"))
    caps.set_securebits(caps.get_securebits() | SECBIT_NOROOT)
    out.append(read("hardenkit set SECBIT_NOROOT"))
    prctl.capbset_drop(prctl.CAP_SYS_TIME)
    prctl.set_keepcaps(False)
    prctl.securebits.no_setuid_fixup = True
    out.append(read("python-prctl dropped CAP_SYS_TIME, cleared keep-caps, set NO_SETUID_FIXUP"))
    return out


def test_bounding_set_securebits_and_keep_caps_read_like_python_prctl(in_child: Any) -> None:
    states = in_child(_states)
    for state in states:
        theirs, ours, procfs = state["bounding"]
        assert theirs == ours == procfs, state["label"]
        assert state["securebits"][0] == state["securebits"][1], state["label"]
        assert state["keepcaps"][0] == state["keepcaps"][1], state["label"]
    # The changes were seen: the comparison is not between two unchanged reads.
    bounding = [s["bounding"][0] for s in states]
    assert bounding[0] != bounding[1] != bounding[3]
    assert [s["keepcaps"][0] for s in states] == [False, True, True, False]
    assert [s["securebits"][0] for s in states] == [
        0,
        SECBIT_KEEP_CAPS,
        SECBIT_KEEP_CAPS | SECBIT_NOROOT,
        SECBIT_NOROOT | SECBIT_NO_SETUID_FIXUP,
    ]
