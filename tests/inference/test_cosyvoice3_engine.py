"""The cosyvoice3 engine's own logic, against the labelled stand-in of the official model."""

from __future__ import annotations

import os

import numpy as np
import pytest

from inference.engines import InvalidRequest, SynthesisRequest, build_request
from inference.engines.cosyvoice3 import END_OF_PROMPT, CosyVoice3Engine

from .standin_cosyvoice import StandInCosyVoice3

TRANSCRIPT = "希望你以后能够做的比我还好呦。"


def make_engine(cache_size=64, sample_rate=24000, seeds=None):
    created = {}

    def factory(model_dir, **options):
        created["model"] = StandInCosyVoice3(model_dir, sample_rate=sample_rate, **options)
        return created["model"]

    engine = CosyVoice3Engine("/models/cv3", speaker_cache_size=cache_size, model_factory=factory,
                              seed_everything=(seeds.append if seeds is not None else lambda s: None),
                              fp16=True, load_trt=True)
    return engine, created["model"]


def req(text="你好。", **kw):
    return build_request(text=text, **kw)


def test_load_options_pass_through():
    _, model = make_engine()
    assert model.model_dir == "/models/cv3"
    assert model.options == {"fp16": True, "load_trt": True, "load_vllm": False}


def test_zero_shot_marks_the_prompt_text_and_passes_a_wav_path(prompt_16k):
    engine, model = make_engine()
    audio = engine.synthesize(req("你好。", reference_wav=prompt_16k, reference_text=TRANSCRIPT))
    method, tts, prompt_text, prompt_wav, spk, speed = model.calls[-1]
    assert method == "zero_shot" and tts == "你好。"
    assert prompt_text == f"You are a helpful assistant.{END_OF_PROMPT}{TRANSCRIPT}"
    assert isinstance(prompt_wav, str) and not os.path.exists(prompt_wav)  # temporary file removed afterwards
    assert spk == "" and audio.size == 3 * StandInCosyVoice3.SAMPLES_PER_CHAR


def test_cross_lingual_keeps_the_tts_text_free_of_markers(prompt_16k):
    """A marker in the tts text switches the official frontend's normalization and splitting off (proved on
    the real code in tests/official): cross-lingual is instruct2 with an empty instruction."""
    engine, model = make_engine()
    engine.synthesize(req("Hello.", reference_wav=prompt_16k))
    method, tts, prompt, *_ = model.calls[-1]
    assert method == "instruct2" and tts == "Hello." and prompt == f"You are a helpful assistant.{END_OF_PROMPT}"


def test_instruct_maps_to_instruct2_with_the_marker(prompt_16k):
    engine, model = make_engine()
    engine.synthesize(req("你好。", reference_wav=prompt_16k, instruct_text="请用广东话表达。"))
    method, tts, instruct, *_ = model.calls[-1]
    assert method == "instruct2" and tts == "你好。"
    assert instruct == f"You are a helpful assistant. 请用广东话表达。{END_OF_PROMPT}"


def test_segments_are_concatenated_and_speed_applies(prompt_16k):
    engine, _ = make_engine()
    text = "第一句。第二句话！Third one."
    normal = engine.synthesize(req(text, reference_wav=prompt_16k))
    fast = engine.synthesize(req(text, reference_wav=prompt_16k, speed=2.0))
    assert normal.size == len(text) * StandInCosyVoice3.SAMPLES_PER_CHAR
    assert fast.size == pytest.approx(normal.size / 2, abs=3)


def test_other_model_rates_are_resampled_to_24k(prompt_16k):
    engine, _ = make_engine(sample_rate=22050)
    audio = engine.synthesize(req("你好。", reference_wav=prompt_16k))
    assert audio.dtype == np.float32
    assert audio.size == pytest.approx(3 * StandInCosyVoice3.SAMPLES_PER_CHAR, rel=0.01)


def test_voice_key_skips_feature_extraction_when_it_returns(prompt_16k):
    engine, model = make_engine()
    first = req("你好。", reference_wav=prompt_16k, reference_text=TRANSCRIPT, voice_key="v1")
    engine.synthesize(first)
    assert model.feature_extractions == 1 and len(model.frontend.spk2info) == 1
    _, _, prompt_text, prompt_wav, spk, _ = model.calls[-1]
    assert spk.startswith("v1:") and prompt_wav == ""
    assert prompt_text.endswith(TRANSCRIPT)  # the cached speaker's prompt text, as the official frontend uses
    # returning voice: no audio needed, no extraction
    engine.synthesize(req("再见。", reference_text=TRANSCRIPT, voice_key="v1"))
    assert model.feature_extractions == 1
    assert engine.stats["speaker_hits"] == 1


def test_cached_features_are_per_mode_and_prompt(prompt_16k):
    engine, model = make_engine()
    engine.synthesize(req("你好。", reference_wav=prompt_16k, reference_text=TRANSCRIPT, voice_key="v1"))
    engine.synthesize(req("你好。", reference_wav=prompt_16k, instruct_text="请用四川话表达。", voice_key="v1"))
    assert len(model.frontend.spk2info) == 2  # the instruct prompt is not the transcript: separate entries
    assert model.calls[-1][0] == "instruct2"


def test_a_voice_key_never_selects_features_of_other_audio(prompt_16k):
    """Two callers sending the same voice_key with different recordings (a relay bug, a hash collision, a
    hostile client of the endpoint): each is spoken with the features of the audio it sent."""
    engine, model = make_engine()
    other = (prompt_16k[::-1] * 0.5).astype(np.float32)
    engine.synthesize(req("你好。", reference_wav=prompt_16k, reference_text=TRANSCRIPT, voice_key="shared"))
    engine.synthesize(req("你好。", reference_wav=other, reference_text=TRANSCRIPT, voice_key="shared"))
    assert model.feature_extractions == 2 and len(model.frontend.spk2info) == 2
    first_spk, second_spk = model.calls[-2][4], model.calls[-1][4]
    assert first_spk != second_spk
    # a keyed request without audio uses the audio last sent with that key
    engine.synthesize(req("再见。", reference_text=TRANSCRIPT, voice_key="shared"))
    assert model.calls[-1][4] == second_spk and model.feature_extractions == 2


def test_unknown_voice_key_without_audio_is_a_client_error():
    engine, _ = make_engine()
    with pytest.raises(InvalidRequest, match="voice_key"):
        engine.synthesize(req("你好。", voice_key="never-seen"))


def test_speaker_cache_is_bounded_and_evicts_least_recent(prompt_16k):
    engine, model = make_engine(cache_size=2)
    for key in ("a", "b", "c"):
        engine.synthesize(req("你好。", reference_wav=prompt_16k, voice_key=key))
    assert len(model.frontend.spk2info) == 2
    assert not any(k.startswith("a:") for k in model.frontend.spk2info)
    assert engine.stats["speaker_evictions"] == 1
    with pytest.raises(InvalidRequest):
        engine.synthesize(req("你好。", voice_key="a"))  # evicted: the caller must resend the audio
    engine.synthesize(req("你好。", reference_wav=prompt_16k, voice_key="a"))
    assert model.feature_extractions == 4


def test_no_speaker_at_all_is_refused():
    engine, _ = make_engine()
    with pytest.raises(InvalidRequest, match="reference_wav"):
        engine.synthesize(SynthesisRequest(text="你好。", mode="cross_lingual"))


def test_seed_reaches_the_seed_function(prompt_16k):
    seeds = []
    engine, _ = make_engine(seeds=seeds)
    engine.synthesize(req("你好。", reference_wav=prompt_16k, seed=42))
    assert seeds == [42]
