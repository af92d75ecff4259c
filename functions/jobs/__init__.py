"""Jobs: work that does not fit a synchronous request (long texts, misses while the endpoint sleeps).

A job lives in a durable queue (`queue.py`) and its progress in the state (the task record), processed by
`worker.Worker` wherever the deployment runs it: threads in a long-running server, a queue-triggered
function, or the scheduled drain.
"""

from .queue import Delivery, JobQueue, MemoryQueue, QueueUnavailable, RedisStreamQueue, SqsQueue, build_queue

__all__ = ["Delivery", "JobQueue", "MemoryQueue", "QueueUnavailable", "RedisStreamQueue", "SqsQueue", "build_queue"]
