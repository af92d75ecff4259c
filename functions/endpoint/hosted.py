"""The hosted CosyVoice API (Alibaba Cloud DashScope) as an inference endpoint, through the official `dashscope`
SDK: speech over its WebSocket protocol (`tts_v2.SpeechSynthesizer`), voice cloning by its voice-enrollment
API (`tts_v2.VoiceEnrollmentService`, which takes an audio URL: a presigned URL of the stored prompt).

Opt-in (HOSTED_ENGINE=dashscope with DASHSCOPE_API_KEY). What it cannot serve goes to the GPU (`unsupported`):
markup (breaths, emphasis, pinyin: our model's own tokens), instruct styles and presets, fixed seeds, and
users' recordings unless HOSTED_CLONE=true (a recording sent to a third party: off by default; the consent
statement every upload carries covers cloning by this service's providers, docs/compliance.md).

A voice is enrolled once per voice hash; the mapping is kept in the state (fast) and in storage (durable),
with when it was last used. The account holds at most 1,000 voices (voices unused for a year are removed by
the service): when enrollment is refused for the quota, the least recently used of ours is deleted first.
Results are cached under their own engine (`hosted_engine_name`), never mixed with the GPU's.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Iterator

import numpy as np

from inference.contract import DEFAULT_VOICE_TRANSCRIPT

from ..audio.wav import wav_bytes
from ..storage import ObjectNotFound
from ..text.markup import parse_markup
from .triton import InferenceFailed, InferenceRejected, InferenceTimeout, InferenceUnavailable, SynthesisInput

log = logging.getLogger(__name__)
VOICE_PREFIX = "relay"  # our voices in the account (list_voice filters by it)
RECORDS = "hosted/voices/"  # storage: voice hash -> hosted voice id, last used
PROMPTS = "hosted/prompts/"  # storage: the recordings enrollment fetches by presigned URL
CONNECT_S = 6.0  # the SDK gives up connecting after 5 s and raises: its answer must come before our timeout


def hosted_engine_name(settings) -> str:
    return f"dashscope:{settings.hosted_model}"


def unsupported(plan, settings, *, builtin_voice: bool) -> str | None:
    """Why a plan must go to the GPU, or None when the hosted API can serve it."""
    if plan.instruct:
        return "instruct"
    if plan.seed is not None:
        return "seed"
    if parse_markup(plan.text, strict=False).plain != plan.text:
        return "markup"
    if not builtin_voice and not settings.hosted_clone:
        return "recording not sent to a third party (HOSTED_CLONE=false)"
    return None


REJECTED = ("InvalidParameter", "VoiceNotFound", "InvalidApiKey", "Audio.", "BadRequest")
UNAVAILABLE = ("Throttling", "ServiceUnavailable")


def _by_code(code: str, status: int | None, detail: str) -> Exception:
    if code.startswith(REJECTED):
        return InferenceRejected(detail)
    if code.startswith(UNAVAILABLE) or status in (502, 503, 504):
        return InferenceUnavailable(detail)
    return InferenceFailed(detail)


def _error(exc: BaseException) -> Exception:
    """What the SDK raised, by its type, code and status: never by words in the text, which carries random
    request and task ids (an id with "503" in it made a failed task read as an outage)."""
    if isinstance(exc, (InferenceFailed, InferenceRejected, InferenceTimeout, InferenceUnavailable)):
        return exc
    if isinstance(exc, TimeoutError):  # the SDK's own words (no ids) tell a refused connection from a silence
        refused = str(exc).startswith("websocket connection could not")
        return (InferenceUnavailable if refused else InferenceTimeout)(str(exc))
    if isinstance(exc, OSError) or type(exc).__module__.startswith("websocket"):  # ConnectionError included
        return InferenceUnavailable(str(exc))
    code = getattr(exc, "name", None) or getattr(exc, "_code", None) or ""  # RequestFailure, enrollment errors
    status = getattr(exc, "http_code", None) or getattr(exc, "_status_code", None)
    return _by_code(str(code), status if isinstance(status, int) else None, str(exc))


def _event_error(message: str) -> Exception:
    """A task-failed event (the callback's raw JSON), by its error code."""
    try:
        header = json.loads(message)["header"]
        code = str(header.get("error_code") or "")
        return _by_code(code, None, f"{code}: {header.get('error_message') or ''}")
    except (ValueError, KeyError, TypeError):
        return InferenceFailed(f"the hosted API failed: {str(message)[:300]}")


class HostedEndpoint:
    """synthesize / stream like TritonEndpoint, over the hosted API."""

    def __init__(self, settings, *, storage, state, clock=time.time) -> None:
        import dashscope

        self.settings, self.storage, self.state, self._clock = settings, storage, state, clock
        dashscope.api_key = settings.dashscope_api_key
        if settings.dashscope_http_url:
            dashscope.base_http_api_url = settings.dashscope_http_url
        self.ws_url = settings.dashscope_ws_url or None
        self._enroll_lock = threading.Lock()

    # -- voices ---------------------------------------------------------------------------------------------
    def voice_for(self, item: SynthesisInput) -> str:
        """The hosted voice id of the request's voice, enrolled on first use."""
        key = item.voice_key or "builtin"
        alias = f"hosted_voice:{key}"
        voice_id = self.state.get_alias(alias)
        if voice_id is None:
            try:
                voice_id = json.loads(self.storage.get(f"{RECORDS}{key}.json"))["voice_id"]
            except (ObjectNotFound, ValueError, KeyError):
                with self._enroll_lock:
                    voice_id = self.state.get_alias(alias) or self._enroll(key, item.reference_wav)
        self._touch(key, voice_id)
        return voice_id

    def _touch(self, key: str, voice_id: str) -> None:
        self.state.set_alias(f"hosted_voice:{key}", voice_id, 30 * 86400)
        self.state.set_alias(f"hosted_used:{voice_id}", str(self._clock()), 400 * 86400)

    def _enroll(self, key: str, reference_wav) -> str:
        from dashscope.audio.tts_v2 import VoiceEnrollmentService

        if reference_wav is None:
            raise InferenceRejected("the hosted API clones a voice from a recording; none was given")
        prompt = f"{PROMPTS}{key}.wav"
        self.storage.put(prompt, wav_bytes(np.asarray(reference_wav, dtype=np.float32), 16000), "audio/wav", {})
        url, _ = self.storage.url(prompt)
        service = VoiceEnrollmentService()
        for attempt in range(2):
            try:
                voice_id = service.create_voice(target_model=self.settings.hosted_model, prefix=VOICE_PREFIX,
                                                url=url)
                break
            except Exception as exc:  # noqa: BLE001 - the SDK raises its own types with the service's code
                quota = "VoiceQuotaExceeded" in str(getattr(exc, "_code", ""))
                if quota and attempt == 0 and self._evict(service):
                    continue
                raise _error(exc) from exc
        record = {"voice_id": voice_id, "created": self._clock(), "transcript": DEFAULT_VOICE_TRANSCRIPT
                  if key == "builtin" else ""}
        self.storage.put(f"{RECORDS}{key}.json", json.dumps(record).encode(), "application/json", {})
        log.info("hosted voice enrolled for %s", key[:12])
        return voice_id

    def _evict(self, service) -> bool:
        """Delete the least recently used of our voices in the account (the quota is per account)."""
        voices = service.list_voices(prefix=VOICE_PREFIX, page_index=0, page_size=1000) or []
        if not voices:
            return False
        oldest = min(voices, key=lambda v: float(self.state.get_alias(f"hosted_used:{v['voice_id']}") or 0))
        service.delete_voice(oldest["voice_id"])
        log.warning("hosted voice quota reached: deleted the least recently used voice %s", oldest["voice_id"])
        return True

    # -- speech ---------------------------------------------------------------------------------------------
    def synthesize(self, item: SynthesisInput) -> np.ndarray:
        return np.concatenate(list(self.stream(item)) or [np.zeros(0, np.float32)])

    def stream(self, item: SynthesisInput, *, chunk_timeout_s: float | None = None) -> Iterator[np.ndarray]:
        from dashscope.audio.tts_v2 import AudioFormat, ResultCallback, SpeechSynthesizer

        voice = self.voice_for(item)
        chunks: queue.Queue = queue.Queue()
        done = object()

        class Collect(ResultCallback):
            def on_data(self, data: bytes) -> None:
                chunks.put(bytes(data))

            def on_complete(self) -> None:
                chunks.put(done)

            def on_error(self, message) -> None:
                chunks.put(_event_error(str(message)))

        synthesizer = SpeechSynthesizer(model=self.settings.hosted_model, voice=voice,
                                        format=AudioFormat.PCM_24000HZ_MONO_16BIT,
                                        speech_rate=float(item.speed or 1.0), callback=Collect(), url=self.ws_url)
        wait_s = chunk_timeout_s or self.settings.triton_request_timeout_s

        def run() -> None:
            # with a callback the SDK's call() only starts the task: audio, completion and a task-failed
            # event arrive through the callback; a failure to start raises here
            try:
                synthesizer.call(item.text, timeout_millis=int(wait_s * 1000))
            except Exception as exc:  # noqa: BLE001 - classified for the caller
                chunks.put(_error(exc))

        threading.Thread(target=run, daemon=True, name="hosted-tts").start()
        sent = 0
        try:
            while True:
                limit = wait_s + (CONNECT_S if not sent else 0)  # the SDK's own connect wait comes first
                try:
                    chunk = chunks.get(timeout=limit)
                except queue.Empty:
                    raise InferenceTimeout(f"the hosted API sent nothing for {limit:.0f}s") from None
                if chunk is done:
                    break
                if isinstance(chunk, Exception):
                    raise _error(chunk)
                sent += 1
                yield np.frombuffer(chunk, dtype="<i2").astype(np.float32) / 32768.0
        finally:
            try:
                synthesizer.close()
            except Exception:  # noqa: BLE001 - already closed
                pass
        if not sent:
            raise InferenceFailed("the hosted API returned no audio")

    def is_ready(self, use_cache: bool = True) -> bool:
        return True  # no endpoint of ours to wake: the service is always on
