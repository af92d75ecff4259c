"""The cache key: a keyed hash over a canonical encoding of everything that changes the audio (the design's cache key).

The key is also the task id and names the object, so it must not be computable by someone who did not make
the request: with a plain hash, anyone who guessed a text spoken in the `default` voice could learn whether
it was ever synthesized (and fetch it). It is HMAC-SHA256 under a server secret: TASK_ID_SECRET, or one
created once in the object store (`keys/`, never served) and so shared by every instance that uses it.
Changing the secret starts a new cache.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import asdict, dataclass

from inference.contract import OUTPUT_SAMPLE_RATE

from ..audio import formats
from ..storage import ObjectNotFound

KEY_SCHEMA = 1


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

    def key(self, secret: bytes) -> str:
        return hmac.new(secret, self.canonical(), hashlib.sha256).hexdigest()


class CacheKeys:
    """The service's cache keys: a plan's fields plus the deployment's model, version and engine, keyed by
    the task-id secret (what the request path, the job side and scripts/cost_model.py all use)."""

    def __init__(self, settings, secret) -> None:
        self.settings, self.secret = settings, secret

    def key(self, plan, text: str | None = None, fmt: str | None = None, engine: str | None = None) -> str:
        """The key of `plan` (with another text or format: one segment of a long text, its pcm; with another
        engine: the hosted API's results, never mixed with the GPU's)."""
        s = self.settings
        return CacheKeyFields(
            model=engine or s.triton_model, model_version=s.model_version, engine=engine or s.engine, mode=plan.mode,
            text=plan.text if text is None else text, instruct=plan.instruct, voice_hash=plan.voice_hash,
            prompt_text=plan.prompt_text, speed=plan.speed, seed=plan.seed, format=fmt or plan.format,
            sample_rate=OUTPUT_SAMPLE_RATE,
        ).key(self.secret())


SECRET_OBJECT = "keys/task-id.key"


class TaskIdSecret:
    """The HMAC key of task ids, loaded on first use (a store that is down then is a 503, not a dead worker)."""

    def __init__(self, storage, configured: str = "") -> None:
        self._storage = storage
        self._secret = configured.encode() or None
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    self._secret = self._load()
        return self._secret

    def _load(self) -> bytes:
        for _ in range(3):
            try:
                return self._storage.get(SECRET_OBJECT)
            except ObjectNotFound:
                # Of instances starting together exactly one creates it; every one then reads the winner's.
                self._storage.put_if_absent(SECRET_OBJECT, secrets.token_bytes(32), "application/octet-stream")
        return self._storage.get(SECRET_OBJECT)


def object_key(key: str, fmt: str) -> str:
    return f"tts/{key[:2]}/{key}.{formats.get(fmt).extension}"


def is_task_id(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def subtitles_key(key: str) -> str:
    """The WebVTT subtitles stored beside a task's audio."""
    return f"tts/{key[:2]}/{key}.vtt"


def is_media_key(key: str) -> bool:
    """True only for `object_key(task_id, fmt)` and `subtitles_key(task_id)` names: what /media may serve."""
    name, _, ext = key.rpartition(".")
    return (len(key) <= 80 and (ext in formats.EXTENSIONS or ext == "vtt") and name.startswith("tts/")
            and is_task_id(name[7:]) and name == f"tts/{name[7:9]}/{name[7:]}")
