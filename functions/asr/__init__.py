"""Transcribing an enrolled recording (the zero-shot prompt text), when configured.

`build_transcriber(settings)` returns None when no ASR is configured; enrollment then keeps the caller's
transcript or none (synthesis falls back to cross-lingual mode, which needs none).
"""

from __future__ import annotations

from typing import Protocol


class Transcriber(Protocol):
    def transcribe(self, wav_16k: bytes) -> str | None:
        """The text spoken in a 16 kHz mono wav, or None when nothing was recognized."""


class AsrUnavailable(Exception):
    pass


def build_transcriber(settings) -> Transcriber | None:
    if settings.asr == "tencent":
        from .tencent import TencentSentenceAsr

        return TencentSentenceAsr.from_settings(settings)
    return None
