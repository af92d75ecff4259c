"""The mini program's logic modules under Node's own test runner (a small fake `wx`). Its message table
(lib/errors.js) is compared with the server's error catalog in tests/unit/test_error_codes.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

MINIPROGRAM = Path(__file__).resolve().parents[2] / "examples" / "miniprogram"


def test_miniprogram_modules_pass_node_test():
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    tests = sorted(str(p.relative_to(MINIPROGRAM)) for p in (MINIPROGRAM / "test").glob("*.test.js"))
    result = subprocess.run([node, "--test", *tests], cwd=MINIPROGRAM, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # the test files only (test/fake-wx.js is a helper, not a passing test); the stack tests are skipped here
    assert "# fail 0" in result.stdout and "# pass 21" in result.stdout and "# skipped 4" in result.stdout


def test_the_streaming_module_plays_real_streams_from_the_stack(dev_stack):
    """lib/stream.js against the running `make run` stack: chunked SSE over a slow network and the WebSocket
    endpoint, gapless, with subtitles; a stream cut midway falls back to the file."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    result = subprocess.run([node, "--experimental-websocket", "--test", "test/stream.test.js"], cwd=MINIPROGRAM,
                            capture_output=True, text=True, timeout=180, env={**os.environ, "STACK_URL": dev_stack})
    assert result.returncode == 0 and "# skipped 0" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]
    print("\n" + "\n".join(line for line in result.stdout.splitlines() if "first audio" in line))
