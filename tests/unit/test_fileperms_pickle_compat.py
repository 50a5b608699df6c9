"""Pickles of ``Finding`` made before it moved from ``fileperms._model`` to ``_tree``."""

from __future__ import annotations

import pickle
import subprocess
import sys

from hardenkit.fileperms import Finding

#: ``pickle.dumps(Finding(path="/x", kind="setuid", severity="high", detail="d",
#: mode=0o4755, uid=0, gid=0))`` made while Finding lived in hardenkit.fileperms._model.
OLD_PICKLE = (
    b"\x80\x04\x95R\x00\x00\x00\x00\x00\x00\x00\x8c\x1ahardenkit.fileperms._model\x94"
    b"\x8c\x07Finding\x94\x93\x94)\x81\x94]\x94(\x8c\x02/x\x94\x8c\x06setuid\x94\x8c\x04"
    b"high\x94\x8c\x01d\x94M\xed\tK\x00K\x00eb."
)


def test_a_finding_pickled_before_the_move_loads() -> None:
    found = pickle.loads(OLD_PICKLE)  # noqa: S301 -- our own fixed bytes
    assert found == Finding(
        path="/x", kind="setuid", severity="high", detail="d", mode=0o4755, uid=0, gid=0
    )
    assert type(found) is Finding


def test_the_old_name_resolves_without_loading_tree_at_import() -> None:
    probe = (
        "import sys\n"
        "import hardenkit.fileperms._model as m\n"
        "assert 'hardenkit.fileperms._tree' not in sys.modules\n"
        "from hardenkit.fileperms._tree import Finding\n"
        "assert m.Finding is Finding\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
