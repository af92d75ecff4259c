"""How an outcome (functions/tts/decide.py) goes on the wire, for every surface that streams or queues.

The status is decided before the first byte: a stream is only framed once its first audio exists, so
everything that fails before it is the usual JSON error. After the first byte, SSE carries an `error` event;
raw audio has no way to say so in-band, so its connection is cut (the client sees an incomplete chunked body,
never a short file that looks whole) and GET /v1/tts/{task_id} tells what happened.
"""

from __future__ import annotations

import base64
import json
from typing import Callable, Iterable, Iterator

from werkzeug.wsgi import ClosingIterator

from ..audio.encode import StreamEncoder
from ..audio.label import label_for
from ..error_codes import DEFAULT_LANGUAGE
from ..errors import BadRequest
from ..middleware import json_response
from ..timings import Timings
from ..tts.decide import Done, Live, Queued
from ..tts.live import AUDIO, DONE, ERROR, Event, StreamBroken, StreamStalled
from ..tts.streaming import body_events

SSE_TYPE = "text/event-stream; charset=utf-8"
STREAM_FORMATS = ("audio", "sse")


def timed(request) -> Timings:
    """The request's stage timings, which the audit line and Server-Timing report."""
    timings = Timings()
    request.environ["app.timings"] = timings.stages
    return timings


def request_id(request) -> str:
    return request.environ.get("app.request_id", "")


def queued_response(services, outcome: Queued, *, async_applied: bool = False):
    """202 with the job to poll, as every surface that answers with JSON says it."""
    body = services.replies.queued(outcome.key, outcome.record)
    headers = {"Retry-After": str(body["retry_after_s"]), "Location": body["poll_url"]}
    if async_applied:
        headers["Preference-Applied"] = "respond-async"
    return json_response(body, 202, headers)


def hold_connection(services, request) -> Callable[[], None]:
    """Count a long-lived answer against the connection caps (functions/connections.py): raises
    TooManyConnections (503) when one is reached; returns what gives it back."""
    identity = request.environ.get("app.identity")
    return services.connections.hold(request.remote_addr, identity_key(identity))


def identity_key(identity) -> str | None:
    return f"{identity.method}:{identity.subject}" if identity is not None else None


def released_on_close(body: Iterable[bytes], release: Callable[[], None]) -> Iterable[bytes]:
    """The body, giving its connection back when the server closes it (sent, cut, or the client gone)."""
    return ClosingIterator(body, [release])


def checked_stream_format(given: str | None) -> str:
    """`audio` (the bytes themselves) or `sse` (events); anything else is refused."""
    if given not in STREAM_FORMATS:
        raise BadRequest("invalid_stream_format")
    return given


def stream_headers(settings, key: str) -> dict:
    return {"X-Task-Id": key, "X-AIGC": label_for(settings, key).header(), "Cache-Control": "no-store",
            "X-Accel-Buffering": "no"}  # proxies (nginx) must pass chunks on, not buffer the whole answer


def idle_timeout(settings) -> float:
    """How long a response waits for the next event: one inference's timeout and a margin."""
    return settings.triton_request_timeout_s + 10


def events(services, outcome: Done | Live) -> Iterator[Event]:
    """The events a streamed answer sends, ending after `done` or `error`: a live stream followed, or a finished
    file replayed."""
    live = outcome.stream if isinstance(outcome, Live) else \
        services.streamer.replayed(outcome.key, outcome.record, outcome.mode)
    return body_events(live, idle_timeout(services.settings))


def error_fields(errors, exc: BaseException, lang: str = DEFAULT_LANGUAGE) -> dict:
    """A failure after the first byte, as an event's fields (the error map decides code, status, message; the
    message in `lang`)."""
    error = errors(exc)
    return {"code": error.code, "message": error.text(lang), "status": error.status, "retry_after": error.retry_after}


def _sse(kind: str, data: dict) -> bytes:
    # ASCII (non-ASCII escaped): a client without TextDecoder (a mini program) reads it byte by byte
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def sse_body(events: Iterable[Event], errors, lang: str = DEFAULT_LANGUAGE) -> Iterator[bytes]:
    """Each event as an SSE message; audio as base64 s16le in `{"audio": ...}`; error messages in `lang`."""
    last = ""
    try:
        for event in events:
            last = event.kind
            if event.kind == AUDIO:
                yield _sse(AUDIO, {"audio": base64.b64encode(event.audio).decode()})
            elif event.kind == ERROR:
                yield _sse(ERROR, error_fields(errors, event.error or StreamBroken("stream failed"), lang))
            else:
                yield _sse(event.kind, event.data)
        if last not in (DONE, ERROR):
            yield _sse(ERROR, error_fields(errors, StreamBroken("stream_ended"), lang))
    except StreamStalled as exc:
        yield _sse(ERROR, error_fields(errors, exc, lang))


def _audio_of(events: Iterable[Event]) -> Iterator[bytes]:
    """The audio of a stream until `done`; an error event, a stall or an end without `done` raises
    StreamBroken (never end a cut stream as if it were whole)."""
    try:
        for event in events:
            if event.kind == AUDIO:
                yield event.audio
            elif event.kind == ERROR:
                raise StreamBroken(type(event.error).__name__) from event.error
            elif event.kind == DONE:
                return
    except StreamStalled as exc:
        raise StreamBroken("stream_stalled") from exc
    raise StreamBroken("stream_ended")


def pcm_body(events: Iterable[Event]) -> Iterator[bytes]:
    return _audio_of(events)


def encoded_chunks(events: Iterable[Event], encoder: StreamEncoder) -> Iterator[bytes]:
    """The audio of a stream as the bytes of one file (/v1/audio/speech), as they are made; a reader that goes
    away (the body closed early) releases the encoder at once."""
    try:
        for pcm in _audio_of(events):
            data = encoder.feed(pcm)
            if data:
                yield data
        tail = encoder.close()
    except BaseException:
        encoder.abort()
        raise
    if tail:
        yield tail
