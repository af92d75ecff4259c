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

from . import deadline, streams
from .audio.encode import StreamEncoder
from .audio.label import label_for
from .errors import BadRequest, DependencyDown, NotFound
from .request_body import read_body
from .timings import Timings
from .tts.cache_key import object_key
from .tts.request import RequestLimits, TtsRequest, build_request
from .tts.streaming import body_events
from .tts.tasks import TaskStatus
from .tts.voice import DEFAULT_VOICE_ID

FIELDS = {"model", "input", "voice", "response_format", "speed", "instructions", "stream_format"}
FORMATS = ("mp3", "wav", "pcm", "opus", "aac", "flac")
OPENAI_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"}
CHUNK = 64 * 1024


def parse(request, limits: RequestLimits) -> tuple[TtsRequest, str]:
    """The request and its stream_format (`audio`: the file's bytes; `sse`: OpenAI's speech events)."""
    body, _ = read_body(request, max_body_bytes=64 * 1024, max_audio_bytes=0, fields=FIELDS, forms=False)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("需要 model（例如 cosyvoice3）", code="model_required")
    voice = body.get("voice", DEFAULT_VOICE_ID)
    if not isinstance(voice, str):
        raise BadRequest("voice 必须是字符串", code="invalid_type")
    if not voice:
        raise BadRequest("voice 不能为空：填 voice_id 或 default", code="voice_required")
    if voice in OPENAI_VOICES:
        voice = DEFAULT_VOICE_ID
    fmt = body.get("response_format", "mp3")
    if fmt not in FORMATS:
        raise BadRequest(f"response_format 只能是 {', '.join(FORMATS)}", code="invalid_format")
    stream_format = body.get("stream_format", "audio")
    if stream_format not in ("audio", "sse"):
        raise BadRequest("stream_format 只能是 audio 或 sse", code="invalid_stream_format")
    fields = {"text": body.get("input"), "voice_id": voice, "instruct": body.get("instructions"),
              "speed": body.get("speed"), "format": fmt}
    return build_request(fields, None, limits, formats=FORMATS), stream_format


def speech(services, request, identity) -> Response:
    timings = Timings()
    request.environ["app.timings"] = timings.stages
    with timings.stage("validate"):
        req, stream_format = parse(request, services.request_limits)
    prepared = services.tts.prepare(req, timings, identity, request.environ["app.audit"])
    key = prepared.key
    headers = {"X-Task-Id": key, "X-AIGC": label_for(services.settings, key).header()}
    live = None if prepared.hit is not None else streams.start_or_job(
        services, prepared, timings, request_id=request.environ.get("app.request_id", ""),
        audit=request.environ["app.audit"])
    if live is not None:
        # a miss streams: the body is encoded as the model speaks (mp3 a frame behind, pcm and wav at once)
        encoder = StreamEncoder(req.format, OUTPUT_SAMPLE_RATE, mp3_bitrate=services.settings.mp3_bitrate,
                                label=label_for(services.settings, key))
        chunks = streams.encoded_chunks(body_events(live, streams.idle_timeout(services)), encoder)
        return _answer(chunks, encoder.content_type, stream_format, req.units, headers)
    status, body = (200, services.replies.done(key, prepared.hit, cached=True)) if prepared.hit is not None \
        else services.tts.job(prepared)
    key = body["task_id"]  # a job is the GPU's, under its own key
    headers["X-Task-Id"] = key
    until = time.monotonic() + deadline.cap(services.settings.speech_wait_s)
    while status == 202:  # the endpoint sleeps: wait for the job it was woken for, or ask for a retry
        if time.monotonic() >= until:
            raise DependencyDown("语音正在合成，请稍后重试", code="synthesis_in_progress",
                                 retry_after=body.get("retry_after_s", 2))
        time.sleep(0.2)
        body = services.replies.read(key)
        if body["status"] == TaskStatus.FAILED:
            raise services.replies.failure(key)  # a refusal stays a 4xx: the SDK must not retry it
        status = 200 if body["status"] == TaskStatus.DONE else 202
    okey = object_key(key, req.format)
    info = services.storage.head(okey)
    if info is None:
        raise NotFound("音频不存在", code="media_not_found")
    data = services.storage.get(okey)
    headers["X-Audio-Duration"] = str(body["duration_s"])
    if stream_format == "audio":
        headers["Content-Length"] = str(len(data))
    return _answer((data[i:i + CHUNK] for i in range(0, len(data), CHUNK)), info.content_type, stream_format,
                   req.units, headers)


def _answer(chunks: Iterable[bytes], content_type: str, stream_format: str, units: int, headers: dict) -> Response:
    if stream_format == "sse":
        return Response(_speech_events(chunks, units), content_type=streams.SSE_TYPE,
                        headers={**headers, "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    return Response(chunks, content_type=content_type, direct_passthrough=True, headers=headers)


def _speech_events(chunks: Iterable[bytes], units: int) -> Iterator[bytes]:
    """OpenAI's speech SSE: `speech.audio.delta` events with base64 audio, then `speech.audio.done` (usage in
    characters: the unit we charge), or an `error` event if synthesis fails midway."""
    def event(data: dict) -> bytes:
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

    try:
        for chunk in chunks:
            yield event({"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()})
    except streams.StreamBroken as exc:
        yield event({"type": "error", "error": {"code": str(exc), "message": "语音合成失败"}})
        return
    yield event({"type": "speech.audio.done",
                 "usage": {"input_tokens": units, "output_tokens": 0, "total_tokens": units}})
