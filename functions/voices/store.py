"""Voices in object storage, under their owner: voices/<owner>/<voice_id>/{prompt.wav, meta.json}.

A voice is reachable only through its owner's prefix, so another owner's request finds nothing (404), and
deleting a voice removes every object under its prefix. voice_ids are random and unguessable.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import OrderedDict

import numpy as np

from ..audio.wav import wav_bytes, wav_samples
from ..errors import NotFound
from ..storage import ObjectNotFound

VOICE_ID = re.compile(r"v_[A-Za-z0-9_-]{16,64}")  # fullmatch: the OpenAPI description's VoiceId pattern
BUILTIN_VOICE = "default"


def names_a_voice(value: str) -> bool:
    """Whether `value` can name a voice at all (the built-in one, or a voice id): anything else is looked up
    nowhere and is simply not found."""
    return value == BUILTIN_VOICE or VOICE_ID.fullmatch(value) is not None


def new_voice_id() -> str:
    return "v_" + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


class VoiceStore:
    def __init__(self, storage, cache_size: int = 32) -> None:
        self.storage = storage
        self._samples: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @staticmethod
    def prefix(owner: str, voice_id: str) -> str:
        return f"voices/{owner}/{voice_id}"

    def _not_found(self):
        return NotFound("voice_not_found")

    def create(self, owner: str, voice_id: str, samples: np.ndarray, meta: dict) -> None:
        base = self.prefix(owner, voice_id)
        # The wav first, the metadata last: a voice exists (is listed, usable) only once both are complete.
        self.storage.put(f"{base}/prompt.wav", wav_bytes(samples), "audio/wav", {})
        self.storage.put(f"{base}/meta.json", json.dumps(meta, ensure_ascii=False).encode(), "application/json", {})

    def update(self, owner: str, voice_id: str, meta: dict) -> None:
        """Rewrite a voice's metadata (its recording is never replaced)."""
        self.storage.put(f"{self.prefix(owner, voice_id)}/meta.json", json.dumps(meta, ensure_ascii=False).encode(),
                         "application/json", {})

    def get(self, owner: str, voice_id: str) -> dict:
        if not VOICE_ID.fullmatch(voice_id or ""):
            raise self._not_found()
        try:
            raw = self.storage.get(f"{self.prefix(owner, voice_id)}/meta.json")
        except ObjectNotFound:
            raise self._not_found() from None
        return json.loads(raw)

    def samples(self, owner: str, voice_id: str) -> np.ndarray:
        key = f"{owner}/{voice_id}"
        with self._lock:
            if key in self._samples:
                self._samples.move_to_end(key)
                return self._samples[key]
        samples = wav_samples(self.storage.get(f"{self.prefix(owner, voice_id)}/prompt.wav"))
        with self._lock:
            self._samples[key] = samples
            while len(self._samples) > self._cache_size:
                self._samples.popitem(last=False)
        return samples

    def list(self, owner: str) -> list[dict]:
        voices = []
        for key in self.storage.list_keys(f"voices/{owner}/"):
            if key.endswith("/meta.json"):
                voice_id = key.split("/")[2]
                try:
                    voices.append(self.get(owner, voice_id))
                except NotFound:
                    continue  # deleted meanwhile
        return sorted(voices, key=lambda v: v.get("created_at", ""), reverse=True)

    def find(self, owner: str, voice_hash: str) -> dict | None:
        """The owner's voice made from exactly this audio, if any (only the owner's: no other caller's voice
        can be found by its hash)."""
        return next((v for v in self.list(owner) if v.get("voice_hash") == voice_hash), None)

    def count(self, owner: str) -> int:
        """How many voices the owner has (one listing, no reads)."""
        return sum(key.endswith("/meta.json") for key in self.storage.list_keys(f"voices/{owner}/"))

    def delete(self, owner: str, voice_id: str) -> None:
        self.get(owner, voice_id)  # 404 unless it is the caller's
        base = self.prefix(owner, voice_id)
        self.storage.delete(f"{base}/meta.json")  # unlisted first, then the rest
        for key in self.storage.list_keys(base + "/"):
            self.storage.delete(key)
        with self._lock:
            self._samples.pop(f"{owner}/{voice_id}", None)
