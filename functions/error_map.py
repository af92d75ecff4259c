"""The one place where exceptions become API errors (status, code, message, Retry-After).

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
from .errors import ApiError, BadRequest, DependencyDown, InternalError, UpstreamTimeout, from_http_exception
from .queues import QueueUnavailable
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


def _down(message: str, code: str) -> Handler:
    return lambda exc: DependencyDown(message, code=code, detail=str(exc))


def default_error_map(retry_after_s: int = 5) -> ErrorMap:
    """Every exception the service knows, with the answer it gets."""
    errors = ErrorMap(retry_after_s)
    errors.register(ApiError)(lambda exc: exc)
    errors.register(HTTPException)(from_http_exception)  # werkzeug's own: 413, 416 from a Range request, ...
    errors.register(StorageUnavailable)(_down("存储服务暂时不可用，请稍后重试", "storage_unavailable"))
    errors.register(StateUnavailable)(_down("状态服务暂时不可用，请稍后重试", "state_unavailable"))
    errors.register(QueueUnavailable)(_down("任务队列暂时不可用，请稍后重试", "queue_unavailable"))
    errors.register(InferenceUnavailable)(_down("语音合成服务暂时不可用，请稍后重试", "inference_unavailable"))
    errors.register(ModerationUnavailable)(_down("内容审核服务暂时不可用，请稍后重试", "moderation_unavailable"))
    errors.register(Busy)(lambda exc: DependencyDown("当前合成请求较多，请稍后重试", code="server_busy"))
    errors.register(StillRunning)(lambda exc: DependencyDown("相同内容正在合成中，请稍后重试",
                                                             code="synthesis_in_progress", retry_after=2))
    errors.register(InferenceTimeout)(lambda exc: UpstreamTimeout(detail=str(exc)))
    errors.register(InferenceRejected)(lambda exc: BadRequest("语音合成服务拒绝了该请求", code="inference_rejected",
                                                               detail=str(exc)))
    errors.register(InferenceFailed)(lambda exc: InternalError("语音合成失败", code="inference_failed", status=502,
                                                               detail=str(exc)))
    errors.register(StreamStalled)(lambda exc: UpstreamTimeout(detail=f"stream stalled: {exc}"))
    errors.register(StreamBroken)(lambda exc: InternalError("语音合成中断，请重试", code="inference_failed", status=502,
                                                            detail=str(exc)))
    errors.register(TaskFailed)(lambda exc: ApiError(exc.error.message, code=exc.error.code, status=exc.error.status)
                                if exc.error else InternalError("语音合成失败", code="inference_failed", status=502))
    errors.register(RateLimited)(lambda exc: ApiError("请求过于频繁，请稍后再试", code="rate_limited", status=429,
                                                      retry_after=exc.retry_after_s))
    errors.register(QuotaExceeded)(lambda exc: ApiError("今日合成字数已用完，请明天再试", code="daily_quota_exceeded",
                                                        status=429, retry_after=exc.retry_after_s))
    errors.register(ContentRefused)(lambda exc: ApiError(
        "内容未通过安全审核，请修改后重试", code="content_under_review" if exc.under_review else "content_refused",
        status=422, detail=exc.detail))
    return errors
