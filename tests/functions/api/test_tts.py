"""POST /v1/tts end to end on real parts: real Triton (CPU), PyAV, local storage, in-process state."""

from __future__ import annotations

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from ...audio_samples import PROMPT_TEXT, decoded_duration, recorder_files
from tests.support import LocalClient as Client, triton_inference_count

TEXT = "你好，欢迎使用语音合成服务。"


def post_multipart(client, audio: bytes, filename="record.aac", **fields):
    data = {"consent": "self", "audio": (io.BytesIO(audio), filename), **fields}
    return client.post("/v1/tts", data=data, content_type="multipart/form-data")


def post_json(client, body: dict):
    return client.post("/v1/tts", data=json.dumps(body), content_type="application/json")


def fetch(client, url: str) -> bytes:
    response = client.get(url.replace("http://testserver", ""))
    assert response.status_code == 200, response.data[:200]
    return response.data


@pytest.fixture
def client(make_app):
    return Client(make_app())


@pytest.mark.parametrize("name", list(recorder_files()))
def test_each_recorder_format_gives_playable_mp3(client, name):
    audio, extra = recorder_files()[name]
    r = post_multipart(client, audio, text=TEXT, prompt_text=PROMPT_TEXT, **extra)
    assert r.status_code == 200, r.json
    body = r.json
    assert body["status"] == "done" and body["format"] == "mp3" and body["cached"] is False
    mp3 = fetch(client, body["audio_url"])
    assert mp3[:3] == b"ID3" or mp3[:2] == b"\xff\xfb"
    assert abs(decoded_duration(mp3) - body["duration_s"]) < 0.06
    assert body["duration_s"] > 1.0


def test_repeat_is_a_cache_hit_without_inference(client, triton):
    audio = recorder_files()["wav_16k_mono"][0]
    first = post_multipart(client, audio, text=TEXT + "一").json
    before = triton_inference_count(triton)
    again = post_multipart(client, audio, text=TEXT + "一")
    assert again.status_code == 200 and again.json["cached"] is True
    assert again.json["task_id"] == first["task_id"] and again.json["audio_url"] == first["audio_url"]
    assert triton_inference_count(triton) == before
    assert "decode;" not in again.headers["Server-Timing"]  # the same upload is not decoded twice


def test_json_with_base64_prompt_and_output_formats(client):
    audio = recorder_files()["mp3_16k"][0]
    body = {"text": TEXT,
            "consent": "self", "prompt_audio_base64": base64.b64encode(audio).decode(), "prompt_format": "mp3"}
    wav = post_json(client, {**body, "format": "wav"}).json
    data = fetch(client, wav["audio_url"])
    assert data[:4] == b"RIFF" and abs(decoded_duration(data) - wav["duration_s"]) < 0.01
    pcm = post_json(client, {**body, "format": "pcm"}).json
    data = fetch(client, pcm["audio_url"])
    assert abs(len(data) / 2 / 24000 - pcm["duration_s"]) < 0.001
    assert wav["task_id"] != pcm["task_id"]


def test_modes_speed_and_instruct(client):
    audio = recorder_files()["wav_16k_mono"][0]
    normal = post_multipart(client, audio, text=TEXT, mode="cross_lingual").json
    fast = post_multipart(client, audio, text=TEXT, mode="cross_lingual", speed="2.0").json
    canto = post_multipart(client, audio, text=TEXT, instruct="请用广东话表达。").json
    assert fast["duration_s"] < 0.75 * normal["duration_s"]
    assert canto["task_id"] not in (normal["task_id"], fast["task_id"])


def test_task_lookup(client, make_app):
    audio = recorder_files()["wav_16k_mono"][0]
    done = post_multipart(client, audio, text=TEXT + "三").json
    got = client.get(f"/v1/tts/{done['task_id']}")
    assert got.status_code == 200 and got.json["audio_url"] == done["audio_url"]
    # a fresh app (another process: empty in-process state) finds it in storage, the source of truth
    other = Client(make_app()).get(f"/v1/tts/{done['task_id']}")
    assert other.status_code == 200 and other.json["duration_s"] == done["duration_s"]
    assert client.get("/v1/tts/" + "0" * 64).json["error"]["code"] == "task_not_found"
    assert client.get("/v1/tts/../../etc/passwd").status_code == 404


def test_media_serves_ranges(client):
    audio = recorder_files()["wav_16k_mono"][0]
    url = post_multipart(client, audio, text=TEXT + "四").json["audio_url"].replace("http://testserver", "")
    full = client.get(url)
    assert full.headers["Content-Type"] == "audio/mpeg" and full.headers["Accept-Ranges"] == "bytes"
    part = client.get(url, headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.data == full.data[10:110]
    assert part.headers["Content-Range"] == f"bytes 10-109/{len(full.data)}"
    assert client.get("/media/../../etc/passwd").status_code == 404
    recording = recorder_files()["wav_16k_mono"][0]
    voice = client.post("/v1/voices", data={"consent": "self", "audio": (io.BytesIO(recording), "a.wav")},
                        content_type="multipart/form-data").json
    stored = [k for k in client.application.services.storage.list_keys("voices/") if voice["voice_id"] in k]
    assert stored and all(client.get(f"/media/{k}").status_code == 404 for k in stored)  # recordings stay private
    assert client.get("/media/tts/xx/nothing.mp3").status_code == 404


def test_a_range_beyond_the_end_is_416_not_500(client, caplog):
    audio = recorder_files()["wav_16k_mono"][0]
    url = post_multipart(client, audio, text=TEXT + "四").json["audio_url"].replace("http://testserver", "")
    size = len(client.get(url).data)
    r = client.get(url, headers={"Range": "bytes=999999999-"})
    assert (r.status_code, r.json["error"]["code"]) == (416, "range_not_satisfiable")  # never a 5xx
    assert r.headers["Content-Range"] == f"bytes */{size}"
    assert "Traceback" not in caplog.text and "unhandled error" not in caplog.text


@pytest.mark.parametrize("header", ["[+0F", "bytes=5-2", "bytes=abc", "bytes=0-1,5-6,9-", "items=0-5", "bytes="])
def test_a_range_that_is_not_one_valid_byte_range_is_ignored(client, header):
    """RFC 9110 section 14.2: an unknown unit must be ignored, an invalid range may be; several ranges are not
    served, so they are ignored too: the whole file, never an error."""
    audio = recorder_files()["wav_16k_mono"][0]
    url = post_multipart(client, audio, text=TEXT + "四").json["audio_url"].replace("http://testserver", "")
    full = client.get(url).data
    r = client.get(url, headers={"Range": header})
    assert (r.status_code, r.data) == (200, full) and "Content-Range" not in r.headers


def test_a_suffix_longer_than_the_file_is_the_whole_file(client):
    audio = recorder_files()["wav_16k_mono"][0]
    url = post_multipart(client, audio, text=TEXT + "四").json["audio_url"].replace("http://testserver", "")
    full = client.get(url).data
    r = client.get(url, headers={"Range": f"bytes=-{len(full) + 807}"})
    assert (r.status_code, r.data) == (206, full)
    assert r.headers["Content-Range"] == f"bytes 0-{len(full) - 1}/{len(full)}"
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert (tail.status_code, tail.data) == (206, full[-10:])


def test_media_never_serves_sidecars_secrets_or_absurd_names(client):
    audio = recorder_files()["wav_16k_mono"][0]
    url = post_multipart(client, audio, text=TEXT + "四").json["audio_url"].replace("http://testserver", "")
    assert client.get(url).status_code == 200
    for path in (url + ".meta.json", "/media/keys/task-id.key", "/media/tts/" + "a" * 5000,
                 url.replace(".mp3", ".wav.meta.json"), "/media/" + url[len("/media/"):].upper()):
        r = client.get(path)
        assert r.status_code == 404 and r.json["error"]["code"] == "media_not_found", path
    assert client.application.services.storage.head("keys/task-id.key") is not None  # it exists, and stays private


def test_error_messages_echo_only_a_short_prefix_of_field_names(client):
    name = "x" * 2_000_000
    r = client.post("/v1/tts", data={name: "1", "text": "你好"}, content_type="multipart/form-data")
    assert r.status_code == 400 and r.json["error"]["code"] == "unknown_field"
    assert len(r.get_data()) < 400
    nameless = (b"--XB\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XB--\r\n")
    r = client.post("/v1/tts", data=nameless, content_type="multipart/form-data; boundary=XB")
    assert r.status_code == 400, r.get_data()


def test_twenty_identical_misses_make_one_inference(make_app, triton):
    app = make_app()
    audio = recorder_files()["wav_16k_mono"][0]
    before = triton_inference_count(triton)

    def one(_):
        return post_multipart(Client(app), audio, text=TEXT + "五")

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(one, range(20)))
    assert all(r.status_code == 200 for r in responses), [r.json for r in responses if r.status_code != 200]
    assert len({r.json["task_id"] for r in responses}) == 1
    assert sum(not r.json["cached"] for r in responses) == 1
    assert triton_inference_count(triton) - before == 1


def test_twenty_different_misses_all_succeed(make_app, triton):
    app = make_app()
    audio = recorder_files()["wav_16k_mono"][0]
    before = triton_inference_count(triton)
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda i: post_multipart(Client(app), audio, text=f"{TEXT}第{i}句"), range(20)))
    assert all(r.status_code == 200 for r in responses)
    assert len({r.json["task_id"] for r in responses}) == 20
    assert triton_inference_count(triton) - before == 20


BAD_TEXT = [
    ({}, "text_required"), ({"text": ""}, "text_required"), ({"text": "长" * 5001}, "text_too_long"),
    ({"text": "a\x07b"}, "text_invalid_chars"), ({"text": "<|endofprompt|>"}, "text_invalid_chars"),
    ({"text": 5}, "invalid_type"), ({"text": "hi", "speed": 3}, "invalid_speed"),
    ({"text": "hi", "speed": "fast"}, "invalid_type"), ({"text": "hi", "format": "ogg"}, "invalid_format"),
    ({"text": "hi", "mode": "sing"}, "invalid_mode"), ({"text": "hi", "fromat": "wav"}, "unknown_field"),
    ({"text": "hi", "mode": "zero_shot", "consent": "self", "prompt_audio_base64": "WAV"}, "prompt_text_required"),
    ({"text": "hi", "mode": "instruct", "consent": "self", "prompt_audio_base64": "WAV"}, "instruct_required"),
    ({"text": "她[hao干净",
      "consent": "self", "prompt_audio_base64": "WAV"}, "invalid_markup"), ({"text": "hi"}, "prompt_audio_required"),
    ({"text": "hi",
      "consent": "self", "prompt_audio_base64": "***"}, "invalid_base64"), ({"text": "hi", "seed": -1}, "invalid_seed"),
    ({"text": "hi", "voice_id": "v_nope"}, "voice_not_found"),
    ({"text": "hi", "seed": float("inf")}, "invalid_json"), ({"text": "hi", "speed": 10 ** 400}, "invalid_type"),
]


@pytest.mark.parametrize("body, code", BAD_TEXT)
def test_bad_requests_get_their_own_code(client, body, code):
    if body.get("prompt_audio_base64") == "WAV":
        body = {**body, "prompt_audio_base64": base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()}
    r = post_json(client, body)
    assert r.json["error"]["code"] == code, r.json
    assert r.status_code == (404 if code == "voice_not_found" else 400)  # docs/api.md: a voice that is not there
    assert set(r.json["error"]) == {"code", "message", "request_id"}


BAD_AUDIO = {
    "png": (b"\x89PNG\r\n\x1a\n" + b"\0" * 500, "photo.wav", 415, "unsupported_media"),
    "script": (b"#!/bin/sh\necho pwned\n" * 50, "voice.mp3", 415, "unsupported_media"),
    "lying_wav": (b"RIFF\xff\xff\xff\xffWAVEfmt \x10\0\0\0\x01\0\x01\0\x80>\0\0\0}\0\0\x02\0\x10\0data\xff\xff\xff\x7f"
                  + b"\x01\x02" * 4000, "a.wav", 400, "audio_corrupt"),
}


@pytest.mark.parametrize("case", list(BAD_AUDIO))
def test_bad_audio_is_refused_and_service_keeps_serving(client, case):
    data, filename, status, code = BAD_AUDIO[case]
    r = post_multipart(client, data, filename=filename, text=TEXT)
    assert (r.status_code, r.json["error"]["code"]) == (status, code)
    ok = post_multipart(client, recorder_files()["wav_16k_mono"][0], text=TEXT)
    assert ok.status_code == 200


def test_body_limits(make_app):
    client = Client(make_app(max_body_bytes=100_000, max_prompt_bytes=50_000))
    big = b"RIFF" + b"\0" * 60_000
    r = post_multipart(client, big, text=TEXT)
    assert r.status_code == 413 and r.json["error"]["code"] == "audio_too_large"  # the body fits, the file does not
    r = post_json(client, {"text": TEXT,
                           "consent": "self", "prompt_audio_base64": base64.b64encode(b"\0" * 200_000).decode()})
    assert r.status_code == 413 and r.json["error"]["code"] == "payload_too_large"  # the body itself is too large


def test_hostile_json_shapes(client):
    deep = "[" * 100_000 + "]" * 100_000
    assert client.post("/v1/tts", data=deep, content_type="application/json").json["error"]["code"] == "invalid_json"
    r = post_json(client, {"text": "hi", "voice_id": "v_" + "x" * 100_000})
    assert r.status_code == 404 and r.json["error"]["code"] == "voice_not_found"


def test_content_type_routes_and_methods(client):
    assert client.post("/v1/tts", data="text=hi", content_type="text/plain").status_code == 415
    assert client.post("/v1/tts", data="{bad json", content_type="application/json").json["error"]["code"] == \
        "invalid_json"
    assert client.post("/v1/tts", data="[1]", content_type="application/json").json["error"]["code"] == "invalid_json"
    assert client.get("/v1/nothing").status_code == 404
    assert client.delete("/v1/tts").status_code == 405
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and all(c["ok"] for c in ready.json["checks"].values())
