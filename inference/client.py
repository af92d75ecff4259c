"""Build inputs for the `cosyvoice3` model the way the official CosyVoice Triton clients do.

Works with both `tritonclient.http` and `tritonclient.grpc` (pass the module): leading batch dimension of 1,
`reference_wav` FP32 [1, N] with `reference_wav_len` INT32 [1, 1], strings as BYTES [1, 1]. The optional
extras (mode, instruct_text, speed, seed, voice_key) are added only when given, so a request without them is
byte-for-byte what a client of the official model sends.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .contract import MODEL_NAME, OUTPUT_NAME, STREAM_MODEL_NAME

__all__ = ["MODEL_NAME", "STREAM_MODEL_NAME", "make_inputs", "waveform"]


def _bytes(module: Any, name: str, value: str):
    tensor = module.InferInput(name, [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[value.encode("utf-8")]], dtype=np.object_))
    return tensor


def make_inputs(module: Any, text: str, *, reference_wav: np.ndarray | None = None,
                reference_text: str | None = None, mode: str | None = None, instruct_text: str | None = None,
                speed: float | None = None, seed: int | None = None, voice_key: str | None = None) -> list:
    inputs = []
    if reference_wav is not None:
        wav = np.asarray(reference_wav, dtype=np.float32).reshape(1, -1)
        t = module.InferInput("reference_wav", list(wav.shape), "FP32")
        t.set_data_from_numpy(wav)
        n = module.InferInput("reference_wav_len", [1, 1], "INT32")
        n.set_data_from_numpy(np.array([[wav.shape[1]]], dtype=np.int32))
        inputs += [t, n]
    if reference_text is not None:
        inputs.append(_bytes(module, "reference_text", reference_text))
    inputs.append(_bytes(module, "target_text", text))
    for name, value in (("mode", mode), ("instruct_text", instruct_text), ("voice_key", voice_key)):
        if value is not None:
            inputs.append(_bytes(module, name, value))
    if speed is not None:
        t = module.InferInput("speed", [1, 1], "FP32")
        t.set_data_from_numpy(np.array([[speed]], dtype=np.float32))
        inputs.append(t)
    if seed is not None:
        t = module.InferInput("seed", [1, 1], "INT64")
        t.set_data_from_numpy(np.array([[seed]], dtype=np.int64))
        inputs.append(t)
    return inputs


def waveform(result) -> np.ndarray:
    """The 24 kHz samples of one response, without the batch dimension."""
    return result.as_numpy(OUTPUT_NAME).reshape(-1)
