"""drop_privileges as root, in forked children: ids, groups, capabilities, regain attempts.

Every modules a dropped child needs is imported here first: the venv lives under /root
(mode 700), so a child running as nobody cannot import anything new.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests._helpers import status_fields

from hardenkit._linux import libc
from hardenkit._linux.procfs import cap_last_cap
from hardenkit.errors import CapabilityError, PrivilegeError
from hardenkit.privileges import (
    apply_drop,
    current_identity,
    drop_privileges,
    prepare_drop,
    verify_drop,
)

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = [pytest.mark.linux, pytest.mark.root]

NOBODY = 65534
NET_BIND_SERVICE = 1 << 10
PY_BIND = (
    "import socket,sys\n"
    "for port in range(1023, 800, -1):\n"
    "    s = socket.socket()\n"
    "    try:\n"
    "        s.bind(('127.0.0.1', port))\n"
    "    except OSError as e:\n"
    "        if e.errno == 98: continue\n"
    "        print('refused', e.errno); sys.exit(3)\n"
    "    print(port); sys.exit(0)\n"
)


def snapshot() -> dict[str, Any]:
    st = status_fields()
    keys = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
    return {
        **{k: st[k] for k in keys},
        "NoNewPrivs": st["NoNewPrivs"],
        "HOME": os.environ.get("HOME"),
    }


def _attempt(fn: Callable[[], None]) -> str:
    try:
        fn()
    except OSError as err:
        return errno.errorcode[err.errno or 0]
    return "succeeded"


def regain_attempts() -> dict[str, str]:
    attempts: dict[str, Callable[[], None]] = {
        "setuid": lambda: os.setuid(0),
        "seteuid": lambda: os.seteuid(0),
        "setgid": lambda: os.setgid(0),
        "setgroups": lambda: os.setgroups([0]),
        "setresuid": lambda: os.setresuid(0, 0, 0),
    }
    return {name: _attempt(fn) for name, fn in attempts.items()}


def bind_low_port() -> int | str:
    for port in range(1023, 800, -1):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                continue
            return errno.errorcode[err.errno or 0]
        finally:
            sock.close()
        return port
    return "no free port"


@pytest.fixture
def adm_file(nobody_tmp: Path) -> Path:
    path = nobody_tmp / "adm-only.txt"
    path.write_text("for adm eyes\n")
    os.chown(path, 0, 4)
    path.chmod(0o640)
    return path


def test_from_root_groups_to_nobody(in_child: Any, adm_file: Path) -> None:
    def child() -> dict[str, Any]:
        os.setgroups([0, 4])
        before = status_fields()["Groups"]
        identity = drop_privileges("nobody")
        try:
            adm_file.read_text()
            read = "readable"
        except PermissionError:
            read = "refused"
        return {
            "before": before,
            "identity": [identity.uid, identity.euid, identity.suid, identity.gid],
            "status": status_fields(),
            "read": read,
            "regain": regain_attempts(),
            "resuid": os.getresuid(),
            "resgid": os.getresgid(),
        }

    got = in_child(child)
    assert got["before"].split() == ["0", "4"]
    st = got["status"]
    assert st["Uid"].split() == ["65534"] * 4
    assert st["Gid"].split() == ["65534"] * 4
    assert st["Groups"].split() == ["65534"]
    assert got["resuid"] == [NOBODY] * 3
    assert got["resgid"] == [NOBODY] * 3
    assert got["identity"] == [NOBODY] * 4
    assert got["read"] == "refused"
    assert set(got["regain"].values()) == {"EPERM"}, got["regain"]
    for key in ("CapPrm", "CapEff", "CapAmb", "CapInh", "CapBnd"):
        assert int(st[key], 16) == 0, key
    assert st["NoNewPrivs"] == "1"


def test_adm_file_control_is_readable_with_a_leaked_group(in_child: Any, adm_file: Path) -> None:
    # The naive drop (python-daemon, gunicorn) that keeps group 4 can read it: the check above
    # would catch a leaked group.
    def child() -> bool:
        os.setgroups([4])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        return adm_file.read_text() == "for adm eyes\n"

    assert in_child(child) is True


@pytest.fixture
def setuid_id(nobody_tmp: Path) -> Path:
    path = nobody_tmp / "id"
    shutil.copy2("/usr/bin/id", path)
    os.chown(path, 0, 0)
    path.chmod(0o4755)
    return path


def _run_id(path: Path) -> str:
    return subprocess.run(
        [str(path), "-u"], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def test_setuid_root_binary_gives_root_back_without_no_new_privs(
    in_child: Any, setuid_id: Path
) -> None:
    def child() -> str:
        drop_privileges("nobody", no_new_privs=False)
        return _run_id(setuid_id)

    # Why the default matters: the kernel honours the setuid bit and hands back euid 0.
    assert in_child(child) == "0"


def test_setuid_root_binary_after_default_drop_stays_nobody(in_child: Any, setuid_id: Path) -> None:
    def child() -> str:
        drop_privileges("nobody")
        return _run_id(setuid_id)

    assert in_child(child) == str(NOBODY)


def test_keep_net_bind_service(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        drop_privileges("nobody", keep={"NET_BIND_SERVICE"})
        cat = subprocess.run(
            ["/bin/cat", "/proc/self/status"], capture_output=True, text=True, check=True
        )
        py = subprocess.run(
            ["/usr/bin/python3", "-I", "-c", PY_BIND], capture_output=True, text=True, check=False
        )
        return {
            "bind": bind_low_port(),
            "self": status_fields(),
            "exec": status_fields(cat.stdout),
            "py": [py.returncode, py.stdout.strip()],
        }

    got = in_child(child)
    assert isinstance(got["bind"], int), got["bind"]
    assert got["bind"] < 1024
    for key in ("CapEff", "CapPrm", "CapAmb", "CapBnd"):
        assert int(got["self"][key], 16) == NET_BIND_SERVICE, key
    assert got["self"]["Uid"].split() == ["65534"] * 4
    # The exec'd child keeps exactly that capability through the ambient set.
    assert got["exec"]["Uid"].split() == ["65534"] * 4
    assert int(got["exec"]["CapEff"], 16) == NET_BIND_SERVICE
    assert int(got["exec"]["CapAmb"], 16) == NET_BIND_SERVICE
    returncode, port = got["py"]
    assert returncode == 0, port
    assert int(port) < 1024


def test_without_keep_binding_a_low_port_is_refused(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        drop_privileges("nobody")
        py = subprocess.run(
            ["/usr/bin/python3", "-I", "-c", PY_BIND], capture_output=True, text=True, check=False
        )
        return {"bind": bind_low_port(), "py": py.returncode}

    got = in_child(child)
    assert got["bind"] == "EACCES"
    assert got["py"] == 3


def test_bounding_set_covers_every_capability_up_to_cap_last_cap(in_child: Any) -> None:
    last = cap_last_cap()

    def child() -> dict[str, Any]:
        before = [libc.prctl(libc.PR_CAPBSET_READ, c) for c in range(last + 1)]
        drop_privileges("nobody", keep={"NET_BIND_SERVICE"})
        after = [libc.prctl(libc.PR_CAPBSET_READ, c) for c in range(last + 1)]
        return {"before": before, "after": after, "CapBnd": status_fields()["CapBnd"]}

    got = in_child(child)
    assert len(got["after"]) == last + 1 >= 41
    assert sum(got["before"]) >= 30  # root here holds nearly all of them
    assert [i for i, v in enumerate(got["after"]) if v] == [10]
    assert int(got["CapBnd"], 16) == NET_BIND_SERVICE


def test_a_second_live_thread_is_refused_and_nothing_changes(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        stop = threading.Event()
        thread = threading.Thread(target=stop.wait)
        thread.start()
        before = snapshot()
        try:
            drop_privileges("nobody", keep={"NET_BIND_SERVICE"})
        except PrivilegeError as err:
            error = str(err)
        else:
            error = "none"
        after = snapshot()
        thread_status = status_fields(
            Path(f"/proc/self/task/{thread.native_id}/status").read_text()
        )
        stop.set()
        thread.join()
        return {"before": before, "after": after, "error": error, "thread": thread_status}

    got = in_child(child)
    assert "other live thread" in got["error"]
    assert got["before"] == got["after"]
    assert got["after"]["Uid"].split() == ["0"] * 4
    assert got["after"]["NoNewPrivs"] == "0"
    assert got["thread"]["Uid"].split() == ["0"] * 4
    assert got["thread"]["CapEff"] == got["before"]["CapEff"]


def test_unknown_user_changes_nothing(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        before = snapshot()
        try:
            drop_privileges("no-such-user-hk", keep={"NET_BIND_SERVICE"})
        except PrivilegeError as err:
            return {"error": str(err), "same": before == snapshot()}
        return {"error": None}

    got = in_child(child)
    assert got["error"] == "unknown user 'no-such-user-hk': no passwd entry"
    assert got["same"] is True


@pytest.mark.parametrize("bad", [{"keep": {"NO_SUCH_CAP"}}, {"groups": [-1]}, {"umask": 0o1777}])
def test_bad_input_changes_nothing(in_child: Any, bad: dict[str, Any]) -> None:
    def child() -> dict[str, Any]:
        before = snapshot()
        try:
            drop_privileges("nobody", **bad)
        except PrivilegeError as err:
            return {"error": type(err).__name__, "same": before == snapshot()}
        return {"error": None}

    got = in_child(child)
    assert got["error"] in {"PrivilegeError", "CapabilityError"}
    assert got["same"] is True


def _become_nobody_by_hand(groups: list[int]) -> None:
    os.setgroups(groups)
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)


def test_not_root_and_a_different_user_is_refused(in_child: Any) -> None:
    def child() -> list[str]:
        _become_nobody_by_hand([NOBODY])
        errors = []
        for target in ("root", "daemon", 0):
            with pytest.raises(PrivilegeError) as info:
                drop_privileges(target)
            errors.append(str(info.value))
        return errors

    errors = in_child(child)
    assert len(errors) == 3
    assert all("without CAP_SETUID" in e for e in errors)
    assert "cannot switch to daemon" in errors[1]


def test_already_the_target_user_is_a_verified_noop(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        _become_nobody_by_hand([NOBODY])
        identity = drop_privileges("nobody", umask=0o077)
        return {
            "identity": [identity.uid, identity.gid, list(identity.groups), identity.user],
            "nnp": status_fields()["NoNewPrivs"],
            "umask": status_fields()["Umask"],
            "env": [os.environ.get(k) for k in ("HOME", "USER", "LOGNAME", "SHELL")],
        }

    got = in_child(child)
    assert got["identity"] == [NOBODY, NOBODY, [NOBODY], "nobody"]
    assert got["nnp"] == "1"
    assert got["umask"] == "0077"
    assert got["env"] == ["/nonexistent", "nobody", "nobody", "/usr/sbin/nologin"]


def test_already_the_target_user_but_leaking_root_group_fails_verification(
    in_child: Any,
) -> None:
    def child() -> str:
        _become_nobody_by_hand([0, NOBODY])
        try:
            drop_privileges("nobody")
        except PrivilegeError as err:
            return str(err)
        return "verified"

    message = in_child(child)
    assert "did not verify" in message
    assert "groups" in message


def test_already_the_target_user_cannot_keep_what_it_lacks(in_child: Any) -> None:
    def child() -> list[Any]:
        _become_nobody_by_hand([NOBODY])
        try:
            drop_privileges("nobody", keep={"NET_BIND_SERVICE"})
        except CapabilityError as err:
            return [type(err).__name__, sorted(c.name for c in err.missing)]
        return ["no error"]

    assert in_child(child) == ["CapabilityError", ["CAP_NET_BIND_SERVICE"]]


def test_environment_is_reset_from_passwd(in_child: Any) -> None:
    def child() -> list[str | None]:
        os.environ.update(HOME="/root", USER="root", LOGNAME="root", SHELL="/bin/bash")
        drop_privileges("nobody", umask=0o027)
        keys = ("HOME", "USER", "LOGNAME", "SHELL")
        return [*(os.environ.get(k) for k in keys), status_fields()["Umask"]]

    assert in_child(child) == ["/nonexistent", "nobody", "nobody", "/usr/sbin/nologin", "0027"]


def test_uid_zero_is_a_target_not_unset(in_child: Any, nobody_tmp: Path) -> None:
    target = nobody_tmp / "owned"
    target.write_text("x")

    def child() -> dict[str, Any]:
        identity = drop_privileges(0, 0, groups=[])
        try:
            os.chown(target, NOBODY, NOBODY)
            chown = "allowed"
        except PermissionError:
            chown = "refused"
        st = status_fields()
        return {"uid": identity.uid, "groups": st["Groups"], "eff": st["CapEff"], "chown": chown}

    got = in_child(child)
    assert got == {"uid": 0, "groups": "", "eff": "0" * 16, "chown": "refused"}


def test_prepared_plan_applied_between_fork_and_exec(in_child: Any) -> None:
    plan = prepare_drop("nobody", keep={"NET_BIND_SERVICE"})

    def child() -> dict[str, str]:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - grandchild execs
            os.close(read_fd)
            os.dup2(write_fd, 1)
            try:
                apply_drop(plan)
                libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
                os.execv("/bin/cat", ["cat", "/proc/self/status"])  # noqa: S606
            finally:
                os._exit(127)
        os.close(write_fd)
        with os.fdopen(read_fd) as fh:
            text = fh.read()
        _, code = os.waitpid(pid, 0)
        return {**status_fields(text), "code": str(code)}

    got = in_child(child)
    assert got["code"] == "0"
    assert got["Uid"].split() == ["65534"] * 4
    assert got["Groups"].split() == ["65534"]
    assert int(got["CapEff"], 16) == NET_BIND_SERVICE
    assert int(got["CapBnd"], 16) == NET_BIND_SERVICE
    assert got["NoNewPrivs"] == "1"


class _ImportRecorder:
    """A meta path finder that records every import attempted after it is installed."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, *_: object) -> None:
        self.names.append(name)


def test_apply_and_verify_import_nothing(in_child: Any) -> None:
    plan = prepare_drop("nobody", keep={"NET_BIND_SERVICE"})

    def child() -> dict[str, Any]:
        recorder = _ImportRecorder()
        sys.meta_path.insert(0, recorder)
        sys.modules.pop("colorsys", None)
        __import__("colorsys")  # proves the recorder sees imports
        probe, recorder.names = recorder.names, []
        apply_drop(plan)
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
        identity = verify_drop(plan, no_new_privs=True)
        sys.meta_path.remove(recorder)
        return {"probe": probe, "imports": recorder.names, "uid": identity.uid}

    assert in_child(child) == {"probe": ["colorsys"], "imports": [], "uid": NOBODY}


def test_verify_drop_catches_a_naive_drop(in_child: Any) -> None:
    plan = prepare_drop("nobody")

    def child() -> str:
        # What subprocess's user= does: ids changed, root's groups and bounding set kept.
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        try:
            verify_drop(plan, no_new_privs=True)
        except PrivilegeError as err:
            return str(err)
        return "verified"

    message = in_child(child)
    assert "groups are" in message
    assert "CapBnd" in message
    assert "no_new_privs is not set" in message


def test_verify_drop_catches_a_process_still_root(in_child: Any) -> None:
    plan = prepare_drop("nobody")

    def child() -> str:
        try:
            verify_drop(plan, no_new_privs=False)
        except PrivilegeError as err:
            return str(err)
        return "verified"

    message = in_child(child)
    assert "uids are (0, 0, 0)" in message
    assert "succeeded: root can be regained" in message


def test_current_identity_of_a_dropped_child() -> None:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_fd)
        try:
            drop_privileges("nobody")
            os.write(write_fd, b"x")
            os.read(os.open("/dev/zero", os.O_RDONLY), 1)
            signal.pause()
        finally:
            os._exit(1)
    os.close(write_fd)
    try:
        assert os.read(read_fd, 1) == b"x"
        other = current_identity(pid)
        assert (other.uid, other.euid, other.suid) == (NOBODY,) * 3
        assert other.groups == (NOBODY,)
        assert other.user == "nobody"
    finally:
        os.close(read_fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
        os.waitpid(pid, 0)
