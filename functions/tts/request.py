"""The parse stage: a body's fields become one validated, typed `TtsRequest`; nothing downstream reads a raw
field again.

Texts are normalized and charged here (characters, pinyin syllables and sound tags: what the model speaks;
compatibility characters as the letters and digits they stand for, functions/text/normalize.py),
a style resolves to its preset, and the voice is either an enrolled or built-in `voice_id` or an uploaded
prompt (`PromptUpload`), never both.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.contract import MAX_SEED, MAX_SPEED, MIN_SEED, MIN_SPEED, MODES

from ..audio.decode import normalize_format
from ..audio.formats import DEFAULT_FORMAT, FILE_FORMATS
from ..errors import BadRequest, NotFound
from ..request_body import choice, number, read_body
from ..text.normalize import charged_units, normalize_spoken_text, normalize_text
from ..voices.consent import require_consent
from ..voices.store import names_a_voice
from .presets import resolve_instruct

FIELDS = {"text", "voice_id", "prompt_audio_base64", "prompt_format", "prompt_sample_rate", "prompt_channels",
          "prompt_text", "mode", "instruct", "speed", "format", "seed", "consent"}


@dataclass(frozen=True)
class RequestLimits:
    max_text_chars: int  # a synchronous answer; longer texts (up to max_long_text_chars) become a job
    max_long_text_chars: int
    max_instruct_chars: int
    max_body_bytes: int
    max_prompt_bytes: int

    @classmethod
    def from_settings(cls, settings) -> "RequestLimits":
        return cls(settings.max_text_chars, settings.max_long_text_chars, settings.max_instruct_chars,
                   settings.max_body_bytes, settings.max_prompt_bytes)


@dataclass(frozen=True)
class PromptUpload:
    """A reference recording sent with the request, as received (decoded only when needed)."""

    data: bytes
    format: str | None = None
    sample_rate: int | None = None  # raw PCM only
    channels: int = 1
    consent: str = "self"  # the caller's statement on whose voice it is (functions/voices/consent.py)


@dataclass(frozen=True)
class TtsRequest:
    text: str  # normalized; newlines kept only in long texts (they mark paragraphs)
    units: int  # what it is charged: characters (digits twice), syllables, sound tags, of the spoken form
    long: bool  # beyond the synchronous limit: a job
    instruct: str = ""  # style text as the model takes it (a preset resolved)
    preset: str | None = None
    prompt_text: str = ""  # the caller's transcript of the prompt
    voice_id: str | None = None
    upload: PromptUpload | None = None
    mode: str | None = None  # None: chosen from what the request has
    speed: float = 1.0
    seed: int | None = None
    format: str = DEFAULT_FORMAT

    @property
    def spoken_texts(self) -> tuple[str, ...]:
        """Every text that reaches the model (what moderation checks)."""
        return self.text, self.instruct, self.prompt_text


def build_request(fields: dict, audio: bytes | None, limits: RequestLimits,
                  formats: tuple[str, ...] = FILE_FORMATS) -> TtsRequest:
    voice_id = fields.get("voice_id")
    if voice_id is not None and not isinstance(voice_id, str):
        raise BadRequest("invalid_type", field="voice_id")
    if voice_id is not None and not names_a_voice(voice_id):  # kept out of logs and lookups
        raise NotFound("voice_not_found")
    prompt_format = fields.get("prompt_format")
    if prompt_format is not None and not isinstance(prompt_format, str):
        raise BadRequest("invalid_type", field="prompt_format")
    prompt_format = normalize_format(prompt_format)  # checked whether or not a recording is decoded
    sample_rate = number(fields.get("prompt_sample_rate"), "prompt_sample_rate", int, 8000, 192000)
    channels = number(fields.get("prompt_channels"), "prompt_channels", int, 1, 2) or 1
    mode = choice(fields.get("mode"), "mode", MODES, None)
    speed = number(fields.get("speed"), "speed", float, MIN_SPEED, MAX_SPEED) or 1.0
    fmt = choice(fields.get("format"), "format", formats, DEFAULT_FORMAT)
    seed = number(fields.get("seed"), "seed", int, MIN_SEED, MAX_SEED)
    if prompt_format == "pcm" and sample_rate is None:
        raise BadRequest("pcm_rate_required")

    text, markup = normalize_spoken_text(fields.get("text"), field="text", max_chars=limits.max_long_text_chars,
                                         keep_newlines=True)
    units = charged_units(markup)  # of the text as the model reads it (`㉑` is 21)
    long = units > limits.max_text_chars  # a job (functions/tts/jobs.py)
    if not long:
        text = text.replace("\n", " ")
    instruct = normalize_text(fields.get("instruct"), field="instruct", max_chars=limits.max_instruct_chars,
                              required=False)
    instruct, preset = resolve_instruct(instruct) if instruct else ("", None)
    prompt_text = normalize_text(fields.get("prompt_text"), field="prompt_text", max_chars=limits.max_text_chars,
                                 required=False)
    if voice_id is None and audio is None:
        raise BadRequest("prompt_audio_required")
    if voice_id is not None and audio is not None:
        raise BadRequest("duplicate_audio")
    upload = None if audio is None else PromptUpload(audio, prompt_format, sample_rate, channels,
                                                      require_consent(fields.get("consent")))
    return TtsRequest(text=text, units=units, long=long, instruct=instruct, preset=preset,
                      prompt_text=prompt_text, voice_id=voice_id, upload=upload, mode=mode, speed=round(speed, 2),
                      seed=seed, format=fmt)


def parse_tts_request(request, limits: RequestLimits) -> TtsRequest:
    fields, audio = read_body(request, max_body_bytes=limits.max_body_bytes, max_audio_bytes=limits.max_prompt_bytes,
                              fields=FIELDS, json_only=frozenset({"voice_id"}))
    return build_request(fields, audio, limits)
