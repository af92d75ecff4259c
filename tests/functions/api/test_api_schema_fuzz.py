"""API fuzzing with schemathesis against the OpenAPI description the server serves, in the production shape
(Triton and gunicorn, credentials required): every check (positive-data acceptance, negative-data rejection,
response schemas, stateful links among them), the configuration of record (tests/fuzz/schemathesis.toml, whose
hooks put real recordings into valid cases, so they reach synthesis and enrollment), a fixed seed.

`make test` runs a bounded profile; SCHEMATHESIS_EXAMPLES=100 runs a long one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "3")


@pytest.mark.timeout(1500)
def test_schemathesis_finds_no_failures(production_stack, tmp_path):
    base, key = production_stack
    cli = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run([
        str(cli), "--config-file", "tests/fuzz/schemathesis.toml", "run", f"{base}/openapi.yaml", "--url", base,
        "--checks", "all", "--max-examples", EXAMPLES, "--seed", "20261130", "-H", f"X-Api-Key: {key}",
        "--workers", "2", "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=1400, cwd=REPO, env=dict(os.environ, NO_COLOR="1"))
    output = result.stdout + result.stderr
    summary = output[output.rfind("SUMMARY"):]
    assert result.returncode == 0, output[-8000:]  # no failure, no error
    cases = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert cases and int(cases.group(1)) > 300 and cases.group(1) == cases.group(2), summary[-2000:]
    selected, tested = re.search(r"Selected: (\d+)/(\d+)", summary), re.search(r"Tested: (\d+)", summary)
    assert selected and tested and selected.group(1) == selected.group(2) == tested.group(1), summary
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):  # every phase ran and passed
        assert f"✅ {phase}" in summary, summary
    print(summary[:2000])
