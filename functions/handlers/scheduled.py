"""Scheduled and queue-triggered entry points (separate from the WSGI handler, which drops such events).

AWS: EventBridge schedules call `warmup`, `scale_down` and `drain`; an SQS event source mapping calls
`sqs_worker`. Tencent SCF: timer triggers call the same functions (the event shape does not matter to them).
"""

from __future__ import annotations

import json
import logging

from ..queues import Delivery
from ..jobs.upkeep import drain as run_drain
from ..jobs.upkeep import scale_down as run_scale_down
from ..jobs.upkeep import warm_up as run_warm_up
from ..jobs.worker import Worker
from . import shared_app


def _services(app):
    return (app or shared_app()).services

log = logging.getLogger(__name__)


def _remaining_s(context, default: float = 60.0) -> float:
    """Seconds left in this invocation, minus a margin (AWS and SCF contexts differ)."""
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        return max(1.0, context.get_remaining_time_in_millis() / 1000 - 10)
    limit = getattr(context, "time_limit_in_ms", None) if context is not None else None
    return max(1.0, limit / 1000 - 10) if limit else default


def warmup(event, context, app=None):
    services = _services(app)
    return run_warm_up(services, wait_s=min(services.settings.warmup_wait_s, _remaining_s(context, 600)))


def scale_down(event, context, app=None):
    return run_scale_down(_services(app))


def drain(event, context, app=None):
    return run_drain(_services(app), budget_s=_remaining_s(context))


class _LambdaBatch:
    """The queue as seen from an SQS-triggered Lambda: success deletes the message (Lambda does it), a retry
    sends a fresh delayed copy (so backoff and attempt counting work), a failure stays in the batch."""

    def __init__(self, queue) -> None:
        self.queue = queue

    def ack(self, delivery) -> None:
        return None

    def retry(self, delivery, delay_s: float, count_attempt: bool = True) -> None:
        self.queue.enqueue(delivery.job, delay_s, delivery.attempt + (1 if count_attempt else 0))

    def extend(self, delivery) -> bool:
        """A long job keeps its message invisible (and its task's heartbeat fresh) while it runs."""
        return self.queue.extend(delivery)


def sqs_worker(event, context, app=None):
    services = _services(app)
    worker = Worker(_LambdaBatch(services.queue), services.jobs, services.controller, errors=services.errors,
                    max_attempts=services.settings.job_max_attempts, backoff_s=services.settings.job_backoff_s)
    failures = []
    for record in event.get("Records", []):
        try:
            body = json.loads(record["body"])
            receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
            worker.handle(Delivery(body["job"], record["receiptHandle"], body.get("attempt", 1) + receives - 1))
        except Exception:  # noqa: BLE001 - report the message as failed; SQS redelivers it
            log.exception("sqs record failed")
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}
