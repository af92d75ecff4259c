"""The local dev server (`make run`): it refuses to start beside a taken port, naming the variable to change,
and says which limits are in force."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from functions.serve import limits_banner
from functions.settings import Settings
from inference.serve import free_port

REPO = Path(__file__).resolve().parents[3]


def test_a_taken_triton_port_is_refused_by_name(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, PORT=str(free_port()), TRITON_HTTP_PORT=str(free_port()),
                   TRITON_GRPC_PORT=str(port), TRITON_METRICS_PORT=str(free_port()),
                   STORAGE_DIR=str(tmp_path / "storage"))
        env.pop("TRITON_URL", None)
        out = subprocess.run([sys.executable, "-m", "functions.serve"], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=60)
    assert out.returncode != 0
    assert f"TRITON_GRPC_PORT={port}" in out.stderr and "make run" in out.stderr
    assert "Triton ready" not in out.stdout  # it never pretended to start


def test_the_banner_states_the_limits():
    banner = limits_banner(Settings.from_env({}))
    assert "3/min" in banner and "5000 chars/day" in banner and "not applied to the local dev identity" in banner
    assert "applied to the local dev identity too" in limits_banner(Settings.from_env({}, dev_limits=True))
