"""Enrollment audio checks: trim to the speech (silero-vad), refuse recordings without enough speech, warn
about quiet or clipped recordings, and normalize the level."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio.vad import RATE, find_speech
from ..errors import BadRequest

TARGET_PEAK = 0.9


@dataclass(frozen=True)
class PreparedVoice:
    samples: np.ndarray  # 16 kHz mono, trimmed, normalized
    speech_s: float
    warnings: tuple[str, ...]

    @property
    def duration_s(self) -> float:
        return round(self.samples.size / RATE, 3)


def prepare(samples: np.ndarray, *, min_speech_s: float = 1.0) -> PreparedVoice:
    span = find_speech(samples)
    if span is None:
        raise BadRequest("no_speech")
    if span.speech_seconds < min_speech_s:
        raise BadRequest("not_enough_speech", seconds=span.speech_seconds, min_seconds=min_speech_s)
    speech = samples[span.start:span.end]
    warnings = []
    peak = float(np.abs(speech).max())
    if np.mean(np.abs(speech) >= 0.99) > 0.001:
        warnings.append("clipped")  # distortion is kept in the voice: suggest re-recording further away
    if peak < 0.1:
        warnings.append("quiet")
    normalized = (speech * (TARGET_PEAK / peak)).astype(np.float32) if peak > 0 else speech
    return PreparedVoice(normalized, span.speech_seconds, tuple(warnings))
