"""The real-engine tier: the official CosyVoice3 code (COSYVOICE_VENDOR, commit ace7c47) with small random
weights built by random_model.py, on CPU. `make test-official` runs it in its own venv.

Assertions are about what random weights still show: lengths (every segment runs to 20 speech tokens per text
character, 25 tokens per second), segments, calls, error handling, determinism; never audio quality.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from inference.serve import free_port, stop_process_group

from .random_model import build, vendor_on_path

REPO = Path(__file__).resolve().parents[2]
VENDOR = Path(os.environ.get("COSYVOICE_VENDOR") or REPO.parent / "shared" / "vendor" / "CosyVoice-ace7c47")
MODEL_DIR = REPO / ".cache" / "cosyvoice3-small"
SECONDS_PER_CHAR = 20 / 25  # speech tokens per text token / tokens per second of audio

vendor_on_path(VENDOR)


def expected_seconds(segments: list[str], speed: float = 1.0) -> float:
    return sum(len(s) for s in segments) * SECONDS_PER_CHAR / speed


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return build(MODEL_DIR, VENDOR)


class Recorder:
    """What the official frontend hands the model: every normalized segment, per call."""

    def __init__(self, frontend) -> None:
        self.segments: list[str] = []
        self._normalize = frontend.text_normalize

        def text_normalize(text, split=True, text_frontend=True):
            result = self._normalize(text, split=split, text_frontend=text_frontend)
            if split:
                self.segments.extend(result)
            return result

        frontend.text_normalize = text_normalize

    def take(self) -> list[str]:
        segments, self.segments = self.segments, []
        return segments

    def official(self, text: str) -> list[str]:
        """The frontend's own normalization and splitting of a text (what every mode must give the model)."""
        return list(self._normalize(text, split=True))


@pytest.fixture(scope="session")
def engine(model_dir):
    from inference.engines.cosyvoice3 import CosyVoice3Engine

    engine = CosyVoice3Engine(str(model_dir), speaker_cache_size=2)
    engine.recorder = Recorder(engine.model.frontend)
    return engine


@pytest.fixture(scope="session")
def prompt() -> np.ndarray:
    """A real recording (the example prompt) at 16 kHz."""
    from functions.audio.wav import wav_samples

    return wav_samples((REPO / "examples" / "prompt_zh.wav").read_bytes())


@pytest.fixture(scope="session")
def official_triton(model_dir, tmp_path_factory):
    """`python -m inference.serve --engine cosyvoice3` on the random model: (http url, grpc url)."""
    ports = {"http": free_port(), "grpc": free_port(), "metrics": free_port()}
    env = dict(os.environ, COSYVOICE_MODEL_DIR=str(model_dir), COSYVOICE_SPEAKER_CACHE_SIZE="2",
               PYTHONPATH=os.pathsep.join([str(VENDOR), str(VENDOR / "third_party" / "Matcha-TTS")]))
    env.pop("COSYVOICE_INSTANCES", None)  # the repository's config.pbtxt, as deployed
    log = tmp_path_factory.mktemp("official-triton") / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "inference.serve", "--engine", "cosyvoice3", "--timeout", "600",
                                 "--http-port", str(ports["http"]), "--grpc-port", str(ports["grpc"]),
                                 "--metrics-port", str(ports["metrics"])],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    http = f"127.0.0.1:{ports['http']}"
    deadline = time.monotonic() + 600
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://{http}/v2/models/cosyvoice3/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text(errors="replace")[-4000:])
            time.sleep(0.5)
        yield http, f"127.0.0.1:{ports['grpc']}"
    finally:
        stop_process_group(proc)
