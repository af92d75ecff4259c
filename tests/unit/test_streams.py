"""Streams on in-memory parts: readers follow one producer from the start, joiners share it, a reader that
leaves never disturbs it, and the relay's stream answers (PCM, SSE) carry what the producer made."""

from __future__ import annotations

import base64
import threading
import time

import pytest

from functions.tts.live import AUDIO, DONE, ERROR, SEGMENT, START, Event, LiveStream, StreamHub, StreamStalled
from tests.support import client_for


def test_every_reader_gets_every_event_from_the_start():
    live = LiveStream("k")
    live.publish(Event(START))
    late: list = []
    reader = threading.Thread(target=lambda: late.extend(e.kind for e in live.follow(5)))
    live.publish(Event(SEGMENT))
    reader.start()
    live.publish(Event(AUDIO, audio=b"\x01\x00"))
    live.publish(Event(DONE))
    live.close()
    reader.join(5)
    assert late == [START, SEGMENT, AUDIO, DONE] == [e.kind for e in live.follow(1)]


def test_first_waits_for_speech_not_for_a_cue_before_it():
    live = LiveStream("k")
    live.publish(Event(START))
    live.publish(Event(AUDIO, audio=b"cue!"))  # the AIGC cue comes before any segment
    assert live.first(0.05) is None
    live.publish(Event(SEGMENT))
    live.publish(Event(ERROR, {"code": "inference_failed"}))
    assert live.first(0.05).kind == ERROR  # a model failure is still an error before the first byte


def test_a_silent_producer_is_a_stall_not_a_hang():
    live = LiveStream("k")
    with pytest.raises(StreamStalled):
        list(live.follow(0.05))


def test_the_hub_shares_a_running_stream_and_forgets_an_ended_or_failed_one():
    hub = StreamHub()
    first, joined = hub.join_or_start("k", lambda live: None)
    assert not joined and hub.join_or_start("k", lambda live: None) == (first, True)
    hub.forget(first)
    again, joined = hub.join_or_start("k", lambda live: None)
    assert not joined and again is not first
    with pytest.raises(RuntimeError):
        hub.join_or_start("other", lambda live: (_ for _ in ()).throw(RuntimeError("busy")))
    assert hub.running() == 1  # the failed start left nothing behind


def test_a_stream_is_the_cache_fill_and_joiners_share_its_one_inference(unit_app, endpoint):
    app = unit_app(aigc_cue="none")
    endpoint.gate = threading.Event()  # the first stream waits after its first chunk
    body = {"text": "流式测试。", "voice_id": "default", "format": "pcm"}
    first = client_for(app).post("/v1/tts/stream", json=body, buffered=False)
    second = client_for(app).post("/v1/tts/stream", json=body, buffered=False)  # joins the running one
    endpoint.gate.set()
    a, b = b"".join(first.response), b"".join(second.response)
    assert a == b and len(a) == 2 * int(0.05 * 24000 * len("流式测试。")) and len(endpoint.requests) == 1
    stored = client_for(app).get(f"/v1/tts/{first.headers['X-Task-Id']}").get_json()
    assert stored["status"] == "done" and stored["duration_s"] == pytest.approx(len(a) / 48000, abs=0.001)


def test_sse_of_a_hit_replays_the_stored_file(unit_app, endpoint):
    app = unit_app(aigc_cue="none")
    body = {"text": "缓存命中。", "voice_id": "default", "format": "wav"}
    made = client_for(app).post("/v1/tts/stream?stream_format=sse", json=body).get_data(as_text=True)
    again = client_for(app).post("/v1/tts/stream?stream_format=sse", json=body).get_data(as_text=True)

    def audio(text):
        return b"".join(base64.b64decode(line[len('data: {"audio": "'):-2]) for line in text.splitlines()
                        if line.startswith('data: {"audio"'))

    assert audio(made) == audio(again) and len(endpoint.requests) == 1
    assert '"cached": true' in again and '"cached": false' in made


def test_a_busy_gpu_makes_a_job_before_any_byte(unit_app):
    app = unit_app(max_inflight_misses=1, slot_wait_s=0.1)
    token = app.services.limiter.acquire_slot(30)  # every slot taken
    assert token is not None
    response = client_for(app).post("/v1/tts/stream", json={"text": "忙。", "voice_id": "default"})
    assert response.status_code == 202 and response.get_json()["status"] == "queued"  # as POST /v1/tts does
    assert response.headers["Location"] == response.get_json()["poll_url"]
    app.services.limiter.release_slot(token)


def test_a_stream_holds_a_renewed_slot_and_gives_it_back(unit_app, endpoint):
    app = unit_app(max_inflight_misses=1, aigc_cue="none")
    endpoint.gate = threading.Event()
    response = client_for(app).post("/v1/tts/stream", json={"text": "占用。", "voice_id": "default"},
                                    buffered=False)
    assert response.status_code == 200
    assert app.services.limiter.acquire_slot(30) is None  # the stream holds the only slot
    endpoint.gate.set()
    b"".join(response.response)
    deadline = time.monotonic() + 5
    while (token := app.services.limiter.acquire_slot(30)) is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    app.services.limiter.release_slot(token)


def test_the_limiter_extends_only_a_held_slot(unit_app):
    limiter = unit_app(max_inflight_misses=1).services.limiter
    token = limiter.acquire_slot(0.05)
    assert limiter.extend_slot(token, 30) is True
    time.sleep(0.1)
    assert limiter.acquire_slot(30) is None  # still held: extended past its first lease
    limiter.release_slot(token)
    assert limiter.extend_slot(token, 30) is False


def test_a_stream_that_met_a_file_stored_meanwhile_leaves_its_task_done(unit_app, endpoint):
    """A stream prepared just before another caller stored the same file: it replays that file, and the task
    says done (the stream had marked it running; nothing else would have written it back)."""
    app = unit_app(aigc_cue="none")
    body = {"text": "竞态的一句话。", "voice_id": "default", "format": "pcm"}
    made = client_for(app).post("/v1/tts", json=body).get_json()
    tts = app.services.tts
    prepare = tts.prepare
    tts.prepare = lambda *a, **k: prepare(*a, **k)._replace(hit=None)  # prepared before the file existed
    streamed = b"".join(client_for(app).post("/v1/tts/stream", json=body, buffered=False).response)
    tts.prepare = prepare
    task = client_for(app).get(f"/v1/tts/{made['task_id']}").get_json()
    assert streamed and task["status"] == "done" and len(endpoint.requests) == 1


def test_the_stored_file_holds_the_cue_the_stream_played(unit_app, endpoint):
    """The file is made from the cue the stream already sent, not a second making of it (a spoken notice made
    again, its cache gone meanwhile, could differ from what the listener heard)."""
    import numpy as np

    app = unit_app(aigc_cue="rhythm", aigc_cue_position="start")
    endpoint.gate = threading.Event()
    body = {"text": "提示音一致。", "voice_id": "default", "format": "pcm"}
    response = client_for(app).post("/v1/tts/stream", json=body, buffered=False)
    chunks = iter(response.response)
    streamed = next(chunks)
    renderer = app.services.renderer
    renderer.cue_audio = lambda plan, voice: np.full(4800, 0.5, np.float32)  # what a second making would give
    endpoint.gate.set()
    streamed += b"".join(chunks)
    task = client_for(app).get(f"/v1/tts/{response.headers['X-Task-Id']}").get_json()
    stored = client_for(app).get(task["audio_url"].replace("http://testserver", "")).get_data()
    assert stored == streamed
