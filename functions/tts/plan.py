"""The plan stage: a validated request and its voice become exactly what the cache key and the model need."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from inference.contract import default_mode

from ..errors import ApiError, BadRequest
from .request import TtsRequest
from .voice import Voice


@dataclass(frozen=True)
class Plan:
    text: str
    mode: str
    instruct: str  # only in instruct mode
    prompt_text: str  # only in zero-shot mode
    speed: float
    seed: int | None
    format: str
    voice_hash: str
    preset: str | None = None
    long: bool = False

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Plan":
        return cls(**data)


def make_plan(req: TtsRequest, voice: Voice) -> Plan:
    prompt_text = req.prompt_text or voice.transcript
    mode = req.mode or default_mode(req.instruct, prompt_text)
    if mode == "zero_shot" and not prompt_text and req.voice_id is not None:
        # a well-formed request the saved voice cannot serve (it was enrolled without a transcript): the voice's
        # state, not the request, is in the way
        raise ApiError("voice_transcript_missing")
    if mode == "zero_shot" and not prompt_text:
        raise BadRequest("prompt_text_required", case="mode")
    if mode == "instruct" and not req.instruct:
        raise BadRequest("instruct_required", case="mode")
    return Plan(req.text, mode, req.instruct if mode == "instruct" else "", prompt_text if mode == "zero_shot" else "",
                req.speed, req.seed, req.format, voice.voice_hash, req.preset, req.long)
