"""Every benchmark in docs/quality.md still runs: each script, in its smallest profile, starts what it measures,
prints its numbers and writes its PNG. What the numbers are is the scripts' business (targets are printed as
ok/MISSED, never asserted here); that the commands keep working is this test's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# script, smallest arguments, a line the run must print (its headline numbers)
BENCHMARKS = [
    ("bench_enroll.py", ["--runs", "2"], r"total.*p50"),
    ("bench_voice_identity.py", ["--speakers", "3"], r"margin"),
    ("bench_inference.py", ["--requests", "2"], r"overhead"),
    ("bench_concurrency.py", ["--concurrency", "1,2", "--rounds", "1"], r"p50"),
    ("bench_relay.py", ["--duration", "1", "--concurrency", "1"], r"overhead"),
    ("bench_stream.py", ["--runs", "1"], r"first"),
    ("bench_client_paths.py", ["--runs", "1"], r"first audio"),
    ("bench_connections.py", ["--idle-ws", "20", "--trickle-headers", "2", "--trickle-body", "2", "--unread", "2",
                              "--seconds", "3"], r"cache hit"),
    ("load_test.py", ["--duration", "8", "--concurrency", "1"], r"server errors and failed connections: none"),
    ("cost_model.py", ["--days", "3", "--per-day", "100", "--learn-weeks", "1"], r"scale-to-zero \+ warm-up"),
    ("cost_model.py", ["--sweep", "--days", "2", "--learn-weeks", "1"], r"break-even|targets"),
]


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("script", "arguments", "headline"), BENCHMARKS,
                         ids=[b[0] + (" --sweep" if "--sweep" in b[1] else "") for b in BENCHMARKS])
def test_the_benchmark_runs_and_draws(script, arguments, headline, tmp_path):
    out = tmp_path / "plot.png"
    extra = ["--json", str(tmp_path / "results.json")] if script == "bench_concurrency.py" else []
    run = subprocess.run([sys.executable, str(REPO / "scripts" / script), *arguments, "--out", str(out), *extra],
                         capture_output=True, text=True, timeout=540, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert re.search(headline, run.stdout, re.IGNORECASE), run.stdout[-3000:]
    plots = list(tmp_path.glob("*.png"))  # --out, or a name of its own beside it (the cost sweep)
    assert plots and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)
