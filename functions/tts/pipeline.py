"""POST /v1/tts as the order of its stages, and nothing else:

    parse (request.py) -> moderate, limit (guard.py) -> voice (voice.py) -> plan + cache key (plan.py)
        -> cache (tasks.py) -> render once across callers (render.py) -> respond (replies.py)

Texts beyond the synchronous limit, misses while a scale-to-zero endpoint sleeps, and misses that found every
GPU slot taken become a job (jobs.py): 202 with a task to poll. Each stage is timed into `Timings` (logged
per request, sent as Server-Timing). Exceptions are left to functions/error_map.py.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from ..limits import Busy
from ..timings import Timings
from ..endpoint.hosted import hosted_engine_name, unsupported
from ..endpoint.triton import InferenceFailed, InferenceTimeout, InferenceUnavailable
from .cache_key import CacheKeys
from .guard import Guard
from .jobs import TtsJobs
from .plan import Plan, make_plan
from .render import Renderer
from .replies import Replies
from .request import TtsRequest
from .tasks import TaskBook, TaskRecord
from .voice import DEFAULT_VOICE_ID, Voice, VoiceResolver

HOSTED_FAILURES = (InferenceUnavailable, InferenceTimeout, InferenceFailed)


class Prepared(NamedTuple):
    key: str
    plan: Plan
    voice: Voice
    hit: TaskRecord | None  # the finished result when the cache has it
    endpoint: object = None  # where a miss is synthesized: None for the GPU, else the hosted engine (route.py)


class TtsPipeline:
    def __init__(self, settings, *, guard: Guard, resolver: VoiceResolver, keys: CacheKeys, tasks: TaskBook,
                 renderer: Renderer, replies: Replies, jobs: TtsJobs, history=None, hosted=None,
                 waker=None) -> None:
        self.settings, self.guard, self.resolver, self.keys, self.tasks = settings, guard, resolver, keys, tasks
        self.renderer, self.replies, self.jobs, self.history = renderer, replies, jobs, history
        self.hosted, self.waker = hosted, waker

    def prepare(self, req: TtsRequest, timings: Timings, identity=None, audit: dict | None = None) -> Prepared:
        """Every stage before rendering, shared by the file (`synthesize`) and the stream (streaming.py): a
        refused, limited or invalid request fails here, before any byte of an answer exists."""
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
            key = self.keys.key(plan)
        endpoint = self.route(plan, voice)
        if endpoint is not None:
            key = self.keys.key(plan, engine=hosted_engine_name(self.settings))
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
        return Prepared(key, plan, voice, hit, endpoint)

    def route(self, plan: Plan, voice: Voice):
        """The hosted engine for a miss the sleeping GPU would make wait, when it can serve it; else None."""
        if self.hosted is None or plan.long or not self.renderer.endpoint_cold():
            return None
        if unsupported(plan, self.settings, builtin_voice=voice.voice_id == DEFAULT_VOICE_ID) is not None:
            return None
        return self.hosted

    def synthesize(self, req: TtsRequest, timings: Timings, identity=None, audit: dict | None = None,
                   request_id: str = "", respond_async: bool = False) -> tuple[int, dict]:
        """(HTTP status, body): 200 with the audio, or 202 with a job to poll. `respond_async` (the caller's
        `Prefer: respond-async`): a miss is always a job, for callers with a short ceiling of their own
        (WeChat's callContainer gives up after about 15 s)."""
        audit = {} if audit is None else audit
        key, plan, voice, hit, endpoint = self.prepare(req, timings, identity, audit)
        if hit is not None:
            return 200, self.replies.done(key, hit, cached=True, mode=plan.mode)
        if plan.long or respond_async or (endpoint is None and self.renderer.endpoint_cold()):
            return self.queue(self.keys.key(plan), plan, voice)
        render = self.renderer
        try:
            record, shared = render.once(key, plan.format, lambda: render.render(
                key, plan, plan.text, voice, timings=timings, request_id=request_id,
                slot_wait_s=self.settings.slot_wait_s, endpoint=endpoint))
        except Busy:
            return self.queue(key, plan, voice)  # too busy to answer now
        except HOSTED_FAILURES:
            if endpoint is None:
                raise
            return self.queue(self.keys.key(plan), plan, voice)  # a hosted outage: the GPU's job, never lost
        audit["cache_hit"] = shared
        return 200, self.replies.done(key, record, cached=shared, mode=plan.mode)

    def queue(self, key: str, plan: Plan, voice: Voice) -> tuple[int, dict]:
        return 202, self.replies.queued(key, self.jobs.enqueue(key, plan, voice))

    def job(self, prepared: Prepared) -> tuple[int, dict]:
        """A prepared request as a job for the GPU, under the GPU's key (never the hosted route's)."""
        return self.queue(self.keys.key(prepared.plan), prepared.plan, prepared.voice)
