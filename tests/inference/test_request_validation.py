"""Validation shared by all engines (what reaches an engine is always well-formed)."""

import numpy as np
import pytest

from inference.engines import InvalidRequest, build_request


def test_defaults_and_mode_inference():
    assert build_request(text=" 你好 ").text == "你好"
    assert build_request(text="a").mode == "cross_lingual"
    assert build_request(text="a", reference_text="b").mode == "zero_shot"
    assert build_request(text="a", instruct_text="温柔").mode == "instruct"


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
