"""In-process state for the embedded default (one process; gunicorn workers each have their own).

Bounded by size and by time: task records (at most `max_tasks`, the oldest finished one written first out: a
job still queued or running keeps its record, or its caller's polls would say it is gone) and aliases
(their own bound, so a burst of tasks never evicts `last_inference` or a voice mapping) expire after their
TTL, and expired entries are swept every SWEEP_EVERY writes, not only when read: TASK_TTL_S bounds memory."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict


SWEEP_EVERY = 256
ACTIVE = ("queued", "running")  # a task's statuses while its job can still finish (functions/tts/tasks.py)


class MemoryState:
    def __init__(self, max_tasks: int = 10000, max_aliases: int = 100000, clock=time.monotonic) -> None:
        self._lock = threading.Lock()
        self._tasks: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._aliases: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._locks: dict[str, tuple[str, float]] = {}
        self._active: dict[str, float] = {}
        self._max_tasks, self._max_aliases = max_tasks, max_aliases
        self._clock = clock
        self._writes = 0

    def _put(self, table: OrderedDict, key: str, value, ttl_s: float, limit: int, keep=None) -> None:
        """Write `key`; over `limit`, the oldest entry goes, passing over those `keep` holds (unless all are)."""
        table[key] = (self._clock() + ttl_s, value)
        table.move_to_end(key)
        while len(table) > limit:
            victim = next((k for k, (_, v) in table.items() if keep is None or not keep(v)), None)
            del table[next(iter(table)) if victim is None else victim]
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            self._sweep()

    def _sweep(self) -> None:
        """Drop what has expired (called with the lock held)."""
        now = self._clock()
        for table in (self._tasks, self._aliases):
            for key in [k for k, (expiry, _) in table.items() if expiry < now]:
                del table[key]
        for name in [n for n, (_, expiry) in self._locks.items() if expiry <= now]:
            del self._locks[name]

    def sizes(self) -> dict:
        with self._lock:
            return {"tasks": len(self._tasks), "aliases": len(self._aliases), "locks": len(self._locks)}

    def _get(self, table: OrderedDict, key: str):
        """The live value under `key`, or None (an expired one is dropped on the way)."""
        with self._lock:
            item = table.get(key)
            if item is None:
                return None
            if item[0] < self._clock():
                del table[key]
                return None
            return item[1]

    def get_task(self, task_id: str) -> dict | None:
        record = self._get(self._tasks, task_id)
        return None if record is None else dict(record)

    def put_task(self, task_id: str, record: dict, ttl_s: int) -> None:
        with self._lock:
            self._put(self._tasks, task_id, dict(record), ttl_s, self._max_tasks,
                      keep=lambda r: r.get("status") in ACTIVE)

    def acquire(self, name: str, ttl_s: float) -> str | None:
        now = self._clock()
        with self._lock:
            held = self._locks.get(name)
            if held is not None and held[1] > now:
                return None
            token = uuid.uuid4().hex
            self._locks[name] = (token, now + ttl_s)
            return token

    def release(self, name: str, token: str) -> None:
        with self._lock:
            if self._locks.get(name, (None,))[0] == token:
                del self._locks[name]

    def extend(self, name: str, token: str, ttl_s: float) -> bool:
        with self._lock:
            held = self._locks.get(name)
            if held is None or held[0] != token or held[1] <= self._clock():
                return False
            self._locks[name] = (token, self._clock() + ttl_s)
            return True

    def is_locked(self, name: str) -> bool:
        with self._lock:
            held = self._locks.get(name)
            return held is not None and held[1] > self._clock()

    def mark_active(self, task_id: str, heartbeat: float) -> None:
        with self._lock:
            self._active[task_id] = heartbeat

    def clear_active(self, task_id: str) -> None:
        with self._lock:
            self._active.pop(task_id, None)

    def stale_active(self, before: float, limit: int = 100) -> list[str]:
        with self._lock:
            return [t for t, at in self._active.items() if at < before][:limit]

    def get_alias(self, name: str) -> str | None:
        return self._get(self._aliases, name)

    def set_alias(self, name: str, value: str, ttl_s: int) -> None:
        with self._lock:
            self._put(self._aliases, name, value, ttl_s, self._max_aliases)

    def ping(self) -> None:
        return None
