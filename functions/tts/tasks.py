"""Task records: what a task id stands for, with a fixed set of statuses and one JSON form.

Object storage is the truth for finished audio; the state holds the record (a cheap lookup in front of
storage, and progress while a job runs). Queued and running tasks are also kept in the state's active set
with their heartbeat, so tasks whose job was lost can be found and healed (functions/tts/jobs.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace
from enum import Enum

from ..audio import formats
from ..error_codes import CODES, render, status_of
from .cache_key import object_key


class TaskStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        return self in (TaskStatus.QUEUED, TaskStatus.RUNNING)


@dataclass(frozen=True)
class TaskError:
    code: str
    message: str
    status: int = 0  # the HTTP status the failure deserves (for callers that answer with one): the catalog's

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", status_of(self.code) if self.code in CODES else 503)


@dataclass(frozen=True)
class TaskRecord:
    status: TaskStatus
    format: str | None = None
    mode: str | None = None
    object_key: str | None = None  # done
    duration_s: float | None = None  # done
    progress: dict | None = None  # {"done": n, "total": m}
    heartbeat: float | None = None  # queued / running: when its work was last seen alive
    job: dict | None = None  # queued / running: the job, kept so a lost one can be enqueued again
    attempts: int | None = None
    last_error: str | None = None
    error: TaskError | None = None  # failed
    labels: str | None = None  # done: the labels the file carries (functions/audio/label.py `label_set`)
    subtitles: list | None = None  # done: [{"text", "start", "end"}] in the file's seconds (also stored as WebVTT)

    @property
    def active(self) -> bool:
        return self.status.active

    def with_(self, **changes) -> "TaskRecord":
        return replace(self, **changes)

    def to_json(self) -> dict:
        data = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            data[f.name] = value.value if f.name == "status" else \
                ({"code": value.code, "message": value.message, "status": value.status} if f.name == "error"
                 else value)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "TaskRecord":
        known = {f.name for f in fields(cls)}  # other keys (a newer version's) are ignored
        values = {k: v for k, v in data.items() if k in known}
        values["status"] = TaskStatus(data["status"])
        if isinstance(values.get("error"), dict):
            e = values["error"]
            code = e.get("code") or "inference_failed"
            message = e.get("message") or render(code if code in CODES else "inference_failed")
            values["error"] = TaskError(code, message, int(e.get("status") or 0))
        return cls(**values)

    @classmethod
    def done(cls, fmt: str, key: str, duration_s: float, mode: str | None = None, **more) -> "TaskRecord":
        return cls(TaskStatus.DONE, format=fmt, object_key=key, duration_s=duration_s, mode=mode, **more)

    @classmethod
    def failed(cls, code: str, message: str, status: int = 0) -> "TaskRecord":
        return cls(TaskStatus.FAILED, error=TaskError(code, message, status))


class TaskBook:
    """Task records in the state, finished results in storage: reads prefer the record, storage wins.

    A finished file counts only with the labels the deployment asks for now (`labels`: the AIGC settings, see
    functions/audio/label.py): they are not part of the task id (the speech's key), so a file made under other
    settings, or before labels existed, is made again, never served."""

    def __init__(self, *, state, storage, ttl_s: int, labels: str, clock=time.time) -> None:
        self.state, self.storage, self.ttl_s, self.labels, self._clock = state, storage, ttl_s, labels, clock

    def get(self, key: str) -> TaskRecord | None:
        data = self.state.get_task(key)
        return TaskRecord.from_json(data) if data else None

    def now(self) -> float:
        return self._clock()

    def put(self, key: str, record: TaskRecord) -> None:
        """Write a task record; queued and running tasks are also kept in the active set (for healing)."""
        self.state.put_task(key, record.to_json(), self.ttl_s)
        if record.active:
            self.state.mark_active(key, float(record.heartbeat or self._clock()))
        else:
            self.state.clear_active(key)

    def done(self, key: str, labels: str | None = None) -> TaskRecord | None:
        """The record when it says done, with the wanted labels (the cheap check single-flight followers poll)."""
        record = self.get(key)
        return record if record is not None and self._current(record, labels) else None

    def _current(self, record: TaskRecord, labels: str | None = None) -> bool:
        return record.status is TaskStatus.DONE and record.labels == (self.labels if labels is None else labels)

    def stored(self, key: str, fmt: str, labels: str | None = None) -> TaskRecord | None:
        """The result in storage (the truth), whatever the state says; None unless it has the wanted labels."""
        info = self.storage.head(object_key(key, fmt))
        wanted = self.labels if labels is None else labels
        if info is None or info.metadata.get("labels") != wanted:
            return None
        return TaskRecord.done(fmt, info.key, float(info.metadata.get("duration_s", 0) or 0), labels=wanted)

    def lookup(self, key: str, fmt: str) -> TaskRecord | None:
        """A finished task: the state record when present, else the object in storage."""
        return self.done(key) or self.stored(key, fmt)

    def find(self, key: str) -> TaskRecord | None:
        """Any record of the task: the state's (a finished one only with the current labels), else a stored result
        in any format."""
        record = self.get(key)
        if record is not None and record.status is TaskStatus.DONE and not self._current(record):
            record = None
        if record is None:
            for fmt in formats.NAMES:
                record = self.stored(key, fmt)
                if record is not None:
                    break
        return record

    def finished(self, key: str, fmt: str | None, mode: str | None) -> TaskRecord | None:
        """The task's result when storage already has it (recorded as done): it wins over any other state."""
        done = self.stored(key, fmt) if fmt in formats.BY_NAME else None
        if done is not None:
            done = done.with_(mode=mode)
            self.put(key, done)
        return done
