"""The `cosyvoice3` engine on the official CosyVoice3 code (random weights): every mode gets the text the
official frontend normalizes and splits, cached voices, eviction, seeds, speed, markup, errors."""

from __future__ import annotations

import numpy as np
import pytest

from inference.contract import OUTPUT_SAMPLE_RATE
from inference.engines import InvalidRequest, build_request

from .conftest import expected_seconds

DIGITS = "我有3个苹果，价格是12.5元。"
LONG = ("今天我们来聊一聊城市里的公园。公园不只是散步的地方，也是孩子们奔跑、老人们下棋、年轻人约会的去处。"
        "清晨有人打太极，傍晚有人跳广场舞，周末的草地上满是野餐的家庭。一座城市有没有温度，"
        "看看它的公园就知道了。我们希望每个社区的居民，步行十五分钟之内，都能走进一片绿色。")
MODES = {"zero_shot": {"reference_text": "希望你以后能够做的比我还好呦。"},
         "cross_lingual": {},
         "instruct": {"instruct_text": "请用温柔的语气说。"}}


def seconds(audio: np.ndarray) -> float:
    return audio.size / OUTPUT_SAMPLE_RATE


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_speaks_normalized_split_text(engine, prompt, mode):
    """Cross-lingual used to put its marker into the tts text, which switches the official frontend's
    normalization and splitting off: digits reached the model and a long text stayed one segment."""
    for text in (DIGITS, LONG):
        engine.recorder.take()
        audio = engine.synthesize(build_request(text=text, reference_wav=prompt, mode=mode, **MODES[mode]))
        segments = engine.recorder.take()
        assert segments == engine.recorder.official(text), mode
        assert not any(c.isdigit() for c in "".join(segments)) and "<|" not in "".join(segments)
        assert seconds(audio) == pytest.approx(expected_seconds(segments), abs=0.2)
    assert len(engine.recorder.official(LONG)) > 1  # the long text is several segments in every mode


def test_english_numbers_are_spelled_out(engine, prompt):
    engine.recorder.take()
    engine.synthesize(build_request(text="I have 3 apples.", reference_wav=prompt))
    assert "three" in " ".join(engine.recorder.take()).lower()


def test_the_same_seed_gives_the_same_audio_and_cached_voices_match(engine, prompt):
    first = engine.synthesize(build_request(text="同一颗种子。", reference_wav=prompt, seed=7, voice_key="v-seed"))
    hits = engine.stats["speaker_hits"]
    cached = engine.synthesize(build_request(text="同一颗种子。", seed=7, voice_key="v-seed"))  # no audio sent
    uncached = engine.synthesize(build_request(text="同一颗种子。", reference_wav=prompt, seed=7))
    assert engine.stats["speaker_hits"] == hits + 1
    assert np.array_equal(first, cached) and np.array_equal(first, uncached)
    other = engine.synthesize(build_request(text="同一颗种子。", reference_wav=prompt, seed=8))
    assert not np.array_equal(first, other)


def test_the_speaker_cache_is_bounded_and_an_evicted_voice_is_a_clear_error(engine, prompt):
    for i in range(3):  # the engine keeps 2 speakers
        engine.synthesize(build_request(text="你好。", reference_wav=prompt * (0.5 + 0.1 * i), voice_key=f"v-{i}"))
    assert len([k for k in engine.model.frontend.spk2info if k.startswith("v-")]) <= 2
    with pytest.raises(InvalidRequest, match="not cached"):
        engine.synthesize(build_request(text="你好。", voice_key="v-never-sent"))
    assert seconds(engine.synthesize(build_request(text="还能用。", reference_wav=prompt))) > 0  # still serving


def test_speed(engine, prompt):
    normal = engine.synthesize(build_request(text="快一点。", reference_wav=prompt, seed=1))
    fast = engine.synthesize(build_request(text="快一点。", reference_wav=prompt, seed=1, speed=2.0))
    assert seconds(fast) == pytest.approx(seconds(normal) / 2, rel=0.1)


def test_markup_reaches_the_model_as_its_own_tokens(engine, prompt):
    engine.recorder.take()
    audio = engine.synthesize(build_request(text="你[breath]好，[h][ǎo]的。", reference_wav=prompt))
    segments = engine.recorder.take()
    assert "[breath]" in "".join(segments) and seconds(audio) > 0
    token_ids = engine.model.frontend._extract_text_token("".join(segments))[0][0].tolist()
    tokenizer = engine.model.frontend.tokenizer.tokenizer
    assert tokenizer.convert_tokens_to_ids("[breath]") in token_ids  # one token, not letters


def test_a_request_without_a_voice_speaks_in_the_built_in_voice(engine):
    """What a client of the official model may send: target_text alone."""
    audio = engine.synthesize(build_request(text="没有带声音的请求。"))
    assert seconds(audio) == pytest.approx(expected_seconds(engine.recorder.official("没有带声音的请求。")), abs=0.2)


def test_the_official_streaming_gives_the_first_audio_before_the_end(engine, prompt):
    """`stream=True` on the real code: chunks as they are made; with a speed the engine streams per segment
    instead (the official streaming ignores speed)."""
    import time

    started = time.monotonic()
    arrivals, chunks = [], []
    text = "今天我们来聊一聊城市里的公园。"
    for chunk in engine.stream(build_request(text=text, reference_wav=prompt, seed=3)):
        arrivals.append(time.monotonic() - started)
        chunks.append(chunk)
    total = time.monotonic() - started
    assert len(chunks) > 2 and arrivals[0] < total / 2 and all(np.isfinite(c).all() for c in chunks)
    assert seconds(np.concatenate(chunks)) == pytest.approx(expected_seconds(engine.recorder.official(text)),
                                                            rel=0.1)
    segments = engine.recorder.official(LONG)
    fast = list(engine.stream(build_request(text=LONG, reference_wav=prompt, speed=2.0)))
    assert len(fast) == len(segments)  # one chunk per segment, at the asked speed
    assert seconds(np.concatenate(fast)) == pytest.approx(expected_seconds(segments, speed=2.0), rel=0.1)
