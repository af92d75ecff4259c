"""In-process queue for the embedded default: the same semantics, not durable across restarts."""

from __future__ import annotations

import threading
import time
import uuid

from .base import Delivery


class MemoryQueue:
    def __init__(self, visibility_s: float = 60.0, clock=time.monotonic) -> None:
        self.visibility_s, self._clock = visibility_s, clock
        self._items: dict[str, dict] = {}  # receipt -> {job, visible_at, attempt}
        self._cond = threading.Condition()

    def enqueue(self, job: dict, delay_s: float = 0, attempt: int = 1) -> None:
        with self._cond:
            self._items[uuid.uuid4().hex] = {"job": job, "visible_at": self._clock() + delay_s, "attempt": attempt}
            self._cond.notify_all()

    def receive(self, max_jobs: int = 1, wait_s: float = 0) -> list[Delivery]:
        deadline = self._clock() + wait_s
        with self._cond:
            while True:
                now = self._clock()
                ready = [(r, it) for r, it in self._items.items() if it["visible_at"] <= now][:max_jobs]
                if ready or now >= deadline:
                    out = []
                    for receipt, item in ready:
                        item["visible_at"] = now + self.visibility_s  # in flight until acked or timed out
                        out.append(Delivery(item["job"], receipt, item["attempt"]))
                        item["attempt"] += 1
                    return out
                self._cond.wait(min(0.05, max(0.0, deadline - now)))

    def ack(self, delivery: Delivery) -> None:
        with self._cond:
            self._items.pop(delivery.receipt, None)

    def retry(self, delivery: Delivery, delay_s: float, count_attempt: bool = True) -> None:
        with self._cond:
            item = self._items.get(delivery.receipt)
            if item is not None:
                item["visible_at"] = self._clock() + delay_s
                item["attempt"] = delivery.attempt + (1 if count_attempt else 0)
                self._cond.notify_all()

    def extend(self, delivery: Delivery) -> bool:
        with self._cond:
            item = self._items.get(delivery.receipt)
            if item is None:
                return False
            item["visible_at"] = self._clock() + self.visibility_s
            return True

    def ping(self) -> None:
        return None

    def depth(self) -> int:
        with self._cond:
            return len(self._items)
