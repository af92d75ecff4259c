"""What callers are told about a task: the finished audio (a URL), a job to poll, or a failure; and
GET /v1/tts/{task_id}, which reads a task (healing a lost job on the way)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from ..audio.label import label_for
from ..error_codes import DEFAULT_LANGUAGE
from ..errors import NotFound, recorded_text
from .cache_key import is_task_id, subtitles_key
from .jobs import TtsJobs
from .tasks import TaskBook, TaskError, TaskRecord, TaskStatus

JOB_POLL_S = 2


class TaskFailed(Exception):
    """A task that failed, for callers that answer with an HTTP status: its recorded failure (None when it
    recorded none, then the error map says inference_failed)."""

    def __init__(self, error: TaskError | None) -> None:
        super().__init__(error.code if error else "task failed")
        self.error = error


class Replies:
    def __init__(self, settings, *, storage, tasks: TaskBook, jobs: TtsJobs, clock=time.time) -> None:
        self.settings, self.storage, self.tasks, self.jobs, self._clock = settings, storage, tasks, jobs, clock

    def done(self, key: str, record: TaskRecord, cached: bool, mode: str | None = None) -> dict:
        url, lifetime = self.storage.url(record.object_key)
        expires_at = None
        if lifetime:
            expires_at = (datetime.fromtimestamp(self._clock(), timezone.utc) + timedelta(seconds=lifetime)) \
                .isoformat(timespec="seconds").replace("+00:00", "Z")
        body = {"task_id": key, "status": TaskStatus.DONE.value, "audio_url": url, "duration_s": record.duration_s,
                "format": record.format, "cached": cached, "expires_at": expires_at,
                "aigc": label_for(self.settings, key).fields(),  # the file's implicit label (pcm has no other)
                "subtitles_url": self.storage.url(subtitles_key(key))[0]}
        if record.subtitles is not None:
            body["subtitles"] = record.subtitles
        mode = mode or record.mode
        if mode:
            body["mode"] = mode
        return body

    @staticmethod
    def queued(key: str, record: TaskRecord) -> dict:
        return {"task_id": key, "status": record.status.value, "poll_url": f"/v1/tts/{key}",
                "retry_after_s": JOB_POLL_S, "progress": record.progress}

    def read(self, task_id: str, lang: str = DEFAULT_LANGUAGE) -> dict:
        """GET /v1/tts/{task_id}: done, failed (its message in `lang`), or still queued / running."""
        if not is_task_id(task_id):
            raise NotFound("task_not_found")
        record = self.tasks.find(task_id)
        if record is None:
            raise NotFound("task_not_found")
        if record.active:
            record = self.jobs.heal(task_id, record)  # a lost job is found by the next poll at the latest
        if record.status is TaskStatus.DONE:
            return self.done(task_id, record, cached=True)
        if record.status is TaskStatus.FAILED:
            error = record.error
            return {"task_id": task_id, "status": TaskStatus.FAILED.value,
                    "error": {"code": error.code, "message": recorded_text(error.code, error.message, lang)}
                    if error else {}}
        return self.queued(task_id, record)
