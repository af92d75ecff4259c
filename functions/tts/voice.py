"""The voice stage: who speaks. The built-in voice, one of the caller's enrolled voices, or the uploaded prompt
(decoded and hashed; the same bytes again map to their hash without decoding).

A voice is identified by the sha256 of its normalized 16 kHz PCM (functions/audio/identity.py): the cache key
and the engine's speaker-cache key. Jobs carry a reference to the prompt in storage (`persist`), from which a
worker loads it again (`from_ref`).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from inference.contract import DEFAULT_VOICE_TRANSCRIPT, DEFAULT_VOICE_WAV

from ..audio.decode import DecodeLimits, PromptAudio, decode_prompt
from ..cpu import cpu
from ..audio.identity import pcm_hash
from ..audio.wav import wav_bytes, wav_samples
from ..errors import ApiError, NotFound
from ..voices.consent import BASES
from ..voices.store import BUILTIN_VOICE
from ..timings import Timings
from .request import PromptUpload, TtsRequest

UPLOAD_ALIAS_TTL_S = 7 * 86400
DEFAULT_VOICE_ID = BUILTIN_VOICE


@dataclass
class Voice:
    """The speaker of a request: its hash (cache key, model voice key), transcript, and samples on demand."""

    voice_hash: str
    transcript: str
    load: Callable[[], np.ndarray]
    voice_id: str | None = None
    _samples: np.ndarray | None = None
    object_key: str | None = None  # where a worker finds the prompt in storage

    def samples(self) -> np.ndarray:
        if self._samples is None:
            self._samples = self.load()
        return self._samples


@functools.lru_cache(maxsize=1)
def _default_voice_samples() -> np.ndarray:
    return wav_samples(DEFAULT_VOICE_WAV.read_bytes())


@functools.lru_cache(maxsize=1)
def _default_voice_hash() -> str:
    return pcm_hash(_default_voice_samples())


def default_voice() -> Voice:
    """The built-in voice every caller may use (`voice_id: "default"`), shipped with the functions."""
    return Voice(_default_voice_hash(), DEFAULT_VOICE_TRANSCRIPT, _default_voice_samples, DEFAULT_VOICE_ID,
                 _default_voice_samples())


class VoiceResolver:
    def __init__(self, *, state, storage, voice_store, decode_limits: DecodeLimits) -> None:
        self.state, self.storage, self.voice_store, self.limits = state, storage, voice_store, decode_limits

    def resolve(self, req: TtsRequest, owner: str | None, timings: Timings) -> Voice:
        if req.voice_id == DEFAULT_VOICE_ID:
            return default_voice()
        if req.voice_id is not None:
            if owner is None:
                raise NotFound("voice_not_found")
            meta = self.voice_store.get(owner, req.voice_id)
            if meta.get("consent") not in BASES:
                # enrolled before consent was asked for: a well-formed request the saved voice cannot serve (the
                # voice's state, like a missing transcript), so 409; enrolling the recording again with a
                # statement mends it
                raise ApiError("voice_consent_missing")
            return Voice(meta["voice_hash"], meta.get("prompt_text") or "",
                         lambda: self.voice_store.samples(owner, req.voice_id), req.voice_id,
                         object_key=f"{self.voice_store.prefix(owner, req.voice_id)}/prompt.wav")
        upload = req.upload
        # A prompt seen before (same bytes, same limits) maps straight to its voice hash: a cache hit then
        # needs no decoding at all. The alias is a pure function of the bytes (the hash of what they decode
        # to), so no caller can point it at another caller's voice.
        alias = f"upload:{self._digest(upload)}"
        voice_hash = self.state.get_alias(alias)
        if voice_hash is not None:
            def load() -> np.ndarray:
                with timings.stage("decode"):
                    return self.decode(upload).samples
            return Voice(voice_hash, "", load)
        with timings.stage("decode"):
            prompt = self.decode(upload)
        voice_hash = pcm_hash(prompt.samples)
        self.state.set_alias(alias, voice_hash, UPLOAD_ALIAS_TTL_S)
        return Voice(voice_hash, "", lambda: prompt.samples, None, prompt.samples)

    def decode(self, upload: PromptUpload) -> PromptAudio:
        return cpu(decode_prompt, upload.data, upload.format, pcm_rate=upload.sample_rate,
                   pcm_channels=upload.channels, limits=self.limits)

    def persist(self, voice: Voice) -> dict:
        """Where a worker finds the prompt: the enrolled voice, or the uploaded prompt saved once by hash."""
        if voice.object_key is None:
            voice.object_key = f"prompts/{voice.voice_hash[:2]}/{voice.voice_hash}.wav"
            if self.storage.head(voice.object_key) is None:
                self.storage.put(voice.object_key, wav_bytes(voice.samples()), "audio/wav", {})
        return {"voice_hash": voice.voice_hash, "transcript": voice.transcript, "object": voice.object_key}

    def from_ref(self, ref: dict) -> Voice:
        """The voice a job refers to (`persist`'s reference)."""
        return Voice(ref["voice_hash"], ref.get("transcript", ""),
                     lambda: wav_samples(self.storage.get(ref["object"])), object_key=ref["object"])

    def _digest(self, upload: PromptUpload) -> str:
        h = hashlib.sha256()
        h.update(repr((upload.format, upload.sample_rate, upload.channels, self.limits)).encode())
        h.update(upload.data)
        return h.hexdigest()
