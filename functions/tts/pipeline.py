"""Every stage a synthesis request passes before anything is made, in order, for every transport:

    parsed (request.py) -> moderate, limit (guard.py) -> voice (voice.py) -> plan + cache key (plan.py)
        -> route (hosted engine or GPU) -> cache (tasks.py)

What then happens to the prepared request (the cached file, a live stream, a file rendered now, or a job) is
decided in one place, decide.py. A refused, limited or invalid request fails here, before any byte of an answer
exists. Each stage is timed into `Timings` (logged per request, sent as Server-Timing). Exceptions are left to
functions/error_map.py.
"""

from __future__ import annotations

import hashlib
from typing import Callable, NamedTuple

from ..timings import Timings
from ..endpoint.hosted import hosted_engine_name, unsupported
from .cache_key import CacheKeys
from .guard import Guard
from .plan import Plan, make_plan
from .request import TtsRequest
from .tasks import TaskBook, TaskRecord
from .voice import DEFAULT_VOICE_ID, Voice, VoiceResolver


class Prepared(NamedTuple):
    key: str  # the result's cache key (the task id): the GPU's, or the hosted engine's when routed there
    plan: Plan
    voice: Voice
    hit: TaskRecord | None  # the finished result when the cache has it
    endpoint: object = None  # where a miss is synthesized: None for the GPU, else the hosted engine
    gpu_key: str = ""  # the GPU's key for the same plan: a job is always the GPU's


class TtsPipeline:
    def __init__(self, settings, *, guard: Guard, resolver: VoiceResolver, keys: CacheKeys, tasks: TaskBook,
                 cold: Callable[[], bool], history=None, hosted=None, waker=None) -> None:
        self.settings, self.guard, self.resolver, self.keys, self.tasks = settings, guard, resolver, keys, tasks
        self.cold, self.history, self.hosted, self.waker = cold, history, hosted, waker

    def prepare(self, req: TtsRequest, timings: Timings, identity=None, audit: dict | None = None) -> Prepared:
        """Every stage before rendering; `audit` gets what the request's audit line says about it."""
        audit = {} if audit is None else audit
        audit.update(text_sha256=hashlib.sha256(req.text.encode()).hexdigest(), text_len=req.units,
                     voice_id=req.voice_id)
        if req.upload is not None:
            audit["consent"] = req.upload.consent
        if self.settings.audit_text:
            audit["text"] = req.text
        with timings.stage("moderate"):
            self.guard.moderate(req.spoken_texts, identity, remote=False)
        limit_hits = self.settings.limit_cache_hits
        if limit_hits:
            with timings.stage("limit"):  # before decoding: a limited caller must not cost CPU either
                self.guard.charge(identity, req.units)
        with timings.stage("voice"):
            voice = self.resolver.resolve(req, identity.owner if identity else None, timings)
            plan = make_plan(req, voice)
            gpu_key = self.keys.key(plan)
        endpoint = self.route(plan, voice)
        key = gpu_key if endpoint is None else self.keys.key(plan, engine=hosted_engine_name(self.settings))
        with timings.stage("cache"):
            hit = self.tasks.lookup(key, plan.format)
        audit["cache_hit"] = hit is not None
        if self.history is not None:
            self.history.record(kind="requests")  # WARM_HOURS=learned: requests by hour of the week
        if hit is None:
            if self.history is not None:
                self.history.record()  # and misses
            if endpoint is not None:
                self.waker.note(plan.text)  # the GPU is woken when hosted misses outprice it
            if not limit_hits:
                with timings.stage("limit"):
                    self.guard.charge(identity, req.units)
            with timings.stage("moderate"):
                self.guard.moderate(req.spoken_texts, identity, remote=True)
        return Prepared(key, plan, voice, hit, endpoint, gpu_key)

    def route(self, plan: Plan, voice: Voice):
        """The hosted engine for a miss the sleeping GPU would make wait, when it can serve it; else None."""
        if self.hosted is None or plan.long or not self.cold():
            return None
        if unsupported(plan, self.settings, builtin_voice=voice.voice_id == DEFAULT_VOICE_ID) is not None:
            return None
        return self.hosted
