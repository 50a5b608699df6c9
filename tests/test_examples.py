"""Every script in examples/ runs to completion as documented (as root, on Linux)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))

pytestmark = [pytest.mark.linux, pytest.mark.root]


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARDENKIT_")}
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip(), f"{script.name} printed nothing"


QUICKSTART = Path(__file__).resolve().parents[1] / "docs" / "quickstart.md"


def _script_blocks(markdown: str) -> list[str]:
    """The ```python blocks that are scripts (doctest blocks run under pytest already)."""
    blocks = markdown.split("```python\n")[1:]
    code = [block.split("\n```", 1)[0] + "\n" for block in blocks]
    return [c for c in code if not c.lstrip().startswith(">>>")]


def test_quickstart_runs_as_written_top_to_bottom(tmp_path: Path) -> None:
    blocks = _script_blocks(QUICKSTART.read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARDENKIT_")}
    env["TMPDIR"] = str(tmp_path)  # what the page creates stays in this test's folder
    tmp_path.chmod(0o755)
    outputs = []
    for block in blocks:
        proc = subprocess.run(
            [sys.executable, "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, f"block failed:\n{block}\n{proc.stdout}\n{proc.stderr}"
        outputs.append(proc.stdout + proc.stderr)
    service = outputs[0]
    assert "database: ***" in service
    assert "hunter2" not in service
    assert "serving as uid 65534" in service
    assert "confined via" in outputs[1]
