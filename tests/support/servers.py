"""Helpers around real servers: probing Redis, reading Triton's statistics, starting the `make run` stack."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from inference.serve import free_port

REPO = Path(__file__).resolve().parents[2]


def redis_answers(port: int) -> bool:
    """Whether a Redis server on 127.0.0.1:<port> answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def triton_inference_count(triton, model: str = "cosyvoice3") -> int:
    """Successful inferences the server itself counted for the model (the server's statistics API)."""
    import tritonclient.http as httpclient

    stats = httpclient.InferenceServerClient(triton.http_url).get_inference_statistics(model)
    return int(stats["model_stats"][0]["inference_stats"]["success"]["count"])


def start_stack(work: Path, **extra_env):
    """Start what `make run` starts (`python -m functions.serve`: local Triton + API) on free ports; a generator
    yielding the base URL, then stopping the stack."""
    port = free_port()
    env = dict(os.environ, PORT=str(port), TRITON_HTTP_PORT=str(free_port()), TRITON_GRPC_PORT=str(free_port()),
               TRITON_METRICS_PORT=str(free_port()), STORAGE_DIR=str(work / "storage"),
               RATE_LIMIT_PER_MINUTE="0", DAILY_CHAR_QUOTA="0", REDIS_URL="", LOG_LEVEL="WARNING", **extra_env)
    env.pop("TRITON_URL", None)
    log = open(work / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "functions.serve"], cwd=REPO, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError((work / "serve.log").read_text(errors="replace")[-3000:])
        time.sleep(0.3)
    yield base
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()
