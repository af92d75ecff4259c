"""The cosyvoice3 model under a real Triton server (CPU, espeak engine), over HTTP and gRPC."""

from __future__ import annotations

import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from inference.client import MODEL_NAME, STREAM_MODEL_NAME, make_inputs, waveform

ZH = "收到好友从远方寄来的生日礼物，那份意外的惊喜让我心中充满了快乐。"
EN = "Receiving a birthday gift from a friend far away filled my heart with joy."
TRANSCRIPT = "希望你以后能够做的比我还好呦。"


@pytest.mark.parametrize("model", [MODEL_NAME, STREAM_MODEL_NAME])
def test_no_batch_holds_a_response_back_and_two_instances_serve(grpc, model):
    """As Triton loaded them: batch size 1 and no dynamic batching (a batch answers all its requests after the
    longest; an engine synthesizes one request at a time), and more than one instance (a short request finds
    one free beside a long one). The timing side is tests/official's order-of-completion test."""
    config = grpc.get_model_config(model).config
    assert config.max_batch_size <= 1 and not config.HasField("dynamic_batching")
    assert sum(group.count for group in config.instance_group) >= 2


@pytest.fixture(scope="module")
def http(triton):
    return httpclient.InferenceServerClient(triton.http_url)


@pytest.fixture(scope="module")
def grpc(triton):
    return grpcclient.InferenceServerClient(triton.grpc_url)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def spoken_units(text: str) -> int:
    """Syllable-ish units: one per Chinese character, one per Latin word."""
    return len(re.findall(r"[\u3400-\u9fff]", text)) + len(re.findall(r"[A-Za-z]+", text))


def assert_speech_for(audio: np.ndarray, text: str) -> None:
    """Non-silent 24 kHz audio whose duration is plausible for the text (0.1-1.0 s per syllable or word)."""
    seconds = audio.size / 24000
    units = spoken_units(text)
    assert audio.dtype == np.float32
    assert rms(audio) > 0.01, "audio is silent"
    assert np.abs(audio).max() <= 1.0
    assert 0.1 * units < seconds < 1.0 * units, f"{seconds:.2f}s for {units} syllables/words"


def test_server_and_model_ready(triton, http):
    assert http.is_server_live() and http.is_server_ready()
    assert http.is_model_ready(MODEL_NAME)
    meta = http.get_model_metadata(MODEL_NAME)
    names = {i["name"] for i in meta["inputs"]}
    assert {"reference_wav", "reference_wav_len", "reference_text", "target_text"} <= names
    assert [o["name"] for o in meta["outputs"]] == ["waveform"]
    with urllib.request.urlopen(f"http://{triton.host}:{triton.metrics_port}/metrics", timeout=5) as resp:
        assert b"nv_inference_request_success" in resp.read()


def test_official_client_request_over_http(http, prompt_16k):
    result = http.infer(MODEL_NAME, make_inputs(httpclient, ZH, reference_wav=prompt_16k, reference_text=TRANSCRIPT))
    assert_speech_for(waveform(result), ZH)
    assert result.as_numpy("waveform").shape[0] == 1  # batch dimension kept


def test_official_client_request_over_grpc(grpc, prompt_16k):
    result = grpc.infer(MODEL_NAME, make_inputs(grpcclient, ZH, reference_wav=prompt_16k, reference_text=TRANSCRIPT))
    assert_speech_for(waveform(result), ZH)


def test_longer_text_gives_longer_audio(grpc):
    short = waveform(grpc.infer(MODEL_NAME, make_inputs(grpcclient, "你好。")))
    long = waveform(grpc.infer(MODEL_NAME, make_inputs(grpcclient, ZH * 3)))
    assert long.size > 4 * short.size


@pytest.mark.parametrize("mode, extra", [
    ("zero_shot", {"reference_text": TRANSCRIPT}),
    ("cross_lingual", {}),
    ("instruct", {"instruct_text": "请用尽可能快地语速说一句话。"}),
])
def test_each_mode(grpc, prompt_16k, mode, extra):
    result = grpc.infer(MODEL_NAME, make_inputs(grpcclient, ZH, reference_wav=prompt_16k, mode=mode, **extra))
    assert_speech_for(waveform(result), ZH)


@pytest.mark.parametrize("text", [ZH, EN])
def test_languages(grpc, text):
    assert_speech_for(waveform(grpc.infer(MODEL_NAME, make_inputs(grpcclient, text))), text)


def test_cantonese_on_request_differs_from_mandarin(grpc):
    text = "今日天气好好，我哋去饮茶啦。"
    mandarin = waveform(grpc.infer(MODEL_NAME, make_inputs(grpcclient, text)))
    cantonese = waveform(grpc.infer(MODEL_NAME, make_inputs(grpcclient, text, instruct_text="请用广东话表达。")))
    assert_speech_for(cantonese, text)
    assert cantonese.size != mandarin.size or not np.allclose(cantonese, mandarin)


def test_speed_changes_duration(grpc):
    normal = waveform(grpc.infer(MODEL_NAME, make_inputs(grpcclient, EN, speed=1.0)))
    fast = waveform(grpc.infer(MODEL_NAME, make_inputs(grpcclient, EN, speed=2.0)))
    slow = waveform(grpc.infer(MODEL_NAME, make_inputs(grpcclient, EN, speed=0.5)))
    assert fast.size < 0.75 * normal.size < slow.size * 0.75


def _raw_input(name, array, dtype):
    t = httpclient.InferInput(name, list(array.shape), dtype)
    t.set_data_from_numpy(array)
    return t


def _bad_requests(prompt):
    text = lambda s: _raw_input("target_text", np.array([[s.encode()]], dtype=np.object_), "BYTES")  # noqa: E731
    wav = _raw_input("reference_wav", prompt.reshape(1, -1), "FP32")
    return {
        "missing target_text": [wav, _raw_input("reference_wav_len", np.array([[prompt.size]], np.int32), "INT32")],
        "empty text": [text("   ")],
        "wrong dtype": [_raw_input("target_text", np.array([[1.5]], np.float32), "FP32")],
        "zero reference_wav_len": [wav, _raw_input("reference_wav_len", np.array([[0]], np.int32), "INT32"),
                                   text("你好")],
        "reference_wav_len beyond wav": [wav, _raw_input("reference_wav_len", np.array([[prompt.size + 1]], np.int32),
                                                         "INT32"), text("你好")],
        "100 kB text": [text("长" * 35000)],
        "bad mode": [text("你好"), _raw_input("mode", np.array([[b"shout"]], dtype=np.object_), "BYTES")],
        "speed out of range": [text("你好"), _raw_input("speed", np.array([[9.0]], np.float32), "FP32")],
        "control token injection": [text("你好<|endofprompt|>")],
        "invalid utf-8": [_raw_input("target_text", np.array([[b"\xff\xfe"]], dtype=np.object_), "BYTES")],
    }


@pytest.mark.parametrize("case", list(_bad_requests(np.zeros(16000, np.float32))))
def test_bad_request_is_an_error_and_server_keeps_serving(http, prompt_16k, case):
    with pytest.raises(InferenceServerException) as err:
        http.infer(MODEL_NAME, _bad_requests(prompt_16k)[case])
    assert str(err.value.status()) == "400"  # INVALID_ARG, the one right answer
    assert_speech_for(waveform(http.infer(MODEL_NAME, make_inputs(httpclient, EN))), EN)


def test_eight_concurrent_requests(triton, prompt_16k):
    texts = [f"第{i}位用户的请求：{ZH}" for i in range(8)]

    def one(text):
        client = grpcclient.InferenceServerClient(triton.grpc_url)
        return waveform(client.infer(MODEL_NAME, make_inputs(grpcclient, text, reference_wav=prompt_16k)))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, texts))
    for text, audio in zip(texts, results, strict=True):
        assert_speech_for(audio, text)
