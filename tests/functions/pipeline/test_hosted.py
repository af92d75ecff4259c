"""The hosted engine (DashScope's CosyVoice API) driven by the real `dashscope` SDK against a local server that
speaks both of the API's wire formats (tests/fakes/dashscope.py): synthesis over its WebSocket protocol,
enrollment by a presigned URL of the stored prompt, the voice quota, errors and timeouts."""

from __future__ import annotations

import numpy as np
import pytest

from functions.endpoint.hosted import HostedEndpoint, _error, _event_error, unsupported
from functions.endpoint.triton import (InferenceFailed, InferenceRejected, InferenceTimeout, InferenceUnavailable,
                                       SynthesisInput)
from functions.settings import Settings
from functions.state.memory import MemoryState
from functions.storage import build_storage
from functions.tts.plan import Plan

from ...fakes.dashscope import FakeDashScope


@pytest.fixture
def fake():
    server = FakeDashScope("sk-test")
    yield server
    server.close()


def endpoint(fake, s3_server, s3_bucket, **settings) -> HostedEndpoint:
    s = Settings.from_env({}, storage="s3", s3_bucket=s3_bucket, s3_endpoint_url=s3_server, s3_region="us-east-1",
                          hosted_engine="dashscope", dashscope_api_key="sk-test", dashscope_http_url=fake.http_url,
                          dashscope_ws_url=fake.ws_url, triton_request_timeout_s=1, **settings)
    return HostedEndpoint(s, storage=build_storage(s), state=MemoryState())


def voice(seed: int) -> np.ndarray:
    t = np.arange(32000) / 16000
    return (0.3 * np.sin(2 * np.pi * (120 + 40 * seed) * t)).astype(np.float32)


def test_a_voice_is_enrolled_once_by_url_and_speaks(fake, s3_server, s3_bucket):
    hosted = endpoint(fake, s3_server, s3_bucket)
    item = SynthesisInput(text="你好，欢迎使用。", reference_wav=voice(1), voice_key="a" * 64, speed=1.0)
    audio = hosted.synthesize(item)
    assert audio.size == int(0.1 * 24000 * len(item.text)) and np.abs(audio).max() > 0.05
    assert len(fake.voices) == 1 and fake.tasks[-1]["text"] == item.text
    assert fake.tasks[-1]["voice"] in fake.voices and fake.tasks[-1]["format"] == "pcm"
    chunks = list(hosted.stream(SynthesisInput(text="第二句。", reference_wav=voice(1), voice_key="a" * 64,
                                               speed=2.0)))
    assert len(chunks) >= 1 and len(fake.voices) == 1  # the same voice: no second enrollment
    assert fake.tasks[-1]["rate"] == 2.0


def test_the_least_recently_used_voice_makes_room_at_the_quota(fake, s3_server, s3_bucket):
    fake.quota = 2
    hosted = endpoint(fake, s3_server, s3_bucket)
    clock = [1000.0]
    hosted._clock = lambda: clock[0]
    for i, key in enumerate(("a", "b", "a", "c")):  # "b" is the least recently used when "c" arrives
        clock[0] += 10
        hosted.synthesize(SynthesisInput(text="你好。", reference_wav=voice(i), voice_key=key * 64))
    assert len(fake.voices) == 2 and len(fake.deleted) == 1
    assert fake.deleted[0] == hosted.state.get_alias("hosted_voice:" + "b" * 64)


def test_failures_are_the_endpoint_errors_the_relay_knows(fake, s3_server, s3_bucket):
    hosted = endpoint(fake, s3_server, s3_bucket)
    item = SynthesisInput(text="会失败的句子。", reference_wav=voice(3), voice_key="d" * 64)
    fake.fail_text = "失败"
    with pytest.raises(InferenceFailed):
        hosted.synthesize(item)
    fake.fail_text, fake.stall_s = "", 8.0  # past the first audio's wait (1 s + the SDK's connect wait)
    with pytest.raises(InferenceTimeout):
        hosted.synthesize(SynthesisInput(text="太慢。", reference_wav=voice(3), voice_key="d" * 64))
    fake.stall_s, fake.down = 0.0, True
    with pytest.raises(InferenceUnavailable):
        hosted.synthesize(SynthesisInput(text="服务中断。", reference_wav=voice(3), voice_key="d" * 64))


def test_errors_are_classified_by_code_and_type_never_by_the_random_ids_in_their_text():
    """The SDK's texts carry random task and request ids: one with "503" in it made a failed task read as an
    outage (InferenceUnavailable) now and then, under load more often (CI)."""
    from dashscope.audio.tts_v2.enrollment import VoiceEnrollmentException
    from dashscope.common.error import RequestFailure

    event = ('{"header": {"task_id": "a503c502connect0timeout", "event": "task-failed", '
             '"error_code": "InternalError", "error_message": "synthesis failed"}}')
    assert type(_event_error(event)) is InferenceFailed
    assert type(_event_error(event.replace("InternalError", "InvalidParameter"))) is InferenceRejected
    assert type(_event_error(event.replace("InternalError", "Throttling.RateQuota"))) is InferenceUnavailable
    assert type(_event_error("not json")) is InferenceFailed
    failure = RequestFailure(request_id="5030-connect-Timeout", name="InternalError", message="x", http_code=44)
    assert type(_error(failure)) is InferenceFailed
    assert type(_error(VoiceEnrollmentException("r-503", 400, "Audio.AudioShortError", "short"))) is InferenceRejected
    assert type(_error(VoiceEnrollmentException("r-1", 503, "InternalError", "busy"))) is InferenceUnavailable
    assert type(_error(ConnectionError("closed"))) is InferenceUnavailable
    assert type(_error(TimeoutError("websocket connection could not established within 5s."))) is \
        InferenceUnavailable
    assert type(_error(TimeoutError("start speech synthesizer failed within 5s."))) is InferenceTimeout


def test_what_the_hosted_api_cannot_serve_goes_to_the_gpu():
    settings = Settings.from_env({})
    plan = Plan("你好。", "zero_shot", "", "x", 1.0, None, "mp3", "h")
    assert unsupported(plan, settings, builtin_voice=True) is None
    assert unsupported(plan, settings, builtin_voice=False).startswith("recording")  # off by default
    assert unsupported(plan, Settings.from_env({}, hosted_clone=True), builtin_voice=False) is None
    assert unsupported(Plan("你[breath]好。", "zero_shot", "", "x", 1.0, None, "mp3", "h"), settings,
                       builtin_voice=True) == "markup"
    assert unsupported(Plan("你好。", "instruct", "用四川话说", "", 1.0, None, "mp3", "h"), settings,
                       builtin_voice=True) == "instruct"
    assert unsupported(Plan("你好。", "zero_shot", "", "x", 1.0, 7, "mp3", "h"), settings,
                       builtin_voice=True) == "seed"


class _Asleep:
    scales_to_zero = True
    started = 0

    def state(self):
        return "asleep"

    def start(self):
        self.started += 1


def test_the_relay_answers_a_sleeping_gpus_miss_from_the_hosted_api(fake, s3_server, s3_bucket, make_app):
    """End to end: the app built from settings (HOSTED_ENGINE=dashscope) routes a miss past the sleeping GPU to
    the hosted API through the real SDK; an outage there becomes the GPU's job."""
    from tests.support import client_for

    app = make_app(storage="s3", s3_bucket=s3_bucket, s3_endpoint_url=s3_server, s3_region="us-east-1",
                   hosted_engine="dashscope", dashscope_api_key="sk-test", dashscope_http_url=fake.http_url,
                   dashscope_ws_url=fake.ws_url, controller=_Asleep(), worker_threads=0, aigc_cue="none",
                   triton_request_timeout_s=2)
    client = client_for(app)
    done = client.post("/v1/tts", json={"text": "云端合成。", "voice_id": "default", "format": "wav"})
    assert done.status_code == 200 and done.get_json()["duration_s"] == pytest.approx(0.5, abs=0.01)
    assert fake.tasks[-1]["text"] == "云端合成。" and len(fake.voices) == 1  # the built-in voice, enrolled once
    fake.down = True
    queued = client.post("/v1/tts", json={"text": "云端中断。", "voice_id": "default"})
    assert queued.status_code == 202 and queued.get_json()["status"] == "queued"
