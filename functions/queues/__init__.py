"""Durable job queues with acknowledgement: a job is removed only when a worker acknowledges it, so a worker
that dies mid-job loses nothing (its job becomes visible again after the visibility timeout).

- `MemoryQueue`: in-process, for the embedded default (same semantics, not durable across restarts).
- `RedisStreamQueue`: a Redis stream with a consumer group; pending entries idle longer than the visibility
  timeout are reclaimed with XAUTOCLAIM (a reclaim counts as an attempt). When Redis lost its data (a
  failover to a replica without persistence, a FLUSHALL), the next call that meets NOGROUP recreates the
  group from the start of the stream, so jobs enqueued since still run.
- `SqsQueue`: AWS SQS via boto3 (visibility timeout, ApproximateReceiveCount, ChangeMessageVisibility).

Retries with backoff: `retry(delivery, delay_s)` makes the job visible again later with attempt + 1.
Leases: `extend(delivery)` keeps a delivery invisible for another visibility timeout; the worker renews it
while the job runs, so a slow job is never delivered twice at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class QueueUnavailable(Exception):
    """The queue refused or could not take a job (a Redis or SQS error of any kind)."""


@dataclass
class Delivery:
    job: dict
    receipt: str
    attempt: int = 1


class JobQueue(Protocol):
    def enqueue(self, job: dict, delay_s: float = 0) -> None: ...

    def receive(self, max_jobs: int = 1, wait_s: float = 0) -> list[Delivery]: ...

    def ack(self, delivery: Delivery) -> None: ...

    def retry(self, delivery: Delivery, delay_s: float, count_attempt: bool = True) -> None: ...

    def extend(self, delivery: Delivery) -> bool:
        """Keep the delivery invisible for another visibility timeout; False when it was lost meanwhile."""

    def ping(self) -> None:
        """Raise when the queue cannot be used (readiness); repairs what it can (a lost consumer group)."""

    def depth(self) -> int:
        """Jobs waiting or in flight (a scale-down must not stop an endpoint with work)."""


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


class SqsQueue:
    def __init__(self, client, queue_url: str, visibility_s: int = 60) -> None:
        self.sqs, self.url, self.visibility_s = client, queue_url, visibility_s

    def enqueue(self, job: dict, delay_s: float = 0, attempt: int = 1) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps({"job": job, "attempt": attempt}),
                              DelaySeconds=int(min(900, max(0, delay_s))))

    def receive(self, max_jobs: int = 1, wait_s: float = 0) -> list[Delivery]:
        r = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=min(10, max_jobs),
                                     WaitTimeSeconds=int(min(20, wait_s)), VisibilityTimeout=self.visibility_s,
                                     AttributeNames=["ApproximateReceiveCount"])
        out = []
        for m in r.get("Messages", []):
            data = json.loads(m["Body"])
            receives = int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            out.append(Delivery(data["job"], m["ReceiptHandle"], data.get("attempt", 1) + receives - 1))
        return out

    def ack(self, delivery: Delivery) -> None:
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=delivery.receipt)

    def extend(self, delivery: Delivery) -> bool:
        try:
            self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=delivery.receipt,
                                               VisibilityTimeout=self.visibility_s)
            return True
        except Exception:  # noqa: BLE001 - the receipt expired or the message is gone
            return False

    def ping(self) -> None:
        self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])

    def retry(self, delivery: Delivery, delay_s: float, count_attempt: bool = True) -> None:
        self.enqueue(delivery.job, delay_s, delivery.attempt + (1 if count_attempt else 0))
        self.ack(delivery)

    def depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])
        return sum(int(v) for v in attrs.get("Attributes", {}).values())


def build_queue(settings, redis_client=None):
    if settings.job_queue == "sqs":
        import boto3

        return SqsQueue(boto3.client("sqs", region_name=settings.s3_region or None,
                                     endpoint_url=settings.sqs_endpoint_url or None),
                        settings.sqs_queue_url, int(settings.job_visibility_s))
    if settings.redis_url:
        from ..state.redis_client import connect

        client = redis_client or connect(settings.redis_url, socket_timeout=5.0)
        return RedisStreamQueue(client, visibility_s=settings.job_visibility_s)
    return MemoryQueue(visibility_s=settings.job_visibility_s)
