"""Helpers around real servers: probing Redis, reading Triton's statistics, starting the `make run` stack or the
production one (Triton and gunicorn)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from inference.serve import TritonServer, free_port

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
    _wait_ready(base, proc, work / "serve.log")
    yield base
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def _wait_ready(base: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(log.read_text(errors="replace")[-3000:])
        time.sleep(0.3)


def start_gunicorn_stack(work: Path, **extra_env):
    """The production shape on free ports: a local Triton (espeak engine) and the relay under gunicorn with its
    deployed configuration (functions/gunicorn_conf.py); a generator yielding the base URL, then stopping both."""
    triton = TritonServer(http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(), engine="espeak",
                          log_path=work / "triton.log")
    triton.start()
    try:
        triton.wait_ready()
        port = free_port()
        env = dict(os.environ, TRITON_URL=triton.grpc_url, ENGINE="espeak", STORAGE_DIR=str(work / "storage"),
                   PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", RATE_LIMIT_PER_MINUTE="0", DAILY_CHAR_QUOTA="0",
                   REDIS_URL="", LOG_LEVEL="WARNING", **extra_env)
        log = work / "gunicorn.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:functions.gunicorn_conf", "-b",
                                     f"127.0.0.1:{port}", "functions.handlers.web:app"], cwd=REPO, env=env,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, proc, log)
        try:
            yield base
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        triton.stop()
