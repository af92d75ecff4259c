"""A Triton started by a launcher (`make run`, the test stacks, the benchmarks) never outlives it: when the
launcher is killed outright (SIGKILL: no `finally`, no `stop()`), the server goes too and frees its ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
LAUNCHER = """
import sys, time
sys.path.insert(0, ".")
from inference.serve import TritonServer, free_port
server = TritonServer(http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(), engine="espeak",
                      log_path=sys.argv[1])
server.start()
print(server.process.pid, flush=True)
time.sleep(600)
"""


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_launcher_takes_its_triton_with_it(tmp_path):
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(tmp_path / "triton.log")], cwd=REPO,
                                stdout=subprocess.PIPE, text=True)
    server = int(launcher.stdout.readline())
    try:
        assert running(server)
        launcher.kill()
        launcher.wait(10)
        until = time.monotonic() + 30
        while running(server) and time.monotonic() < until:
            time.sleep(0.2)
        assert not running(server)
    finally:
        if running(server):
            os.killpg(server, 9)
