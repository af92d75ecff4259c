"""The one decision of this service: what happens to a prepared request (pipeline.py), for every transport.

    a hit                                                 -> Done (the cached file)
    a miss while the scale-to-zero GPU sleeps and no hosted engine took it
                                                          -> Queued (a job; the GPU is woken)
    a file wanted, and the text is long or the caller prefers async (`Prefer: respond-async`)
                                                          -> Queued
    a stream wanted                                       -> Live (joined or started; its first audio exists)
    a file wanted                                         -> Done (rendered now, once across callers)
    every GPU slot busy, or the hosted engine down before its first audio
                                                          -> Queued for the GPU: the caller has paid, never lost

Transports (functions/api/) call `decide` and only frame its outcome: JSON, SSE, raw audio, WebSocket
messages, OpenAI's speech body. Failures stay exceptions end to end (a stream's producer failure is re-raised
here as itself); functions/error_map.py alone turns them into answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import deadline
from ..endpoint.triton import InferenceFailed, InferenceTimeout, InferenceUnavailable
from ..limits import Busy
from ..timings import Timings
from .jobs import TtsJobs
from .live import ERROR, LiveStream, StreamBroken
from .pipeline import Prepared
from .render import Renderer
from .single_flight import StillRunning
from .streaming import Streamer
from .tasks import TaskRecord

HOSTED_FAILURES = (InferenceUnavailable, InferenceTimeout, InferenceFailed)


@dataclass(frozen=True)
class Done:
    """A finished file: from the cache, shared with another caller, or rendered now."""

    key: str
    record: TaskRecord
    cached: bool  # not made for this request (a hit, or another caller's work it joined)
    mode: str | None = None  # the plan's mode (a record found in storage does not say)


@dataclass(frozen=True)
class Live:
    """A running stream whose first speech exists: the status of the answer can be committed."""

    key: str
    stream: LiveStream


@dataclass(frozen=True)
class Queued:
    """A job to poll, always under the GPU's key."""

    key: str
    record: TaskRecord


Outcome = Done | Live | Queued


class Decider:
    def __init__(self, settings, *, renderer: Renderer, streamer: Streamer, jobs: TtsJobs) -> None:
        self.settings, self.renderer, self.streamer, self.jobs = settings, renderer, streamer, jobs

    def decide(self, prepared: Prepared, timings: Timings, *, stream: bool = False, respond_async: bool = False,
               request_id: str = "", audit: dict | None = None) -> Outcome:
        """The outcome of a prepared request; `stream`: the caller takes the audio as it is made."""
        audit = {} if audit is None else audit
        if prepared.hit is not None:
            return Done(prepared.key, prepared.hit, cached=True, mode=prepared.plan.mode)
        if prepared.endpoint is None and self.renderer.endpoint_cold():
            return self.queue(prepared)
        if not stream and (prepared.plan.long or respond_async):
            return self.queue(prepared)
        try:
            if stream:
                return self._live(prepared, timings, request_id, audit)
            return self._render(prepared, timings, request_id, audit)
        except Busy:
            return self.queue(prepared)  # too busy to answer now
        except HOSTED_FAILURES:
            if prepared.endpoint is None:
                raise
            return self.queue(prepared)  # a hosted outage: the GPU's job

    def queue(self, prepared: Prepared) -> Queued:
        key = prepared.gpu_key or prepared.key
        return Queued(key, self.jobs.enqueue(key, prepared.plan, prepared.voice))

    def _render(self, prepared: Prepared, timings: Timings, request_id: str, audit: dict) -> Done:
        key, plan, render = prepared.key, prepared.plan, self.renderer
        record, shared = render.once(key, plan.format, lambda: render.render(
            key, plan, plan.text, prepared.voice, timings=timings, request_id=request_id,
            slot_wait_s=self.settings.slot_wait_s, endpoint=prepared.endpoint))
        audit["cache_hit"] = shared
        return Done(key, record, cached=shared, mode=plan.mode)

    def _live(self, prepared: Prepared, timings: Timings, request_id: str, audit: dict) -> Live:
        live, joined = self.streamer.open(prepared, request_id)
        audit["cache_hit"] = joined
        with timings.stage("first_audio"):
            first = live.first(deadline.cap(self.settings.request_deadline_s))
        if first is None:  # synthesis goes on into the cache: a retry joins it or finds the file
            raise StillRunning(prepared.key[:12])
        if first.kind == ERROR:
            raise first.error or StreamBroken("the stream failed before any speech")
        return Live(prepared.key, live)
