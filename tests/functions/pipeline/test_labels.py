"""AI-generated audio, labelled (GB 45438-2025): every delivered format carries the implicit label (read back by
mutagen), pcm carries it in headers and JSON; the explicit cue is audible where configured and never part of
the cache key; the spoken notice is synthesized once per voice."""

from __future__ import annotations

import io
import json
import time

import av
import numpy as np
import pytest

from functions.audio import cue
from tests.support import client_for, read_label, triton_inference_count

PRODUCER = "某某科技有限公司"


def tts(client, text, **fields):
    return client.post("/v1/tts", data=json.dumps({"text": text, "voice_id": "default", **fields}),
                       content_type="application/json")


def decoded(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]).astype(np.float32)


@pytest.mark.parametrize("fmt", ["mp3", "wav", "pcm"])
def test_every_tts_format_is_labelled(make_app, fmt):
    client = client_for(make_app(aigc_producer=PRODUCER))
    body = tts(client, "标识测试。", format=fmt).json
    media = client.get(body["audio_url"].replace("http://testserver", ""))
    expected = {"Label": "1", "ContentProducer": PRODUCER, "ProduceID": body["task_id"], "ReservedCode1": "",
                "ContentPropagator": "", "PropagateID": "", "ReservedCode2": ""}
    assert body["aigc"] == expected and json.loads(media.headers["X-AIGC"]) == expected
    if fmt != "pcm":
        assert read_label(fmt, media.data) == expected


@pytest.mark.parametrize("fmt", ["opus", "aac", "flac"])
def test_the_openai_endpoints_formats_are_labelled(make_app, fmt):
    client = client_for(make_app(aigc_producer=PRODUCER))
    r = client.post("/v1/audio/speech", data=json.dumps({"model": "cosyvoice3", "voice": "default",
                                                         "input": "标识测试。", "response_format": fmt}),
                    content_type="application/json")
    label = read_label(fmt, r.data)
    assert label["ProduceID"] == r.headers["X-Task-Id"] and json.loads(r.headers["X-AIGC"]) == label


def test_the_rhythm_cue_is_heard_at_the_start_and_is_not_in_the_cache_key(make_app):
    text = "开头有提示音。"
    plain = tts(client_for(make_app(aigc_cue="none")), text, format="wav").json
    app = make_app(aigc_cue="rhythm")
    client = client_for(app)
    cued = tts(client, text, format="wav").json
    assert cued["task_id"] == plain["task_id"]  # the speech's key: the cue is added when the file is encoded
    samples = decoded(client.get(cued["audio_url"].replace("http://testserver", "")).data)
    runs = cue.tone_runs(samples[:24000 * 2], 24000)
    assert [d for on, d in runs if on][:4] == [0.1, 0.3, 0.1, 0.1]
    assert cued["duration_s"] == pytest.approx(samples.size / 24000, abs=0.01)  # true for the file delivered
    assert cued["duration_s"] == pytest.approx(plain["duration_s"] + 1.4, abs=0.05)


def test_the_cue_at_the_end(make_app):
    client = client_for(make_app(aigc_cue="rhythm", aigc_cue_position="end"))
    body = tts(client, "结尾有提示音。", format="wav").json
    samples = decoded(client.get(body["audio_url"].replace("http://testserver", "")).data)
    tail = [d for on, d in cue.tone_runs(samples[-24000 * 2:], 24000) if on]
    assert tail[-4:] == [0.1, 0.3, 0.1, 0.1]
    assert [d for on, d in cue.tone_runs(samples[:24000 * 2], 24000) if on][:4] != [0.1, 0.3, 0.1, 0.1]


def test_the_spoken_notice_is_synthesized_once_per_voice(make_app, triton):
    client = client_for(make_app(aigc_cue="notice"))
    before = triton_inference_count(triton)
    first = tts(client, "第一句话。").json
    assert triton_inference_count(triton) == before + 2  # the speech, and the notice in this voice
    tts(client, "第二句话。")
    assert triton_inference_count(triton) == before + 3  # the notice came from the cache
    plain = tts(client_for(make_app(aigc_cue="none")), "第一句话。").json
    assert first["duration_s"] > plain["duration_s"] + 1.0


def test_every_result_has_sentence_timings_as_json_and_webvtt(make_app):
    client = client_for(make_app(max_text_chars=20))
    body = tts(client, "一句话的字幕。", format="wav").json
    end = pytest.approx(body["duration_s"], abs=0.01)
    assert body["subtitles"] == [{"text": "一句话的字幕。", "start": 1.4, "end": end}]
    vtt = client.get(body["subtitles_url"].replace("http://testserver", ""))
    assert vtt.status_code == 200 and vtt.mimetype == "text/vtt"
    assert vtt.get_data(as_text=True).startswith("WEBVTT\n\n1\n00:00:01.400 --> ")
    article = "第一段很长的文字，用来测试字幕。第二段也很长，继续测试字幕的时间。第三段结束。"
    queued = tts(client, article).json
    deadline = time.monotonic() + 60
    while (done := client.get(queued["poll_url"]).json)["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    cues = done.get("subtitles") or []
    assert len(cues) >= 3 and cues[0]["start"] == 1.4
    assert all(a["end"] <= b["start"] for a, b in zip(cues, cues[1:], strict=False))
    assert cues[-1]["end"] == pytest.approx(done["duration_s"], abs=0.05)
    assert "".join(c["text"] for c in cues).replace(" ", "") == article
