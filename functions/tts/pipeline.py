"""The POST /v1/tts request path as named stages.

    validate -> decode -> hash -> cache -> single_flight( infer -> encode -> store ) -> respond

Each stage is timed into `Timings` (logged per request). Object storage is the source of truth for audio; the
state holds task records (a cheap lookup in front of storage) and the single-flight locks.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..audio.decode import DecodeLimits, PromptAudio, decode_prompt
from ..audio.encode import encode
from ..endpoint.triton import (InferenceFailed, InferenceRejected, InferenceTimeout, InferenceUnavailable,
                               SynthesisInput)
from ..errors import ApiError, BadRequest, DependencyDown, InternalError, NotFound, UpstreamTimeout
from ..state import StateUnavailable
from ..storage import StorageUnavailable
from .cache_key import EXTENSIONS, CacheKeyFields, is_task_id, object_key
from .parse import TtsInput
from .single_flight import SingleFlight
from .text import normalize_text
from .voice_identity import VoiceIdentity

OUTPUT_RATE = 24000


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


class TtsPipeline:
    def __init__(self, settings, *, storage, state, endpoint, clock=time.time) -> None:
        self.settings, self.storage, self.state, self.endpoint = settings, storage, state, endpoint
        self.voices = VoiceIdentity(state)
        self.flight = SingleFlight(state, wait_s=settings.single_flight_wait_s,
                                   lock_ttl_s=settings.triton_request_timeout_s * (settings.triton_retries + 1) + 10)
        self.limits = DecodeLimits(max_bytes=settings.max_prompt_bytes, min_seconds=settings.min_prompt_s,
                                   max_seconds=settings.max_prompt_s, min_rate=settings.min_prompt_rate,
                                   timeout_s=settings.decode_timeout_s)
        self._clock = clock

    # -- stages -------------------------------------------------------------------------------------------
    def validate(self, req: TtsInput) -> tuple[str, str, str, str]:
        s = self.settings
        text = normalize_text(req.text, field="text", max_chars=s.max_text_chars)
        instruct = normalize_text(req.instruct, field="instruct", max_chars=s.max_instruct_chars, required=False)
        prompt_text = normalize_text(req.prompt_text, field="prompt_text", max_chars=s.max_text_chars, required=False)
        mode = req.mode or ("instruct" if instruct else ("zero_shot" if prompt_text else "cross_lingual"))
        if mode == "zero_shot" and not prompt_text:
            raise BadRequest("zero_shot 模式需要 prompt_text（录音对应的文字）", code="prompt_text_required")
        if mode == "instruct" and not instruct:
            raise BadRequest("instruct 模式需要 instruct（风格或方言说明）", code="instruct_required")
        if req.voice_id:
            raise NotFound("声音不存在", code="voice_not_found")
        if req.prompt_audio is None:
            raise BadRequest("需要提示音频：上传 audio 文件或提供 prompt_audio_base64", code="prompt_audio_required")
        return text, mode, instruct, prompt_text

    def decode(self, req: TtsInput) -> PromptAudio:
        return decode_prompt(req.prompt_audio, req.prompt_format, pcm_rate=req.prompt_sample_rate,
                             pcm_channels=req.prompt_channels, limits=self.limits)

    def cache_key(self, plan: Plan) -> str:
        s = self.settings
        return CacheKeyFields(
            model=s.triton_model, model_version=s.model_version, engine=s.engine, mode=plan.mode, text=plan.text,
            instruct=plan.instruct if plan.mode == "instruct" else "", voice_hash=plan.voice_hash,
            prompt_text=plan.prompt_text if plan.mode == "zero_shot" else "", speed=plan.speed, seed=plan.seed,
            format=plan.format, sample_rate=OUTPUT_RATE,
        ).key()

    def lookup(self, key: str, fmt: str) -> dict | None:
        """A finished task: the state record when present, else the object in storage (the truth)."""
        record = self._state_get(key)
        if record and record.get("status") == "done":
            return record
        return self.lookup_storage(key, fmt)

    def lookup_storage(self, key: str, fmt: str) -> dict | None:
        try:
            info = self.storage.head(object_key(key, fmt))
        except StorageUnavailable as exc:
            raise DependencyDown("存储服务暂时不可用，请稍后重试", code="storage_unavailable",
                                 retry_after=self.settings.retry_after_s, detail=str(exc)) from exc
        if info is None:
            return None
        return {"status": "done", "format": fmt, "object_key": info.key,
                "duration_s": float(info.metadata.get("duration_s", 0) or 0)}

    def infer(self, plan: Plan, prompt: PromptAudio) -> object:
        try:
            return self.endpoint.synthesize(SynthesisInput(
                text=plan.text, reference_wav=prompt.samples,
                reference_text=plan.prompt_text if plan.mode == "zero_shot" else None, mode=plan.mode,
                instruct_text=plan.instruct or None, speed=plan.speed, seed=plan.seed,
                voice_key=plan.voice_hash[:32]))
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
        try:
            self.storage.put(okey, audio.data, audio.content_type,
                             {"duration_s": f"{audio.duration_s}", "sample_rate": str(audio.sample_rate)})
        except StorageUnavailable as exc:
            raise DependencyDown("存储服务暂时不可用，请稍后重试", code="storage_unavailable",
                                 retry_after=self.settings.retry_after_s, detail=str(exc)) from exc
        return {"status": "done", "format": fmt, "object_key": okey, "duration_s": audio.duration_s}

    def respond(self, key: str, record: dict, cached: bool) -> dict:
        url, lifetime = self.storage.url(record["object_key"])
        expires_at = None
        if lifetime:
            expires_at = (datetime.fromtimestamp(self._clock(), timezone.utc) + timedelta(seconds=lifetime)) \
                .isoformat(timespec="seconds").replace("+00:00", "Z")
        return {"task_id": key, "status": "done", "audio_url": url, "duration_s": record["duration_s"],
                "format": record["format"], "cached": cached, "expires_at": expires_at}

    # -- the request path -----------------------------------------------------------------------------------
    def synthesize(self, req: TtsInput, timings: Timings) -> dict:
        with timings.stage("validate"):
            text, mode, instruct, prompt_text = self.validate(req)
        with timings.stage("hash"):
            # A prompt seen before (same bytes, same limits) maps straight to its voice hash: a cache hit then
            # needs no decoding at all. New bytes are decoded, validated and fingerprinted once.
            upload = self._upload_digest(req)
            voice_hash = self._get_alias(upload)
        prompt = None
        if voice_hash is None:
            with timings.stage("decode"):
                prompt = self.decode(req)
            with timings.stage("hash"):
                voice_hash = self._voice_hash(prompt)
                self._set_alias(upload, voice_hash)
        plan = Plan(text, mode, instruct, prompt_text, round(req.speed, 2), req.seed, req.format, voice_hash)
        key = self.cache_key(plan)
        with timings.stage("cache"):
            hit = self.lookup(key, plan.format)
        if hit is not None:
            return self.respond(key, hit, cached=True)

        def compute() -> dict:
            nonlocal prompt
            if prompt is None:
                with timings.stage("decode"):
                    prompt = self.decode(req)
            with timings.stage("infer"):
                samples = self.infer(plan, prompt)
            with timings.stage("encode"):
                audio = encode(samples, OUTPUT_RATE, plan.format, mp3_bitrate=self.settings.mp3_bitrate)
            with timings.stage("store"):
                record = self.store(key, plan.format, audio)
            self._state_put(key, record)
            return record

        try:
            record, shared = self.flight.run(key, lookup=lambda: self._state_done(key), compute=compute,
                                             recheck=lambda: self.lookup_storage(key, plan.format))
        except StateUnavailable as exc:
            raise self._state_error(exc) from exc
        return self.respond(key, record, cached=shared)

    def task(self, task_id: str) -> dict:
        if not is_task_id(task_id):
            raise NotFound("任务不存在", code="task_not_found")
        record = self._state_get(task_id)
        if record is None:
            for fmt in EXTENSIONS:
                record = self.lookup_storage(task_id, fmt)
                if record:
                    break
        if record is None:
            raise NotFound("任务不存在或已过期", code="task_not_found")
        if record.get("status") == "done":
            return self.respond(task_id, record, cached=True)
        return {"task_id": task_id, **{k: v for k, v in record.items() if k != "object_key"}}

    # -- state access (failures degrade or fail per configuration) ------------------------------------------
    def _state_error(self, exc: Exception) -> ApiError:
        return DependencyDown("状态服务暂时不可用，请稍后重试", code="state_unavailable",
                              retry_after=self.settings.retry_after_s, detail=str(exc))

    def _state_get(self, key: str) -> dict | None:
        try:
            return self.state.get_task(key)
        except StateUnavailable as exc:
            raise self._state_error(exc) from exc

    def _state_done(self, key: str) -> dict | None:
        record = self._state_get(key)
        return record if record and record.get("status") == "done" else None

    def _state_put(self, key: str, record: dict) -> None:
        try:
            self.state.put_task(key, record, self.settings.task_ttl_s)
        except StateUnavailable as exc:
            raise self._state_error(exc) from exc

    def _upload_digest(self, req: TtsInput) -> str:
        h = hashlib.sha256()
        h.update(repr((req.prompt_format, req.prompt_sample_rate, req.prompt_channels, self.limits)).encode())
        h.update(req.prompt_audio or b"")
        return h.hexdigest()

    def _get_alias(self, upload: str) -> str | None:
        try:
            return self.state.get_alias(f"upload:{upload}")
        except StateUnavailable as exc:
            raise self._state_error(exc) from exc

    def _set_alias(self, upload: str, voice_hash: str) -> None:
        try:
            self.state.set_alias(f"upload:{upload}", voice_hash, self.voices.ttl_s)
        except StateUnavailable as exc:
            raise self._state_error(exc) from exc

    def _voice_hash(self, prompt: PromptAudio) -> str:
        try:
            return self.voices.voice_hash(prompt.samples)
        except StateUnavailable as exc:
            raise self._state_error(exc) from exc
