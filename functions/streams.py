"""HTTP answers that stream (functions/tts/streaming.py makes the audio): POST /v1/tts/stream as raw PCM or
Server-Sent Events, and the streamed bodies of /v1/audio/speech.

The status is decided before the first byte: the response waits for the stream's first audio (within the
request deadline), so everything that fails before it (validation, moderation, limits, a busy GPU, a model
that refuses the text) is the usual JSON error. After the first byte, SSE carries an `error` event; raw audio
has no way to say so in-band, so its connection is cut (the client sees an incomplete chunked body, never a
short file that looks whole) and GET /v1/tts/{task_id} tells what happened.
"""

from __future__ import annotations

import base64
import json
from typing import Iterable, Iterator

from werkzeug.wrappers import Response

from . import deadline
from .audio.encode import FORMATS, StreamEncoder
from .audio.label import label_for
from .errors import ApiError, BadRequest, DependencyDown
from .limits import Busy
from .middleware import json_response
from .timings import Timings
from .tts.live import AUDIO, DONE, ERROR, Event, LiveStream, StreamBroken, StreamStalled
from .tts.pipeline import Prepared
from .tts.request import parse_tts_request
from .tts.streaming import body_events

__all__ = ["StreamBroken", "start", "tts_stream"]

SSE_TYPE = "text/event-stream; charset=utf-8"
HOSTED_DOWN = ("inference_unavailable", "inference_timeout", "inference_failed")
STREAM_FORMATS = ("audio", "sse")


def stream_format(request) -> str:
    """`?stream_format=audio|sse`, else `Accept: text/event-stream` asks for SSE, else raw audio."""
    given = request.args.get("stream_format")
    if given is not None:
        if given not in STREAM_FORMATS:
            raise BadRequest("stream_format 只能是 audio 或 sse", code="invalid_stream_format")
        return given
    return "sse" if "text/event-stream" in request.headers.get("Accept", "") else "audio"


def start(services, prepared: Prepared, timings: Timings, *, request_id: str = "",
          audit: dict | None = None) -> LiveStream:
    """The running stream of a prepared request, once its first audio exists; raises its error otherwise
    (Busy when no GPU slot is free)."""
    live, shared = services.streamer.open(prepared, request_id)
    if audit is not None:
        audit["cache_hit"] = prepared.hit is not None or shared
    with timings.stage("first_audio"):
        first = live.first(deadline.cap(services.settings.request_deadline_s))
    if first is None:  # synthesis goes on into the cache: a retry joins it or finds the file
        raise DependencyDown("语音正在合成，请稍后重试", code="synthesis_in_progress",
                             retry_after=services.settings.retry_after_s)
    if first.kind == ERROR:
        if first.data.get("code") == "server_busy":
            raise Busy()
        raise error_of(first)
    return live


def start_or_job(services, prepared: Prepared, timings: Timings, *, request_id: str = "",
                 audit: dict | None = None) -> LiveStream | None:
    """The stream of a prepared request, or None when it must be a job instead: the GPU sleeps and no hosted
    engine took the miss, every GPU slot is busy, or the hosted engine failed before its first audio (a job
    for the GPU, never a lost request). Every stream endpoint (HTTP, speech, WebSocket) decides here."""
    if prepared.hit is None and prepared.endpoint is None and services.renderer.endpoint_cold():
        return None
    try:
        return start(services, prepared, timings, request_id=request_id, audit=audit)
    except Busy:
        return None  # as POST /v1/tts does: the caller has paid for this request
    except ApiError as error:
        if prepared.endpoint is None or error.code not in HOSTED_DOWN:
            raise
        return None


def error_of(event: Event) -> ApiError:
    data = event.data
    return ApiError(data.get("message"), code=data.get("code"), status=data.get("status", 500),
                    retry_after=data.get("retry_after"))


def headers_for(services, key: str) -> dict:
    return {"X-Task-Id": key, "X-AIGC": label_for(services.settings, key).header(), "Cache-Control": "no-store",
            "X-Accel-Buffering": "no"}  # proxies (nginx) must pass chunks on, not buffer the whole answer


def tts_stream(services, request, identity) -> Response:
    """POST /v1/tts/stream: the body of POST /v1/tts, answered with the audio as it is made."""
    timings = Timings()
    request.environ["app.timings"] = timings.stages
    fmt = stream_format(request)
    with timings.stage("validate"):
        req = parse_tts_request(request, services.request_limits)
    prepared = services.tts.prepare(req, timings, identity, request.environ["app.audit"])
    live = start_or_job(services, prepared, timings, request_id=request.environ.get("app.request_id", ""),
                        audit=request.environ["app.audit"])
    if live is None:  # nothing to stream from yet: a job to poll
        status, body = services.tts.job(prepared)
        return json_response(body, status, {"Retry-After": str(body["retry_after_s"]), "Location": body["poll_url"]})
    idle = idle_timeout(services)
    headers = headers_for(services, prepared.key)
    if fmt == "sse":
        return Response(sse_body(body_events(live, idle)), content_type=SSE_TYPE, headers=headers)
    headers["X-Audio-Sample-Rate"] = "24000"
    return Response(pcm_body(body_events(live, idle)), content_type=FORMATS["pcm"], headers=headers)


def idle_timeout(services) -> float:
    """How long a response waits for the next event: one inference's timeout and a margin."""
    return services.settings.triton_request_timeout_s + 10


def _sse(kind: str, data: dict) -> bytes:
    # ASCII (non-ASCII escaped): a client without TextDecoder (a mini program) reads it byte by byte
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def sse_body(events: Iterable[Event]) -> Iterator[bytes]:
    """Each event as an SSE message; audio as base64 s16le in `{"audio": ...}`."""
    last = ""
    try:
        for event in events:
            last = event.kind
            if event.kind == AUDIO:
                yield _sse(AUDIO, {"audio": base64.b64encode(event.audio).decode()})
            else:
                yield _sse(event.kind, event.data)
        if last not in (DONE, ERROR):
            yield _sse(ERROR, {"code": "inference_failed", "message": "语音合成中断，请稍后重试", "status": 502})
    except StreamStalled:
        yield _sse(ERROR, {"code": "stream_stalled", "message": "语音合成中断，请稍后重试", "status": 504})


def pcm_body(events: Iterable[Event]) -> Iterator[bytes]:
    try:
        for event in events:
            if event.kind == AUDIO:
                yield event.audio
            elif event.kind == ERROR:
                raise StreamBroken(event.data.get("code", "error"))
            elif event.kind == DONE:
                return
    except StreamStalled as exc:
        raise StreamBroken("stream_stalled") from exc
    raise StreamBroken("stream_ended")  # closed without `done`: never end a cut stream as if it were whole


def encoded_chunks(events: Iterable[Event], encoder: StreamEncoder) -> Iterator[bytes]:
    """The audio of a stream as the bytes of one file (/v1/audio/speech), as they are made; an error event
    raises StreamBroken (the caller decides how to say it)."""
    try:
        for event in events:
            if event.kind == AUDIO:
                data = encoder.feed(event.audio)
                if data:
                    yield data
            elif event.kind == ERROR:
                raise StreamBroken(event.data.get("code", "error"))
            elif event.kind == DONE:
                break
        else:
            raise StreamBroken("stream_ended")  # closed without `done`
    except StreamStalled as exc:
        raise StreamBroken("stream_stalled") from exc
    tail = encoder.close()
    if tail:
        yield tail
