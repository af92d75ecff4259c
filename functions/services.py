"""The composition root: every service of the relay, built once from `Settings`.

Each outside system (storage, state, queue, endpoint and its controller, limits, moderation, transcription,
WeChat login) is chosen by the settings and may be passed in instead (tests, embedding). Nothing here starts
a thread or opens a connection: long-running hosts start the job workers themselves (`start_workers`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .asr import build_transcriber
from .audio.decode import DecodeLimits
from .audio.label import label_set
from .auth.tokens import TokenService
from .auth.wechat_login import WeChatLogin
from .connections import ConnectionCaps
from .endpoint import TritonEndpoint
from .endpoint.controller import build_controller
from .endpoint.hosted import HostedEndpoint
from .error_map import ErrorMap, default_error_map
from .queues import build_queue
from .jobs.worker import Worker, WorkerThreads
from .limits import build_limiter
from .moderation import build_chain
from .settings import Settings
from .state import build_state
from .storage import build_storage
from .tts.cache_key import CacheKeys, TaskIdSecret
from .tts.decide import Decider
from .tts.guard import Guard
from .tts.jobs import TtsJobs
from .tts.pipeline import TtsPipeline
from .tts.render import Renderer
from .tts.replies import Replies
from .tts.request import RequestLimits
from .tts.streaming import Streamer
from .tts.tasks import TaskBook
from .tts.route import Waker
from .tts.voice import VoiceResolver
from .warm_hours import MissHistory
from .voices.enroll import Enrollment
from .voices.store import VoiceStore

OUTSIDE = ("storage", "state", "endpoint", "transcriber", "queue", "controller", "limiter", "moderation",
           "wechat_login", "hosted")


@dataclass
class Services:
    settings: Settings
    errors: ErrorMap
    # outside systems
    storage: Any
    state: Any
    endpoint: Any
    queue: Any
    controller: Any
    limiter: Any
    moderation: Any
    transcriber: Any
    wechat_login: WeChatLogin | None
    tokens: TokenService | None
    # the relay's own parts
    request_limits: RequestLimits
    voice_store: VoiceStore
    enrollment: Enrollment
    guard: Guard
    tasks: TaskBook
    renderer: Renderer
    jobs: TtsJobs
    replies: Replies
    tts: TtsPipeline
    streamer: Streamer
    decider: Decider
    connections: ConnectionCaps  # long-lived connections this process holds
    worker: Worker

    def start_workers(self) -> WorkerThreads | None:
        """In-process job workers (WORKER_THREADS), for hosts that live longer than a request."""
        count = self.settings.worker_threads
        return WorkerThreads(self.worker, count).start() if count > 0 else None


def build_services(settings: Settings, *, clock=time.time, **outside) -> Services:
    """Every service from `settings`; any outside system named in OUTSIDE may be passed in instead."""
    unknown = set(outside) - set(OUTSIDE)
    if unknown:
        raise TypeError(f"unknown services: {', '.join(sorted(unknown))}")
    s = settings
    storage = outside.get("storage") or build_storage(s)
    state = outside.get("state") or build_state(s)
    endpoint = outside.get("endpoint") or TritonEndpoint.from_settings(s)
    queue = outside.get("queue") or build_queue(s)
    controller = outside.get("controller") or build_controller(s, endpoint)
    hosted = outside.get("hosted") or (HostedEndpoint(s, storage=storage, state=state, clock=clock)
                                       if s.hosted_engine == "dashscope" else None)
    limiter = outside.get("limiter") or build_limiter(s)
    moderation = outside.get("moderation") or build_chain(s)
    transcriber = outside.get("transcriber") or build_transcriber(s)
    wechat_login = outside.get("wechat_login") or (
        WeChatLogin(s.wechat_appid, s.wechat_secret, api_base=s.wechat_api_base)
        if s.wechat_appid and s.wechat_secret else None)
    errors = default_error_map(s.retry_after_s)
    decode_limits = DecodeLimits.from_settings(s)
    voice_store = VoiceStore(storage)
    tasks = TaskBook(state=state, storage=storage, ttl_s=s.task_ttl_s, labels=label_set(s), clock=clock)
    keys = CacheKeys(s, TaskIdSecret(storage, s.task_id_secret))
    resolver = VoiceResolver(state=state, storage=storage, voice_store=voice_store, decode_limits=decode_limits)
    guard = Guard(limiter=limiter, moderation=moderation)
    renderer = Renderer(s, endpoint=endpoint, storage=storage, state=state, tasks=tasks, keys=keys, limiter=limiter,
                        controller=controller, clock=clock)
    jobs = TtsJobs(s, queue=queue, tasks=tasks, renderer=renderer, resolver=resolver, state=state,
                   controller=controller, clock=clock)
    replies = Replies(s, storage=storage, tasks=tasks, jobs=jobs, clock=clock)
    streamer = Streamer(s, renderer=renderer, tasks=tasks, replies=replies, storage=storage, errors=errors)
    history = MissHistory(state, weeks=s.warm_history_weeks, clock=clock) if s.warm_hours == "learned" else None
    return Services(
        settings=s, errors=errors, storage=storage, state=state, endpoint=endpoint, queue=queue,
        controller=controller, limiter=limiter, moderation=moderation, transcriber=transcriber,
        wechat_login=wechat_login, tokens=TokenService.from_settings(s, state=state),
        request_limits=RequestLimits.from_settings(s),
        voice_store=voice_store,
        enrollment=Enrollment(s, voice_store, transcriber, guard=guard, decode_limits=decode_limits),
        guard=guard, tasks=tasks, renderer=renderer, jobs=jobs, replies=replies,
        tts=TtsPipeline(s, guard=guard, resolver=resolver, keys=keys, tasks=tasks, cold=renderer.endpoint_cold,
                        history=history, hosted=hosted,
                        waker=Waker(s, state=state, controller=controller, clock=clock) if hosted else None),
        streamer=streamer, decider=Decider(s, renderer=renderer, streamer=streamer, jobs=jobs),
        connections=ConnectionCaps.from_settings(s),
        worker=Worker(queue, jobs, controller, errors=errors, max_attempts=s.job_max_attempts,
                      backoff_s=s.job_backoff_s),
    )
