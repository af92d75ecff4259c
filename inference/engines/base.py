"""What every engine receives and returns, independent of Triton.

An engine turns one `SynthesisRequest` into float32 mono audio at `OUTPUT_SAMPLE_RATE` (24 kHz, the official
`cosyvoice3` model's output rate). `InvalidRequest` marks the caller's fault (Triton answers INVALID_ARG, HTTP 400);
anything else is an internal error of that request only.
"""

from __future__ import annotations

import functools
import math
import wave
from dataclasses import dataclass
from typing import Iterator, Protocol

import numpy as np

from ..contract import (DEFAULT_MAX_TEXT_CHARS, DEFAULT_VOICE_TRANSCRIPT, DEFAULT_VOICE_WAV, MAX_INSTRUCT_CHARS,
                        MAX_PROMPT_SECONDS, MAX_SPEED, MAX_VOICE_KEY_CHARS, MIN_SEED, MIN_SPEED, MODES,
                        OUTPUT_SAMPLE_RATE, PROMPT_SAMPLE_RATE, default_mode)


class InvalidRequest(ValueError):
    """The request itself is wrong; retrying it unchanged cannot succeed."""


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    mode: str = "cross_lingual"
    reference_wav: np.ndarray | None = None  # float32, 16 kHz mono, already cut to reference_wav_len
    reference_text: str = ""
    instruct_text: str = ""
    speed: float = 1.0
    seed: int | None = None
    voice_key: str = ""

    @property
    def prompt_seconds(self) -> float:
        return 0.0 if self.reference_wav is None else len(self.reference_wav) / PROMPT_SAMPLE_RATE


class Engine(Protocol):
    name: str
    clones_voice: bool

    def synthesize(self, request: SynthesisRequest) -> np.ndarray:
        """Return float32 mono samples at OUTPUT_SAMPLE_RATE."""

    def stream(self, request: SynthesisRequest) -> Iterator[np.ndarray]:
        """The request's speech in consecutive chunks (float32 mono at OUTPUT_SAMPLE_RATE), each as soon as it
        exists (the chunks need not equal `synthesize`'s output: a streaming model decodes differently)."""


def to_output(audio: np.ndarray, rate: int) -> np.ndarray:
    """float32 mono at OUTPUT_SAMPLE_RATE, clipped to [-1, 1] (resampling can overshoot full-scale peaks)."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if rate != OUTPUT_SAMPLE_RATE and audio.size:
        import soxr

        audio = soxr.resample(audio, rate, OUTPUT_SAMPLE_RATE)
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


DEFAULT_VOICE_KEY = "builtin:default"


@functools.lru_cache(maxsize=1)
def default_voice() -> np.ndarray:
    """The built-in voice's recording (inference/assets), float32 at 16 kHz."""
    with wave.open(str(DEFAULT_VOICE_WAV), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    samples = pcm.astype(np.float32) / 32768.0
    samples.setflags(write=False)
    return samples


def _check_text(name: str, value: str, limit: int) -> str:
    if any(ord(c) < 32 and c not in "\t\n\r" or ord(c) == 127 for c in value):
        raise InvalidRequest(f"{name} contains control characters")
    if "<|" in value or "|>" in value:
        # The model's own special tokens (<|endofprompt|>) are added by the engine, never taken from callers.
        raise InvalidRequest(f"{name} must not contain model control tokens '<|' or '|>'")
    if len(value) > limit:
        raise InvalidRequest(f"{name} is {len(value)} characters; the limit is {limit}")
    return value


def build_request(*, text: str | None, reference_wav: np.ndarray | None = None, reference_wav_len: int | None = None,
                  reference_text: str = "", mode: str = "", instruct_text: str = "", speed: float | None = None,
                  seed: int | None = None, voice_key: str = "",
                  max_text_chars: int = DEFAULT_MAX_TEXT_CHARS) -> SynthesisRequest:
    """Validate raw inputs (as they arrive from Triton or in-process callers) into a SynthesisRequest."""
    if text is None:
        raise InvalidRequest("target_text is required")
    text = _check_text("target_text", text, max_text_chars).strip()
    if not text:
        raise InvalidRequest("target_text is empty")
    reference_text = _check_text("reference_text", reference_text or "", max_text_chars).strip()
    instruct_text = _check_text("instruct_text", instruct_text or "", MAX_INSTRUCT_CHARS).strip()
    voice_key = (voice_key or "").strip()
    if len(voice_key) > MAX_VOICE_KEY_CHARS or not all(c.isalnum() or c in "-_:." for c in voice_key):
        raise InvalidRequest(f"voice_key must be at most {MAX_VOICE_KEY_CHARS} characters of letters, digits and -_:.")

    wav = None
    if reference_wav is not None:
        wav = np.asarray(reference_wav, dtype=np.float32).reshape(-1)
        if reference_wav_len is not None:
            n = int(reference_wav_len)
            if n <= 0 or n > wav.shape[0]:
                raise InvalidRequest(f"reference_wav_len {n} does not fit reference_wav of {wav.shape[0]} samples")
            wav = wav[:n]
        if wav.shape[0] == 0:
            raise InvalidRequest("reference_wav is empty")
        if wav.shape[0] > MAX_PROMPT_SECONDS * PROMPT_SAMPLE_RATE:
            raise InvalidRequest(f"reference_wav is longer than {MAX_PROMPT_SECONDS:.0f} s at 16 kHz")
        if not np.isfinite(wav).all():
            raise InvalidRequest("reference_wav contains NaN or infinite samples")
    elif reference_wav_len is not None:
        raise InvalidRequest("reference_wav_len given without reference_wav")
    elif not voice_key and not reference_text:
        # No voice at all (the official model accepts target_text alone): the built-in voice, zero-shot with its
        # transcript unless the caller asked for another mode, cached by the engine like any keyed voice.
        wav, voice_key = default_voice(), DEFAULT_VOICE_KEY
        if not (mode or "").strip() and not instruct_text:
            reference_text = DEFAULT_VOICE_TRANSCRIPT

    mode = (mode or "").strip()
    if not mode:
        # The official model has no mode input: a transcript means zero-shot, otherwise cross-lingual.
        mode = default_mode(instruct_text, reference_text)
    if mode not in MODES:
        raise InvalidRequest(f"mode must be one of {', '.join(MODES)}")
    if mode == "zero_shot" and not reference_text:
        raise InvalidRequest("zero_shot mode needs reference_text (the transcript of reference_wav)")
    if mode == "instruct" and not instruct_text:
        raise InvalidRequest("instruct mode needs instruct_text")

    if speed is None:
        speed = 1.0
    speed = float(speed)
    if not math.isfinite(speed) or not MIN_SPEED <= speed <= MAX_SPEED:
        raise InvalidRequest(f"speed must be between {MIN_SPEED} and {MAX_SPEED}")
    if seed is not None:
        seed = int(seed)
        if seed < MIN_SEED:
            raise InvalidRequest("seed must not be negative")
    return SynthesisRequest(text=text, mode=mode, reference_wav=wav, reference_text=reference_text,
                            instruct_text=instruct_text, speed=speed, seed=seed, voice_key=voice_key)
