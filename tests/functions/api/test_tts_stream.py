"""POST /v1/tts/stream on the real relay and the real Triton (espeak engine, streaming model): audio arrives as
it is made, the stream is the cache fill, identical streams share one inference, a disconnect does not waste
the work, and errors are JSON before the first byte and in-band after it."""

from __future__ import annotations

import base64
import json
import threading
import time

import numpy as np
import pytest

from functions.audio.pcm import from_pcm16
from functions.audio.wav import wav_bytes
from functions.endpoint.triton import TritonEndpoint
from functions.tts.live import StreamBroken
from tests.audio_samples import PROMPT_TEXT, speech_at
from tests.support import ALICE_KEY, BOB_KEY, BreaksMidStream, CountingStreams, FakeEndpoint, client_for

FIVE = "今天天气很好。我们去公园散步吧。路上有很多花。孩子们在草地上奔跑。傍晚我们一起回家。"


def post_stream(client, body: dict, sse: bool = False):
    return client.post("/v1/tts/stream" + ("?stream_format=sse" if sse else ""),
                       json={"voice_id": "default", **body}, buffered=False)


def read_timed(response) -> tuple[bytes, list[float]]:
    started, data, times = time.monotonic(), b"", []
    for chunk in response.response:
        data += chunk
        times.append(time.monotonic() - started)
    return data, times


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def stored_pcm(app, task_id: str, fmt: str) -> bytes:
    from functions.tts.cache_key import object_key

    data = app.services.storage.get(object_key(task_id, fmt))
    if fmt == "wav":
        return data[data.index(b"data") + 8:][:len(data)]  # the samples; the label chunk follows them
    return data


def test_audio_streams_before_synthesis_ends_and_equals_the_stored_file(make_app, triton):
    endpoint = CountingStreams(TritonEndpoint(triton.grpc_url))
    app = make_app(aigc_cue="none", endpoint=endpoint)
    client = client_for(app)
    response = post_stream(client, {"text": FIVE * 3, "format": "pcm"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("audio/pcm")
    task_id = response.headers["X-Task-Id"]
    assert json.loads(response.headers["X-AIGC"])["ProduceID"] == task_id
    data, times = read_timed(response)
    assert len(times) > 5 and times[0] < times[-1] / 3  # chunks as they are made, the first long before the end
    assert data == stored_pcm(app, task_id, "pcm")  # the stream is the cache fill: exactly the stored file
    assert endpoint.streams == 1
    # a repeat is a cache hit: the same audio from storage, no inference
    again, _ = read_timed(post_stream(client, {"text": FIVE * 3, "format": "pcm"}))
    assert again == data and endpoint.streams == 1
    body = client.get(f"/v1/tts/{task_id}").get_json()
    assert body["status"] == "done" and body["subtitles"][0]["end"] == pytest.approx(len(data) / 48000, abs=0.01)


def test_the_stream_carries_the_aigc_cue_the_stored_file_has(make_app):
    app = make_app(aigc_cue="rhythm")
    client = client_for(app)
    response = post_stream(client, {"text": FIVE, "format": "wav"})
    data, _ = read_timed(response)
    samples = stored_pcm(app, response.headers["X-Task-Id"], "wav")
    assert samples[:len(data)] == data  # cue, pause and speech, sample for sample
    assert np.abs(from_pcm16(data[:24000])).max() > 0.05  # the rhythm cue opens the stream


def test_sse_has_segments_audio_and_the_final_url(make_app):
    app = make_app(aigc_cue="none")
    text = client_for(app).post("/v1/tts/stream?stream_format=sse", json={"voice_id": "default", "text": FIVE}) \
        .get_data(as_text=True)
    events = sse_events(text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[1] == "segment" and kinds[-1] == "done"
    assert kinds.count("audio") >= 3 and "segment_end" in kinds
    assert events[1][1]["text"] == FIVE
    done = events[-1][1]
    assert done["status"] == "done" and done["audio_url"].endswith(".mp3") and done["subtitles_url"].endswith(".vtt")
    audio = b"".join(base64.b64decode(data["audio"]) for kind, data in events if kind == "audio")
    end = dict(events)["segment_end"]
    assert end["end"] == pytest.approx(len(audio) / 48000, abs=0.01)


def test_accept_event_stream_asks_for_sse(make_app):
    response = client_for(make_app()).post("/v1/tts/stream", json={"voice_id": "default", "text": "你好。"},
                                           headers={"Accept": "text/event-stream"})
    assert response.headers["Content-Type"].startswith("text/event-stream")


def test_two_identical_streams_share_one_inference(make_app, triton):
    endpoint = CountingStreams(TritonEndpoint(triton.grpc_url))
    app = make_app(aigc_cue="none", endpoint=endpoint)
    results: list[bytes] = [b"", b""]

    def listen(i):
        results[i], _ = read_timed(post_stream(client_for(app), {"text": FIVE * 2 + "再见。", "format": "pcm"}))

    threads = [threading.Thread(target=listen, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(60)
    assert results[0] and results[0] == results[1]  # the second joined from the start
    assert endpoint.streams == 1


def test_two_callers_with_their_own_voices_never_share_a_stream(make_app):
    app = make_app(aigc_cue="none")
    ids = []
    speech = speech_at(16000)
    for key, prompt in ((ALICE_KEY, speech), (BOB_KEY, speech[::-1].copy())):
        body = {"text": FIVE, "consent": "self", "prompt_text": PROMPT_TEXT, "format": "pcm",
                "prompt_audio_base64": base64.b64encode(wav_bytes(prompt, 16000)).decode()}
        response = client_for(app, key).post("/v1/tts/stream", json=body, buffered=False)
        assert response.status_code == 200
        read_timed(response)
        ids.append(response.headers["X-Task-Id"])
    assert ids[0] != ids[1]


def one_off_voice(samples: np.ndarray) -> dict:
    return {"consent": "self", "prompt_text": PROMPT_TEXT,
            "prompt_audio_base64": base64.b64encode(wav_bytes(samples, 16000)).decode()}


# Two streams of the same text that differ in one part of the cache key: (caller's API key, fields) each.
NEARLY_IDENTICAL = {
    "voice": ((ALICE_KEY, {**one_off_voice(speech_at(16000)), "format": "pcm"}),
              (BOB_KEY, {**one_off_voice(speech_at(16000)[::-1].copy()), "format": "pcm"})),
    "speed": ((None, {"voice_id": "default", "format": "pcm"}),
              (None, {"voice_id": "default", "format": "pcm", "speed": 1.5})),
    "format": ((None, {"voice_id": "default", "format": "wav"}), (None, {"voice_id": "default", "format": "mp3"})),
}
SECRET = "same-task-ids-in-every-app-of-this-test"


def stored_file(app, task_id: str, fmt: str) -> bytes | None:
    from functions.storage import ObjectNotFound
    from functions.tts.cache_key import object_key

    try:
        return app.services.storage.get(object_key(task_id, fmt))
    except ObjectNotFound:
        return None


@pytest.mark.parametrize("differ_in", NEARLY_IDENTICAL)
def test_streams_running_at_once_are_joined_only_when_the_whole_key_matches(make_app, tmp_path, differ_in):
    """Same text, another voice (another caller), speed or format, both streams running at the same time: two
    inferences, and each caller hears, and finds stored, what that request alone makes (never the other's)."""
    endpoint = FakeEndpoint()  # its tone depends on the voice and the speed: a wrong join is heard
    endpoint.gate = threading.Event()  # every stream waits after its first chunk until the gate opens
    app = make_app(aigc_cue="none", endpoint=endpoint, task_id_secret=SECRET)
    responses = []
    for key, fields in NEARLY_IDENTICAL[differ_in]:
        responses.append(client_for(app, key).post("/v1/tts/stream", json={"text": FIVE, **fields}, buffered=False))
        assert responses[-1].status_code == 200
    asked_while_both_run = len(endpoint.requests)  # the first stream is still held open here
    endpoint.gate.set()
    heard = [read_timed(response)[0] for response in responses]
    assert asked_while_both_run == 2 and len(endpoint.requests) == 2
    for n, ((key, fields), response) in enumerate(zip(NEARLY_IDENTICAL[differ_in], responses, strict=True)):
        alone = make_app(aigc_cue="none", endpoint=FakeEndpoint(), task_id_secret=SECRET,
                         storage_dir=str(tmp_path / f"alone-{n}"))
        by_itself = client_for(alone, key).post("/v1/tts/stream", json={"text": FIVE, **fields}, buffered=False)
        task_id = by_itself.headers["X-Task-Id"]
        assert heard[n] == read_timed(by_itself)[0]
        assert response.headers["X-Task-Id"] == task_id
        assert client_for(app, key).get(f"/v1/tts/{task_id}").get_json().get("status") == "done"
        made = stored_file(alone, task_id, fields["format"])
        assert made is not None and stored_file(app, task_id, fields["format"]) == made
    if differ_in != "format":  # pcm either way: the same speech, in two files
        assert heard[0] != heard[1]


def test_a_disconnect_finishes_into_the_cache(make_app):
    app = make_app(aigc_cue="none")
    client = client_for(app)
    response = post_stream(client, {"text": FIVE * 3, "format": "pcm"})
    task_id = response.headers["X-Task-Id"]
    next(iter(response.response))
    response.close()  # the listener went away after the first chunk
    until = time.monotonic() + 60
    while client.get(f"/v1/tts/{task_id}").get_json().get("status") != "done":
        assert time.monotonic() < until
        time.sleep(0.1)
    assert len(stored_pcm(app, task_id, "pcm")) > 48000 * 5  # the whole synthesis, paid once, kept


@pytest.mark.parametrize("body, status", [({"text": ""}, 400), ({"text": "违禁测试词"}, 422),
                                          ({"text": "你好", "speed": 9}, 400),
                                          ({"text": "你好", "voice_id": "v_x"}, 404)])
def test_errors_before_the_first_byte_are_json(make_app, body, status):
    response = client_for(make_app()).post("/v1/tts/stream", json={"voice_id": "default", **body})
    assert response.status_code == status and response.get_json()["error"]["code"]


def test_an_endpoint_that_is_down_is_a_503_before_the_first_byte(make_app):
    app = make_app(triton_url="127.0.0.1:9", triton_retries=0)
    response = client_for(app).post("/v1/tts/stream", json={"voice_id": "default", "text": "你好。"})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "inference_unavailable"
    assert "Retry-After" in response.headers


def test_an_error_after_the_first_byte_is_in_band(make_app, triton):
    endpoint = BreaksMidStream(TritonEndpoint(triton.grpc_url))
    app = make_app(endpoint=endpoint, aigc_cue="none")
    events = sse_events(client_for(app).post("/v1/tts/stream?stream_format=sse",
                                             json={"voice_id": "default", "text": FIVE}).get_data(as_text=True))
    assert [k for k, _ in events][-1] == "error" and "audio" in [k for k, _ in events]
    assert events[-1][1]["code"] == "inference_failed"
    task_id = events[0][1]["task_id"]
    failed = client_for(app).get(f"/v1/tts/{task_id}").get_json()  # what a raw-audio caller can learn
    assert failed["status"] == "failed" and failed["error"]["code"] == "inference_failed"
    raw = post_stream(client_for(app), {"text": FIVE + "又一次。", "format": "pcm"})
    assert raw.status_code == 200
    with pytest.raises(StreamBroken):  # raw audio cannot say it: the server cuts the connection
        read_timed(raw)
    # nothing half-made was stored: the same request streams in full once the model works again
    app.services.streamer.renderer.endpoint = endpoint.target
    data, _ = read_timed(post_stream(client_for(app), {"text": FIVE + "又一次。", "format": "pcm"}))
    assert len(data) > 48000


def test_a_long_text_streams_segment_by_segment(make_app):
    app = make_app(aigc_cue="none")
    paragraph = "".join(f"这是第{i}句话，用来测试长文本的分段合成。" for i in range(12))
    assert len(paragraph) > app.settings.max_text_chars
    events = sse_events(client_for(app).post("/v1/tts/stream?stream_format=sse",
                                             json={"voice_id": "default", "text": paragraph}).get_data(as_text=True))
    kinds = [k for k, _ in events]
    segments = [d for k, d in events if k == "segment"]
    assert len(segments) >= 2 and kinds[-1] == "done"
    assert kinds.index("audio") < kinds.index("segment", kinds.index("segment") + 1)  # plays before segment 2
    ends = [d for k, d in events if k == "segment_end"]
    assert all(a["end"] <= b["start"] for a, b in zip(ends, ends[1:], strict=False))
    assert [c["text"] for c in events[-1][1]["subtitles"]] == [s["text"] for s in segments]


def test_a_segmented_stream_stores_its_pauses_as_it_plays_them(make_app):
    """A long text streams segment by segment with pauses between them (sentences and paragraphs): the stored
    file is the stream byte for byte, pauses included, and it is silent exactly where the subtitles say."""
    from functions.tts.segments import PARAGRAPH_PAUSE_S, SENTENCE_PAUSE_S, split_text

    app = make_app(aigc_cue="none")
    first = "".join(f"这是第{i}句话，用来测试长文本的分段合成。" for i in range(12))
    text = first + "\n" + "第二段只有一句话。"
    segments = split_text(text, app.settings.max_text_chars)
    assert [s.pause_after_s for s in segments] == [SENTENCE_PAUSE_S, PARAGRAPH_PAUSE_S, 0.0]
    response = post_stream(client_for(app), {"text": text, "format": "pcm"})
    assert response.status_code == 200
    task_id = response.headers["X-Task-Id"]
    streamed, _ = read_timed(response)
    stored = stored_pcm(app, task_id, "pcm")
    sizes = len(streamed), len(stored)
    assert sizes[0] == sizes[1] and streamed == stored
    task = client_for(app).get(f"/v1/tts/{task_id}").get_json()
    assert task["duration_s"] == pytest.approx(len(stored) / 48000, abs=0.001)
    cues = task["subtitles"]
    assert len(cues) == 3 and cues[-1]["end"] == pytest.approx(task["duration_s"], abs=0.002)
    samples = np.frombuffer(stored, "<i2")
    for cue, after, pause in zip(cues[:-1], cues[1:], (SENTENCE_PAUSE_S, PARAGRAPH_PAUSE_S), strict=True):
        assert after["start"] - cue["end"] == pytest.approx(pause, abs=0.002)
        silent = samples[round(cue["end"] * 24000) + 2:round(after["start"] * 24000) - 2]
        assert silent.size > pause * 24000 - 100 and not silent.any()  # the pause itself, in the file
