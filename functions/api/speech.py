"""POST /v1/audio/speech, compatible with OpenAI's speech endpoint, so the official OpenAI SDKs work:

    client = OpenAI(base_url="https://<api>/v1", api_key="<API key>")
    client.audio.speech.create(model="cosyvoice3", voice="default", input="你好", response_format="mp3")

`voice` is one of the caller's voice_ids or a built-in voice (`default`; OpenAI's voice names map to it),
`instructions` is a preset name or free style text, `speed` 0.5-2.0 (OpenAI allows 0.25-4.0; outside ours
is refused). The answer is the audio itself: a miss is encoded and sent as the model speaks (the SDK's
`with_streaming_response` gets the first bytes after the first chunk), a hit comes from storage in chunks;
`stream_format: "sse"` wraps either in OpenAI's `speech.audio.delta` / `speech.audio.done` events. While a
scale-to-zero endpoint sleeps, the request becomes a job and waits for it up to SPEECH_WAIT_S, otherwise
answering 503 with Retry-After (the SDK retries), by which time the finished audio is in the cache.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Iterable, Iterator

from werkzeug.wrappers import Response

from inference.contract import OUTPUT_SAMPLE_RATE

from .. import deadline
from ..audio.encode import StreamEncoder
from ..audio.formats import SPEECH_FORMATS as FORMATS
from ..audio.label import label_for
from ..auth import identity_of
from ..errors import BadRequest, NotFound
from ..middleware import request_language
from ..request_body import read_body
from ..tts.cache_key import object_key
from ..tts.decide import Done, Live, Queued
from ..tts.live import StreamBroken
from ..tts.replies import TaskFailed
from ..tts.request import RequestLimits, TtsRequest, build_request
from ..tts.single_flight import StillRunning
from ..tts.tasks import TaskStatus
from ..tts.voice import DEFAULT_VOICE_ID
from . import frames
from .router import Router

router = Router()
FIELDS = {"model", "input", "voice", "response_format", "speed", "instructions", "stream_format"}
OPENAI_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"}
CHUNK = 64 * 1024


def parse(request, limits: RequestLimits) -> tuple[TtsRequest, str]:
    """The request and its stream_format (`audio`: the file's bytes; `sse`: OpenAI's speech events)."""
    body, _ = read_body(request, max_body_bytes=64 * 1024, max_audio_bytes=0, fields=FIELDS, forms=False)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("model_required")
    voice = body.get("voice", DEFAULT_VOICE_ID)
    if not isinstance(voice, str):
        raise BadRequest("invalid_type", field="voice")
    if not voice:
        raise BadRequest("voice_required")
    if voice in OPENAI_VOICES:
        voice = DEFAULT_VOICE_ID
    fmt = body.get("response_format", "mp3")
    if fmt not in FORMATS:
        raise BadRequest("invalid_format", field="response_format", allowed=", ".join(FORMATS))
    stream_format = frames.checked_stream_format(body.get("stream_format", "audio"))
    fields = {"text": body.get("input"), "voice_id": voice, "instruct": body.get("instructions"),
              "speed": body.get("speed"), "format": fmt}
    return build_request(fields, None, limits, formats=FORMATS), stream_format


@router.post("/v1/audio/speech")
def speech(app, request) -> Response:
    services, timings, audit = app.services, frames.timed(request), request.environ["app.audit"]
    identity = identity_of(request)
    release = frames.hold_connection(services, request)  # before the body is read: a refusal costs nothing
    try:
        return _speech(services, request, identity, timings, audit, release)
    except BaseException:
        release()
        raise


def _speech(services, request, identity, timings, audit, release) -> Response:
    with timings.stage("validate"):
        req, stream_format = parse(request, services.request_limits)
    prepared = services.tts.prepare(req, timings, identity, audit)
    # a miss streams; a hit (Done) is read from storage as it is, not decoded and encoded again
    outcome = services.decider.decide(prepared, timings, stream=True, request_id=frames.request_id(request),
                                      audit=audit)
    headers = {"X-Task-Id": outcome.key, "X-AIGC": label_for(services.settings, outcome.key).header()}
    if isinstance(outcome, Live):  # encoded as the model speaks (mp3 a frame behind, pcm and wav at once)
        encoder = StreamEncoder(req.format, OUTPUT_SAMPLE_RATE, mp3_bitrate=services.settings.mp3_bitrate,
                                label=label_for(services.settings, outcome.key))
        chunks = frames.encoded_chunks(frames.events(services, outcome), encoder)
        return _answer(chunks, encoder.content_type, stream_format, req.units, headers, services.errors,
                       request_language(request), release)
    duration = outcome.record.duration_s if isinstance(outcome, Done) else \
        _wait(services, outcome)  # the endpoint sleeps: wait for the job it was woken for
    info = services.storage.head(object_key(outcome.key, req.format))
    if info is None:
        raise NotFound("media_not_found")
    data = services.storage.get(info.key)
    headers["X-Audio-Duration"] = str(duration)
    if stream_format == "audio":
        headers["Content-Length"] = str(len(data))
    return _answer((data[i:i + CHUNK] for i in range(0, len(data), CHUNK)), info.content_type, stream_format,
                   req.units, headers, services.errors, request_language(request), release)


def _wait(services, queued: Queued) -> float:
    """The job's finished file within SPEECH_WAIT_S (and the request's deadline), as its duration; else a 503 to
    retry (the SDK does), or the job's own failure (a refusal stays a 4xx: the SDK must not retry it)."""
    until = time.monotonic() + deadline.cap(services.settings.speech_wait_s)
    while True:
        if time.monotonic() >= until:
            raise StillRunning(queued.key[:12])
        time.sleep(0.2)
        body = services.replies.read(queued.key)
        if body["status"] == TaskStatus.FAILED:
            record = services.tasks.get(queued.key)
            raise TaskFailed(record.error if record is not None else None)
        if body["status"] == TaskStatus.DONE:
            return body["duration_s"]


def _answer(chunks: Iterable[bytes], content_type: str, stream_format: str, units: int, headers: dict,
            errors, lang: str, release) -> Response:
    if stream_format == "sse":
        body = frames.released_on_close(_speech_events(chunks, units, errors, lang), release)
        return Response(body, content_type=frames.SSE_TYPE,
                        headers={**headers, "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    return Response(frames.released_on_close(chunks, release), content_type=content_type, direct_passthrough=True,
                    headers=headers)


def _speech_events(chunks: Iterable[bytes], units: int, errors, lang: str) -> Iterator[bytes]:
    """OpenAI's speech SSE: `speech.audio.delta` events with base64 audio, then `speech.audio.done` (usage in
    characters: the unit we charge), or an `error` event if synthesis fails midway."""
    def event(data: dict) -> bytes:
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

    try:
        for chunk in chunks:
            yield event({"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()})
    except StreamBroken as exc:
        error = errors(exc.__cause__ or exc)
        yield event({"type": "error", "error": {"code": error.code, "message": error.text(lang)}})
        return
    yield event({"type": "speech.audio.done",
                 "usage": {"input_tokens": units, "output_tokens": 0, "total_tokens": units}})
