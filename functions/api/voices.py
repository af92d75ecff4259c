"""/v1/voices (a caller's own enrolled voices) and /v1/presets (the styles a request may ask for)."""

from __future__ import annotations

from werkzeug.wrappers import Response

from ..auth import identity_of
from ..middleware import json_response
from ..request_body import read_body
from ..tts import presets
from ..voices.enroll import FIELDS, public
from . import frames
from .router import Router

router = Router()


@router.post("/v1/voices")
def create(app, request) -> Response:
    services, settings, timings = app.services, app.settings, frames.timed(request)
    identity = identity_of(request)
    services.guard.charge(identity, 0)  # enrollment decodes, runs VAD, may pay for ASR: same window
    fields, audio = read_body(request, max_body_bytes=settings.max_body_bytes,
                              max_audio_bytes=settings.max_prompt_bytes, fields=FIELDS, b64_field="audio_base64",
                              format_field="format")
    voice = services.enrollment.enroll(identity, fields, audio, timings, request.environ["app.audit"])
    return json_response(voice, 200 if voice.get("existing") else 201)


@router.get("/v1/voices")
def listed(app, request) -> Response:
    owner = identity_of(request).owner
    return json_response({"voices": [public(v) for v in app.services.voice_store.list(owner)]})


@router.get("/v1/voices/<voice_id>")
def read(app, request, voice_id: str) -> Response:
    return json_response(public(app.services.voice_store.get(identity_of(request).owner, voice_id)))


@router.delete("/v1/voices/<voice_id>")
def delete(app, request, voice_id: str) -> Response:
    app.services.voice_store.delete(identity_of(request).owner, voice_id)
    return Response(status=204)


@router.get("/v1/presets")
def preset_list(app, request) -> Response:
    return json_response({"presets": presets.as_json()})
