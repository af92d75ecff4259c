"""The request's deadline: every dependency call on the request path takes at most what is left of it.

A request has `REQUEST_DEADLINE_S` (25 s, inside API Gateway's 30 s and the 60 s of gunicorn, the SCF
bootstrap and the container), set by a middleware for the request's thread. Calls consult `cap()`: an S3 call,
a Triton inference, a single-flight or GPU-slot wait never outlast it, so a stalled dependency is answered
with its documented 503 (or 504) before any gateway gives up or any host kills a worker for waiting. Work
outside a request (job workers, schedules) has no deadline: its calls keep their own timeouts.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar

MARGIN_S = 0.5  # left for answering once a dependency has used up its share
_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)


@contextmanager
def scope(seconds: float):
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left for dependency calls (the margin kept back), or None outside a request."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic() - MARGIN_S


def cap(seconds: float) -> float:
    """`seconds`, or less when the request has less left (never negative)."""
    left = remaining()
    return seconds if left is None else max(0.0, min(seconds, left))
