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
