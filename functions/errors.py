"""API errors: a stable snake_case code, with its HTTP status and its user-facing message from the one catalog
(functions/error_codes.py), in Chinese by default or in English.

Every error leaves the service as {"error": {"code", "message", "request_id"}}; nothing else (no stack
trace, no echo of the offending input) is ever sent. Which exception becomes which error is decided in one
place, functions/error_map.py.
"""

from __future__ import annotations

from .error_codes import CODES, DEFAULT_LANGUAGE, LANGUAGES, entry, render


class ApiError(Exception):
    """`ApiError(code, case=None, retry_after=None, detail=None, headers=None, **params)`: status, message and
    default Retry-After come from the catalog. An uncatalogued code, an unknown case, a parameter the message
    needs and was not given, or a code whose status differs from the subclass's, raise at construction.

    `fallback` is the text used where the catalog's message needs parameters that were not kept (a task's
    recorded failure)."""

    code = "invalid_request"  # the code a bare instance gets
    status: int | None = None  # a subclass's status: every code it is raised with has this one in the catalog

    def __init__(self, code: str | None = None, /, *, case: str | None = None, retry_after: int | None = None,
                 detail: str | None = None, headers: dict | None = None, fallback: str | None = None,
                 **params) -> None:
        if "status" in params or "message" in params or "code" in params:
            raise TypeError("an error's status and message come from functions/error_codes.py")
        code = code or type(self).code
        known = entry(code)
        wanted = type(self).status
        if wanted is not None and wanted != known.status:
            raise ValueError(f"{type(self).__name__} is {wanted}, but {code!r} is {known.status} in the catalog")
        if case is not None and case not in known.cases:
            raise KeyError(f"error code {code!r} has no case {case!r}")
        self.code, self.case, self.params, self.fallback = code, case, params, fallback
        self.status = known.status
        self.retry_after = retry_after if retry_after is not None else known.retry_after
        self.headers = dict(headers or {})
        self.detail = detail  # for logs only
        super().__init__(*(self.text(lang) for lang in LANGUAGES))  # every language renders, or this raises

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        """The message in `lang` (zh or en)."""
        try:
            return render(self.code, lang, self.case, **self.params)
        except (KeyError, IndexError):
            if self.fallback is None:
                raise
            return self.fallback

    @property
    def message(self) -> str:
        return self.text()

    def __str__(self) -> str:
        return self.text()

    def __reduce__(self):  # copies and pickles: the same error, not one rebuilt from the messages in args
        return _restore, (type(self), self.code, {"case": self.case, "retry_after": self.retry_after,
                                                  "detail": self.detail, "headers": self.headers,
                                                  "fallback": self.fallback, **self.params})

    def body(self, request_id: str, lang: str = DEFAULT_LANGUAGE) -> dict:
        return {"error": {"code": self.code, "message": self.text(lang), "request_id": request_id}}


class BadRequest(ApiError):
    code, status = "invalid_request", 400


class NotFound(ApiError):
    code, status = "not_found", 404


class MethodNotAllowed(ApiError):
    code, status = "method_not_allowed", 405


class PayloadTooLarge(ApiError):
    code, status = "payload_too_large", 413


class UnsupportedMedia(ApiError):
    code, status = "unsupported_media", 415


class DependencyDown(ApiError):
    """A dependency is unavailable; the client should retry after `retry_after` seconds (the catalog's, else
    RETRY_AFTER_S: the error map fills it in)."""

    code, status = "service_unavailable", 503


class UpstreamTimeout(ApiError):
    code, status = "inference_timeout", 504


class InternalError(ApiError):
    code, status = "internal_error", 500


def _restore(cls, code: str, kwargs: dict) -> ApiError:
    return cls(code, **kwargs)


def recorded(code: str | None, message: str | None) -> ApiError:
    """A failure recorded earlier (a task's code and message) as an ApiError: the catalog's status and message
    for its code, the recorded text where the message needs parameters the record does not keep; an unknown
    or missing code (a record from another version) reads as inference_failed."""
    if code not in CODES:
        return ApiError("inference_failed", detail=f"recorded code {code!r}")
    return ApiError(code, fallback=message or None)


def recorded_text(code: str, message: str | None, lang: str = DEFAULT_LANGUAGE) -> str:
    """A recorded failure's message in `lang`; the recorded text itself for a code the catalog does not know."""
    return recorded(code, message).text(lang) if code in CODES else (message or "")


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 412: "precondition_failed",
               413: "payload_too_large", 416: "range_not_satisfiable"}


def from_http_exception(exc) -> ApiError:
    """A werkzeug HTTPException as an ApiError with its headers (Content-Range on a 416); a status without a code
    of its own is http_error (4xx) or internal_error."""
    status = int(exc.code or 500)
    code = _HTTP_CODES.get(status) or ("http_error" if status < 500 else "internal_error")
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return ApiError(code, headers=headers, detail=f"{exc.__class__.__name__} ({status})")
