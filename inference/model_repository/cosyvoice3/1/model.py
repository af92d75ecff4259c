"""Triton Python backend for `cosyvoice3`.

Contract (see ../config.pbtxt):
- inputs, each with a leading batch dimension of 1 per request: `target_text` STRING (required),
  `reference_wav` FP32 16 kHz mono with `reference_wav_len` INT32, `reference_text` STRING (the official
  model's inputs), plus optional `mode`, `instruct_text`, `speed`, `seed`, `voice_key`.
- output `waveform` FP32 [1, T] at 24 kHz.
- `execute` returns exactly one response per request, in order. A bad request gets an INVALID_ARG error
  response, an engine failure an INTERNAL one; neither affects the other requests or the model instance.

The engine (`inference.engines`) is chosen by COSYVOICE_ENGINE or the `engine` parameter.
"""

from __future__ import annotations

import json
import logging
import os
import site
import time

# The backend stub embeds its interpreter without honouring PYTHONPATH; the launcher points it at the
# repository root and the virtual environment, so add those (with their .pth files) explicitly.
for _path in filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)):
    site.addsitedir(_path)

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

from inference.engines import (DEFAULT_MAX_TEXT_CHARS, PROMPT_SAMPLE_RATE, InvalidRequest, build_request,  # noqa: E402
                               load_engine, resolve_engine_name)

log = logging.getLogger("cosyvoice3.model")


def _tensor(request, name: str):
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return None if tensor is None else tensor.as_numpy()


def _single(array, name: str):
    """The one element of a [1, 1] (batch, value) input, or None when the input is absent."""
    if array is None:
        return None
    if array.shape[0] != 1:
        raise InvalidRequest(f"{name}: send one item per request (batch dimension 1), got {array.shape[0]}")
    if array.size != 1:
        raise InvalidRequest(f"{name}: expected a single value, got shape {list(array.shape)}")
    return array.reshape(-1)[0]


def _text(request, name: str) -> str | None:
    value = _single(_tensor(request, name), name)
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest(f"{name} is not valid UTF-8") from None
    return str(value)


def parse_request(request, max_text_chars: int):
    wav = _tensor(request, "reference_wav")
    if wav is not None and wav.shape[0] != 1:
        raise InvalidRequest(f"reference_wav: send one item per request (batch dimension 1), got {wav.shape[0]}")
    wav_len = _single(_tensor(request, "reference_wav_len"), "reference_wav_len")
    speed = _single(_tensor(request, "speed"), "speed")
    seed = _single(_tensor(request, "seed"), "seed")
    return build_request(
        text=_text(request, "target_text"),
        reference_wav=None if wav is None else wav[0],
        reference_wav_len=None if wav_len is None else int(wav_len),
        reference_text=_text(request, "reference_text") or "",
        mode=_text(request, "mode") or "",
        instruct_text=_text(request, "instruct_text") or "",
        speed=None if speed is None else float(speed),
        seed=None if seed is None else int(seed),
        voice_key=_text(request, "voice_key") or "",
        max_text_chars=max_text_chars,
    )


def warm_up(engine) -> None:
    """One real synthesis before the model reports ready (stands in for config.pbtxt's model_warmup)."""
    prompt = 0.1 * np.sin(2 * np.pi * 220 * np.arange(PROMPT_SAMPLE_RATE, dtype=np.float32) / PROMPT_SAMPLE_RATE)
    audio = engine.synthesize(build_request(text="你好，欢迎使用语音合成。", reference_wav=prompt.astype(np.float32)))
    if audio.size == 0:
        raise RuntimeError("warm-up synthesis produced no audio")


class TritonPythonModel:
    def initialize(self, args):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        config = json.loads(args["model_config"])
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        self.max_text_chars = int(params.get("max_text_chars") or DEFAULT_MAX_TEXT_CHARS)
        name = resolve_engine_name(params=params)
        started = time.monotonic()
        self.engine = load_engine(name, params)
        log.info("engine %s loaded in %.1fs (instance %s)", name, time.monotonic() - started,
                 args.get("model_instance_name"))
        if not self.engine.clones_voice:
            log.warning("engine %s does NOT clone voices: reference audio is ignored", name)
        started = time.monotonic()
        warm_up(self.engine)
        log.info("warm-up synthesis done in %.2fs; model ready", time.monotonic() - started)

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                synthesis = parse_request(request, self.max_text_chars)
                audio = np.ascontiguousarray(self.engine.synthesize(synthesis), dtype=np.float32)
                if audio.size == 0:
                    raise RuntimeError("engine produced no audio")
                out = pb_utils.Tensor("waveform", audio.reshape(1, -1))
                responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
            except InvalidRequest as exc:
                responses.append(pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG)))
            except Exception as exc:  # one request's failure must not take the instance down
                log.exception("synthesis failed")
                responses.append(pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(f"synthesis failed: {type(exc).__name__}: {exc}",
                                               pb_utils.TritonError.INTERNAL)))
        return responses

    def finalize(self):
        self.engine = None
