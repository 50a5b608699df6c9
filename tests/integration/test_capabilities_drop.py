"""drop_capabilities, file capabilities and reading other processes, as root in children."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import pytest
from tests._helpers import status_fields

from hardenkit._linux import caps as _caps, privfilecaps
from hardenkit._linux.procfs import cap_last_cap
from hardenkit.capabilities import (
    Capability,
    caps_to_mask,
    drop_capabilities,
    file_capabilities,
    get_capabilities,
    has_capability,
    require_capabilities,
    setcap_command,
)
from hardenkit.errors import CapabilityError, PrivilegeError
from hardenkit.privileges import drop_privileges

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.linux, pytest.mark.root]

NBS = 1 << 10
NOBODY = 65534


def exec_status() -> dict[str, str]:
    out = subprocess.run(
        ["/bin/cat", "/proc/self/status"], capture_output=True, text=True, check=True
    )
    return status_fields(out.stdout)


def test_keep_one_capability_as_root(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        sets = drop_capabilities({"NET_BIND_SERVICE"})
        return {
            "sets": [sorted(int(c) for c in getattr(sets, f)) for f in ("effective", "ambient")],
            "self": status_fields(),
            "exec": exec_status(),
        }

    got = in_child(child)
    assert got["sets"] == [[10], [10]]
    for key in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"):
        assert int(got["self"][key], 16) == NBS, key
    # root exec'ing: permitted = bounding set, so exactly the kept capability.
    assert int(got["exec"]["CapEff"], 16) == NBS
    assert int(got["exec"]["CapBnd"], 16) == NBS


def test_without_bounding_root_gets_everything_back_on_exec(in_child: Any) -> None:
    # Why bounding=True is the default: root's next exec refills permitted from the bounding set.
    def child() -> dict[str, str]:
        drop_capabilities(bounding=False)
        return {"self": status_fields()["CapEff"], "exec": exec_status()["CapEff"]}

    got = in_child(child)
    assert int(got["self"], 16) == 0
    assert int(got["exec"], 16) == int(status_fields()["CapBnd"], 16) != 0


def test_lock_keeps_root_powerless_across_exec_and_is_locked(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        drop_capabilities(bounding=False, lock=True)
        bits = _caps.get_securebits()
        try:
            _caps.set_securebits(0)
            unlock = "allowed"
        except PermissionError:
            unlock = "refused"
        return {"bits": bits, "unlock": unlock, "exec": exec_status()}

    got = in_child(child)
    for bit in (
        _caps.SECBIT_NOROOT,
        _caps.SECBIT_NOROOT_LOCKED,
        _caps.SECBIT_NO_SETUID_FIXUP_LOCKED,
        _caps.SECBIT_KEEP_CAPS_LOCKED,
        _caps.SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
    ):
        assert got["bits"] & bit, hex(bit)
    assert not got["bits"] & _caps.SECBIT_KEEP_CAPS
    assert got["unlock"] == "refused"
    # SECBIT_NOROOT: uid 0 exec'ing no longer gets the bounding set back.
    assert got["exec"]["Uid"].split()[1] == "0"
    assert int(got["exec"]["CapEff"], 16) == 0
    assert int(got["exec"]["CapPrm"], 16) == 0


def test_lock_twice_is_idempotent(in_child: Any) -> None:
    def child() -> list[int]:
        drop_capabilities({"NET_BIND_SERVICE", "SETPCAP"}, lock=True)
        first = _caps.get_securebits()
        drop_capabilities({"NET_BIND_SERVICE"}, lock=True)
        again = drop_capabilities({"NET_BIND_SERVICE"}, lock=True)  # no CAP_SETPCAP left
        return [first, _caps.get_securebits(), caps_to_mask(again.effective)]

    first, second, effective = in_child(child)
    assert first == second != 0
    assert effective == NBS


def test_ambient_false_does_not_pass_capabilities_to_an_exec_as_nobody(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        drop_capabilities({"NET_BIND_SERVICE", "SETUID", "SETGID", "SETPCAP"}, ambient=False)
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        _caps.set_keepcaps(True)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        return {"self": status_fields(), "exec": exec_status()}

    got = in_child(child)
    assert int(got["self"]["CapAmb"], 16) == 0
    assert int(got["exec"]["CapEff"], 16) == 0


def test_keep_must_be_held(in_child: Any) -> None:
    def child() -> list[Any]:
        drop_capabilities({"CHOWN", "SETPCAP"}, bounding=False)
        try:
            drop_capabilities({"CHOWN", "NET_RAW", "KILL"})
        except CapabilityError as err:
            return sorted(c.name for c in err.missing)
        return []

    assert in_child(child) == ["CAP_KILL", "CAP_NET_RAW"]


def test_bounding_needs_setpcap(in_child: Any) -> None:
    def child() -> list[Any]:
        drop_capabilities({"CHOWN"}, bounding=False)
        try:
            drop_capabilities({"CHOWN"})
        except CapabilityError as err:
            return sorted(c.name for c in err.missing)
        return []

    assert in_child(child) == ["CAP_SETPCAP"]


def test_a_second_live_thread_is_refused(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        stop = threading.Event()
        thread = threading.Thread(target=stop.wait)
        thread.start()
        before = status_fields()
        try:
            drop_capabilities()
        except PrivilegeError as err:
            error = str(err)
        else:
            error = "none"
        after = status_fields()
        stop.set()
        thread.join()
        return {"error": error, "same": [before[k] == after[k] for k in before if "Cap" in k]}

    got = in_child(child)
    assert "other live thread" in got["error"]
    assert all(got["same"])


def test_works_without_python_prctl(in_child: Any) -> None:
    def child() -> list[int]:
        sys.modules["prctl"] = None  # type: ignore[assignment]
        with contextlib.suppress(ImportError):
            import prctl  # noqa: F401, PLC0415

            return [-1]
        sets = drop_capabilities({"NET_BIND_SERVICE"})
        return sorted(int(c) for c in sets.permitted)

    assert in_child(child) == [10]


def test_require_capabilities_lists_every_missing_one(in_child: Any) -> None:
    def child() -> list[Any]:
        drop_capabilities({"NET_BIND_SERVICE"})
        require_capabilities("NET_BIND_SERVICE")
        try:
            require_capabilities("NET_BIND_SERVICE", "CHOWN", Capability.CAP_SYS_ADMIN, 13)
        except CapabilityError as err:
            return sorted(c.name for c in err.missing)
        return []

    assert in_child(child) == ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN"]


def test_get_capabilities_of_another_process() -> None:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_fd)
        try:
            drop_privileges("nobody", keep={"NET_BIND_SERVICE"})
            os.write(write_fd, b"x")
            signal.pause()
        finally:
            os._exit(1)
    os.close(write_fd)
    try:
        assert os.read(read_fd, 1) == b"x"
        sets = get_capabilities(pid)
        assert sets.effective == sets.permitted == sets.ambient == {Capability(10)}
        assert sets.bounding == {Capability.CAP_NET_BIND_SERVICE}
        assert has_capability("NET_BIND_SERVICE", pid)
        assert not has_capability("CHOWN", pid)
        with pytest.raises(CapabilityError) as info:
            require_capabilities("CHOWN", pid=pid)
        assert info.value.missing == {Capability.CAP_CHOWN}
    finally:
        os.close(read_fd)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    with pytest.raises(PrivilegeError, match=f"pid {pid}"):
        get_capabilities(pid)


@pytest.fixture
def capcat(nobody_tmp: Path) -> Path:
    path = nobody_tmp / "capcat"
    shutil.copy2("/bin/cat", path)
    return path


def test_setcap_command_round_trips_through_getcap(capcat: Path) -> None:
    assert file_capabilities(capcat) is None
    command = setcap_command(capcat, ["NET_BIND_SERVICE", "dac_read_search"])
    subprocess.run(["/bin/sh", "-c", command], check=True)
    sets = file_capabilities(capcat)
    assert sets is not None
    want = {Capability.CAP_NET_BIND_SERVICE, Capability.CAP_DAC_READ_SEARCH}
    assert sets.permitted == sets.effective == want
    assert sets.inheritable == frozenset()
    assert sets.rootid is None
    getcap = subprocess.run(["getcap", str(capcat)], capture_output=True, text=True, check=True)
    assert "cap_dac_read_search,cap_net_bind_service=ep" in getcap.stdout
    subprocess.run(["/bin/sh", "-c", setcap_command(capcat, [])], check=True)
    assert file_capabilities(capcat) is None


def test_v3_namespaced_file_capabilities(capcat: Path) -> None:
    raw = privfilecaps.encode(
        privfilecaps.VfsCap(revision=3, permitted=NBS, inheritable=0, effective=True, rootid=1000)
    )
    os.setxattr(capcat, "security.capability", raw)
    sets = file_capabilities(capcat)
    assert sets is not None
    assert sets.rootid == 1000
    assert sets.permitted == {Capability.CAP_NET_BIND_SERVICE}
    getcap = subprocess.run(
        ["getcap", "-n", str(capcat)], capture_output=True, text=True, check=True
    )
    assert "[rootid=1000]" in getcap.stdout


def test_file_capabilities_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PrivilegeError, match="missing"):
        file_capabilities(tmp_path / "missing")


def test_file_capability_binary_gives_nothing_after_a_drop(
    in_child: Any, capcat: Path, nobody_tmp: Path
) -> None:
    secret = nobody_tmp / "secret"
    secret.write_text("s3")
    secret.chmod(0o600)
    subprocess.run(["setcap", "cap_dac_read_search=ep", str(capcat)], check=True)

    def run_cat() -> int | str:
        try:
            return subprocess.run(
                [str(capcat), str(secret)], capture_output=True, check=False
            ).returncode
        except PermissionError:
            # The kernel refuses to exec a file whose effective file caps cannot all be
            # granted (they are outside the bounding set): fail closed.
            return "EPERM"

    def control() -> int | str:
        # nobody by hand, bounding set and no_new_privs untouched: the file cap works.
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        return run_cat()

    def dropped() -> int | str:
        drop_privileges("nobody")
        return run_cat()

    def dropped_nnp_off() -> int | str:
        drop_privileges("nobody", no_new_privs=False)  # the empty bounding set still holds
        return run_cat()

    assert in_child(control) == 0
    assert in_child(dropped) == "EPERM"
    assert in_child(dropped_nnp_off) == "EPERM"


def test_bounding_set_after_drop_capabilities_covers_cap_last_cap(in_child: Any) -> None:
    last = cap_last_cap()

    def child() -> list[bool]:
        drop_capabilities({"CHECKPOINT_RESTORE"} if last >= 40 else ())
        return [_caps.bounding_has(c) for c in range(last + 1)]

    got = in_child(child)
    assert len(got) == last + 1
    assert [i for i, v in enumerate(got) if v] == ([40] if last >= 40 else [])
