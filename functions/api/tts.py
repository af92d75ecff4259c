"""/v1/tts: a synthesis answered as a file (JSON with its URL, or a job to poll), as a stream (raw PCM or
Server-Sent Events), and a task read back. Each handler parses, prepares (functions/tts/pipeline.py), asks the
one decision (functions/tts/decide.py) and frames what it says."""

from __future__ import annotations

from werkzeug.wrappers import Response

from ..audio.formats import MEDIA_TYPES
from ..auth import identity_of
from ..middleware import json_response, request_language
from ..tts.decide import Queued
from ..tts.request import parse_tts_request
from . import frames
from .router import Router

router = Router()


def prefers_async(prefer: str) -> bool:
    """RFC 7240: `Prefer: respond-async` among the header's comma-separated preferences (names, not substrings)."""
    return any(token.split(";", 1)[0].split("=", 1)[0].strip().lower() == "respond-async"
               for token in prefer.split(","))


@router.post("/v1/tts")
def create(app, request) -> Response:
    """200 with the audio's URL, or 202 with a job to poll. `Prefer: respond-async`: a miss is always a job, for
    callers with a short ceiling of their own (WeChat's callContainer gives up after about 15 s)."""
    services, timings, audit = app.services, frames.timed(request), request.environ["app.audit"]
    identity = identity_of(request)
    with timings.stage("validate"):
        req = parse_tts_request(request, services.request_limits)
    respond_async = prefers_async(request.headers.get("Prefer", ""))
    prepared = services.tts.prepare(req, timings, identity, audit)
    outcome = services.decider.decide(prepared, timings, respond_async=respond_async,
                                      request_id=frames.request_id(request), audit=audit)
    if isinstance(outcome, Queued):
        return frames.queued_response(services, outcome, async_applied=respond_async)
    return json_response(services.replies.done(outcome.key, outcome.record, cached=outcome.cached, mode=outcome.mode))


@router.post("/v1/tts/stream")
def stream(app, request) -> Response:
    """The body of POST /v1/tts, answered with the audio as it is made: `?stream_format=audio|sse`, else
    `Accept: text/event-stream` asks for SSE, else raw s16le."""
    services, timings, audit = app.services, frames.timed(request), request.environ["app.audit"]
    identity = identity_of(request)
    given = request.args.get("stream_format")
    fmt = frames.checked_stream_format(given) if given is not None else \
        "sse" if "text/event-stream" in request.headers.get("Accept", "") else "audio"
    release = frames.hold_connection(services, request)  # before the body is read: a refusal costs nothing
    try:
        with timings.stage("validate"):
            req = parse_tts_request(request, services.request_limits)
        prepared = services.tts.prepare(req, timings, identity, audit)
        outcome = services.decider.decide(prepared, timings, stream=True, request_id=frames.request_id(request),
                                          audit=audit)
    except BaseException:
        release()
        raise
    if isinstance(outcome, Queued):  # nothing to stream from yet: a job to poll
        release()
        return frames.queued_response(services, outcome)
    headers = frames.stream_headers(services.settings, outcome.key)
    events = frames.events(services, outcome)
    if fmt == "sse":
        body, content_type = frames.sse_body(events, services.errors, request_language(request)), frames.SSE_TYPE
    else:
        headers["X-Audio-Sample-Rate"] = "24000"
        body, content_type = frames.pcm_body(events), MEDIA_TYPES["pcm"]
    return Response(frames.released_on_close(body, release), content_type=content_type, headers=headers)


@router.get("/v1/tts/<task_id>")
def read(app, request, task_id: str) -> Response:
    identity_of(request)
    return json_response(app.services.replies.read(task_id, request_language(request)))
