"""Speech detection with silero-vad's ONNX model (shipped inside the silero-vad wheel; no download).

The silero-vad package itself imports torch, so it is installed without dependencies and only its model
file is used, run here with onnxruntime: 512-sample chunks at 16 kHz with 64 samples of context and a
recurrent state, exactly as the package's own OnnxWrapper does.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass

import numpy as np

RATE = 16000
CHUNK = 512
CONTEXT = 64

_session = None
_lock = threading.Lock()


def model_path() -> str:
    spec = importlib.util.find_spec("silero_vad")  # locates the package without importing it (no torch)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("silero-vad is not installed (pip install --no-deps silero-vad)")
    return os.path.join(list(spec.submodule_search_locations)[0], "data", "silero_vad.onnx")


def _get_session():
    global _session
    with _lock:
        if _session is None:
            import onnxruntime

            opts = onnxruntime.SessionOptions()
            opts.inter_op_num_threads = 1
            opts.intra_op_num_threads = 1
            opts.log_severity_level = 3  # the model carries unused initializers; their warnings are noise
            _session = onnxruntime.InferenceSession(model_path(), sess_options=opts,
                                                    providers=["CPUExecutionProvider"])
    return _session


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """One speech probability per 32 ms chunk of 16 kHz mono audio."""
    session = _get_session()
    n = samples.size // CHUNK
    if n == 0:
        return np.zeros(0, np.float32)
    chunks = samples[: n * CHUNK].astype(np.float32).reshape(n, CHUNK)
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros((1, CONTEXT), np.float32)
    sr = np.array(RATE, dtype=np.int64)
    probs = np.empty(n, np.float32)
    for i in range(n):
        x = np.concatenate([context, chunks[i: i + 1]], axis=1)
        out, state = session.run(None, {"input": x, "state": state, "sr": sr})
        probs[i] = out[0, 0]
        context = x[:, -CONTEXT:]
    return probs


@dataclass(frozen=True)
class SpeechSpan:
    start: int  # sample index
    end: int
    speech_seconds: float


def find_speech(samples: np.ndarray, threshold: float = 0.5, pad_s: float = 0.15) -> SpeechSpan | None:
    """First to last speech chunk (padded), and the total speech time; None when there is no speech."""
    probs = speech_probabilities(samples)
    voiced = np.nonzero(probs >= threshold)[0]
    if voiced.size == 0:
        return None
    pad = int(pad_s * RATE)
    start = max(0, voiced[0] * CHUNK - pad)
    end = min(samples.size, (voiced[-1] + 1) * CHUNK + pad)
    return SpeechSpan(int(start), int(end), voiced.size * CHUNK / RATE)
