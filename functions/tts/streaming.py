"""The stream stage: a miss is synthesized chunk by chunk through the streaming model, and every chunk goes to
the callers as soon as it exists; the finished result is then encoded and stored under the same cache key, so
the stream is also the cache fill and a repeat is a cache hit.

    prepare (pipeline.py: validate, moderate, limit, voice, key, cache) -> decide (decide.py)
        -> hit: replay the stored file (`replayed`) | miss: join the running stream or start one (live.py)
        -> produce in a thread: cue, segments (streamed), store, done event

Policy, and why:
- The producer runs in its own thread, not in the response: a caller who disconnects does not stop it. The
  GPU time of what was streamed is already paid for; finishing costs only the rest of one request, puts the
  result in the cache (the caller's retry, or anyone's repeat, is then free) and keeps serving callers who
  joined the same stream. It is bounded by STREAM_DEADLINE_S.
- Failures before the first audio (a busy GPU, the model refusing the text, an endpoint that is down) are
  answered as the usual JSON errors: the response waits for the first audio before it commits to a status.
  After it, a failure is an `error` event (SSE) or a cut connection (raw PCM), and the task records it.
- Long texts stream segment by segment (the same segments a job makes, each cached on its own), so an article
  plays after its first segment. Segments keep the stream alive far longer than any single inference; the
  platforms' own limits (API gateways cut a response at 30-60 s) are met by the task id sent first: a caller
  whose connection is cut reads the finished file from GET /v1/tts/{task_id}, because synthesis goes on.
"""

from __future__ import annotations

import logging
import threading
from typing import Iterator

import numpy as np

from inference.contract import OUTPUT_SAMPLE_RATE

from .. import deadline
from ..audio.pcm import decode_delivered, pcm16
from ..cpu import cpu
from ..endpoint.triton import InferenceTimeout
from ..text.markup import parse_markup
from .live import AUDIO, DONE, ERROR, SEGMENT, SEGMENT_END, START, Event, LiveStream, StreamHub
from .pipeline import Prepared
from .plan import Plan
from .render import Renderer, synthesis_input
from .replies import Replies
from .segments import Segment, Track, split_text
from .tasks import TaskBook, TaskRecord, TaskStatus
from .voice import Voice

log = logging.getLogger(__name__)
REPLAY_CHUNK_S = 0.5  # a cached file is streamed in chunks this long


class Streamer:
    def __init__(self, settings, *, renderer: Renderer, tasks: TaskBook, replies: Replies, storage, errors,
                 hub: StreamHub | None = None) -> None:
        self.settings, self.renderer, self.tasks, self.replies = settings, renderer, tasks, replies
        self.storage, self.errors = storage, errors
        self.hub = hub or StreamHub()

    def open(self, prepared: Prepared, request_id: str = "") -> tuple[LiveStream, bool]:
        """(stream, joined) for a miss: the running stream of the same request joined from its start, or a new
        one started. Raises (before any byte) when a new one cannot start (Busy)."""
        key, plan, voice, endpoint = prepared.key, prepared.plan, prepared.voice, prepared.endpoint
        return self.hub.join_or_start(key, lambda live: self._start(live, key, plan, voice, request_id, endpoint))

    def replayed(self, key: str, record: TaskRecord, mode: str | None = None) -> LiveStream:
        """A finished file as a stream that has already ended (a cache hit, for the callers that stream)."""
        live = LiveStream(key)
        live.publish(self._start_event(key))
        self._replay(live, key, mode, record)
        live.close()
        return live

    @staticmethod
    def _start_event(key: str) -> Event:
        return Event(START, {"task_id": key, "sample_rate": OUTPUT_SAMPLE_RATE, "channels": 1,
                             "encoding": "s16le", "poll_url": f"/v1/tts/{key}"})

    def _start(self, live: LiveStream, key: str, plan: Plan, voice: Voice, request_id: str, endpoint=None) -> None:
        try:
            # the cue first: a spoken notice is itself a (cached) synthesis that takes a slot of its own
            extra = self.renderer.cue_audio(plan, voice)
            release = (lambda: None) if endpoint is not None else \
                self.renderer.take_slot(self.settings.slot_wait_s, renewed=True)  # Busy: before any byte
        except Exception as exc:
            self._fail(live, key, exc, record=False)  # callers who joined meanwhile learn it too
            raise
        try:
            live.publish(self._start_event(key))
            self.tasks.put(key, self._running(plan, 0, 1))
            threading.Thread(target=self._run, args=(live, key, plan, voice, extra, request_id, release, endpoint),
                             daemon=True, name=f"stream-{key[:8]}").start()
        except BaseException:
            release()
            raise

    def _running(self, plan: Plan, done: int, total: int) -> TaskRecord:
        """What GET /v1/tts/{task_id} says while the stream runs (its heartbeat renewed at every segment)."""
        return TaskRecord(TaskStatus.RUNNING, format=plan.format, mode=plan.mode,
                          progress={"done": done, "total": total}, heartbeat=self.tasks.now())

    def _run(self, live: LiveStream, key: str, plan: Plan, voice: Voice, extra, request_id: str, release,
             endpoint=None) -> None:
        try:
            with deadline.scope(self.settings.stream_deadline_s):  # a thread of its own: not the request's
                record, shared = self.renderer.once(
                    key, plan.format, lambda: self._produce(live, key, plan, voice, extra, request_id, endpoint))
            if shared:  # made meanwhile by another caller (another process, or a request for the file)
                if self.tasks.done(key) is None:  # this stream marked it running: the task is done after all
                    self.tasks.put(key, record)
                self._replay(live, key, plan.mode, record)
        except Exception as exc:  # noqa: BLE001 - ends this stream with its error, never the process
            self._fail(live, key, exc, record=True)
        finally:
            release()
            self.hub.forget(live)

    def _fail(self, live: LiveStream, key: str, exc: Exception, *, record: bool) -> None:
        error = self.errors(exc)
        if error.status >= 500:
            log.warning("stream %s failed: %s (%s)", key[:12], error.code, error.detail or exc)
        live.publish(Event(ERROR, error=exc))  # readers re-raise it, or frame it through the error map
        if record and self.tasks.done(key) is None:  # the task tells a raw-audio caller what happened
            self.tasks.put(key, TaskRecord.failed(error.code, error.message, error.status))

    def _produce(self, live: LiveStream, key: str, plan: Plan, voice: Voice, extra, request_id: str,
                 endpoint=None) -> TaskRecord:
        cue_at_start = self.settings.aigc_cue_position == "start"
        track = Track(self._audio(live, extra) if extra is not None and cue_at_start else 0.0)
        segments = split_text(plan.text, self.settings.max_text_chars) if plan.long else [Segment(plan.text, 0.0)]
        for index, segment in enumerate(segments):
            if index:
                self.tasks.put(key, self._running(plan, index, len(segments)))
            live.publish(Event(SEGMENT, {"index": index, "text": _shown(segment.text)}))
            samples = self._segment(live, plan, segment.text, voice, request_id, cache=plan.long, endpoint=endpoint)
            start = track.at
            pause = track.add(segment, samples)
            end = start + samples.size / OUTPUT_SAMPLE_RATE
            live.publish(Event(SEGMENT_END, {"index": index, "start": round(start, 3), "end": round(end, 3)}))
            if pause is not None:
                self._audio(live, pause)
        if extra is not None and not cue_at_start:
            self._audio(live, extra)
        record = self.renderer.deliver(key, plan, track.pieces, voice, track.parts, cue_sent=extra) \
            .with_(mode=plan.mode)
        self.tasks.put(key, record)
        if endpoint is None:
            self.renderer.answered()
        live.publish(Event(DONE, self.replies.done(key, record, cached=False, mode=plan.mode)))
        return record

    def _segment(self, live: LiveStream, plan: Plan, text: str, voice: Voice, request_id: str, *,
                 cache: bool, endpoint=None) -> np.ndarray:
        """One segment's speech, streamed as the model makes it (or from the segment cache of long texts)."""
        if cache:
            cached = self.renderer.cached_segment(plan, text)
            if cached is not None:
                self._audio(live, cached)
                return cached
        chunks = []
        item = synthesis_input(plan, text, voice, request_id)
        for chunk in (endpoint or self.renderer.endpoint).stream(item, chunk_timeout_s=self._chunk_timeout()):
            if (deadline.remaining() or 1.0) <= 0:
                raise InferenceTimeout(f"the stream ran past STREAM_DEADLINE_S ({self.settings.stream_deadline_s}s)")
            if chunk.size:
                chunks.append(chunk)
                self._audio(live, chunk)
        if not chunks:
            raise RuntimeError("the model streamed no audio")
        samples = np.concatenate(chunks)
        if cache:
            self.renderer.keep_segment(plan, text, samples)
        return samples

    def _chunk_timeout(self) -> float:
        return deadline.cap(self.settings.triton_request_timeout_s) or 0.05

    @staticmethod
    def _audio(live: LiveStream, samples: np.ndarray) -> float:
        live.publish(Event(AUDIO, audio=pcm16(samples).tobytes()))
        return samples.size / OUTPUT_SAMPLE_RATE

    def _replay(self, live: LiveStream, key: str, mode: str | None, record: TaskRecord) -> None:
        """A finished file as a stream: its audio in chunks, its subtitles as segment events at their places."""
        samples = cpu(decode_delivered, self.storage.get(record.object_key), record.format)
        cues = list(enumerate(record.subtitles or []))
        step = int(REPLAY_CHUNK_S * OUTPUT_SAMPLE_RATE)
        for start in range(0, max(samples.size, 1), step):
            while cues and cues[0][1]["start"] <= (start + step) / OUTPUT_SAMPLE_RATE:
                index, cue = cues.pop(0)
                live.publish(Event(SEGMENT, {"index": index, "text": cue["text"]}))
                live.publish(Event(SEGMENT_END, {"index": index, "start": cue["start"], "end": cue["end"]}))
            live.publish(Event(AUDIO, audio=samples[start:start + step].tobytes()))
        live.publish(Event(DONE, self.replies.done(key, record, cached=True, mode=mode)))


def _shown(text: str) -> str:
    return parse_markup(text, strict=False).plain.strip()


def body_events(live: LiveStream, idle_timeout_s: float) -> Iterator[Event]:
    """The events a response sends, ending after `done` or `error`."""
    for event in live.follow(idle_timeout_s):
        yield event
        if event.kind in (DONE, ERROR):
            return
