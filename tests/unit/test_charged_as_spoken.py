"""What the model speaks is what is charged: the spoken notice is one synthesis per voice (never a second model
call per request), tiny paragraphs are packed into one segment, and compatibility characters are charged (and
moderated) as the letters and digits the model reads."""

from __future__ import annotations

import base64
import json

import pytest

from functions.text.normalize import charged_units, normalize_spoken_text, spoken_form
from functions.tts.render import NOTICE_SEED, NOTICE_TEXT
from functions.tts.request import RequestLimits, build_request
from functions.tts.segments import PARAGRAPH_PAUSE_S, SENTENCE_PAUSE_S, split_text
from tests.audio_samples import recorder_files
from tests.support import LocalClient, client_for

LIMITS = RequestLimits(max_text_chars=200, max_long_text_chars=5000, max_instruct_chars=100,
                       max_body_bytes=10**6, max_prompt_bytes=10**6)


def post(client, text, **fields):
    fields.setdefault("voice_id", "default")
    return client.post("/v1/tts", data=json.dumps({"text": text, **fields}), content_type="application/json")


def notices(endpoint) -> list:
    return [r for r in endpoint.requests if r.text == NOTICE_TEXT]


# the spoken notice: one synthesis per voice


def test_a_fresh_seed_speed_or_style_costs_one_model_call_not_two(unit_app, endpoint):
    """Before: the notice's key came from the request (seed, speed, style), so each fresh seed was a second
    model call, 3.47 s of notice for a one-unit text (6.84 s at speed 0.5)."""
    client = LocalClient(unit_app(aigc_cue="notice"))
    assert post(client, "一。", seed=1).status_code == 200
    assert len(endpoint.requests) == 2  # the speech, and the notice in this voice, once
    for i, fields in enumerate([{"seed": 2}, {"seed": 3, "speed": 0.5}, {"speed": 2.0}, {"instruct": "四川话"},
                                {"seed": 4, "instruct": "用开心的语气说"}]):
        r = post(client, "一。", **fields)
        assert r.status_code == 200, r.json
        assert len(endpoint.requests) == 3 + i, fields  # the speech only: the notice came from the cache
    (notice,) = notices(endpoint)
    assert (notice.speed, notice.seed, notice.instruct_text) == (1.0, NOTICE_SEED, None)
    assert notice.mode == "zero_shot" and notice.reference_text  # the built-in voice's own transcript


def test_each_voice_has_its_own_notice(unit_app, endpoint):
    client = client_for(unit_app(aigc_cue="notice"))
    audio = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
    assert post(client, "一。").status_code == 200
    for seed in (1, 2):
        r = client.post("/v1/tts", json={"text": "一。", "seed": seed, "prompt_audio_base64": audio, "consent": "self"})
        assert r.status_code == 200, r.get_json()
    made = notices(endpoint)
    assert len(made) == 2 and made[0].voice_key != made[1].voice_key
    assert made[1].mode == "cross_lingual" and made[1].reference_text is None  # the upload has no transcript


def test_the_stored_file_holds_the_notice_the_stream_played(unit_app, endpoint):
    app = unit_app(aigc_cue="notice", aigc_cue_position="start")
    body = {"text": "流式的一句话。", "voice_id": "default", "format": "pcm", "seed": 7, "speed": 0.5}
    response = client_for(app).post("/v1/tts/stream", json=body, buffered=False)
    streamed = b"".join(response.response)
    task = client_for(app).get(f"/v1/tts/{response.headers['X-Task-Id']}").get_json()
    stored = client_for(app).get(task["audio_url"].replace("http://testserver", "")).get_data()
    assert stored == streamed and len(notices(endpoint)) == 1


# tiny paragraphs: packed into one segment


def test_three_hundred_one_character_paragraphs_are_three_model_calls(unit_app, endpoint):
    """Before: one model call per paragraph (300); now as many as a paragraph of their length needs."""
    characters = [chr(0x4E00 + i) for i in range(300)]  # 300 different ones: no segment repeats another
    text = "\n".join(characters)
    segments = split_text(text, 200)
    assert len(segments) == 3 and segments == split_text(text, 200)  # the same text, the same segments
    assert segments[0].text == "。".join(characters[:100])  # a full stop where each paragraph ended: a pause
    assert [s.pause_after_s for s in segments] == [PARAGRAPH_PAUSE_S, PARAGRAPH_PAUSE_S, 0.0]
    app = unit_app()
    client = LocalClient(app)
    queued = post(client, text)
    assert queued.status_code == 202
    assert app.services.worker.run_once(wait_s=0) == 1
    done = client.get(queued.json["poll_url"]).json
    assert done["status"] == "done" and len(endpoint.requests) == 3
    cues = done["subtitles"]
    assert [c["text"] for c in cues] == [s.text for s in segments]
    assert all(a["end"] < b["start"] for a, b in zip(cues, cues[1:], strict=False))
    assert cues[-1]["end"] == pytest.approx(done["duration_s"], abs=0.01)


def test_short_paragraphs_pack_with_a_pause_mark_and_long_ones_stay_their_own():
    long = "".join(f"这是第{i}句话，用来测试长文本的分段合成。" for i in range(6))  # 120 characters
    text = "\n".join(["第一章", "Chapter one", "“你好。”", long, "注：", "<strong>标题</strong>", long, "完"])
    segments = split_text(text, 200)
    assert [s.text for s in segments] == ["第一章。Chapter one.“你好。”", long, "注：<strong>标题</strong>",
                                          long, "完"]
    assert [s.pause_after_s for s in segments] == [PARAGRAPH_PAUSE_S] * 4 + [0.0]
    assert split_text(long, 200) == [segments[1].__class__(long, 0.0)]  # shared with an article of it alone
    packed = split_text("\n".join(["短段落。"] * 100), 200)
    assert all(len(s.text) <= 200 for s in packed) and len(packed) == 2
    in_paragraph = split_text(long + long, 200)
    assert [s.pause_after_s for s in in_paragraph] == [SENTENCE_PAUSE_S, 0.0]


# compatibility characters: charged as they are read


@pytest.mark.parametrize("text, spoken, units, before", [
    ("㎡㎞㎏℃", "m²kmkg°C", 9, 4),
    ("㉑", "21", 4, 1),
    ("㉑㉒㉓", "21 22 23", 14, 3),  # whole numbers stay apart
    ("ℰℳℐℙℓ", "EMIPl", 5, 5),  # the letters the model reads, not their long names
    ("Ⅻ", "XII", 3, 1),
    ("ﬁ", "fi", 2, 1),
    ("ＡＢ１２", "AB12", 6, 6),
    ("㍿", "株式会社", 4, 1),
    ("½", "½", 4, 1),  # kept, charged as 二分之一
    ("100㎡的房子", "100m²的房子", 12, 10),
])
def test_compatibility_characters_are_written_and_charged_as_read(text, spoken, units, before):
    req = build_request({"text": text, "voice_id": "default"}, None, LIMITS)
    assert req.text == spoken and req.units == units and req.spoken_texts[0] == spoken
    _text, markup = normalize_spoken_text(text)
    assert markup.units + (3 if text == "½" else 0) == units and before <= units


@pytest.mark.parametrize("text", ["你好，世界。", "……", "（注）", "［breath］", "m²", "H₂O", "①"])
def test_punctuation_and_kept_forms_are_unchanged(text):
    expected = {"①": "1"}.get(text, text)
    assert spoken_form(text) == expected
    assert normalize_spoken_text(text)[0] == expected  # a full-width bracket never becomes markup


def test_the_job_limit_counts_the_folded_units():
    assert build_request({"text": "㉑" * 50, "voice_id": "default"}, None, LIMITS).long  # 50 chars, 249 units
    assert not build_request({"text": "一" * 50, "voice_id": "default"}, None, LIMITS).long


def test_charged_units_of_plain_text_are_the_markup_units():
    for text in ("你好[breath]", "她[h][ào]干净", "2026年"):
        _t, markup = normalize_spoken_text(text)
        assert charged_units(markup) == markup.units
