"""In-process state for the embedded default (one process; gunicorn workers each have their own).

Bounded by size and by time: task records (at most `max_tasks`, see `TaskTable`) and aliases (their own bound,
so a burst of tasks never evicts `last_inference` or a voice mapping) expire after their TTL, and expired
entries are swept every SWEEP_EVERY writes, not only when read: TASK_TTL_S bounds memory."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict


SWEEP_EVERY = 256
ACTIVE = ("queued", "running")  # a task's statuses while its job can still finish (functions/tts/tasks.py)
FINISHED_SHARE = 0.1  # of max_tasks kept for finished records however many jobs wait


class TaskTable:
    """Task records by status, each in write order. Over the bound, the oldest finished record goes first: a
    job still queued or running keeps its record (its caller's polls would otherwise say it is gone). Active
    records keep at most `limit - reserve` places, so a result just written (a failure's reason, a done job's
    subtitles) outlives the next writes even when jobs fill the table. Every operation is O(1) but the sweep.
    Called with the state's lock held."""

    def __init__(self, limit: int) -> None:
        self.limit, self.reserve = limit, max(1, int(limit * FINISHED_SHARE)) if limit > 1 else 0
        self.active: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self.finished: OrderedDict[str, tuple[float, dict]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.active) + len(self.finished)

    def items(self) -> list[tuple[str, tuple[float, dict]]]:
        return [*self.active.items(), *self.finished.items()]

    def get(self, key: str, now: float) -> dict | None:
        for table in (self.active, self.finished):
            item = table.get(key)
            if item is not None:
                if item[0] < now:
                    del table[key]
                    return None
                return item[1]
        return None

    def put(self, key: str, record: dict, expiry: float, now: float) -> None:
        self.active.pop(key, None)
        self.finished.pop(key, None)
        (self.active if record.get("status") in ACTIVE else self.finished)[key] = (expiry, record)
        while len(self) > self.limit:
            self._evict(now)

    def _evict(self, now: float) -> None:
        oldest_active = next(iter(self.active.items()), None)
        if oldest_active is not None and (oldest_active[1][0] < now or not self.finished
                                          or len(self.active) > self.limit - self.reserve):
            self.active.popitem(last=False)  # expired, or active records past their share
        else:
            self.finished.popitem(last=False)

    def sweep(self, now: float) -> None:
        for table in (self.active, self.finished):
            for key in [k for k, (expiry, _) in table.items() if expiry < now]:
                del table[key]


class MemoryState:
    def __init__(self, max_tasks: int = 10000, max_aliases: int = 100000, clock=time.monotonic) -> None:
        self._lock = threading.Lock()
        self._tasks = TaskTable(max_tasks)
        self._aliases: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._locks: dict[str, tuple[str, float]] = {}
        self._active: dict[str, float] = {}
        self._max_aliases = max_aliases
        self._clock = clock
        self._writes = 0

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            self._sweep()

    def _sweep(self) -> None:
        """Drop what has expired (called with the lock held)."""
        now = self._clock()
        self._tasks.sweep(now)
        for key in [k for k, (expiry, _) in self._aliases.items() if expiry < now]:
            del self._aliases[key]
        for name in [n for n, (_, expiry) in self._locks.items() if expiry <= now]:
            del self._locks[name]

    def sizes(self) -> dict:
        with self._lock:
            return {"tasks": len(self._tasks), "aliases": len(self._aliases), "locks": len(self._locks)}

    def get_task(self, task_id: str) -> dict | None:
        with self._lock:
            record = self._tasks.get(task_id, self._clock())
        return None if record is None else dict(record)

    def put_task(self, task_id: str, record: dict, ttl_s: int) -> None:
        with self._lock:
            now = self._clock()
            self._tasks.put(task_id, dict(record), now + ttl_s, now)
            self._wrote()

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
        with self._lock:
            item = self._aliases.get(name)
            if item is None:
                return None
            if item[0] < self._clock():
                del self._aliases[name]
                return None
            return item[1]

    def set_alias(self, name: str, value: str, ttl_s: int) -> None:
        with self._lock:
            self._aliases[name] = (self._clock() + ttl_s, value)
            self._aliases.move_to_end(name)
            while len(self._aliases) > self._max_aliases:
                self._aliases.popitem(last=False)
            self._wrote()

    def ping(self) -> None:
        return None
