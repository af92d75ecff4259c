"""A Redis stream with a consumer group (see the package docstring for reclaiming and healing)."""

from __future__ import annotations

import json
import logging
import time
import uuid

from .base import Delivery

log = logging.getLogger(__name__)


class RedisStreamQueue:
    def __init__(self, client, name: str = "cvr:jobs", group: str = "workers", consumer: str | None = None,
                 visibility_s: float = 60.0, clock=time.time) -> None:
        self.r, self.stream, self.group = client, name, group
        self.consumer = consumer or f"c-{uuid.uuid4().hex[:8]}"
        self.visibility_s, self._clock = visibility_s, clock
        self.delayed = f"{name}:delayed"  # sorted set of jobs waiting for their backoff to pass
        self._group_ready = False

    def _ensure_group(self) -> None:
        if not self._group_ready:
            import redis

            try:
                self.r.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._group_ready = True

    def _grouped(self, fn, *args, **kwargs):
        """Run a group command; when Redis lost the group (NOGROUP), recreate it and run the command again."""
        import redis

        self._ensure_group()
        try:
            return fn(*args, **kwargs)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("job queue: consumer group lost (Redis data lost?); recreating it")
            self._group_ready = False
            self._ensure_group()
            return fn(*args, **kwargs)

    def enqueue(self, job: dict, delay_s: float = 0, attempt: int = 1) -> None:
        self._ensure_group()
        payload = json.dumps({"job": job, "attempt": attempt}, ensure_ascii=False)
        if delay_s > 0:
            self.r.zadd(self.delayed, {payload: self._clock() + delay_s})
        else:
            self.r.xadd(self.stream, {"p": payload})

    def _promote_delayed(self) -> None:
        """Move jobs whose backoff has passed into the stream (atomically: only one mover wins each)."""
        now = self._clock()
        for payload in self.r.zrangebyscore(self.delayed, "-inf", now, start=0, num=100):
            if self.r.zrem(self.delayed, payload):
                self.r.xadd(self.stream, {"p": payload})

    def receive(self, max_jobs: int = 1, wait_s: float = 0) -> list[Delivery]:
        self._ensure_group()
        self._promote_delayed()
        idle_ms = int(self.visibility_s * 1000)
        # first, work a dead consumer left behind (pending longer than the visibility timeout)
        _next, claimed, *_ = self._grouped(self.r.xautoclaim, self.stream, self.group, self.consumer, idle_ms,
                                           "0-0", count=max_jobs)
        entries = [(eid, fields) for eid, fields in claimed if fields]
        reclaimed = bool(entries)
        if not entries:
            block = int(wait_s * 1000) if wait_s > 0 else None
            response = self._grouped(self.r.xreadgroup, self.group, self.consumer, {self.stream: ">"},
                                     count=max_jobs, block=block)
            entries = [e for _stream, items in (response or []) for e in items]
        out = []
        for eid, fields in entries:
            data = json.loads(fields[b"p"] if b"p" in fields else fields["p"])
            receipt = eid.decode() if isinstance(eid, bytes) else eid
            attempt = data["attempt"]
            if reclaimed:  # its worker died (or stalled) holding it: that attempt counts
                pending = self.r.xpending_range(self.stream, self.group, min=receipt, max=receipt, count=1)
                attempt += max(0, int(pending[0]["times_delivered"]) - 1) if pending else 1
            out.append(Delivery(data["job"], receipt, attempt))
        return out

    def extend(self, delivery: Delivery) -> bool:
        # XCLAIM with min-idle 0 by the same consumer resets the entry's idle time: not reclaimable for now
        claimed = self._grouped(self.r.xclaim, self.stream, self.group, self.consumer, 0, [delivery.receipt],
                                justid=True)
        return bool(claimed)

    def ping(self) -> None:
        self._group_ready = False  # check for real: the group may be gone although this process made it
        self._ensure_group()

    def ack(self, delivery: Delivery) -> None:
        self._grouped(self.r.xack, self.stream, self.group, delivery.receipt)
        self.r.xdel(self.stream, delivery.receipt)

    def retry(self, delivery: Delivery, delay_s: float, count_attempt: bool = True) -> None:
        self.enqueue(delivery.job, delay_s, delivery.attempt + (1 if count_attempt else 0))
        self.ack(delivery)

    def depth(self) -> int:
        self._ensure_group()
        return int(self.r.xlen(self.stream)) + int(self.r.zcard(self.delayed))
