"""A TypeScript client generated from the served OpenAPI description (openapi-typescript + openapi-fetch, in
examples/typescript-client) type-checks its calls and runs them against the production-shaped stack: presets,
synthesis, a typed refusal, a multipart enrollment, a long text as a job, listing, deletion, OpenAI speech."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "examples" / "typescript-client"


@pytest.mark.timeout(900)
def test_the_generated_typescript_client_works_against_the_server(production_stack):
    base, key = production_stack
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("Node.js and npm are not installed")
    installed = subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=CLIENT, capture_output=True,
                               text=True, timeout=600)
    if installed.returncode != 0:
        pytest.skip(f"npm could not install the generator from the registry: {installed.stderr[-500:]}")
    env = dict(os.environ, OPENAPI=f"{base}/openapi.yaml", BASE=base, API_KEY=key,
               RECORDING=str(CLIENT.parent / "prompt_zh.wav"))
    for step in (["run", "generate"], ["run", "build"], ["start"]):
        result = subprocess.run([npm, *step], cwd=CLIENT, capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, f"npm {' '.join(step)}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    assert "typescript client: ok" in result.stdout
