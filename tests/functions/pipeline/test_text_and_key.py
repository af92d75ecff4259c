"""Text normalization and the cache key."""

from __future__ import annotations

import pytest

from functions.errors import ApiError
from functions.tts.cache_key import CacheKeyFields, TaskIdSecret, is_media_key, object_key
from functions.text.normalize import normalize_text


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


SECRET = b"s" * 32


def test_key_changes_with_everything_that_changes_audio():
    base = fields().key(SECRET)
    for change in [dict(model_version="v2"), dict(engine="cosyvoice3"), dict(mode="instruct"), dict(text="您好"),
                   dict(instruct="温柔"), dict(voice_hash="cd" * 32), dict(prompt_text="u"), dict(speed=1.1),
                   dict(seed=1), dict(format="wav"), dict(sample_rate=22050)]:
        assert fields(**change).key(SECRET) != base, change


def test_key_is_stable_and_speed_canonical():
    key = fields().key(SECRET)
    assert fields(speed=1.0).key(SECRET) == fields(speed=1.0000001).key(SECRET)
    assert len(key) == 64
    assert object_key(key, "mp3") == f"tts/{key[:2]}/{key}.mp3"


def test_task_ids_cannot_be_computed_without_the_server_secret():
    """Whoever guesses a request (a common text in the default voice) cannot derive its task id or object
    name: the key is an HMAC, so a plain hash of the canonical fields, or another server's secret, misses."""
    import hashlib

    key = fields().key(SECRET)
    assert key != hashlib.sha256(fields().canonical()).hexdigest()
    assert key != fields().key(b"t" * 32)


def test_task_id_secret_is_created_once_and_shared_through_storage(tmp_path):
    from functions.storage.local import LocalStore

    store = LocalStore(tmp_path, "http://x")
    first, second = TaskIdSecret(store), TaskIdSecret(LocalStore(tmp_path, "http://x"))  # two instances
    assert first() == second() and len(first()) == 32
    assert TaskIdSecret(store, "c" * 32)() == b"c" * 32  # TASK_ID_SECRET wins
    assert not store.put_if_absent("keys/task-id.key", b"other", "application/octet-stream")
    assert TaskIdSecret(store)() == first()


@pytest.mark.parametrize("key, ok", [
    ("tts/ab/ab" + "0" * 62 + ".mp3", True), ("tts/ab/ab" + "0" * 62 + ".flac", True),
    ("tts/ac/ab" + "0" * 62 + ".mp3", False), ("tts/ab/ab" + "0" * 62 + ".mp3.meta.json", False),
    ("tts/ab/ab" + "0" * 62 + ".exe", False), ("voices/o/v_x/prompt.wav", False), ("keys/task-id.key", False),
    ("tts/" + "a" * 5000, False), ("tts/ab/AB" + "0" * 62 + ".mp3", False), ("tts/ab/../ab" + "0" * 59 + ".mp3", False),
])
def test_media_serves_only_names_the_service_gives(key, ok):
    assert is_media_key(key) is ok


@pytest.mark.parametrize("text, units, syllables", [
    ("她[h][ào]干净", 4, ("hao",)), ("报道[j][ǐ]予好评", 6, ("ji",)), ("你好[breath]", 3, ()),
    ("他[ni3][hao3]们", 4, ("ni", "hao")), ("这是<strong>重点</strong>。", 5, ()), ("绿[l][ǜ]色", 3, ("lv",)),
])
def test_markup_units_count_what_is_spoken(text, units, syllables):
    from functions.text.markup import parse_markup

    markup = parse_markup(text)
    assert markup.units == units and tuple(s for r in markup.runs for s in r.syllables) == syllables


@pytest.mark.parametrize("text", ["好" + "[breath]" * 2, "。[ni3]", "[h][ào]", "你" + "[ni3]" * 2,
                                  "<strong></strong>好"])
def test_markup_density_and_attachment(text):
    from functions.text.markup import parse_markup

    with pytest.raises(ApiError) as err:
        parse_markup(text)
    assert err.value.code == "invalid_markup"


@pytest.mark.parametrize("text, model_text", [
    ("她[hao4]干净", "她[h][ào]干净"), ("她[h][ao3]干净", "她[h][ǎo]干净"), ("绿[lv4]色", "绿[l][ǜ]色"),
    ("报道[j][ǐ]予", "报道[j][ǐ]予"), ("我[HH][AH0][L][OW1]你", "我[HH][AH0][L][OW1]你"),
])
def test_pinyin_reaches_the_model_as_its_own_tokens(text, model_text):
    from functions.text.normalize import normalize_spoken_text

    assert normalize_spoken_text(text)[0] == model_text


def test_invisible_characters_are_removed_and_the_limit_counts_what_was_sent():
    from functions.errors import BadRequest
    from functions.text.normalize import normalize_spoken_text

    assert normalize_spoken_text("违[j]\u2060[ìn]\u00ad测") == ("违[j][ìn]测", normalize_spoken_text("违[j][ìn]测")[1])
    assert normalize_spoken_text(" " * 4_999 + "好", max_chars=5000, keep_newlines=True)[0] == "好"
    # the OpenAPI description's maxLength counts code points as sent: so does the server, before any work
    with pytest.raises(BadRequest) as refused:
        normalize_spoken_text(" " * 80_000 + "好", max_chars=5000, keep_newlines=True)
    assert refused.value.code == "text_too_long"
