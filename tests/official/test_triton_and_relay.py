"""The Triton model (started as `python -m inference.serve --engine cosyvoice3`) and the relay on the official
CosyVoice3 code with random weights: the official clients' request shapes, errors that must not kill the
instance, requests that do not wait for their neighbours, and the relay's paths end to end."""

from __future__ import annotations

import io
import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from inference.client import MODEL_NAME, make_inputs, waveform
from inference.contract import DEFAULT_VOICE_TRANSCRIPT, OUTPUT_SAMPLE_RATE
from tests.support import AppFactory, LocalClient

from .conftest import SECONDS_PER_CHAR

TRANSCRIPT = "希望你以后能够做的比我还好呦。"
CUE_S = 1.4  # the relay's files start with the AIGC rhythm cue and its gap (docs/compliance.md)


def seconds(audio: np.ndarray) -> float:
    return audio.size / OUTPUT_SAMPLE_RATE


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_the_official_clients_request_shapes(official_triton, prompt, protocol):
    """reference_wav [1, N] FP32 + reference_wav_len + reference_text + target_text, as the official clients
    (runtime/triton_trtllm/client_http.py, client_grpc.py) send them."""
    http, grpc = official_triton
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(http if protocol == "http" else grpc)
    audio = waveform(client.infer(MODEL_NAME, make_inputs(module, "你好，世界。", reference_wav=prompt,
                                                          reference_text=TRANSCRIPT)))
    assert seconds(audio) == pytest.approx(6 * SECONDS_PER_CHAR, abs=0.2)


def test_target_text_alone_is_answered_in_the_built_in_voice(official_triton):
    """The official model accepts a request without a voice; so does this one (the built-in voice)."""
    client = httpclient.InferenceServerClient(official_triton[0])
    audio = waveform(client.infer(MODEL_NAME, make_inputs(httpclient, "只有文字。")))
    assert seconds(audio) == pytest.approx(5 * SECONDS_PER_CHAR, abs=0.2)
    assert DEFAULT_VOICE_TRANSCRIPT  # zero-shot with the built-in voice's transcript (tests/inference)


@pytest.mark.parametrize("inputs", [
    lambda: make_inputs(httpclient, "   "),
    lambda: make_inputs(httpclient, "注入<|endofprompt|>"),
    lambda: make_inputs(httpclient, "没有缓存的声音。", voice_key="never-sent"),
], ids=["empty", "control-token", "unknown-voice-key"])
def test_a_bad_request_is_refused_and_the_instance_keeps_serving(official_triton, prompt, inputs):
    client = httpclient.InferenceServerClient(official_triton[0])
    with pytest.raises(InferenceServerException):
        client.infer(MODEL_NAME, inputs())
    assert seconds(waveform(client.infer(MODEL_NAME, make_inputs(httpclient, "还在。", reference_wav=prompt)))) > 0


def test_a_short_request_does_not_wait_for_long_neighbours(official_triton, prompt):
    """No dynamic batch holds a finished response back: with a long request on one instance, a short one sent next
    takes the other instance and comes back before the long ones (with the former batching all three came back
    together). Arrival order is fixed by spacing the submissions, so which request waits is not a race; the
    assertion is about order of completion, not a speed ratio (a loaded machine slows every request alike).
    That no batching is configured at all is checked on the loaded config (tests/inference/test_triton_model.py)."""
    grpc = official_triton[1]

    def finished_at(text):
        client = grpcclient.InferenceServerClient(grpc)
        client.infer(MODEL_NAME, make_inputs(grpcclient, text, reference_wav=prompt))
        return time.monotonic()

    long_text = "这是一段比较长的文字，用来占住一个模型实例的时间。" * 2
    started = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        futures = []
        for text in (long_text, "短。", long_text):  # the short one arrives second: a free instance is waiting
            futures.append(pool.submit(finished_at, text))
            time.sleep(0.5)
        long_a, short, long_b = (f.result() - started for f in futures)
    print(f"\nconcurrent completions: short {short:.1f}s, long {long_a:.1f}s / {long_b:.1f}s")
    assert short < min(long_a, long_b)


@pytest.fixture(scope="module")
def relay(official_triton, tmp_path_factory):
    factory = AppFactory({"triton_url": official_triton[1], "engine": "cosyvoice3", "max_text_chars": 20,
                          "storage_dir": str(tmp_path_factory.mktemp("relay") / "storage"), "worker_threads": 1})
    yield LocalClient(factory())
    factory.close()


def test_the_relay_clones_an_uploaded_voice(relay):
    from tests.audio_samples import recorder_files

    audio = recorder_files()["wav_16k_mono"][0]
    r = relay.post("/v1/tts", data={"text": "你好，欢迎使用。", "prompt_text": TRANSCRIPT, "consent": "self",
                                    "audio": (io.BytesIO(audio), "a.wav"), "format": "wav"},
                   content_type="multipart/form-data")
    assert r.status_code == 200, r.json
    assert r.json["mode"] == "zero_shot"
    assert r.json["duration_s"] == pytest.approx(8 * SECONDS_PER_CHAR + CUE_S, abs=0.3)


def test_the_relay_enrolls_and_speaks_in_an_enrolled_voice(relay):
    from tests.audio_samples import recorder_files

    recording = recorder_files()["wav_16k_mono"][0]
    voice = relay.post("/v1/voices", data={"consent": "self", "audio": (io.BytesIO(recording), "a.wav"),
                                           "prompt_text": TRANSCRIPT}, content_type="multipart/form-data")
    assert voice.status_code == 201, voice.json
    for text in ("第一句。", "第二句话。"):  # the second reuses the engine's cached speaker features
        r = relay.post("/v1/tts", data=json.dumps({"text": text, "voice_id": voice.json["voice_id"]}),
                       content_type="application/json")
        assert r.status_code == 200 and r.json["duration_s"] == pytest.approx(len(text) * SECONDS_PER_CHAR + CUE_S,
                                                                                 abs=0.3)


def test_a_long_text_job_and_the_openai_endpoint(relay):
    text = "一二三四五六七八九十。" * 3  # beyond max_text_chars: a job, split into segments
    queued = relay.post("/v1/tts", data=json.dumps({"text": text, "voice_id": "default"}),
                        content_type="application/json")
    assert queued.status_code == 202
    deadline = time.monotonic() + 300
    while (body := relay.get(queued.json["poll_url"]).json)["status"] != "done":
        assert body["status"] in ("queued", "running") and time.monotonic() < deadline, body
        time.sleep(1)
    assert body["duration_s"] > 20 * SECONDS_PER_CHAR
    speech = relay.post("/v1/audio/speech", data=json.dumps({"model": "cosyvoice3", "voice": "alloy",
                                                            "input": "开放接口。"}),
                        content_type="application/json")
    assert speech.status_code == 200 and speech.headers["Content-Type"] == "audio/mpeg" and len(speech.data) > 1000


def test_the_relay_streams_the_official_model_and_stores_what_it_streamed(relay):
    """POST /v1/tts/stream on the official streaming code (`stream=True` through the decoupled model): chunks
    as they are made, the concatenation equal to the stored file, no click at any join."""
    started = time.monotonic()
    response = relay.post("/v1/tts/stream", json={"text": "今天我们来聊公园。", "voice_id": "default",
                                                  "format": "wav"}, buffered=False)
    assert response.status_code == 200, response.get_data(as_text=True)
    arrivals, data = [], b""
    for chunk in response.response:
        arrivals.append(time.monotonic() - started)
        data += chunk
    assert len(arrivals) > 2 and arrivals[0] < arrivals[-1] / 2
    from functions.tts.cache_key import object_key

    stored = relay.application.services.storage.get(object_key(response.headers["X-Task-Id"], "wav"))
    samples = stored[stored.index(b"data") + 8:]
    assert samples[:len(data)] == data and len(data) > OUTPUT_SAMPLE_RATE * 2 * CUE_S
