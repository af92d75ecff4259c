"""Building the app for a test: on the real Triton (integration tier) or on a fake endpoint (unit tier), with
the job workers started as a long-running host would start them, and everything stopped afterwards."""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from functions.app import create_app
from functions.endpoint.triton import InferenceUnavailable
from functions.services import OUTSIDE
from functions.settings import Settings

from .clients import TEST_API_KEYS


def _stable(*parts) -> int:
    """A hash that is the same in every process (Python's own `hash` of a str is salted per process)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.tobytes() if isinstance(part, np.ndarray) else repr(part).encode("utf-8")
        digest.update(len(data).to_bytes(8, "big") + data)
    return int.from_bytes(digest.digest()[:8], "big")


def fake_speech(request) -> np.ndarray:
    """What `FakeEndpoint` answers for a request (a `SynthesisInput`), as a pure function of it."""
    reference = None if request.reference_wav is None else np.ascontiguousarray(request.reference_wav, np.float32)
    voice = _stable(request.voice_key, reference, request.reference_text, request.instruct_text, request.mode,
                    request.seed)
    frequency = 150.0 + (voice % 45000) / 100  # 150-600 Hz in steps of 0.01 Hz
    phase = 2 * np.pi * (_stable(request.text) % 3600) / 3600
    speed = request.speed or 1.0
    n = int(max(2400, int(0.05 * 24000 * len(request.text))) / speed)
    return (0.2 * np.sin(2 * np.pi * frequency * np.arange(n) / 24000 + phase)).astype(np.float32)


class FakeEndpoint:
    """An inference endpoint without a model, as strict as the engine where a mix-up would hide: it answers at
    once a tone whose pitch is set by everything that changes the voice (the voice key, the reference audio and
    its transcript, the instruction, the mode and the seed), whose phase is set by the text, and whose length is
    0.05 s per character (at least 0.1 s) divided by the speed. The same request always gets the same samples;
    a request with another voice, style, mode, seed, text or speed gets other samples. It records what it was
    asked (`requests`), and can be taken down (`down = True`)."""

    def __init__(self) -> None:
        self.requests: list = []
        self.down = False
        self._lock = threading.Lock()

    def synthesize(self, request) -> np.ndarray:
        with self._lock:
            self.requests.append(request)
        if self.down:
            raise InferenceUnavailable("fake endpoint is down")
        return fake_speech(request)

    def stream(self, request, **kwargs):
        """The same tone in chunks of 0.1 s (the streaming model's form); `gate` (a threading.Event), when set
        as an attribute, holds the stream after its first chunk until it is set."""
        audio = self.synthesize(request)
        step = 2400
        for i, start in enumerate(range(0, audio.size, step)):
            if i == 1 and getattr(self, "gate", None) is not None:
                self.gate.wait(10)
            yield audio[start:start + step]

    def is_ready(self, use_cache: bool = True) -> bool:
        return not self.down


class Controller:
    """A scale-to-zero endpoint controller whose state a test sets (`_state`), counting `start()` calls."""

    scales_to_zero = True

    def __init__(self, state):
        self._state, self.started = state, 0

    def state(self):
        return self._state

    def start(self):
        self.started += 1


class AppFactory:
    """`factory(**settings_and_outside_systems)` -> app; `close()` stops every worker it started."""

    def __init__(self, base_settings: dict) -> None:
        self.base = base_settings
        self._workers: list = []

    def __call__(self, **kwargs):
        # `moderation` names both a setting (the provider list, a string) and an outside system (a chain)
        outside = {k: kwargs.pop(k) for k in OUTSIDE if k in kwargs and not isinstance(kwargs[k], str)}
        settings = Settings.from_env({}, **{"public_base_url": "http://testserver", "dev_mode": True,
                                            "rate_limit_per_minute": 0, "daily_char_quota": 0,
                                            "api_keys": TEST_API_KEYS, **self.base, **kwargs})
        app = create_app(settings, **outside)
        workers = app.services.start_workers()  # as a long-running host does
        if workers is not None:
            self._workers.append(workers)
        return app

    def close(self) -> None:
        for workers in self._workers:
            workers.stop()
