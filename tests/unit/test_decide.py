"""The one decision (functions/tts/decide.py), branch by branch: each row of its table gives exactly one outcome
type under exactly one key, and a failure stays the exception it was."""

from __future__ import annotations

import threading

import pytest

from functions.endpoint.controller import ASLEEP, READY
from functions.endpoint.triton import InferenceFailed, InferenceUnavailable
from functions.timings import Timings
from functions.tts.decide import Done, Live, Queued
from functions.tts.request import build_request
from functions.tts.single_flight import StillRunning
from functions.tts.tasks import TaskStatus
from tests.support import Controller, FakeEndpoint

LONG = "这是一段很长的文字，用来测试长文本的处理方式。" * 20


class NoSlots:
    """A limiter whose GPU slots are all taken (every other limit passes)."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def acquire_slot(self, ttl_s):
        return None


class Failing(FakeEndpoint):
    def __init__(self, exc):
        super().__init__()
        self.exc = exc

    def synthesize(self, request):
        self.requests.append(request)
        raise self.exc


def prepared_of(app, text="你好。", **fields):
    services = app.services
    req = build_request({"text": text, "voice_id": "default", **fields}, None, services.request_limits)
    return services.tts.prepare(req, Timings())


def decide(app, prepared, **kwargs):
    return app.services.decider.decide(prepared, Timings(), **kwargs)


@pytest.mark.parametrize("stream", [False, True])
def test_a_hit_is_the_cached_file_and_costs_no_model_call(unit_app, endpoint, stream):
    app = unit_app(aigc_cue="none")
    made = decide(app, prepared_of(app))
    assert isinstance(made, Done) and made.cached is False and len(endpoint.requests) == 1
    again = decide(app, prepared_of(app), stream=stream)
    assert isinstance(again, Done) and again.cached is True and again.key == made.key
    assert again.record.object_key == made.record.object_key and len(endpoint.requests) == 1


def test_a_miss_wanted_as_a_file_is_rendered_now(unit_app, endpoint):
    app = unit_app(aigc_cue="none")
    prepared = prepared_of(app)
    outcome = decide(app, prepared)
    assert isinstance(outcome, Done) and outcome.key == prepared.key and outcome.record.status is TaskStatus.DONE


def test_a_miss_wanted_as_a_stream_is_live_once_its_first_audio_exists(unit_app):
    app = unit_app(aigc_cue="none")
    prepared = prepared_of(app)
    outcome = decide(app, prepared, stream=True)
    assert isinstance(outcome, Live) and outcome.key == prepared.key
    assert any(event.kind == "audio" for event in outcome.stream.follow(5))


def test_a_long_text_is_a_job_as_a_file_and_live_as_a_stream(unit_app):
    app = unit_app(aigc_cue="none")
    prepared = prepared_of(app, LONG)
    assert prepared.plan.long
    queued = decide(app, prepared)
    assert isinstance(queued, Queued) and queued.key == prepared.gpu_key and queued.record.status is TaskStatus.QUEUED
    assert isinstance(decide(app, prepared_of(app, LONG + "又一段。"), stream=True), Live)


def test_respond_async_makes_a_file_miss_a_job_but_not_a_stream(unit_app, endpoint):
    app = unit_app(aigc_cue="none")
    assert isinstance(decide(app, prepared_of(app), respond_async=True), Queued) and endpoint.requests == []
    assert isinstance(decide(app, prepared_of(app, "另一句。"), stream=True, respond_async=True), Live)


@pytest.mark.parametrize("stream", [False, True])
def test_a_miss_while_the_gpu_sleeps_is_a_job_and_wakes_it(unit_app, endpoint, stream):
    controller = Controller(ASLEEP)
    app = unit_app(aigc_cue="none", controller=controller)
    outcome = decide(app, prepared_of(app), stream=stream)
    assert isinstance(outcome, Queued) and controller.started == 1 and endpoint.requests == []


@pytest.mark.parametrize("stream", [False, True])
def test_every_gpu_slot_busy_makes_a_job_not_an_error(unit_app, endpoint, stream):
    app = unit_app(aigc_cue="none", slot_wait_s=0)
    app.services.renderer.limiter = NoSlots(app.services.renderer.limiter)
    prepared = prepared_of(app)
    outcome = decide(app, prepared, stream=stream)
    assert isinstance(outcome, Queued) and outcome.key == prepared.gpu_key and endpoint.requests == []


@pytest.mark.parametrize("stream", [False, True])
def test_a_hosted_outage_is_the_gpus_job_under_the_gpus_key(unit_app, stream):
    hosted = Failing(InferenceUnavailable("hosted down"))
    app = unit_app(aigc_cue="none", controller=Controller(ASLEEP), hosted=hosted, hosted_engine="dashscope",
                   gpu_price=1000.0)
    prepared = prepared_of(app)
    assert prepared.endpoint is hosted and prepared.key != prepared.gpu_key
    outcome = decide(app, prepared, stream=stream)
    assert isinstance(outcome, Queued) and outcome.key == prepared.gpu_key and len(hosted.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_gpu_failure_is_raised_as_itself(unit_app, stream):
    failure = InferenceFailed("the model broke")
    app = unit_app(aigc_cue="none", endpoint=Failing(failure), controller=Controller(READY))
    with pytest.raises(InferenceFailed) as raised:
        decide(app, prepared_of(app), stream=stream)
    assert raised.value is failure  # not an error rebuilt from an event's fields


class Held(FakeEndpoint):
    """Streams nothing until `gate` is set."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()

    def stream(self, request, **kwargs):
        self.gate.wait(10)
        yield from super().stream(request, **kwargs)


def test_a_stream_whose_first_audio_is_late_says_it_is_still_running(unit_app):
    held = Held()
    app = unit_app(aigc_cue="none", endpoint=held, request_deadline_s=0.3)
    prepared = prepared_of(app)
    with pytest.raises(StillRunning):
        decide(app, prepared, stream=True)
    held.gate.set()  # the synthesis went on: a retry joins it or finds the file
    assert isinstance(decide(app, prepared, stream=True), Live)


@pytest.mark.parametrize("stream", [False, True])
def test_what_the_decision_reports_reaches_the_model_the_audit_and_the_timings(unit_app, endpoint, stream):
    app = unit_app(aigc_cue="none")
    prepared, audit, timings = prepared_of(app, "记下来。"), {}, Timings()
    outcome = app.services.decider.decide(prepared, timings, stream=stream, request_id="rid-7", audit=audit)
    if stream:
        list(outcome.stream.follow(5))
        assert "first_audio" in timings.stages
    assert [r.request_id for r in endpoint.requests] == ["rid-7"]  # traceable to the model's own log
    assert audit == {"cache_hit": False}
    again = decide(app, prepared_of(app, "记下来。"), stream=stream)
    assert isinstance(again, Done) and again.mode == prepared.plan.mode == "zero_shot"


def test_a_render_waits_for_a_slot_up_to_slot_wait_s_and_keeps_the_plans_mode(unit_app, endpoint):
    app = unit_app(aigc_cue="none", slot_wait_s=5)
    limiter = app.services.renderer.limiter
    held = [limiter.acquire_slot(60) for _ in range(app.settings.max_inflight_misses)]  # every slot taken
    threading.Timer(0.3, lambda: limiter.release_slot(held[0])).start()  # one comes free soon
    outcome = app.services.decider.decide(prepared_of(app, "等一下。"), Timings())
    assert isinstance(outcome, Done) and outcome.cached is False and outcome.mode == "zero_shot"
    assert [r.request_id for r in endpoint.requests] == [""]  # no request id given: none invented
