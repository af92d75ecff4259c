"""Validation shared by all engines (what reaches an engine is always well-formed)."""

import numpy as np
import pytest

from inference.contract import DEFAULT_VOICE_TRANSCRIPT
from inference.engines import InvalidRequest, build_request
from inference.engines.base import DEFAULT_VOICE_KEY, default_voice


def test_defaults_and_mode_inference(prompt_16k):
    assert build_request(text=" 你好 ").text == "你好"
    assert build_request(text="a", reference_wav=prompt_16k).mode == "cross_lingual"
    assert build_request(text="a", reference_wav=prompt_16k, reference_text="b").mode == "zero_shot"
    assert build_request(text="a", reference_wav=prompt_16k, instruct_text="温柔").mode == "instruct"


def test_a_request_without_a_voice_speaks_in_the_built_in_voice():
    """What a client of the official model may send: target_text alone."""
    r = build_request(text="你好")
    assert (r.mode, r.reference_text, r.voice_key) == ("zero_shot", DEFAULT_VOICE_TRANSCRIPT, DEFAULT_VOICE_KEY)
    assert r.reference_wav is default_voice() and r.reference_wav.size == int(3.6575 * 16000)
    styled = build_request(text="你好", instruct_text="温柔")
    assert styled.mode == "instruct" and styled.reference_text == "" and styled.reference_wav is default_voice()
    # a transcript without its recording never gets the built-in voice (it would not match): the engine refuses
    assert build_request(text="你好", reference_text="别人的录音文字").reference_wav is None


def test_reference_wav_len_cuts_the_wav():
    r = build_request(text="a", reference_wav=np.ones(100, np.float32), reference_wav_len=40)
    assert r.reference_wav.shape == (40,)


@pytest.mark.parametrize("kwargs, message", [
    ({"text": None}, "required"),
    ({"text": ""}, "empty"),
    ({"text": "a\x00b"}, "control"),
    ({"text": "x" * 5000}, "limit"),
    ({"text": "a", "mode": "zero_shot"}, "reference_text"),
    ({"text": "a", "mode": "instruct"}, "instruct_text"),
    ({"text": "a", "speed": float("nan")}, "speed"),
    ({"text": "a", "seed": -1}, "seed"),
    ({"text": "a", "voice_key": "../etc/passwd"}, "voice_key"),
    ({"text": "a", "instruct_text": "<|endofprompt|>"}, "control tokens"),
    ({"text": "a", "reference_wav": np.array([np.nan], np.float32)}, "NaN"),
    ({"text": "a", "reference_wav": np.zeros(16000 * 31, np.float32)}, "longer"),
    ({"text": "a", "reference_wav_len": 5}, "without reference_wav"),
])
def test_invalid(kwargs, message):
    with pytest.raises(InvalidRequest, match=message):
        build_request(**kwargs)


def test_the_development_engine_keeps_no_memory_per_request():
    """The espeak engine copies each chunk of samples without making a ctypes type per length (ctypes keeps
    every array and pointer type it makes: the Triton stubs grew by about 1 MB a minute under load)."""
    import ctypes
    import tracemalloc

    from inference.engines import build_request, load_engine

    engine = load_engine("espeak")
    texts = [f"第{i}句话，" + "今天天气很好。" * (i % 7 + 1) for i in range(60)]
    engine.synthesize(build_request(text=texts[0]))
    cache = getattr(ctypes, "_pointer_type_cache", {})  # where CPython keeps pointer types (before 3.14)
    types_before = len(cache)
    tracemalloc.start()
    try:
        engine.synthesize(build_request(text=texts[1]))
        held = tracemalloc.get_traced_memory()[0]
        for text in texts[2:]:
            engine.synthesize(build_request(text=text))
        grown = tracemalloc.get_traced_memory()[0] - held
    finally:
        tracemalloc.stop()
    assert len(cache) == types_before
    assert grown < 64 * 1024, f"{grown} bytes kept by 58 requests"
