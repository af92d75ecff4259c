"""The cache key: sha256 over a canonical encoding of everything that changes the audio (DESIGN.md)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

KEY_SCHEMA = 1
EXTENSIONS = {"mp3": "mp3", "wav": "wav", "pcm": "pcm", "opus": "opus", "aac": "aac", "flac": "flac"}


@dataclass(frozen=True)
class CacheKeyFields:
    model: str
    model_version: str
    engine: str
    mode: str
    text: str  # normalized
    instruct: str
    voice_hash: str  # hash of the normalized 16 kHz mono PCM (canonicalized across codecs)
    prompt_text: str  # only where the mode uses it (zero-shot)
    speed: float
    seed: int | None
    format: str
    sample_rate: int

    def canonical(self) -> bytes:
        fields = asdict(self)
        fields["speed"] = f"{self.speed:.2f}"
        fields["v"] = KEY_SCHEMA
        return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def key(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def object_key(key: str, fmt: str) -> str:
    return f"tts/{key[:2]}/{key}.{EXTENSIONS[fmt]}"


def is_task_id(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)
