"""One error map: a dependency that is down reads the same (status, code, Retry-After) on every endpoint that
uses it, in a failed job's record, and through every platform adapter."""

from __future__ import annotations

import base64
import json

import pytest

from functions.endpoint.triton import InferenceFailed, InferenceRejected, InferenceTimeout, InferenceUnavailable
from functions.error_map import default_error_map
from functions.errors import ApiError
from functions.queues import MemoryQueue, QueueUnavailable
from functions.limits import Busy, QuotaExceeded, RateLimited
from functions.moderation import ContentRefused, ModerationChain, ModerationUnavailable
from functions.state import MemoryState, StateUnavailable
from functions.storage import StorageUnavailable
from functions.storage.local import LocalStore
from functions.tts.single_flight import StillRunning
from tests.audio_samples import recorder_files
from tests.support import LocalClient, Switch

RETRY_AFTER = 7
LONG = "这是一段很长的文字。" * 30
TASK = "a" * 64
RECORDING = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
VOICE = "v_" + "x" * 24


def tts(text="你好。"):
    return "POST", "/v1/tts", {"text": text, "voice_id": "default"}


def stream(text="你好。"):
    return "POST", "/v1/tts/stream", {"text": text, "voice_id": "default"}


def speech(text="你好。"):
    return "POST", "/v1/audio/speech", {"model": "cosyvoice3", "voice": "default", "input": text}


# every endpoint that uses the dependency
STORAGE = [tts(), speech(), ("GET", f"/v1/tts/{TASK}", None), ("GET", "/v1/voices", None),
           ("GET", f"/v1/voices/{VOICE}", None), ("DELETE", f"/v1/voices/{VOICE}", None),
           ("POST", "/v1/voices", {"consent": "self", "audio_base64": RECORDING})]
STATE = [tts(), speech(), ("GET", f"/v1/tts/{TASK}", None)]
QUEUE = [tts(LONG)]  # a long text streams on the other two: only a sleeping endpoint queues them
INFERENCE = [tts(), stream(), speech()]
MODERATION = [tts(), stream(), speech()]


class _DownProvider:
    name, local = "down", True

    def check(self, item):
        raise ModerationUnavailable("provider timed out")


def call(client, method, path, body):
    if body is None:
        return client.open(path, method=method)
    return client.open(path, method=method, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def build(unit_app, tmp_path):
    def make(**outside):
        return unit_app(retry_after_s=RETRY_AFTER, **outside)
    return make


def assert_down(r, code):
    assert (r.status_code, r.json["error"]["code"], r.headers.get("Retry-After")) == (503, code, str(RETRY_AFTER))


@pytest.mark.parametrize("request_", STORAGE, ids=lambda r: f"{r[0]} {r[1][:20]}")
def test_storage_down_reads_the_same_everywhere(build, tmp_path, request_):
    storage = Switch(LocalStore(tmp_path / "s", "http://testserver"), StorageUnavailable("s3 down"))
    client = LocalClient(build(storage=storage))
    storage.down = True
    assert_down(call(client, *request_), "storage_unavailable")


@pytest.mark.parametrize("request_", STATE, ids=lambda r: f"{r[0]} {r[1][:20]}")
def test_state_down_reads_the_same_everywhere(build, request_):
    state = Switch(MemoryState(), StateUnavailable("redis down"))
    client = LocalClient(build(state=state))
    state.down = True
    assert_down(call(client, *request_), "state_unavailable")


@pytest.mark.parametrize("request_", QUEUE, ids=lambda r: r[1])
def test_queue_down_reads_the_same_everywhere(build, request_):
    queue = Switch(MemoryQueue(), ConnectionError("queue down"))
    client = LocalClient(build(queue=queue, max_text_chars=50))
    queue.down = True
    assert_down(call(client, *request_), "queue_unavailable")


@pytest.mark.parametrize("request_", INFERENCE, ids=lambda r: r[1])
def test_inference_down_reads_the_same_everywhere(build, endpoint, request_):
    client = LocalClient(build())
    endpoint.down = True
    assert_down(call(client, *request_), "inference_unavailable")


@pytest.mark.parametrize("request_", MODERATION, ids=lambda r: r[1])
def test_moderation_down_reads_the_same_everywhere(build, request_):
    client = LocalClient(build(moderation=ModerationChain([_DownProvider()], on_failure="refuse")))
    assert_down(call(client, *request_), "moderation_unavailable")


def test_a_failed_job_keeps_the_answer_the_request_would_have_had(build, endpoint):
    """The worker judges a failure with the same map: the task fails with the code and status of a
    synchronous request, and an OpenAI client waiting for it gets the same 503 with Retry-After."""
    app = build(max_text_chars=50, job_max_attempts=1)
    client = LocalClient(app)
    body = call(client, *tts(LONG)).json
    endpoint.down = True
    app.services.worker.run_once(wait_s=0)
    failed = client.get(body["poll_url"]).json
    assert failed["status"] == "failed" and failed["error"]["code"] == "inference_unavailable"
    assert app.services.tasks.get(body["task_id"]).error.status == 503
    waiting = LocalClient(build(max_text_chars=50, job_max_attempts=1, worker_threads=1, speech_wait_s=10))
    assert_down(call(waiting, *speech(LONG.replace("很长", "更长"))), "inference_unavailable")


@pytest.mark.parametrize("exc, status, code, retry_after", [
    (StorageUnavailable("x"), 503, "storage_unavailable", RETRY_AFTER),
    (StateUnavailable("x"), 503, "state_unavailable", RETRY_AFTER),
    (QueueUnavailable("x"), 503, "queue_unavailable", RETRY_AFTER),
    (InferenceUnavailable("x"), 503, "inference_unavailable", RETRY_AFTER),
    (InferenceTimeout("x"), 504, "inference_timeout", None),
    (InferenceRejected("x"), 400, "inference_rejected", None),
    (InferenceFailed("x"), 502, "inference_failed", None),
    (ModerationUnavailable("x"), 503, "moderation_unavailable", RETRY_AFTER),
    (ContentRefused("keywords:x"), 422, "content_refused", None),
    (ContentRefused("wechat:review", under_review=True), 422, "content_under_review", None),
    (RateLimited(12), 429, "rate_limited", 12),
    (QuotaExceeded(3600), 429, "daily_quota_exceeded", 3600),
    (Busy(), 503, "server_busy", RETRY_AFTER),
    (StillRunning("sf:x"), 503, "synthesis_in_progress", 2),
    (KeyError("bug"), 500, "internal_error", None),
])
def test_the_map(exc, status, code, retry_after):
    error = default_error_map(RETRY_AFTER)(exc)
    assert isinstance(error, ApiError) and (error.status, error.code, error.retry_after) == (status, code, retry_after)
    assert "x" not in error.message and "bug" not in error.message  # nothing of the cause reaches the caller


def test_platform_adapter_answers_through_the_same_map(build):
    from functions.handlers import scf_apigw

    app = build()
    bad = scf_apigw.handler({"httpMethod": "POST", "path": "/v1/tts", "isBase64Encoded": True, "body": "%%%",
                             "requestContext": {"requestId": "req-1"}}, None, app=app)
    error = json.loads(bad["body"])["error"]
    assert bad["statusCode"] == 400 and error == {"code": "invalid_request", "message": "请求体编码无效",
                                                  "request_id": "req-1"}
