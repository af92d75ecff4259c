"""The Triton Python-backend models of `cosyvoice3`, shared by the two entries of the model repository:

- `cosyvoice3` (`OfflineModel`): one response per request with the whole waveform, as the official offline
  clients expect;
- `cosyvoice3_stream` (`StreamingModel`, decoupled): the waveform in chunks as the engine produces them (one
  response each), then an empty final response, as the official streaming client expects.

Contract (see the two config.pbtxt):
- inputs, each with a leading batch dimension of 1 per request: `target_text` STRING (required),
  `reference_wav` FP32 16 kHz mono with `reference_wav_len` INT32, `reference_text` STRING (the official
  model's inputs), plus optional `mode`, `instruct_text`, `speed`, `seed`, `voice_key`.
- output `waveform` FP32 [1, T] at 24 kHz.
- A bad request gets an INVALID_ARG error, an engine failure an INTERNAL one (mid-stream: that stream ends
  with the error); neither affects other requests or the model instance.

The engine (`inference.engines`) is chosen by COSYVOICE_ENGINE or the `engine` parameter. Imported only by the
backend stub (`triton_python_backend_utils` exists nowhere else).
"""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import triton_python_backend_utils as pb_utils

from inference.engines import (DEFAULT_MAX_TEXT_CHARS, PROMPT_SAMPLE_RATE, InvalidRequest, build_request,
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


def _error(exc: Exception):
    if isinstance(exc, InvalidRequest):
        return pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG)
    log.exception("synthesis failed")
    return pb_utils.TritonError(f"synthesis failed: {type(exc).__name__}: {exc}", pb_utils.TritonError.INTERNAL)


def _waveform(audio) -> "pb_utils.Tensor":
    return pb_utils.Tensor("waveform", np.ascontiguousarray(audio, dtype=np.float32).reshape(1, -1))


class OfflineModel:
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
                audio = self.engine.synthesize(synthesis)
                if audio.size == 0:
                    raise RuntimeError("engine produced no audio")
                responses.append(pb_utils.InferenceResponse(output_tensors=[_waveform(audio)]))
            except Exception as exc:  # noqa: BLE001 - one request's failure must not take the instance down
                responses.append(pb_utils.InferenceResponse(error=_error(exc)))
        return responses

    def finalize(self):
        self.engine = None


class StreamingModel(OfflineModel):
    """Decoupled: each request answers through its own response sender, chunk by chunk."""

    def execute(self, requests):
        final = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL
        for request in requests:
            sender = request.get_response_sender()
            try:
                synthesis = parse_request(request, self.max_text_chars)
                sent = 0
                for chunk in self.engine.stream(synthesis):
                    if chunk.size:
                        sender.send(pb_utils.InferenceResponse(output_tensors=[_waveform(chunk)]))
                        sent += 1
                if not sent:
                    raise RuntimeError("engine produced no audio")
                sender.send(flags=final)
            except Exception as exc:  # noqa: BLE001 - the stream ends with the error; the instance serves on
                sender.send(pb_utils.InferenceResponse(error=_error(exc)), flags=final)
        return None
