"""Review of the lazy (first-use) imports: races, staged confinement, fork children.

Each test fails on the code before its fix: ``caps.prepare()`` built its ctypes classes
once per racing thread (capget then typed for one class, called with another's);
an unexpected error inside a confinement step escaped raw; a confinement whose modules a
Landlock domain from an earlier stage could no longer load raised ModuleNotFoundError;
``drop_capabilities``/``drop_privileges`` imported ctypes inside a preexec_fn child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hardenkit

pytestmark = [pytest.mark.linux]

SRC = str(Path(hardenkit.__file__).resolve().parents[1])
PYTHON = "/usr/bin/python3"  # readable by nobody (the pyenv interpreters are not)


def _as_nobody(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as nobody with the system Python and this checkout; it must exit 0."""
    proc = subprocess.run(
        [PYTHON, "-c", code, *args],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": SRC, "PYTHONDONTWRITEBYTECODE": "1"},
        user=65534,
        group=65534,
        extra_groups=[],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _race(fn: Any, n: int = 4) -> list[str]:
    """Call ``fn`` from ``n`` threads released together; return what they raised."""
    import threading  # noqa: PLC0415

    barrier = threading.Barrier(n)
    errors: list[str] = []

    def go() -> None:
        barrier.wait()
        try:
            fn()
        except Exception as err:
            errors.append(f"{type(err).__name__}: {err}")

    threads = [threading.Thread(target=go) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_capability_entry_points_are_built_once_by_racing_threads(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        import time  # noqa: PLC0415

        from hardenkit._linux import caps  # noqa: PLC0415

        caps._FUNCS.clear()  # as before the first capability call
        built: list[int] = []
        structures = caps._structures

        def slow_structures(ct: Any) -> tuple[Any, Any]:
            built.append(1)
            time.sleep(0.05)  # every racing thread is inside prepare() meanwhile
            return structures(ct)

        caps._structures = slow_structures
        errors = _race(caps.capget)
        try:
            caps.capset(*caps.capget())
        except Exception as err:
            errors.append(f"after: {type(err).__name__}: {err}")
        return {"built": len(built), "errors": errors}

    assert in_child(child) == {"built": 1, "errors": []}


def test_libc_is_loaded_once_by_racing_threads(in_child: Any) -> None:
    def child() -> dict[str, Any]:
        import ctypes  # noqa: PLC0415
        import time  # noqa: PLC0415

        from hardenkit._linux import libc  # noqa: PLC0415

        for name in ("libc", "prctl_function"):  # as before the first libc call
            clear = getattr(getattr(libc, name), "cache_clear", None)
            if clear is not None:
                clear()
        for key in ("libc", "prctl"):
            getattr(libc, "_READY", {}).pop(key, None)
        real_cdll = ctypes.CDLL
        loaded: list[int] = []

        def slow_cdll(*args: Any, **kwargs: Any) -> Any:
            loaded.append(1)
            time.sleep(0.05)
            return real_cdll(*args, **kwargs)

        ctypes.CDLL = slow_cdll  # type: ignore[assignment,misc]
        libs: list[int] = []
        fns: list[int] = []

        def first_use() -> None:
            libs.append(id(libc.libc()))
            fns.append(id(libc.prctl_function()))

        try:
            errors = _race(first_use)
        finally:
            ctypes.CDLL = real_cdll  # type: ignore[misc]
        return {
            "loaded": len(loaded),
            "libs": len(set(libs)),
            "fns": len(set(fns)),
            "errors": errors,
        }

    assert in_child(child) == {"loaded": 1, "libs": 1, "fns": 1, "errors": []}


@pytest.mark.root
@pytest.mark.landlock
@pytest.mark.seccomp
def test_unexpected_error_inside_a_step_is_a_sandbox_error(in_child: Any) -> None:
    # The state the capget race left behind: capget typed for one header class, called
    # with another's -> ctypes.ArgumentError inside ShedCapabilities, after the bounding
    # set was already cut.
    def child() -> dict[str, Any]:
        from hardenkit._linux import caps  # noqa: PLC0415
        from hardenkit.errors import SandboxError  # noqa: PLC0415
        from hardenkit.sandbox import confine  # noqa: PLC0415

        caps.prepare()
        caps._FUNCS["header"] = caps._structures(caps._FUNCS["ctypes"])[0]
        try:
            confine()
        except Exception as err:
            return {
                "type": f"{type(err).__module__}.{type(err).__name__}",
                "sandbox_error": isinstance(err, SandboxError),
                "message": str(err),
                "cause": type(err.__cause__).__name__,
            }
        return {"type": None}

    out = in_child(child)
    assert out["type"] == "hardenkit.errors.SandboxError", out
    assert out["sandbox_error"]
    assert "ShedCapabilities" in out["message"]
    assert "partly confined" in out["message"]
    assert out["cause"] == "ArgumentError"


_STAGED = """
import json, os, sys, threading
from hardenkit import confine
from hardenkit.errors import SandboxError
from hardenkit.sandbox.landlock import FilesystemPolicy

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return line.split()[1]

# Stage 1: a domain that may read every file (execute=/ carries read) but list no
# directory outside /usr, /etc and /proc: hardenkit's own packages cannot be found.
fs = FilesystemPolicy(read=["/usr", "/etc", "/proc"], execute=["/"], sockets=[sys.argv[1]])
stage1 = confine(filesystem=fs, block_namespaces=False).uid
out = {"stage1": stage1, "seccomp_loaded": "hardenkit.sandbox.seccomp" in sys.modules}

def stage2(name):
    try:
        confine()  # block_namespaces: the seccomp package, not loaded in stage 1
        out[name] = {"type": None}
    except BaseException as err:
        out[name] = {
            "type": f"{type(err).__module__}.{type(err).__name__}",
            "message": str(err),
            "seccomp": status("Seccomp"),
        }

stage2("alone")
ev = threading.Event()
t = threading.Thread(target=ev.wait, daemon=True)
t.start()
stage2("threaded")
ev.set()
print(json.dumps(out))
"""


@pytest.mark.root
@pytest.mark.landlock
@pytest.mark.seccomp
def test_staged_confinement_that_cannot_load_its_modules_raises_sandbox_error(
    nobody_tmp: Path,
) -> None:
    sockets = nobody_tmp / "sockets"
    sockets.mkdir(mode=0o755)
    proc = _as_nobody(_STAGED, str(sockets))
    out = json.loads(proc.stdout)
    assert out["stage1"] == 65534
    assert out["seccomp_loaded"] is False  # else stage 2 would not need to load it
    alone = out["alone"]
    assert alone["type"] == "hardenkit.errors.SandboxError", alone
    assert "hardenkit.sandbox.seccomp" in alone["message"]
    assert "Landlock" in alone["message"]
    assert alone["seccomp"] == "0"  # raised before any step: no filter was loaded
    threaded = out["threaded"]
    assert threaded["type"] == "hardenkit.errors.SandboxError", threaded
    assert "2 threads are running" in threaded["message"]


_PREEXEC = """
import os, subprocess, sys
which = sys.argv[1]
if which == "capabilities":
    from hardenkit.capabilities import drop_capabilities
    fn = lambda: drop_capabilities(["CAP_NET_RAW"])
else:
    from hardenkit.privileges import drop_privileges
    fn = lambda: drop_privileges("nobody")
before = set(sys.modules)
r, w = os.pipe()
def pre():
    fn()
    os.write(w, " ".join(sorted(set(sys.modules) - before)).encode() + b".")
proc = subprocess.run(["/bin/true"], preexec_fn=pre, pass_fds=(w,), check=True)
os.close(w)
print(os.read(r, 65536).decode())
"""


@pytest.mark.root
@pytest.mark.parametrize("which", ["capabilities", "privileges"])
def test_public_drops_import_nothing_in_a_preexec_child(which: str) -> None:
    # An import in a forked child deadlocks when another parent thread held that
    # module's import lock at the fork (ctypes, mid-import): the drops must need none.
    proc = subprocess.run(
        [sys.executable, "-c", _PREEXEC, which],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ".", f"the child imported: {proc.stdout.strip()}"


def _prepare_drop_with_capabilities_unreadable() -> dict[str, str]:
    """prepare_confinement(user=, keep=) when hardenkit.capabilities cannot be read."""
    import importlib.abc  # noqa: PLC0415 -- only in this child

    class Unreadable(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, *_args: object) -> None:
            if name == "hardenkit.capabilities" or name.startswith("hardenkit.capabilities."):
                raise PermissionError(13, "Permission denied", name)  # as under Landlock

    import hardenkit.privileges  # noqa: F401, PLC0415 -- loaded, as in an earlier stage

    for name in [m for m in sys.modules if m.startswith("hardenkit.capabilities")]:
        del sys.modules[name]
    sys.meta_path.insert(0, Unreadable())
    from hardenkit.sandbox import prepare_confinement  # noqa: PLC0415

    try:
        prepare_confinement(user="nobody", keep=["NET_BIND_SERVICE"])
    except BaseException as err:
        return {"type": f"{type(err).__module__}.{type(err).__name__}", "message": str(err)}
    return {"type": ""}


@pytest.mark.linux
def test_a_drop_with_keep_that_cannot_load_capabilities_raises_sandbox_error(
    in_child: Any,
) -> None:
    # Found by review: parse_keep imported hardenkit.capabilities outside
    # load_for_confinement, so a staged confinement got a raw PermissionError.
    out = in_child(_prepare_drop_with_capabilities_unreadable)
    assert out["type"] == "hardenkit.errors.SandboxError", out
    assert "hardenkit.capabilities" in out["message"]


def _fail_at(index: int) -> dict[str, object]:
    """confine() whose step ``index`` fails (-1: options refused before any step)."""
    from hardenkit.errors import HardenkitError, SandboxError  # noqa: PLC0415
    from hardenkit.sandbox import _enter, confine, prepare_confinement  # noqa: PLC0415

    if index < 0:
        try:
            confine(keep=["NOT_A_CAPABILITY"], block_namespaces=False)
        except HardenkitError as err:
            return {"partly": err.partly_confined, "notes": ""}
        return {"partly": None}
    plan = prepare_confinement(no_new_privs=True, block_namespaces=False)
    step_type = type(plan.steps[index])

    def broken(*_args: object) -> None:
        raise SandboxError(f"{step_type.__name__} refused (a test)")

    _enter.HANDLERS[step_type] = broken
    try:
        plan.enter()
    except SandboxError as err:
        notes = getattr(err, "__notes__", [])
        return {"partly": err.partly_confined, "notes": " ".join(notes)}
    return {"partly": None}


@pytest.mark.linux
def test_an_error_once_a_step_ran_says_partly_confined(in_child: Any) -> None:
    # Found by review: an expected step error (a seccomp load refused after the drop...)
    # looked like "nothing was changed"; the caller could not tell it must exit. A step
    # that fails may itself have taken effect in part, so any step's error says so.
    before = in_child(_fail_at, -1)
    assert before["partly"] is False  # refused before any step: nothing changed
    for index in (0, 1):
        out = in_child(_fail_at, index)
        assert out["partly"] is True, index
        if sys.version_info >= (3, 11):
            assert "partly confined" in str(out["notes"])


_LATER = """
import json, os, sys
from hardenkit import confine, env
from hardenkit.sandbox import FilesystemPolicy, SeccompPolicy

data = sys.argv[1]
SeccompPolicy.docker_default()  # the profiles module is loaded before confining
confine(filesystem=FilesystemPolicy(read=[data, "/proc"]), block_namespaces=False)
out = {}
for name, call in [
    ("is_secret_name", lambda: env.is_secret_name("DB_PASSWORD")),
    ("validate_env", lambda: env.validate_env({"PORT": r"[0-9]+"}, {"PORT": "80"})),
    ("docker_file", lambda: SeccompPolicy.from_docker_profile(data + "/p.json").default),
]:
    try:
        out[name] = call()
    except BaseException as err:
        out[name] = f"{type(err).__name__}: {err}"
print(json.dumps(out))
"""


@pytest.mark.root
@pytest.mark.landlock
def test_functions_of_modules_loaded_before_confining_work_after_it(nobody_tmp: Path) -> None:
    # confine() loads what loaded modules import on first use (re, the secret names,
    # copy, json, SHA-256) before its steps: Landlock leaves the standard library out here.
    # (mask_env still loads the redaction engine on first use: import it before confining.)
    data = nobody_tmp / "later"
    data.mkdir(mode=0o755)
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}
    (data / "p.json").write_text(json.dumps(profile))
    (data / "p.json").chmod(0o644)
    proc = _as_nobody(_LATER, str(data))
    assert json.loads(proc.stdout) == {
        "is_secret_name": True,
        "validate_env": {"PORT": "80"},
        "docker_file": "errno",
    }


_LATER_OUT_OF_REACH = """
import json, sys
from hardenkit import confine
from hardenkit.sandbox import FilesystemPolicy, ResourceLimits

# Stage 1: hardenkit's files stay readable, the standard library does not.
confine(filesystem=FilesystemPolicy(read=[sys.argv[1], "/proc"]), block_namespaces=False)
import hardenkit.env  # loads no fnmatch: its first use would
out = {"fnmatch_loaded": "fnmatch" in sys.modules}
try:
    confine(limits=ResourceLimits(open_files=64), block_namespaces=False)
    out["stage2"] = "ok"
except BaseException as err:
    out["stage2"] = f"{type(err).__name__}: {err}"
print(json.dumps(out))
"""


@pytest.mark.root
@pytest.mark.landlock
def test_what_cannot_be_loaded_before_confining_does_not_refuse_it() -> None:
    # The preload is best effort: fnmatch, out of reach since stage 1, could not be loaded
    # after stage 2 either, and stage 2 does not need it. Refusing would only leave the
    # process less confined.
    out = json.loads(_as_nobody(_LATER_OUT_OF_REACH, SRC).stdout)
    assert out == {"fnmatch_loaded": False, "stage2": "ok"}
