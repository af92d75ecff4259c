"""Voice enrollment (POST /v1/voices): decode, trim to the speech, hash, transcribe, moderate, store."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from ..asr import AsrUnavailable
from ..audio.decode import DecodeLimits, decode_prompt
from ..cpu import cpu
from ..audio.identity import pcm_hash
from ..audio.wav import wav_bytes
from ..errors import ApiError, BadRequest
from ..request_body import number
from ..text.normalize import normalize_text
from .consent import require_consent
from .prepare import prepare
from .store import VoiceStore, new_voice_id

log = logging.getLogger(__name__)

FIELDS = {"audio_base64", "format", "sample_rate", "channels", "prompt_text", "name", "consent"}
PUBLIC = ("voice_id", "name", "duration_s", "sample_rate", "prompt_text", "transcript_source", "default_mode",
          "created_at", "warnings", "consent")


def public(meta: dict) -> dict:
    return {k: meta.get(k) for k in PUBLIC}


class TooManyVoices(ApiError):
    code = "too_many_voices"


class Enrollment:
    def __init__(self, settings, store: VoiceStore, transcriber=None, *, guard=None,
                 decode_limits: DecodeLimits | None = None) -> None:
        self.settings, self.store, self.transcriber, self.guard = settings, store, transcriber, guard
        self.limits = decode_limits or DecodeLimits.from_settings(settings)

    def enroll(self, identity, fields: dict, audio: bytes | None, timings, audit: dict | None = None) -> dict:
        """The enrolled voice's public fields; `existing: true` when the caller had enrolled this very
        recording before (it is returned, not enrolled twice)."""
        s = self.settings
        owner = identity.owner
        if audio is None:
            raise BadRequest("audio_required")
        consent = require_consent(fields.get("consent"))
        if audit is not None:
            audit["consent"] = consent
        name = normalize_text(fields.get("name"), field="name", max_chars=40, required=False)
        prompt_text = normalize_text(fields.get("prompt_text"), field="prompt_text", max_chars=s.max_text_chars,
                                     required=False)
        fmt = fields.get("format")
        if fmt is not None and not isinstance(fmt, str):
            raise BadRequest("invalid_type", field="format")
        with timings.stage("decode"):
            decoded = cpu(decode_prompt, audio, fmt, pcm_rate=number(fields.get("sample_rate"), "sample_rate", int,
                                                                 8000, 192000),
                                    pcm_channels=number(fields.get("channels"), "channels", int, 1, 2) or 1,
                                    limits=self.limits)
        with timings.stage("vad"):
            voice = cpu(prepare, decoded.samples, min_speech_s=s.min_speech_s)
        with timings.stage("hash"):
            voice_hash = pcm_hash(voice.samples)
        existing = self.store.find(owner, voice_hash)
        if existing is not None:  # the same recording again: the voice it already is, not a duplicate
            if existing.get("consent") is None:  # enrolled before consent was asked for: the statement now
                existing.update(consent=consent, consent_by=f"{identity.method}:{identity.subject}")
                self.store.update(owner, existing["voice_id"], existing)
            return {**public(existing), "existing": True}
        if self.store.count(owner) >= s.max_voices_per_owner:
            raise TooManyVoices()
        source = "caller" if prompt_text else None
        if not prompt_text and self.transcriber is not None:
            with timings.stage("asr"):
                try:
                    prompt_text = normalize_text(self.transcriber.transcribe(wav_bytes(voice.samples)) or "",
                                                 field="prompt_text", max_chars=s.max_text_chars, required=False)
                    source = "asr" if prompt_text else None
                except (AsrUnavailable, ApiError) as exc:
                    log.warning("transcription skipped: %s", exc)  # enrollment still succeeds (cross-lingual)
        if prompt_text and self.guard is not None:
            # What the recording says (or claims to say) is checked like any text: "scan the audio with
            # speech recognition" when ASR produced it.
            with timings.stage("moderate"):
                self.guard.moderate((prompt_text,), identity, remote=False)
                self.guard.moderate((prompt_text,), identity, remote=True)
        voice_id = new_voice_id()
        meta = {
            "voice_id": voice_id, "name": name or None, "duration_s": voice.duration_s, "sample_rate": 16000,
            "prompt_text": prompt_text or None, "transcript_source": source,
            "default_mode": "zero_shot" if prompt_text else "cross_lingual",
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "warnings": list(voice.warnings), "voice_hash": voice_hash, "speech_s": round(voice.speech_s, 2),
            "source_format": decoded.source_format, "source_rate": decoded.source_rate,
            "consent": consent, "consent_by": f"{identity.method}:{identity.subject}",  # who stated it, and when
        }
        with timings.stage("store"):
            self.store.create(owner, voice_id, voice.samples, meta)
        body = public(meta)
        if not prompt_text:
            body["note"] = ("未提供录音文字，合成将使用跨语种模式（cross_lingual），无需文字；"
                            "提供 prompt_text 可获得更像的声音")
        return body
