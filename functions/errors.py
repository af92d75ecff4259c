"""API errors: a stable snake_case code, an HTTP status and a user-facing message (Chinese by default).

Every error leaves the service as {"error": {"code", "message", "request_id"}}; nothing else (no stack
trace, no echo of the offending input) is ever sent. Which exception becomes which error is decided in one
place, functions/error_map.py.
"""

from __future__ import annotations


class ApiError(Exception):
    status = 400
    code = "invalid_request"
    message = "请求无效"

    def __init__(self, message: str | None = None, *, code: str | None = None, status: int | None = None,
                 retry_after: int | None = None, detail: str | None = None, headers: dict | None = None) -> None:
        super().__init__(message or self.message)
        self.headers = headers or {}
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.retry_after = retry_after
        self.detail = detail  # for logs only

    def body(self, request_id: str) -> dict:
        return {"error": {"code": self.code, "message": self.message, "request_id": request_id}}


class BadRequest(ApiError):
    status, code, message = 400, "invalid_request", "请求参数无效"


class NotFound(ApiError):
    status, code, message = 404, "not_found", "资源不存在"


class MethodNotAllowed(ApiError):
    status, code, message = 405, "method_not_allowed", "不支持该请求方法"


class PayloadTooLarge(ApiError):
    status, code, message = 413, "payload_too_large", "请求体过大"


class UnsupportedMedia(ApiError):
    status, code, message = 415, "unsupported_media", "不支持的音频格式"


class DependencyDown(ApiError):
    """A dependency is unavailable; the client should retry after `retry_after` seconds (RETRY_AFTER_S when
    not given: the error map fills it in)."""

    status, code, message = 503, "service_unavailable", "服务暂时不可用，请稍后重试"


class UpstreamTimeout(ApiError):
    status, code, message = 504, "inference_timeout", "语音合成超时，请稍后重试"


class InternalError(ApiError):
    status, code, message = 500, "internal_error", "服务内部错误"


_HTTP_CODES = {
    400: ("bad_request", "请求无效"),
    412: ("precondition_failed", "请求条件不满足"),
    413: ("payload_too_large", "请求体过大"),
    416: ("range_not_satisfiable", "请求的字节范围无效"),
}


def from_http_exception(exc) -> ApiError:
    """A werkzeug HTTPException as an ApiError with its status and headers (Content-Range on a 416)."""
    status = int(exc.code or 500)
    code, message = _HTTP_CODES.get(status, ("http_error", "请求无法处理"))
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return ApiError(message, code=code, status=status, headers=headers, detail=exc.__class__.__name__)
