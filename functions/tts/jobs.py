"""The job side of synthesis: work that does not fit a synchronous request (long texts, misses while the
endpoint sleeps or every GPU slot is taken).

A job is `{"id": task id, "plan": Plan, "voice": reference to the prompt in storage, "requeued": n}`. It is
enqueued once per task (identical requests share it), run by a worker (functions/jobs/worker.py), and its
record says queued -> running -> done | failed. Running a job again finds the stored result, so a job is
never synthesized twice; a task whose job was lost is healed: finished after all, enqueued again from the job
kept in its record, or failed with a truthful reason.
"""

from __future__ import annotations

import logging
import time

from ..errors import ApiError
from ..queues import QueueUnavailable
from .plan import Plan
from .render import Renderer
from .segments import Track, split_text
from .tasks import TaskBook, TaskRecord, TaskStatus
from .voice import Voice, VoiceResolver

log = logging.getLogger(__name__)


class TtsJobs:
    def __init__(self, settings, *, queue, tasks: TaskBook, renderer: Renderer, resolver: VoiceResolver, state,
                 controller=None, clock=time.time) -> None:
        self.settings, self.queue, self.tasks, self.renderer = settings, queue, tasks, renderer
        self.resolver, self.state, self.controller, self._clock = resolver, state, controller, clock

    # -- the request side ---------------------------------------------------------------------------------
    def enqueue(self, key: str, plan: Plan, voice: Voice) -> TaskRecord:
        """Queue the work (once per key: identical requests share the job) and wake the endpoint."""
        record = self.tasks.get(key)
        stale = record is not None and record.active and \
            self._clock() - float(record.heartbeat or 0) > self.settings.job_visibility_s * 3
        outdated = record is not None and record.status is TaskStatus.DONE and self.tasks.done(key) is None
        if record is not None and record.status is not TaskStatus.FAILED and not stale and not outdated:
            return record
        total = len(split_text(plan.text, self.settings.max_text_chars)) if plan.long else 1
        job = {"id": key, "plan": plan.to_json(), "voice": self.resolver.persist(voice)}
        record = TaskRecord(TaskStatus.QUEUED, format=plan.format, mode=plan.mode,
                            progress={"done": 0, "total": total}, heartbeat=self._clock(), job=job)
        self._enqueue(job)  # the job first: a record must never say "queued" for a job no queue holds
        self.tasks.put(key, record)
        if self.controller is not None and self.controller.scales_to_zero:
            try:
                self.controller.start()
            except Exception as exc:  # noqa: BLE001 - the scheduled drain starts it otherwise
                log.warning("could not wake the endpoint: %s", exc)
        return record

    def _enqueue(self, job: dict) -> None:
        try:
            self.queue.enqueue(job)
        except Exception as exc:  # noqa: BLE001 - Redis or SQS errors of any kind
            raise QueueUnavailable(str(exc)) from exc

    # -- the worker side ----------------------------------------------------------------------------------
    def run(self, job: dict) -> None:
        """Run a queued job to completion (the worker acknowledges it afterwards). Idempotent: a result that
        is already stored is only recorded, never synthesized again."""
        key, plan = job["id"], Plan.from_json(job["plan"])
        if self.tasks.finished(key, plan.format, plan.mode):
            return
        voice = self.resolver.from_ref(job["voice"])
        render = self.renderer
        if not plan.long:
            self._progress(job, plan, 0, 1)
            render.once(key, plan.format, lambda: render.render(key, plan, plan.text, voice, slot_wait_s=120))
            return
        segments = split_text(plan.text, self.settings.max_text_chars)
        track = Track()
        for i, segment in enumerate(segments):
            self._progress(job, plan, i, len(segments))
            track.add(segment, render.segment_samples(plan, segment.text, voice))
        record = render.deliver(key, plan, track.pieces, voice, track.parts)
        self.tasks.put(key, record.with_(mode=plan.mode, progress={"done": len(segments), "total": len(segments)}))

    def _progress(self, job: dict, plan: Plan, done: int, total: int) -> None:
        self.tasks.put(job["id"], TaskRecord(TaskStatus.RUNNING, format=plan.format, mode=plan.mode,
                                             progress={"done": done, "total": total}, heartbeat=self._clock(),
                                             job=job))

    def touch(self, job: dict) -> None:
        """A worker holds the job and is alive: its task's heartbeat (renewed while the job runs)."""
        record = self.tasks.get(job["id"])
        if record is not None and not record.active:
            return
        plan = job.get("plan") or {}
        record = record or TaskRecord(TaskStatus.QUEUED, format=plan.get("format"), mode=plan.get("mode"),
                                      progress={"done": 0, "total": 1})
        self.tasks.put(job["id"], record.with_(heartbeat=self._clock(), job=job))

    def note_retry(self, job: dict, attempt: int, reason: str) -> None:
        record = self.tasks.get(job["id"]) or TaskRecord(TaskStatus.QUEUED)
        self.tasks.put(job["id"], record.with_(status=TaskStatus.QUEUED, attempts=attempt, last_error=reason,
                                               heartbeat=self._clock(),
                                               progress=record.progress or {"done": 0, "total": 1}))

    def fail(self, job: dict, error: ApiError) -> None:
        """The job's last attempt failed: the task ends failed, unless another delivery finished it meanwhile
        (a result in storage wins over a failure)."""
        plan = job.get("plan") or {}
        if self.tasks.finished(job["id"], plan.get("format"), plan.get("mode")):
            return
        self.tasks.put(job["id"], TaskRecord.failed(error.code, error.message, error.status))

    # -- healing ------------------------------------------------------------------------------------------
    def heal(self, key: str, record: TaskRecord) -> TaskRecord:
        """A queued or running task nobody has worked on for `job_stale_s` (its job was lost with a queue's
        data, or its worker died): finished after all, re-enqueued from the job kept in its record, or failed
        with a truthful reason once re-enqueuing has not helped."""
        waited = self._clock() - float(record.heartbeat or 0)
        if not record.active or waited <= self.settings.job_stale_s:
            return record
        if (record.status is TaskStatus.QUEUED and waited <= self.settings.job_stale_s * self.settings.job_max_attempts
                and self._backlog()):
            # Waiting behind other jobs is not lost: re-enqueuing it would duplicate the work of an overloaded
            # system (a 30-minute soak re-enqueued 3,022 of 1,911 long texts) and fail it as "lost" after
            # job_max_attempts. A lost job is found once the queue has drained without it, or, should a steady
            # stream of other callers' jobs keep the queue from ever draining, after job_max_attempts stale
            # periods at the latest: nobody's submissions can strand another caller's lost job.
            return record
        done = self.tasks.finished(key, record.format, record.mode)
        if done is not None:
            return done
        token = self.state.acquire(f"heal:{key}", 30)
        if token is None:
            return record  # another process is healing it
        try:
            job = record.job
            requeued = int((job or {}).get("requeued", 0))  # kept in the job: progress records carry it
            if job is None or requeued >= self.settings.job_max_attempts:
                log.warning("task %s lost (requeued %d times)", key[:12], requeued)
                lost = ApiError("job_lost")
                record = TaskRecord.failed(lost.code, lost.message, lost.status)
            else:
                log.warning("task %s has no live job; enqueued again", key[:12])
                job = {**job, "requeued": requeued + 1}
                self._enqueue(job)
                record = record.with_(status=TaskStatus.QUEUED, heartbeat=self._clock(), job=job)
            self.tasks.put(key, record)
            return record
        finally:
            self.state.release(f"heal:{key}", token)

    def _backlog(self) -> bool:
        try:
            return self.queue.depth() > 0
        except Exception:  # noqa: BLE001 - a queue that cannot say cannot take the job again either
            return True

    def heal_stale(self, limit: int = 100) -> int:
        """Heal every active task without a heartbeat for `job_stale_s` (run by workers and the drain)."""
        keys = self.state.stale_active(self._clock() - self.settings.job_stale_s, limit)
        for key in keys:
            record = self.tasks.get(key)
            if record is None:
                self.state.clear_active(key)  # its record expired: nothing to tell anyone
            else:
                self.heal(key, record)
        return len(keys)
