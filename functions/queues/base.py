"""What every job queue offers, and the one exception all of them raise when they cannot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
