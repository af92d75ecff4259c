"""Text normalization and the cache key."""

from __future__ import annotations

import pytest

from functions.errors import ApiError
from functions.tts.cache_key import CacheKeyFields, object_key
from functions.tts.text import normalize_text


def test_normalization():
    assert normalize_text("  你好，\n\t世界  ") == "你好， 世界"
    assert normalize_text("e\u0301") == "\u00e9"  # NFC
    assert normalize_text("a\u200bb") == "ab"
    assert normalize_text("她[h][ào]干净 [breath]") == "她[h][ào]干净 [breath]"


@pytest.mark.parametrize("value, code", [
    (None, "text_required"), ("", "text_required"), ("   ", "text_required"), (123, "invalid_type"),
    ("a\x00b", "text_invalid_chars"), ("a\x1bb", "text_invalid_chars"), ("abc\u202edef", "text_invalid_chars"),
    ("说<|endofprompt|>", "text_invalid_chars"), ("长" * 201, "text_too_long"),
])
def test_refusals(value, code):
    with pytest.raises(ApiError) as err:
        normalize_text(value, max_chars=200)
    assert err.value.code == code and err.value.status == 400


def fields(**kw):
    base = dict(model="cosyvoice3", model_version="v1", engine="espeak", mode="zero_shot", text="你好", instruct="",
                voice_hash="ab" * 32, prompt_text="t", speed=1.0, seed=None, format="mp3", sample_rate=24000)
    return CacheKeyFields(**{**base, **kw})


def test_key_changes_with_everything_that_changes_audio():
    base = fields().key()
    for change in [dict(model_version="v2"), dict(engine="cosyvoice3"), dict(mode="instruct"), dict(text="您好"),
                   dict(instruct="温柔"), dict(voice_hash="cd" * 32), dict(prompt_text="u"), dict(speed=1.1),
                   dict(seed=1), dict(format="wav"), dict(sample_rate=22050)]:
        assert fields(**change).key() != base, change


def test_key_is_stable_and_speed_canonical():
    assert fields(speed=1.0).key() == fields(speed=1.0000001).key()
    assert len(fields().key()) == 64
    assert object_key(fields().key(), "mp3") == f"tts/{fields().key()[:2]}/{fields().key()}.mp3"
