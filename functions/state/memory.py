"""In-process state for the embedded default (one process; gunicorn workers each have their own)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict


class MemoryState:
    def __init__(self, max_tasks: int = 10000, clock=time.monotonic) -> None:
        self._lock = threading.Lock()
        self._tasks: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._locks: dict[str, tuple[str, float]] = {}
        self._active: dict[str, float] = {}
        self._max_tasks = max_tasks
        self._clock = clock

    def get_task(self, task_id: str) -> dict | None:
        with self._lock:
            item = self._tasks.get(task_id)
            if item is None:
                return None
            if item[0] < self._clock():
                del self._tasks[task_id]
                return None
            return dict(item[1])

    def put_task(self, task_id: str, record: dict, ttl_s: int) -> None:
        with self._lock:
            self._tasks[task_id] = (self._clock() + ttl_s, dict(record))
            self._tasks.move_to_end(task_id)
            while len(self._tasks) > self._max_tasks:
                self._tasks.popitem(last=False)

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
        record = self.get_task(f"alias:{name}")
        return None if record is None else record["v"]

    def set_alias(self, name: str, value: str, ttl_s: int) -> None:
        self.put_task(f"alias:{name}", {"v": value}, ttl_s)

    def ping(self) -> None:
        return None
