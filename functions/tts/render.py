"""The render stage: infer -> encode -> store, once per cache key across callers (single-flight), within a
global cap on in-flight misses (GPU slots).

Long texts are rendered segment by segment, each cached on its own as lossless pcm (`segment_samples`), so a
retried job resumes where it stopped. Whether a scale-to-zero endpoint is cold is also judged here: it just
answered, or the controller says so (checked at most every 2 s).
"""

from __future__ import annotations

import contextlib
import logging
import time
from contextlib import contextmanager
from typing import Callable

import numpy as np

from inference.contract import OUTPUT_SAMPLE_RATE

from .. import deadline
from ..audio import cue
from ..audio.encode import encode, encode_pcm
from ..audio.label import AigcLabel, label_for
from ..audio.pcm import from_pcm16, pcm16_joined
from ..cpu import cpu
from ..endpoint.controller import READY
from ..endpoint.triton import SynthesisInput
from ..lease import Renewer
from ..limits import Busy
from ..storage import ObjectNotFound
from ..timings import Timings
from .cache_key import CacheKeys, object_key, subtitles_key
from .plan import Plan
from .single_flight import SingleFlight
from .subtitles import timeline, to_vtt
from .tasks import TaskBook, TaskRecord
from .voice import Voice

log = logging.getLogger(__name__)
LAST_INFERENCE = "last_inference"  # state alias: when the endpoint last answered (scale-down reads it)
NOTICE_TEXT = "本音频由人工智能生成。"  # AIGC_CUE=notice: spoken in the request's own voice, cached per voice
NOTICE_SEED = 0  # the notice is made once per voice: a fixed seed, whatever the request's
VTT_TYPE = "text/vtt; charset=utf-8"
SPEECH = "speech"  # internal speech segments: their cache key's format, and their (absent) labels


def notice_plan(voice: Voice) -> Plan:
    """What the spoken notice is made from: the voice alone (its recording, and its transcript where it has
    one), at speed 1, a fixed seed, no style. The request's seed, speed, style and transcript play no part, so
    every request in a voice shares one synthesis of it (a fresh seed is no second model call)."""
    mode = "zero_shot" if voice.transcript else "cross_lingual"
    return Plan(NOTICE_TEXT, mode, "", voice.transcript, 1.0, NOTICE_SEED, "pcm", voice.voice_hash)


def synthesis_input(plan: Plan, text: str, voice: Voice, request_id: str = "") -> SynthesisInput:
    """What the model is asked for one text of a plan (the whole text, or one segment of a long one)."""
    return SynthesisInput(text=text, reference_wav=voice.samples(), reference_text=plan.prompt_text or None,
                          mode=plan.mode, instruct_text=plan.instruct or None, speed=plan.speed, seed=plan.seed,
                          voice_key=plan.voice_hash, request_id=request_id)


class Renderer:
    def __init__(self, settings, *, endpoint, storage, state, tasks: TaskBook, keys: CacheKeys, limiter=None,
                 controller=None, clock=time.time, sleep=time.sleep) -> None:
        self.settings, self.endpoint, self.storage, self.state = settings, endpoint, storage, state
        self.tasks, self.keys, self.limiter, self.controller = tasks, keys, limiter, controller
        self._clock, self._sleep = clock, sleep
        self.flight = SingleFlight(state, wait_s=settings.single_flight_wait_s)  # leader renews a short lock
        self._cold_checked = (-1e9, False)

    def render(self, key: str, plan: Plan, text: str, voice: Voice, *, fmt: str | None = None,
               timings: Timings | None = None, request_id: str = "", slot_wait_s: float = 0.0,
               deliverable: bool = True, endpoint=None) -> TaskRecord:
        """Synthesize, encode and store one result; its record is written as done. A deliverable result carries
        the AIGC labels; an internal one (a segment of a long text) is speech only. `endpoint`: the hosted
        engine instead of the GPU (no GPU slot, and it says nothing about the GPU being warm)."""
        timings = timings or Timings()
        fmt = fmt or plan.format
        hosted = endpoint is not None
        with (contextlib.nullcontext() if hosted else self.gpu_slot(slot_wait_s)), timings.stage("infer"):
            samples = (endpoint or self.endpoint).synthesize(synthesis_input(plan, text, voice, request_id))
        if deliverable:
            record = self.deliver(key, plan, [samples], voice, [(text, samples.size / OUTPUT_SAMPLE_RATE, 0.0)],
                                  fmt=fmt, timings=timings)
        else:
            with timings.stage("encode"):
                audio = cpu(encode, samples, OUTPUT_SAMPLE_RATE, fmt, mp3_bitrate=self.settings.mp3_bitrate)
            with timings.stage("store"):
                record = self.store(key, fmt, audio, labels=SPEECH, labelled=False)
        record = record.with_(mode=plan.mode)
        self.tasks.put(key, record)
        if not hosted:
            self.answered()
        return record

    def answered(self) -> None:
        """The endpoint just answered: it is warm, whatever was cached, and scale-down counts from now."""
        self._cold_checked = (time.monotonic(), False)
        self.state.set_alias(LAST_INFERENCE, str(self._clock()), 30 * 86400)

    def deliver(self, key: str, plan: Plan, speech: list[np.ndarray], voice: Voice,
                parts: list[tuple[str, float, float]], *, fmt: str | None = None,
                timings: Timings | None = None, cue_sent: np.ndarray | None = None) -> TaskRecord:
        """The file a caller gets from finished speech (its pieces in order: segments and pauses, never joined
        as floats: a long text's speech is held once, plus its s16 file): the explicit cue, the implicit label
        and the subtitles (`parts`: each segment's text, seconds and pause after), stored. `cue_sent`: the cue a
        stream already played, so the file holds exactly what was heard (a spoken notice made again could differ)."""
        timings = timings or Timings()
        with timings.stage("label"):
            pieces, offset = self.with_cue(speech, plan, voice, cue_sent)
        with timings.stage("encode"):
            audio = cpu(encode_pcm, cpu(pcm16_joined, pieces), OUTPUT_SAMPLE_RATE, fmt or plan.format,
                        mp3_bitrate=self.settings.mp3_bitrate, label=self.label(key))
        with timings.stage("store"):
            subtitles = timeline(parts, offset)
            self.storage.put(subtitles_key(key), to_vtt(subtitles).encode("utf-8"), VTT_TYPE, {})
            return self.store(key, fmt or plan.format, audio, labels=self.tasks.labels).with_(subtitles=subtitles)

    def label(self, key: str) -> AigcLabel:
        return label_for(self.settings, key)

    def with_cue(self, speech: list[np.ndarray], plan: Plan, voice: Voice,
                 extra: np.ndarray | None = None) -> tuple[list[np.ndarray], float]:
        """The speech's pieces with the explicit label a listener hears (AIGC_CUE, AIGC_CUE_POSITION), and the
        seconds the speech now starts at."""
        extra = self.cue_audio(plan, voice) if extra is None else extra
        if extra is None:
            return speech, 0.0
        if self.settings.aigc_cue_position == "start":
            return [extra, *speech], extra.size / OUTPUT_SAMPLE_RATE
        return [*speech, extra], 0.0

    def cue_audio(self, plan: Plan, voice: Voice) -> np.ndarray | None:
        """The cue with its pause, in the order it joins the speech (before it at the start, after it at the
        end); None when no cue is set. A stream plays exactly this where the stored file has it."""
        kind = self.settings.aigc_cue
        if kind == "none":
            return None
        sound = cue.rhythm(OUTPUT_SAMPLE_RATE) if kind == "rhythm" else \
            self.segment_samples(notice_plan(voice), NOTICE_TEXT, voice)
        pause = cue.gap(OUTPUT_SAMPLE_RATE)
        parts = [sound, pause] if self.settings.aigc_cue_position == "start" else [pause, sound]
        return np.concatenate(parts).astype(np.float32)

    def store(self, key: str, fmt: str, audio, *, labels: str, labelled: bool = True) -> TaskRecord:
        okey = object_key(key, fmt)
        metadata = {"duration_s": f"{audio.duration_s}", "sample_rate": str(audio.sample_rate), "labels": labels}
        if labelled:  # a delivered file (internal speech segments are not)
            metadata["aigc"] = self.label(key).header()
        self.storage.put(okey, audio.data, audio.content_type, metadata)
        return TaskRecord.done(fmt, okey, audio.duration_s, labels=labels)

    def once(self, key: str, fmt: str, compute: Callable[[], TaskRecord], *,
             labels: str | None = None) -> tuple[TaskRecord, bool]:
        """(record, shared): compute the result unless another caller already does (then share theirs)."""
        return self.flight.run(key, lambda: self.tasks.done(key, labels), compute,
                               lambda: self.tasks.stored(key, fmt, labels))

    def segment_samples(self, plan: Plan, text: str, voice: Voice) -> np.ndarray:
        """One segment's 24 kHz speech, cached on its own as lossless pcm. Its key names the format `speech`: a
        caller's pcm request for the same text is a delivered file (labelled, with the cue), never this."""
        key = self.keys.key(plan, text=text, fmt=SPEECH)
        okey = object_key(key, "pcm")
        record, _ = self.once(key, "pcm", lambda: self.render(key, plan, text, voice, fmt="pcm", slot_wait_s=120,
                                                              deliverable=False), labels=SPEECH)
        try:
            data = self.storage.get(record.object_key or okey)
        except ObjectNotFound:
            self.render(key, plan, text, voice, fmt="pcm", deliverable=False)
            data = self.storage.get(okey)
        return from_pcm16(data)

    def cached_segment(self, plan: Plan, text: str) -> np.ndarray | None:
        """A segment's speech when it is already cached (by a job or an earlier stream), else None."""
        key = self.keys.key(plan, text=text, fmt=SPEECH)
        record = self.tasks.done(key, SPEECH)
        if record is None:
            return None
        try:
            return from_pcm16(self.storage.get(record.object_key or object_key(key, "pcm")))
        except ObjectNotFound:
            return None

    def keep_segment(self, plan: Plan, text: str, samples: np.ndarray) -> None:
        """Cache a streamed segment's speech as `segment_samples` would have, so jobs and streams share it."""
        key = self.keys.key(plan, text=text, fmt=SPEECH)
        record = self.store(key, "pcm", encode(samples, OUTPUT_SAMPLE_RATE, "pcm"), labels=SPEECH, labelled=False)
        self.tasks.put(key, record.with_(mode=plan.mode))

    @contextmanager
    def gpu_slot(self, wait_s: float = 0.0):
        """A global cap on in-flight misses: a burst cannot queue unbounded GPU work."""
        release = self.take_slot(wait_s)
        try:
            yield
        finally:
            release()

    def take_slot(self, wait_s: float = 0.0, *, renewed: bool = False) -> Callable[[], None]:
        """Take a GPU slot (waiting at most `wait_s`, else Busy) and return what gives it back. `renewed`: for
        work of no fixed length (a stream), the slot's lease is short and renewed while held, so a process
        that dies gives its slot back within a minute, and a long stream never outlives its slot."""
        if self.limiter is None:
            return lambda: None
        ttl = self.settings.triton_request_timeout_s * (self.settings.triton_retries + 1) + 10
        until = time.monotonic() + deadline.cap(wait_s)
        while (token := self.limiter.acquire_slot(ttl)) is None:
            if time.monotonic() >= until:
                raise Busy()
            self._sleep(0.2)
        renewer = None
        if renewed:
            renewer = Renewer(lambda: self.limiter.extend_slot(token, ttl), ttl / 3, what="gpu slot").__enter__()

        def release() -> None:
            if renewer is not None:
                renewer.__exit__(None, None, None)
            self.limiter.release_slot(token)
        return release

    def endpoint_cold(self) -> bool:
        """True when a scale-to-zero endpoint is not ready: misses become jobs and the endpoint is woken.
        (A static endpoint that is down is an outage, answered 503, not a reason to queue.)"""
        if self.controller is None or not self.controller.scales_to_zero:
            return False
        checked_at, cold = self._cold_checked
        if time.monotonic() - checked_at > 2.0:
            try:
                cold = self.controller.state() != READY
            except Exception as exc:  # noqa: BLE001 - a failing cloud API: queue rather than fail
                log.warning("endpoint state unknown: %s", exc)
                cold = True
            self._cold_checked = (time.monotonic(), cold)
        return cold
