"""The mini program's logic modules under Node's own test runner (a small fake `wx`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MINIPROGRAM = Path(__file__).resolve().parents[2] / "examples" / "miniprogram"


def test_miniprogram_modules_pass_node_test():
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    result = subprocess.run([node, "--test", "test/"], cwd=MINIPROGRAM, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# pass 10" in result.stdout
