"""API fuzzing with schemathesis against the service's own OpenAPI description, on the `make run` stack with
credentials required: every operation and documented parameter, zero 5xx and zero responses that contradict
the schema. A bounded profile runs in `make test`; SCHEMATHESIS_EXAMPLES=200 runs a long one.

Excluded: the positive-data-acceptance check (a schema cannot say what makes bytes a valid recording, so a
schema-valid but non-audio `prompt_audio_base64` is rightly refused), and the non-API routes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "12")


def test_schemathesis_finds_no_failures(authed_stack, tmp_path):
    base, key = authed_stack
    cli = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run([
        str(cli), "run", str(REPO / "functions" / "openapi.yaml"), "--url", base, "--checks", "all",
        "--exclude-checks", "positive_data_acceptance", "--max-examples", EXAMPLES, "--seed", "20261124",
        "-H", f"X-Api-Key: {key}", "--workers", "2", "--request-timeout", "30",
        "--exclude-path", "/media/{key}", "--exclude-path", "/openapi.yaml", "--exclude-path", "/demo",
        "--exclude-path", "/metrics"], capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env=dict(os.environ, NO_COLOR="1"))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    cases = re.search(r"(\d+) generated", output)
    assert cases and int(cases.group(1)) > 100, output[-2000:]
    print(output[output.find("SUMMARY"):][:1500])
