"""Routing a miss with a hosted engine configured: the GPU when it is awake, the hosted API while it sleeps or
boots (no job, no cold wait), the GPU's job for what the hosted API cannot serve or when it is down, results
cached under their own engine, and the GPU woken only when hosted misses outprice it."""

from __future__ import annotations

import pytest

from functions.endpoint.controller import ASLEEP, READY, STARTING
from tests.support import Controller, FakeEndpoint, client_for


@pytest.fixture
def routed(unit_app):
    def build(state, **settings):
        controller, hosted = Controller(state), FakeEndpoint()
        app = unit_app(controller=controller, hosted=hosted, hosted_engine="dashscope", aigc_cue="none",
                       **{"gpu_price": 1000.0, **settings})
        return app, controller, hosted
    return build


def tts(app, text="你好。", **fields):
    return client_for(app).post("/v1/tts", json={"text": text, "voice_id": "default", **fields})


def test_an_awake_gpu_serves_the_miss(routed, endpoint):
    app, _, hosted = routed(READY)
    assert tts(app).status_code == 200 and len(endpoint.requests) == 1 and hosted.requests == []


@pytest.mark.parametrize("state", [ASLEEP, STARTING])
def test_a_sleeping_or_booting_gpu_sends_the_miss_to_the_hosted_api(routed, endpoint, state):
    app, controller, hosted = routed(state)
    first = tts(app)
    assert first.status_code == 200 and len(hosted.requests) == 1 and endpoint.requests == []
    assert tts(app).get_json()["cached"] is True and len(hosted.requests) == 1  # a repeat is a hit
    assert controller.started == 0  # one miss does not pay for a GPU hour
    controller._state = READY  # awake now: the GPU's own result, never the hosted one under its key
    app.services.renderer._cold_checked = (-1e9, False)  # the state is re-read at most every 2 s
    awake = tts(app)
    assert awake.get_json()["task_id"] != first.get_json()["task_id"] and len(endpoint.requests) == 1


def test_what_the_hosted_api_cannot_serve_waits_for_the_gpu(routed):
    app, controller, hosted = routed(ASLEEP)
    assert tts(app, instruct="温柔").status_code == 202 and hosted.requests == []
    assert tts(app, text="你[breath]好。").status_code == 202 and hosted.requests == []


def test_a_hosted_outage_becomes_a_job_for_the_gpu(routed):
    app, _, hosted = routed(ASLEEP)
    hosted.down = True
    response = tts(app)
    assert response.status_code == 202 and response.get_json()["status"] == "queued"


@pytest.mark.parametrize("path", ["/v1/tts/stream", "/v1/audio/speech"])
def test_a_hosted_outage_on_every_stream_path_is_the_gpus_job_under_the_gpus_key(routed, path):
    app, _, hosted = routed(ASLEEP, speech_wait_s=0.2)
    hosted.down = True
    gpu_job = client_for(app).post("/v1/tts", json={"text": "中断。", "voice_id": "default"},
                                   headers={"Prefer": "respond-async"}).get_json()["task_id"]
    body = {"text": "中断。", "voice_id": "default"} if path.endswith("stream") else \
        {"model": "cosyvoice3", "voice": "default", "input": "中断。", "response_format": "mp3"}
    response = client_for(app).post(path, json=body)
    if path.endswith("stream"):
        assert response.status_code == 202 and response.get_json()["task_id"] == gpu_job
    else:  # the OpenAI client is told to retry; the job it waits for is the GPU's
        assert response.status_code == 503 and response.get_json()["error"]["code"] == "synthesis_in_progress"
    assert app.services.queue.depth() == 1  # one job, shared, under the GPU's key


def test_the_gpu_is_woken_when_hosted_misses_outprice_it(routed):
    app, controller, _ = routed(ASLEEP, gpu_price=0.0001, hosted_price=1.0)
    tts(app, text="一句很便宜的话。")
    assert controller.started == 1


def test_without_a_hosted_engine_a_sleeping_gpu_means_a_job(unit_app):
    app = unit_app(controller=Controller(ASLEEP))
    assert tts(app).status_code == 202


def test_recordings_stay_with_the_gpu_unless_cloning_is_allowed(routed):
    import base64

    from tests.audio_samples import recorder_files

    audio = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
    app, _, hosted = routed(ASLEEP)
    body = {"text": "我的声音。", "prompt_audio_base64": audio, "consent": "self", "prompt_text": "测试。"}
    assert client_for(app).post("/v1/tts", json=body).status_code == 202 and hosted.requests == []
    app, _, hosted = routed(ASLEEP, hosted_clone=True)
    assert client_for(app).post("/v1/tts", json=body).status_code == 200 and len(hosted.requests) == 1


def test_a_hosted_stream_needs_no_gpu_slot(routed):
    app, _, hosted = routed(ASLEEP, max_inflight_misses=1)
    token = app.services.limiter.acquire_slot(30)  # the GPU's only slot is taken
    response = client_for(app).post("/v1/tts/stream", json={"text": "流。", "voice_id": "default"})
    assert response.status_code == 200 and len(hosted.requests) == 1
    app.services.limiter.release_slot(token)


LONG = "".join(f"第{i}段很长的文字。" for i in range(6))  # over max_text_chars=20: a job for the GPU


def test_a_long_text_is_never_sent_to_the_hosted_api(routed, endpoint):
    """A long text is the GPU's job even while it sleeps: as a file, as a stream, and its result is found
    under the GPU's key once the GPU made it."""
    app, controller, hosted = routed(ASLEEP, max_text_chars=20)
    streamed = client_for(app).post("/v1/tts/stream", json={"text": LONG, "voice_id": "default"})
    assert streamed.status_code == 202 and streamed.get_json()["status"] == "queued", streamed.get_json()
    queued = tts(app, text=LONG)
    assert queued.status_code == 202 and queued.get_json()["task_id"] == streamed.get_json()["task_id"]
    assert hosted.requests == [] and app.services.queue.depth() == 1  # one job, under the GPU's key
    controller._state = READY
    assert app.services.worker.run_once(wait_s=0) == 1 and len(endpoint.requests) == 3  # three segments
    controller._state = ASLEEP  # asleep again: the GPU's stored result is the answer
    app.services.renderer._cold_checked = (-1e9, False)
    again = tts(app, text=LONG)
    assert again.status_code == 200 and again.get_json()["cached"] is True, again.get_json()
    assert again.get_json()["task_id"] == queued.get_json()["task_id"] and hosted.requests == []
    short = tts(app, text="短句。")  # while a short text still takes the hosted route
    assert short.status_code == 200 and len(hosted.requests) == 1
