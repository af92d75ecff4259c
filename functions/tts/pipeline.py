"""The POST /v1/tts request path as named stages.

    validate -> voice (enrolled voice, or decode + hash the uploaded prompt) -> cache
             -> single_flight( infer -> encode -> store ) -> respond

Texts beyond the synchronous limit become a job (`long_text`): split into segments, each synthesized and
cached on its own (as lossless pcm), joined with short pauses, encoded once. Each stage is timed into
`Timings` (logged per request, sent as Server-Timing). Object storage is the source of truth for audio; the
state holds task records (a cheap lookup in front of storage), single-flight locks and job progress.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from .. import deadline
from ..audio.decode import DecodeLimits, PromptAudio, decode_prompt
from ..audio.encode import encode
from ..endpoint.triton import (InferenceFailed, InferenceRejected, InferenceTimeout, InferenceUnavailable,
                               SynthesisInput)
from ..errors import ApiError, BadRequest, DependencyDown, InternalError, NotFound, UpstreamTimeout
from ..limits import Busy, raise_for
from ..moderation import Subject
from ..state import StateUnavailable
from ..storage import ObjectNotFound, StorageUnavailable
from .cache_key import EXTENSIONS, CacheKeyFields, TaskIdSecret, is_task_id, object_key
from .parse import TtsInput
from .presets import resolve_instruct
from .segments import split_text
from .single_flight import SingleFlight
from .text import normalize_spoken_text, normalize_text
from ..voices.store import wav_bytes, wav_samples
from .voice_identity import pcm_hash

log = logging.getLogger(__name__)
OUTPUT_RATE = 24000
JOB_POLL_S = 2
MODERATION_WINDOW, MODERATION_OVERLAP = 2500, 50
UPLOAD_ALIAS_TTL_S = 7 * 86400
ACTIVE = ("queued", "running")
DEFAULT_VOICE_ID = "default"
DEFAULT_VOICE_WAV = Path(__file__).resolve().parent.parent / "assets" / "default_voice.wav"
DEFAULT_VOICE_TRANSCRIPT = "希望你以后能够做的比我还好呦。"


@functools.lru_cache(maxsize=1)
def _default_voice_samples() -> np.ndarray:
    return wav_samples(DEFAULT_VOICE_WAV.read_bytes())


@functools.lru_cache(maxsize=1)
def _default_voice_hash() -> str:
    return pcm_hash(_default_voice_samples())


def default_voice() -> "Voice":
    """The built-in voice every caller may use (`voice_id: "default"`), shipped with the functions."""
    return Voice(_default_voice_hash(), DEFAULT_VOICE_TRANSCRIPT, _default_voice_samples, DEFAULT_VOICE_ID,
                 _default_voice_samples(), object_key=None)


@dataclass
class Timings:
    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            self.stages[name] = round(self.stages.get(name, 0.0) + elapsed, 2)


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


@dataclass(frozen=True)
class Plan:
    """A validated request: everything the cache key and the model need."""

    text: str
    mode: str
    instruct: str
    prompt_text: str
    speed: float
    seed: int | None
    format: str
    voice_hash: str
    preset: str | None = None
    long: bool = False


class TtsPipeline:
    def __init__(self, settings, *, storage, state, endpoint, voices=None, queue=None, controller=None, limiter=None,
                 moderation=None, clock=time.time, sleep=time.sleep) -> None:
        self.settings, self.storage, self.state, self.endpoint = settings, storage, state, endpoint
        self.voice_store, self.queue, self.controller = voices, queue, controller
        self.limiter, self.moderation = limiter, moderation
        self._sleep = sleep
        self._cold_checked = (-1e9, False)
        self.task_id_secret = TaskIdSecret(storage, settings.task_id_secret)
        self.flight = SingleFlight(state, wait_s=settings.single_flight_wait_s)  # leader renews a short lock
        self.limits = DecodeLimits(max_bytes=settings.max_prompt_bytes, min_seconds=settings.min_prompt_s,
                                   max_seconds=settings.max_prompt_s, min_rate=settings.min_prompt_rate,
                                   timeout_s=settings.decode_timeout_s)
        self._clock = clock

    # -- stages -------------------------------------------------------------------------------------------
    def validate(self, req: TtsInput) -> tuple[str, int, str, str | None, str, bool]:
        """(text, its charged length, instruct text, preset id, prompt text, long): normalized and checked.
        The charged length counts what the model speaks: characters, pinyin syllables and sound tags."""
        s = self.settings
        text, markup = normalize_spoken_text(req.text, field="text", max_units=s.max_long_text_chars,
                                             keep_newlines=True)
        chars = markup.units
        long = chars > s.max_text_chars
        if long and self.queue is None:
            raise BadRequest(f"text 过长：上限 {s.max_text_chars} 字", code="text_too_long")
        if not long:
            text = text.replace("\n", " ")
        instruct = normalize_text(req.instruct, field="instruct", max_chars=s.max_instruct_chars, required=False)
        instruct, preset = resolve_instruct(instruct) if instruct else ("", None)
        prompt_text = normalize_text(req.prompt_text, field="prompt_text", max_chars=s.max_text_chars, required=False)
        if req.voice_id is None and req.prompt_audio is None:
            raise BadRequest("需要声音：提供 voice_id，或上传 audio 文件 / prompt_audio_base64", code="prompt_audio_required")
        if req.voice_id is not None and req.prompt_audio is not None:
            raise BadRequest("voice_id 与提示音频只能二选一", code="duplicate_audio")
        return text, chars, instruct, preset, prompt_text, long

    def plan(self, req: TtsInput, voice: Voice, text: str, instruct: str, preset: str | None, prompt_text: str,
             long: bool) -> Plan:
        prompt_text = prompt_text or voice.transcript
        mode = req.mode or ("instruct" if instruct else ("zero_shot" if prompt_text else "cross_lingual"))
        if mode == "zero_shot" and not prompt_text:
            raise BadRequest("zero_shot 模式需要 prompt_text（录音对应的文字）", code="prompt_text_required")
        if mode == "instruct" and not instruct:
            raise BadRequest("instruct 模式需要 instruct（风格或方言说明）", code="instruct_required")
        return Plan(text, mode, instruct if mode == "instruct" else "", prompt_text if mode == "zero_shot" else "",
                    round(req.speed, 2), req.seed, req.format, voice.voice_hash, preset, long)

    def resolve_voice(self, req: TtsInput, owner: str | None, timings: Timings) -> Voice:
        if req.voice_id == DEFAULT_VOICE_ID:
            return default_voice()
        if req.voice_id is not None:
            if self.voice_store is None or owner is None:
                raise NotFound("声音不存在", code="voice_not_found")
            meta = self.voice_store.get(owner, req.voice_id)
            return Voice(meta["voice_hash"], meta.get("prompt_text") or "",
                         lambda: self.voice_store.samples(owner, req.voice_id), req.voice_id,
                         object_key=f"{self.voice_store.prefix(owner, req.voice_id)}/prompt.wav")
        # A prompt seen before (same bytes, same limits) maps straight to its voice hash: a cache hit then
        # needs no decoding at all. The alias is a pure function of the bytes (the hash of what they decode
        # to), so no caller can point it at another caller's voice.
        upload = self._upload_digest(req)
        voice_hash = self._state(self.state.get_alias, f"upload:{upload}")
        if voice_hash is not None:
            def load() -> np.ndarray:
                with timings.stage("decode"):
                    return self.decode(req).samples
            return Voice(voice_hash, "", load)
        with timings.stage("decode"):
            prompt = self.decode(req)
        voice_hash = pcm_hash(prompt.samples)
        self._state(self.state.set_alias, f"upload:{upload}", voice_hash, UPLOAD_ALIAS_TTL_S)
        return Voice(voice_hash, "", lambda: prompt.samples, None, prompt.samples)

    def decode(self, req: TtsInput) -> PromptAudio:
        return decode_prompt(req.prompt_audio, req.prompt_format, pcm_rate=req.prompt_sample_rate,
                             pcm_channels=req.prompt_channels, limits=self.limits)

    def cache_key(self, plan: Plan, text: str | None = None, fmt: str | None = None) -> str:
        s = self.settings
        return CacheKeyFields(
            model=s.triton_model, model_version=s.model_version, engine=s.engine, mode=plan.mode,
            text=plan.text if text is None else text, instruct=plan.instruct, voice_hash=plan.voice_hash,
            prompt_text=plan.prompt_text, speed=plan.speed, seed=plan.seed, format=fmt or plan.format,
            sample_rate=OUTPUT_RATE,
        ).key(self._storage(self.task_id_secret))

    def lookup(self, key: str, fmt: str) -> dict | None:
        """A finished task: the state record when present, else the object in storage (the truth)."""
        record = self._state(self.state.get_task, key)
        if record and record.get("status") == "done":
            return record
        return self.lookup_storage(key, fmt)

    def lookup_storage(self, key: str, fmt: str) -> dict | None:
        info = self._storage(self.storage.head, object_key(key, fmt))
        if info is None:
            return None
        return {"status": "done", "format": fmt, "object_key": info.key,
                "duration_s": float(info.metadata.get("duration_s", 0) or 0)}

    def infer(self, plan: Plan, text: str, voice: Voice, request_id: str = "") -> np.ndarray:
        try:
            return self.endpoint.synthesize(SynthesisInput(
                text=text, reference_wav=voice.samples(), reference_text=plan.prompt_text or None, mode=plan.mode,
                instruct_text=plan.instruct or None, speed=plan.speed, seed=plan.seed,
                voice_key=plan.voice_hash, request_id=request_id))
        except InferenceUnavailable as exc:
            raise DependencyDown("语音合成服务暂时不可用，请稍后重试", code="inference_unavailable",
                                 retry_after=self.settings.retry_after_s, detail=str(exc)) from exc
        except InferenceTimeout as exc:
            raise UpstreamTimeout(detail=str(exc)) from exc
        except InferenceRejected as exc:
            raise BadRequest("语音合成服务拒绝了该请求", code="inference_rejected", detail=str(exc)) from exc
        except InferenceFailed as exc:
            raise InternalError("语音合成失败", code="inference_failed", status=502, detail=str(exc)) from exc

    def store(self, key: str, fmt: str, audio) -> dict:
        okey = object_key(key, fmt)
        self._storage(self.storage.put, okey, audio.data, audio.content_type,
                      {"duration_s": f"{audio.duration_s}", "sample_rate": str(audio.sample_rate)})
        return {"status": "done", "format": fmt, "object_key": okey, "duration_s": audio.duration_s}

    def respond(self, key: str, record: dict, cached: bool, plan: Plan | None = None) -> dict:
        url, lifetime = self.storage.url(record["object_key"])
        expires_at = None
        if lifetime:
            expires_at = (datetime.fromtimestamp(self._clock(), timezone.utc) + timedelta(seconds=lifetime)) \
                .isoformat(timespec="seconds").replace("+00:00", "Z")
        body = {"task_id": key, "status": "done", "audio_url": url, "duration_s": record["duration_s"],
                "format": record["format"], "cached": cached, "expires_at": expires_at}
        mode = plan.mode if plan else record.get("mode")
        if mode:
            body["mode"] = mode
        return body

    # -- the request path -----------------------------------------------------------------------------------
    def synthesize(self, req: TtsInput, timings: Timings, identity=None, audit: dict | None = None,
                   request_id: str = "") -> tuple[int, dict]:
        """(HTTP status, body): 200 with the audio, or 202 with a job to poll for long texts."""
        audit = {} if audit is None else audit
        with timings.stage("validate"):
            text, chars, instruct, preset, prompt_text, long = self.validate(req)
            audit.update(text_sha256=hashlib.sha256(text.encode()).hexdigest(), text_len=chars, voice_id=req.voice_id)
            if self.settings.audit_text:
                audit["text"] = text
        with timings.stage("moderate"):
            self.moderate((text, instruct, prompt_text), identity, remote=False)
        if self.settings.limit_cache_hits:
            with timings.stage("limit"):  # before decoding: a limited caller must not cost CPU either
                self.charge(identity, chars)
        with timings.stage("voice"):
            voice = self.resolve_voice(req, identity.owner if identity else None, timings)
            plan = self.plan(req, voice, text, instruct, preset, prompt_text, long)
            key = self.cache_key(plan)
        with timings.stage("cache"):
            hit = self.lookup(key, plan.format)
        audit["cache_hit"] = hit is not None
        if hit is None and not self.settings.limit_cache_hits:
            with timings.stage("limit"):
                self.charge(identity, chars)
        if hit is not None:
            return 200, self.respond(key, hit, cached=True, plan=plan)
        with timings.stage("moderate"):
            self.moderate((text, instruct, prompt_text), identity, remote=True)
        if plan.long or self.endpoint_cold():
            return 202, self.enqueue_job(key, plan, voice)
        try:
            record, shared = self._single_flight(key, plan.format, lambda: self._render(
                key, plan, plan.text, voice, timings, request_id=request_id, slot_wait_s=self.settings.slot_wait_s))
        except Busy:
            if self.queue is None:
                raise
            return 202, self.enqueue_job(key, plan, voice)  # queue too deep for a synchronous answer
        audit["cache_hit"] = shared
        return 200, self.respond(key, record, cached=shared, plan=plan)

    def endpoint_cold(self) -> bool:
        """True when a scale-to-zero endpoint is not ready: misses become jobs and the endpoint is woken.
        (A static endpoint that is down is an outage, answered 503, not a reason to queue.)"""
        if self.controller is None or not self.controller.scales_to_zero or self.queue is None:
            return False
        checked_at, cold = self._cold_checked
        if time.monotonic() - checked_at > 2.0:
            from ..endpoint.controller import READY

            try:
                cold = self.controller.state() != READY
            except Exception as exc:  # noqa: BLE001 - a failing cloud API: queue rather than fail
                log.warning("endpoint state unknown: %s", exc)
                cold = True
            self._cold_checked = (time.monotonic(), cold)
        return cold

    # -- limits and content safety ----------------------------------------------------------------------------
    def charge(self, identity, chars: int) -> None:
        if self.limiter is None or identity is None or getattr(identity, "exempt", False):
            return
        raise_for(self._state(self.limiter.charge, f"{identity.method}:{identity.subject}", chars))

    def moderate(self, texts: tuple[str, ...], identity, *, remote: bool) -> None:
        """Every text of the request that reaches the model: what is spoken, the style, the transcript."""
        if self.moderation is None:
            return
        method, subject = (identity.method, identity.subject) if identity else ("", "")
        check = self.moderation.check_remote if remote else self.moderation.check_local
        for value in filter(None, texts):
            if not remote:
                check(Subject(value, method, subject))
                continue
            # WeChat takes 2,500 characters a call; windows overlap so no word hides across a boundary.
            for start in range(0, max(1, len(value) - MODERATION_OVERLAP), MODERATION_WINDOW - MODERATION_OVERLAP):
                check(Subject(value[start:start + MODERATION_WINDOW], method, subject))

    @contextmanager
    def gpu_slot(self, wait_s: float = 0.0):
        """A global cap on in-flight misses: a burst cannot queue unbounded GPU work."""
        if self.limiter is None:
            yield
            return
        ttl = self.settings.triton_request_timeout_s * (self.settings.triton_retries + 1) + 10
        until = time.monotonic() + deadline.cap(wait_s)
        while (token := self._state(self.limiter.acquire_slot, ttl)) is None:
            if time.monotonic() >= until:
                raise Busy(retry_after=self.settings.retry_after_s)
            self._sleep(0.2)
        try:
            yield
        finally:
            self._state(self.limiter.release_slot, token)

    def _render(self, key: str, plan: Plan, text: str, voice: Voice, timings: Timings | None = None,
                fmt: str | None = None, request_id: str = "", slot_wait_s: float = 0.0) -> dict:
        timings = timings or Timings()
        fmt = fmt or plan.format
        with self.gpu_slot(slot_wait_s), timings.stage("infer"):
            samples = self.infer(plan, text, voice, request_id)
        self._cold_checked = (time.monotonic(), False)  # it just answered: warm, whatever was cached
        with timings.stage("encode"):
            audio = encode(samples, OUTPUT_RATE, fmt, mp3_bitrate=self.settings.mp3_bitrate)
        with timings.stage("store"):
            record = self.store(key, fmt, audio)
        record["mode"] = plan.mode
        self._put_task(key, record)
        self._state(self.state.set_alias, "last_inference", str(self._clock()), 30 * 86400)  # for scale-down
        return record

    def _single_flight(self, key: str, fmt: str, compute: Callable[[], dict]) -> tuple[dict, bool]:
        return self._state(self.flight.run, key, lambda: self._state_done(key), compute,
                           lambda: self.lookup_storage(key, fmt))

    # -- jobs -------------------------------------------------------------------------------------------------
    def enqueue_job(self, key: str, plan: Plan, voice: Voice) -> dict:
        """Queue the work (once per key: identical requests share the job) and wake the endpoint."""
        record = self._state(self.state.get_task, key)
        total = len(split_text(plan.text, self.settings.max_text_chars)) if plan.long else 1
        stale = record is not None and record.get("status") in ("queued", "running") and \
            self._clock() - float(record.get("heartbeat", 0)) > self.settings.job_visibility_s * 3
        if record is None or record.get("status") == "failed" or stale:
            job = {"id": key, "plan": asdict(plan), "voice": self.persist_voice(voice)}
            record = {"status": "queued", "format": plan.format, "mode": plan.mode,
                      "progress": {"done": 0, "total": total}, "heartbeat": self._clock(), "job": job}
            try:  # the job first: a record must never say "queued" for a job no queue holds
                self.queue.enqueue(job)
            except Exception as exc:  # noqa: BLE001 - Redis or SQS errors of any kind
                raise DependencyDown("任务队列暂时不可用，请稍后重试", code="queue_unavailable",
                                     retry_after=self.settings.retry_after_s, detail=str(exc)) from exc
            self._put_task(key, record)
            if self.controller is not None and self.controller.scales_to_zero:
                try:
                    self.controller.start()
                except Exception as exc:  # noqa: BLE001 - the scheduled drain starts it otherwise
                    log.warning("could not wake the endpoint: %s", exc)
        return self.queued_body(key, record)

    def persist_voice(self, voice: Voice) -> dict:
        """Where a worker finds the prompt: the enrolled voice, or the uploaded prompt saved once by hash."""
        if voice.object_key is None:
            voice.object_key = f"prompts/{voice.voice_hash[:2]}/{voice.voice_hash}.wav"
            if self._storage(self.storage.head, voice.object_key) is None:
                self._storage(self.storage.put, voice.object_key, wav_bytes(voice.samples()), "audio/wav", {})
        return {"voice_hash": voice.voice_hash, "transcript": voice.transcript, "object": voice.object_key}

    def queued_body(self, key: str, record: dict) -> dict:
        return {"task_id": key, "status": record["status"], "poll_url": f"/v1/tts/{key}",
                "retry_after_s": JOB_POLL_S, "progress": record.get("progress")}

    def run_job(self, job: dict) -> None:
        """Run a queued job to completion (the worker acknowledges it afterwards). Idempotent: a result that
        is already stored is only recorded, never synthesized again."""
        key, plan = job["id"], Plan(**job["plan"])
        if self._finished(key, plan.format, plan.mode):
            return
        ref = job["voice"]
        voice = Voice(ref["voice_hash"], ref.get("transcript", ""),
                      lambda: wav_samples(self._storage(self.storage.get, ref["object"])), object_key=ref["object"])
        if not plan.long:
            self._set_progress(job, plan, 0, 1)
            self._single_flight(key, plan.format, lambda: self._render(key, plan, plan.text, voice, slot_wait_s=120))
            return
        segments = split_text(plan.text, self.settings.max_text_chars)
        parts: list[np.ndarray] = []
        for i, segment in enumerate(segments):
            self._set_progress(job, plan, i, len(segments))
            parts.append(self.segment_samples(plan, segment.text, voice))
            if segment.pause_after_s:
                parts.append(np.zeros(int(segment.pause_after_s * OUTPUT_RATE), np.float32))
        audio = encode(np.concatenate(parts), OUTPUT_RATE, plan.format, mp3_bitrate=self.settings.mp3_bitrate)
        record = self.store(key, plan.format, audio)
        record.update(mode=plan.mode, progress={"done": len(segments), "total": len(segments)})
        self._put_task(key, record)

    def _set_progress(self, job: dict, plan: Plan, done: int, total: int) -> None:
        self._put_task(job["id"], {"status": "running", "format": plan.format, "mode": plan.mode,
                                   "progress": {"done": done, "total": total}, "heartbeat": self._clock(),
                                   "job": job})

    def _finished(self, key: str, fmt: str | None, mode: str | None) -> dict | None:
        """The task's result when storage already has it (recorded as done): it wins over any other state."""
        done = self.lookup_storage(key, fmt) if fmt in EXTENSIONS else None
        if done is not None:
            done.update(mode=mode)
            self._put_task(key, done)
        return done

    def _put_task(self, key: str, record: dict) -> None:
        """Write a task record; queued and running tasks are also kept in the active set (for healing)."""
        self._state(self.state.put_task, key, record, self.settings.task_ttl_s)
        if record.get("status") in ACTIVE:
            self._state(self.state.mark_active, key, float(record.get("heartbeat") or self._clock()))
        else:
            self._state(self.state.clear_active, key)

    def touch(self, job: dict) -> None:
        """A worker holds the job and is alive: its task's heartbeat (renewed while the job runs)."""
        record = self._state(self.state.get_task, job["id"])
        if record is not None and record.get("status") not in ACTIVE:
            return
        plan = job.get("plan") or {}
        record = record or {"status": "queued", "format": plan.get("format"), "mode": plan.get("mode"),
                            "progress": {"done": 0, "total": 1}}
        record.update(heartbeat=self._clock(), job=job)
        self._put_task(job["id"], record)

    def heal(self, key: str, record: dict) -> dict:
        """A queued or running task nobody has worked on for `job_stale_s` (its job was lost with a queue's
        data, or its worker died): finished after all, re-enqueued from the job kept in its record, or failed
        with a truthful reason once re-enqueuing has not helped."""
        if record.get("status") not in ACTIVE or \
                self._clock() - float(record.get("heartbeat") or 0) <= self.settings.job_stale_s:
            return record
        done = self._finished(key, record.get("format"), record.get("mode"))
        if done is not None:
            return done
        token = self._state(self.state.acquire, f"heal:{key}", 30)
        if token is None:
            return record  # another process is healing it
        try:
            job = record.get("job")
            requeued = int((job or {}).get("requeued", 0))  # kept in the job: progress records carry it
            if job is None or requeued >= self.settings.job_max_attempts:
                log.warning("task %s lost (requeued %d times)", key[:12], requeued)
                record = {"status": "failed", "error": {"code": "job_lost", "message": "任务已丢失，请重新提交",
                                                         "status": 503}}
            else:
                log.warning("task %s has no live job; enqueued again", key[:12])
                job = {**job, "requeued": requeued + 1}
                self.queue.enqueue(job)
                record.update(status="queued", heartbeat=self._clock(), job=job)
            self._put_task(key, record)
            return record
        finally:
            self._state(self.state.release, f"heal:{key}", token)

    def heal_stale(self, limit: int = 100) -> int:
        """Heal every active task without a heartbeat for `job_stale_s` (run by workers and the drain)."""
        keys = self._state(self.state.stale_active, self._clock() - self.settings.job_stale_s, limit)
        for key in keys:
            record = self._state(self.state.get_task, key)
            if record is None:
                self._state(self.state.clear_active, key)  # its record expired: nothing to tell anyone
            else:
                self.heal(key, record)
        return len(keys)

    def note_retry(self, job: dict, attempt: int, reason: str) -> None:
        record = self._state(self.state.get_task, job["id"]) or {}
        record.update(status="queued", attempts=attempt, last_error=reason, heartbeat=self._clock())
        record.setdefault("progress", {"done": 0, "total": 1})
        self._put_task(job["id"], record)

    def fail_job(self, job: dict, reason: str, message: str, status: int = 500) -> None:
        """The job's last attempt failed: the task ends failed, unless another delivery finished it meanwhile
        (a result in storage wins over a failure)."""
        plan = job.get("plan") or {}
        if self._finished(job["id"], plan.get("format"), plan.get("mode")):
            return
        self._put_task(job["id"], {"status": "failed", "error": {"code": reason, "message": message,
                                                                 "status": status}})

    def segment_samples(self, plan: Plan, text: str, voice: Voice) -> np.ndarray:
        """One segment's 24 kHz samples, cached on its own as lossless pcm."""
        key = self.cache_key(plan, text=text, fmt="pcm")
        okey = object_key(key, "pcm")
        record, _ = self._single_flight(key, "pcm", lambda: self._render(key, plan, text, voice, fmt="pcm",
                                                                         slot_wait_s=120))
        try:
            data = self._storage(self.storage.get, record.get("object_key", okey))
        except ObjectNotFound:
            record = self._render(key, plan, text, voice, fmt="pcm")
            data = self._storage(self.storage.get, okey)
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0

    # -- GET /v1/tts/{task_id} --------------------------------------------------------------------------------
    def task(self, task_id: str) -> tuple[int, dict]:
        if not is_task_id(task_id):
            raise NotFound("任务不存在", code="task_not_found")
        record = self._state(self.state.get_task, task_id)
        if record is None:
            for fmt in EXTENSIONS:
                record = self.lookup_storage(task_id, fmt)
                if record:
                    break
        if record is None:
            raise NotFound("任务不存在或已过期", code="task_not_found")
        if record.get("status") in ACTIVE:
            record = self.heal(task_id, record)  # a lost job is found by the next poll at the latest
        status = record.get("status")
        if status == "done":
            return 200, self.respond(task_id, record, cached=True)
        if status == "failed":
            error = {k: v for k, v in (record.get("error") or {}).items() if k in ("code", "message")}
            return 200, {"task_id": task_id, "status": "failed", "error": error}
        return 200, self.queued_body(task_id, record)

    def failure(self, task_id: str) -> ApiError:
        """A failed task as the error its code deserves (for callers that answer with an HTTP status)."""
        error = (self._state(self.state.get_task, task_id) or {}).get("error") or {}
        status = int(error.get("status") or 503)
        return ApiError(error.get("message") or "语音合成失败", code=error.get("code") or "inference_failed",
                        status=status, retry_after=self.settings.retry_after_s if status == 503 else None)

    # -- dependency access: failures become 503s with Retry-After ----------------------------------------------
    def _state(self, fn, *args):
        try:
            return fn(*args)
        except StateUnavailable as exc:
            raise DependencyDown("状态服务暂时不可用，请稍后重试", code="state_unavailable",
                                 retry_after=self.settings.retry_after_s, detail=str(exc)) from exc

    def _storage(self, fn, *args):
        try:
            return fn(*args)
        except StorageUnavailable as exc:
            raise DependencyDown("存储服务暂时不可用，请稍后重试", code="storage_unavailable",
                                 retry_after=self.settings.retry_after_s, detail=str(exc)) from exc

    def _state_done(self, key: str) -> dict | None:
        record = self._state(self.state.get_task, key)
        return record if record and record.get("status") == "done" else None

    def _upload_digest(self, req: TtsInput) -> str:
        h = hashlib.sha256()
        h.update(repr((req.prompt_format, req.prompt_sample_rate, req.prompt_channels, self.limits)).encode())
        h.update(req.prompt_audio or b"")
        return h.hexdigest()
