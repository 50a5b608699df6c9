"""hatch_build.py: the exec helper is optional, warned about, and tagged for any CPython 3.

hatchling lives only in the isolated build environment, so its base class is stubbed here;
the hook's own logic (when to build, warn or fail, which flags and tag) is what runs.
scripts/check-packaging builds real wheels and installs them (slow, run by .ci/run).
"""

from __future__ import annotations

import importlib.util
import platform
import sys
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


class _App:
    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def display_warning(self, text: str) -> None:
        self.warnings.append(text)

    def display_info(self, text: str) -> None:
        self.infos.append(text)


@pytest.fixture
def hook_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    iface = types.ModuleType("hatchling.builders.hooks.plugin.interface")
    iface.BuildHookInterface = type("BuildHookInterface", (), {})  # type: ignore[attr-defined]
    for name in ("hatchling", "hatchling.builders", "hatchling.builders.hooks"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "hatchling.builders.hooks.plugin", types.ModuleType("p"))
    monkeypatch.setitem(sys.modules, iface.__name__, iface)
    spec = importlib.util.spec_from_file_location("hatch_build_under_test", ROOT / "hatch_build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("HARDENKIT_BUILD_EXEC_HELPER", "HARDENKIT_WERROR", "CC"):
        monkeypatch.delenv(name, raising=False)
    return module


@pytest.fixture
def fake_cc(tmp_path: Path) -> Path:
    """A 'compiler' that records its arguments and writes a helper that exits 127."""
    cc = tmp_path / "fake-cc"
    cc.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {tmp_path}/cc-args\n'
        'while [ "$#" -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done\n'
        'printf "#!/bin/sh\\nexit 127\\n" > "$out"\n'
    )
    cc.chmod(0o755)
    return cc


def _hook(module: Any, root: Path) -> tuple[Any, _App]:
    (root / "src" / "hardenkit" / "_libexec").mkdir(parents=True, exist_ok=True)
    hook = module.CustomBuildHook.__new__(module.CustomBuildHook)
    app = _App()
    hook.target_name, hook.root, hook.app = "wheel", str(root), app
    return hook, app


def _data() -> dict[str, Any]:
    return {"artifacts": [], "pure_python": True}


@pytest.mark.linux
def test_standard_wheel_is_tagged_for_any_cpython3_and_ships_the_helper(
    hook_module: Any, fake_cc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", str(fake_cc))
    hook, app = _hook(hook_module, tmp_path / "root")
    data = _data()
    hook.initialize("standard", data)
    machine = platform.machine()
    glibc = "2_5" if machine in ("x86_64", "i686") else "2_17"
    assert data["tag"] == f"py3-none-manylinux_{glibc}_{machine}"
    assert data["pure_python"] is False
    assert data["artifacts"] == ["/src/hardenkit/_libexec/hardenkit-exec"]
    assert "-Werror" not in (tmp_path / "cc-args").read_text().split()
    assert app.warnings == []


@pytest.mark.linux
def test_werror_only_in_development_builds(
    hook_module: Any, fake_cc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", str(fake_cc))
    hook, _ = _hook(hook_module, tmp_path / "root")
    hook.initialize("editable", _data())
    assert "-Werror" in (tmp_path / "cc-args").read_text().split()
    monkeypatch.setenv("HARDENKIT_WERROR", "1")
    hook.initialize("standard", _data())
    assert "-Werror" in (tmp_path / "cc-args").read_text().split()


def test_no_compiler_builds_the_pure_wheel_with_a_visible_warning(
    hook_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    hook, app = _hook(hook_module, tmp_path)
    data = _data()
    hook.initialize("standard", data)
    assert data == _data()  # untouched: hatchling builds py3-none-any
    (warning,) = app.warnings
    assert "not found" in warning
    assert "building WITHOUT the exec helper" in warning


def test_a_non_linux_platform_builds_the_pure_wheel_with_a_warning(
    hook_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hook_module.sys, "platform", "darwin")
    hook, app = _hook(hook_module, tmp_path)
    data = _data()
    hook.initialize("standard", data)
    assert data == _data()
    (warning,) = app.warnings
    assert "Linux-only and this is darwin" in warning


def test_a_required_helper_that_cannot_be_built_is_an_error(
    hook_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("HARDENKIT_BUILD_EXEC_HELPER", "1")
    hook, _ = _hook(hook_module, tmp_path)
    with pytest.raises(hook_module.ExecHelperBuildError, match="apt-get install gcc"):
        hook.initialize("standard", _data())
