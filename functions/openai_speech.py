"""POST /v1/audio/speech, compatible with OpenAI's speech endpoint, so the official OpenAI SDKs work:

    client = OpenAI(base_url="https://<api>/v1", api_key="<API key>")
    client.audio.speech.create(model="cosyvoice3", voice="default", input="你好", response_format="mp3")

`voice` is one of the caller's voice_ids or a built-in voice (`default`; OpenAI's voice names map to it),
`instructions` is a preset name or free style text, `speed` 0.5-2.0 (OpenAI allows 0.25-4.0; outside ours
is refused). The answer is the audio itself, streamed from storage in chunks. Inputs beyond the synchronous
limit or a sleeping endpoint become a job; the request waits for it up to SPEECH_WAIT_S and otherwise answers
503 with Retry-After (the SDK retries), by which time the finished audio is in the cache.
"""

from __future__ import annotations

import time

from werkzeug.wrappers import Response

from . import deadline
from .audio.label import label_for
from .errors import BadRequest, DependencyDown, NotFound
from .request_body import read_body
from .timings import Timings
from .tts.cache_key import object_key
from .tts.request import RequestLimits, TtsRequest, build_request
from .tts.tasks import TaskStatus
from .tts.voice import DEFAULT_VOICE_ID

FIELDS = {"model", "input", "voice", "response_format", "speed", "instructions", "stream_format"}
FORMATS = ("mp3", "wav", "pcm", "opus", "aac", "flac")
OPENAI_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"}
CHUNK = 64 * 1024


def parse(request, limits: RequestLimits) -> TtsRequest:
    body, _ = read_body(request, max_body_bytes=64 * 1024, max_audio_bytes=0, fields=FIELDS)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("需要 model（例如 cosyvoice3）", code="model_required")
    voice = body.get("voice", DEFAULT_VOICE_ID)
    if not isinstance(voice, str) or not voice:
        raise BadRequest("voice 必须是字符串", code="invalid_type")
    if voice in OPENAI_VOICES:
        voice = DEFAULT_VOICE_ID
    fmt = body.get("response_format") or "mp3"
    if fmt not in FORMATS:
        raise BadRequest(f"response_format 只能是 {', '.join(FORMATS)}", code="invalid_format")
    if body.get("stream_format") not in (None, "audio"):
        raise BadRequest("stream_format 只支持 audio", code="invalid_stream_format")
    fields = {"text": body.get("input"), "voice_id": voice, "instruct": body.get("instructions"),
              "speed": body.get("speed"), "format": fmt}
    return build_request(fields, None, limits, formats=FORMATS)


def speech(services, request, identity) -> Response:
    timings = Timings()
    request.environ["app.timings"] = timings.stages
    with timings.stage("validate"):
        req = parse(request, services.request_limits)
    status, body = services.tts.synthesize(req, timings, identity, request.environ["app.audit"],
                                           request.environ.get("app.request_id", ""))
    until = time.monotonic() + deadline.cap(services.settings.speech_wait_s)
    while status == 202:
        if time.monotonic() >= until:
            raise DependencyDown("语音正在合成，请稍后重试", code="synthesis_in_progress",
                                 retry_after=body.get("retry_after_s", 2))
        time.sleep(0.2)
        body = services.replies.read(body["task_id"])
        if body["status"] == TaskStatus.FAILED:
            raise services.replies.failure(body["task_id"])  # a refusal stays a 4xx: the SDK must not retry it
        status = 200 if body["status"] == TaskStatus.DONE else 202
    key = object_key(body["task_id"], req.format)
    info = services.storage.head(key)
    if info is None:
        raise NotFound("音频不存在", code="media_not_found")
    data = services.storage.get(key)

    def chunks():
        for start in range(0, len(data), CHUNK):
            yield data[start:start + CHUNK]

    return Response(chunks(), content_type=info.content_type, direct_passthrough=True,
                    headers={"Content-Length": str(len(data)), "X-Audio-Duration": str(body["duration_s"]),
                             "X-Task-Id": body["task_id"],
                             "X-AIGC": label_for(services.settings, body["task_id"]).header()})
