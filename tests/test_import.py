"""``import hardenkit`` loads the standard library only."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("psutil", "cryptography", "coincurve", "prctl", "pyseccomp", "dotenv", "ctypes")


def _modules_after(code: str) -> list[str]:
    script = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return list(json.loads(out))


def test_import_is_stdlib_only() -> None:
    loaded = _modules_after("import hardenkit")
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    assert heavy == []


def test_touching_a_light_name_stays_light() -> None:
    loaded = _modules_after("import hardenkit; hardenkit.HardenkitError; hardenkit.__version__")
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]


def test_the_probe_sees_heavy_imports() -> None:
    # The check above could pass vacuously if the probe never saw modules load.
    loaded = _modules_after("import hardenkit; hardenkit.features()")
    assert "ctypes" in loaded
