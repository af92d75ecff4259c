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

from .base import Delivery, JobQueue, QueueUnavailable
from .memory import MemoryQueue
from .redis_stream import RedisStreamQueue
from .sqs import SqsQueue

__all__ = ["Delivery", "JobQueue", "MemoryQueue", "QueueUnavailable", "RedisStreamQueue", "SqsQueue", "build_queue"]


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
