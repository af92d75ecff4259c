"""The one place where exceptions become API errors: each exception class gets a code (its status, message and
Retry-After are the catalog's, functions/error_codes.py).

Domain modules raise their own small exceptions (a limit reached, content refused, a dependency down); the
HTTP middleware, the job worker and every platform adapter turn them into responses or task failures
through `ErrorMap`, so one failure reads the same on every endpoint and in every task record. Handlers are
registered per exception class and found along the class's MRO (the most specific wins), as in
aws-lambda-powertools' exception handlers. Every 503 carries Retry-After: its own, or RETRY_AFTER_S.
"""

from __future__ import annotations

import logging
from typing import Callable

from werkzeug.exceptions import HTTPException

from .endpoint.triton import InferenceFailed, InferenceRejected, InferenceTimeout, InferenceUnavailable
from .errors import ApiError, InternalError, from_http_exception, recorded
from .queues import QueueUnavailable
from .connections import BodyTimeout, TooManyConnections
from .limits import Busy, QuotaExceeded, RateLimited
from .moderation import ContentRefused, ModerationUnavailable
from .state import StateUnavailable
from .storage import StorageUnavailable
from .tts.live import StreamBroken, StreamStalled
from .tts.replies import TaskFailed
from .tts.single_flight import StillRunning

log = logging.getLogger(__name__)
Handler = Callable[[Exception], ApiError]


class ErrorMap:
    def __init__(self, retry_after_s: int = 5) -> None:
        self.retry_after_s = retry_after_s
        self._handlers: dict[type, Handler] = {}

    def register(self, *types: type) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            for kind in types:
                self._handlers[kind] = handler
            return handler
        return decorator

    def __call__(self, exc: BaseException) -> ApiError:
        """The API error an exception deserves; an unexpected one is logged and becomes a bare 500."""
        for kind in type(exc).__mro__:
            if kind in self._handlers:
                error = self._handlers[kind](exc)
                break
        else:
            log.error("unhandled error", exc_info=exc)
            error = InternalError(detail=repr(exc))
        if error.status == 503 and not error.retry_after:
            error.retry_after = self.retry_after_s
        return error


# Exceptions -> codes (their status, message and Retry-After are the catalog's, functions/error_codes.py);
# (code, case) where the message has a case of its own. Retry-After from the exception when it says one.
CODES: dict[type, str | tuple[str, str]] = {
    StorageUnavailable: "storage_unavailable", StateUnavailable: "state_unavailable",
    QueueUnavailable: "queue_unavailable", InferenceUnavailable: "inference_unavailable",
    ModerationUnavailable: "moderation_unavailable", Busy: "server_busy", StillRunning: "synthesis_in_progress",
    InferenceTimeout: "inference_timeout", StreamStalled: "inference_timeout",
    InferenceRejected: "inference_rejected", InferenceFailed: "inference_failed",
    StreamBroken: ("inference_failed", "interrupted"),
    RateLimited: "rate_limited", QuotaExceeded: "daily_quota_exceeded",
}


def _coded(code: str | tuple[str, str]) -> Handler:
    code, case = (code, None) if isinstance(code, str) else code
    return lambda exc: ApiError(code, case=case, retry_after=getattr(exc, "retry_after_s", None),
                                detail=str(exc) or None)


def _task_failed(exc: TaskFailed) -> ApiError:
    error = exc.error
    return recorded(error.code, error.message) if error else ApiError("inference_failed")


def default_error_map(retry_after_s: int = 5) -> ErrorMap:
    """Every exception the service knows, with the code it gets."""
    errors = ErrorMap(retry_after_s)
    errors.register(ApiError)(lambda exc: exc)
    errors.register(HTTPException)(from_http_exception)  # werkzeug's own: 413, 416 from a Range request, ...
    for kind, code in CODES.items():
        errors.register(kind)(_coded(code))
    errors.register(TaskFailed)(_task_failed)
    errors.register(BodyTimeout)(lambda exc: ApiError("body_timeout"))
    errors.register(TooManyConnections)(lambda exc: ApiError("too_many_connections", case=exc.scope))
    errors.register(ContentRefused)(lambda exc: ApiError(
        "content_under_review" if exc.under_review else "content_refused", detail=exc.detail))
    return errors
