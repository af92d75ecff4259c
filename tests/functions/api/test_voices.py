"""Voices: enrollment checks, owner isolation, deletion, one hash per speaker, ASR transcripts, presets."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest

from functions.asr import build_transcriber
from functions.endpoint import TritonEndpoint
from functions.settings import Settings

from ...audio_samples import PROMPT_TEXT, encode, recorder_files, speech_at
from tests.support import ALICE_KEY, BOB_KEY, client_for, triton_inference_count
from ...fakes.tencent_cloud import FakeTencentAsr


def enroll(client, audio: bytes, filename="rec.aac", **fields):
    return client.post("/v1/voices", data={"consent": "self", "audio": (io.BytesIO(audio), filename), **fields},
                       content_type="multipart/form-data")


class RecordingEndpoint(TritonEndpoint):
    """The real Triton client, remembering what it sent (to check what reaches the model)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent = []

    def synthesize(self, item):
        self.sent.append(item)
        return super().synthesize(item)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.mark.parametrize("name", list(recorder_files()))
def test_each_recorder_format_enrolls(app, name):
    audio, extra = recorder_files()[name]
    fields = {"format": extra["prompt_format"], "sample_rate": extra["prompt_sample_rate"]} if extra else {}
    r = enroll(client_for(app, ALICE_KEY), audio, name="我的声音", prompt_text=PROMPT_TEXT, **fields)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["voice_id"].startswith("v_") and len(body["voice_id"]) >= 20
    assert body["sample_rate"] == 16000 and body["prompt_text"] == PROMPT_TEXT
    assert body["transcript_source"] == "caller" and body["default_mode"] == "zero_shot"
    # trimmed to the speech: shorter than the padded recording, longer than 1 s
    assert 1.0 < body["duration_s"] <= speech_at(16000).size / 16000 + 0.05


def test_silence_and_noise_are_refused_with_their_own_codes(app):
    client = client_for(app, ALICE_KEY)
    silence = encode(np.zeros(48000, np.float32), 16000, "wav", "pcm_s16le")
    noise = encode((0.2 * np.random.default_rng(0).standard_normal(48000)).astype(np.float32), 16000, "wav",
                   "pcm_s16le")
    t = np.arange(48000) / 16000
    music = encode((0.3 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 2 * t)).astype(np.float32), 16000, "wav",
                   "pcm_s16le")
    assert enroll(client, silence).json["error"]["code"] == "audio_silent"
    assert enroll(client, noise).json["error"]["code"] == "no_speech"
    assert enroll(client, music).json["error"]["code"] == "no_speech"


def test_quiet_recording_is_enrolled_with_a_warning(app):
    quiet = encode(speech_at(16000) * 0.08, 16000, "wav", "pcm_s16le")
    r = enroll(client_for(app, ALICE_KEY), quiet)
    assert r.status_code == 201 and "quiet" in r.json["warnings"]


def test_owner_isolation_and_deletion(app, tmp_path):
    alice, bob = client_for(app, ALICE_KEY), client_for(app, BOB_KEY)
    voice_id = enroll(alice, recorder_files()["wav_16k_mono"][0]).json["voice_id"]
    assert alice.get(f"/v1/voices/{voice_id}").status_code == 200
    assert [v["voice_id"] for v in alice.get("/v1/voices").json["voices"]] == [voice_id]
    assert bob.get("/v1/voices").json["voices"] == []
    assert bob.get(f"/v1/voices/{voice_id}").status_code == 404
    assert bob.delete(f"/v1/voices/{voice_id}").status_code == 404
    r = bob.post("/v1/tts", data=json.dumps({"text": "你好", "voice_id": voice_id}), content_type="application/json")
    assert r.status_code == 404 and r.json["error"]["code"] == "voice_not_found"
    objects = [p for p in (tmp_path / "storage" / "voices").rglob("*") if p.is_file()]
    assert objects  # wav and metadata exist
    assert alice.delete(f"/v1/voices/{voice_id}").status_code == 204
    assert alice.get(f"/v1/voices/{voice_id}").status_code == 404
    assert not list((tmp_path / "storage" / "voices").rglob("*"))  # no files, no empty directories left
    assert alice.get("/v1/voices/not-a-voice").status_code == 404
    assert client_for(app, "wrong-key").get("/v1/voices").status_code == 401


def test_voice_hash_is_the_exact_audio(app):
    """Two enrollments of one recording are one voice hash; a re-encoding (another PCM) is another."""
    client = client_for(app, ALICE_KEY)
    files = recorder_files()
    ids = [enroll(client, files[n][0]).json["voice_id"] for n in ("wav_16k_mono", "wav_16k_mono", "aac_adts_44k")]
    hashes = [app.services.voice_store.get(_owner(app, ALICE_KEY), i)["voice_hash"] for i in ids]
    assert hashes[0] == hashes[1] != hashes[2]


def _owner(app, key):
    from functions.auth import Identity

    return Identity("alice" if key == ALICE_KEY else "bob", "api_key").owner


def test_voice_id_in_tts_reuses_the_cache_and_sends_the_voice_key(make_app, triton):
    endpoint = RecordingEndpoint(triton.grpc_url)
    app = make_app(endpoint=endpoint)
    client = client_for(app, ALICE_KEY)
    voice = enroll(client, recorder_files()["aac_adts_44k"][0], prompt_text=PROMPT_TEXT).json
    body = {"text": "用我的声音读这句话。", "voice_id": voice["voice_id"]}
    first = client.post("/v1/tts", data=json.dumps(body), content_type="application/json")
    assert first.status_code == 200 and first.json["mode"] == "zero_shot"
    sent = endpoint.sent[-1]
    assert sent.voice_key and sent.reference_text == PROMPT_TEXT and sent.reference_wav.size > 16000
    before = triton_inference_count(triton)
    again = client.post("/v1/tts", data=json.dumps(body), content_type="application/json")
    assert again.json["cached"] and triton_inference_count(triton) == before
    assert "decode" not in again.headers["Server-Timing"]


def test_voice_without_transcript_uses_cross_lingual_and_says_so(app):
    client = client_for(app, ALICE_KEY)
    voice = enroll(client, recorder_files()["mp3_16k"][0]).json
    assert voice["default_mode"] == "cross_lingual" and "cross_lingual" in voice["note"]
    r = client.post("/v1/tts", data=json.dumps({"text": "你好。", "voice_id": voice["voice_id"]}),
                    content_type="application/json")
    assert r.status_code == 200 and r.json["mode"] == "cross_lingual"


def test_tencent_asr_transcribes_when_configured(make_app):
    fake = FakeTencentAsr("AKIDtest", "secretkey", PROMPT_TEXT)
    try:
        settings = Settings.from_env({}, asr="tencent", tencent_secret_id="AKIDtest", tencent_secret_key="secretkey",
                                     tencent_asr_endpoint=fake.endpoint)
        app = make_app(transcriber=build_transcriber(settings))
        r = enroll(client_for(app, ALICE_KEY), recorder_files()["wav_16k_mono"][0])
        assert r.status_code == 201 and r.json["prompt_text"] == PROMPT_TEXT
        assert r.json["transcript_source"] == "asr" and r.json["default_mode"] == "zero_shot"
        assert fake.requests[-1]["EngSerViceType"] == "16k_zh"
        # a wrong secret is refused by the server; enrollment still succeeds, without a transcript
        bad = Settings.from_env({}, asr="tencent", tencent_secret_id="AKIDtest", tencent_secret_key="wrong",
                                tencent_asr_endpoint=fake.endpoint)
        app = make_app(transcriber=build_transcriber(bad))
        # (another caller: Alice enrolling the same recording again would get her existing voice back)
        r = enroll(client_for(app, BOB_KEY), recorder_files()["wav_16k_mono"][0])
        assert r.status_code == 201 and r.json["prompt_text"] is None
    finally:
        fake.close()


def test_presets_are_listed_and_reach_the_model_as_instruct_text(make_app, triton):
    endpoint = RecordingEndpoint(triton.grpc_url)
    app = make_app(endpoint=endpoint)
    client = client_for(app)
    presets = client.get("/v1/presets").json["presets"]
    names = {p["name"] for p in presets}
    assert {"广东话", "四川话", "上海话", "兴奋", "温柔", "严肃", "悲伤", "慢速", "快速"} <= names
    audio = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
    for preset, expected in (("广东话", "请用广东话表达。"), ("sichuanese", "请用四川话表达。"),
                             ("快速", "请用尽可能快地语速说一句话。"), ("说得像播音员一样", "说得像播音员一样")):
        r = client.post("/v1/tts", data=json.dumps({"text": "今天天气很好。", "instruct": preset, "consent": "self",
                                                     "prompt_audio_base64": audio}), content_type="application/json")
        assert r.status_code == 200 and r.json["mode"] == "instruct"
        assert endpoint.sent[-1].instruct_text == expected and endpoint.sent[-1].mode == "instruct"
    r = client.post("/v1/tts", data=json.dumps({"text": "hi", "instruct": "长" * 101,
                                                "consent": "self", "prompt_audio_base64": audio}),
                    content_type="application/json")
    assert r.json["error"]["code"] == "instruct_too_long"


@pytest.mark.parametrize("text, ok", [
    ("她[h][ào]干净", True), ("[breath]你好[laughter]", True), ("这是<strong>重点</strong>。", True),
    ("她[h][ao3]干净", True), ("她[h][ào干净", False), ("[unknown_tag]", False), ("<b>粗体</b>", False),
    ("<strong>没有结束", False), ("<strong>a<strong>b</strong></strong>", False), ("a]b", False),
])
def test_markup(app, text, ok):
    audio = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
    r = client_for(app).post("/v1/tts", data=json.dumps({"text": text,
                                                         "consent": "self", "prompt_audio_base64": audio}),
                             content_type="application/json")
    if ok:
        assert r.status_code == 200, r.json
    else:
        assert r.status_code == 400 and r.json["error"]["code"] == "invalid_markup"


def test_markup_is_charged_as_spoken_and_the_limit_counts_what_was_sent(make_app):
    app = make_app(max_text_chars=10, max_long_text_chars=30)
    audio = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()

    def post(text):
        return client_for(app).post("/v1/tts", data=json.dumps({"text": text,
                                                                "consent": "self", "prompt_audio_base64": audio}),
                                    content_type="application/json")

    assert post("[breath]她[h][ào]干净[breath]好吗").status_code == 200  # 5 characters + 1 syllable + 2 tags
    r = post("她[h][ào]干净[breath]好吗，真的呀")  # 9 characters + 2 = 11 units: markup is not free
    assert r.status_code == 202  # beyond the synchronous limit: a job
    r = post("她[h][ào]干净[breath]好吗，真的呀，" + "好" * 6)  # 31 characters as sent (the schema's maxLength)
    assert r.status_code == 400 and r.json["error"]["code"] == "text_too_long"
