"""Middleware as `handler(request, next)`: each wraps the next one and may act before and after it."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Callable

from werkzeug.wrappers import Request, Response

from . import deadline, metrics
from .error_codes import DEFAULT_LANGUAGE, language
from .connections import BudgetedInput
from .error_map import ErrorMap
from .errors import ApiError

log = logging.getLogger("functions.audit")
Handler = Callable[[Request], Response]
Middleware = Callable[[Request, Handler], Response]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def json_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers,
                    content_type="application/json; charset=utf-8")


def request_language(request: Request) -> str:
    """The language of the request's error messages: English when Accept-Language prefers it, else Chinese."""
    return language(request.headers.get("Accept-Language"))


def error_response(error: ApiError, request_id: str, lang: str = DEFAULT_LANGUAGE) -> Response:
    headers = dict(getattr(error, "headers", {}) or {})
    if error.retry_after:
        headers["Retry-After"] = str(error.retry_after)
    return json_response(error.body(request_id, lang), error.status, headers or None)


def request_id(request: Request, next: Handler) -> Response:
    """Take a caller's X-Request-Id when it is well-formed (tracing across hops), else make one."""
    given = request.headers.get("X-Request-Id", "")
    request.environ["app.request_id"] = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    response = next(request)
    response.headers["X-Request-Id"] = request.environ["app.request_id"]
    return response


def request_deadline(seconds: float) -> Middleware:
    """Every dependency call inside the request takes at most what is left of `seconds` (functions/deadline)."""
    def middleware(request: Request, next: Handler) -> Response:
        with deadline.scope(seconds):
            return next(request)
    return middleware


MIN_UPLOAD_BYTES_PER_S = 50 * 1024


def body_budget(seconds: float) -> Middleware:
    """A request's body must arrive within `seconds` (BODY_TIMEOUT_S) plus its size at 50 KB/s: a client that
    trickles it holds a connection, and with it the caps of functions/connections.py, for no longer than that.
    408 otherwise, and the connection is closed (what is left of the body is never read)."""
    def middleware(request: Request, next: Handler) -> Response:
        environ = request.environ
        if seconds and "wsgi.input" in environ:
            sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
            length = request.content_length
            # a base, and time for the body's size at a slow phone's upload rate (50 KB/s)
            budget = seconds + (length or 0) / MIN_UPLOAD_BYTES_PER_S
            budgeted = BudgetedInput(environ["wsgi.input"], budget, sock, length)
            environ["wsgi.input"] = budgeted
            try:
                response = next(request)
            finally:
                budgeted.close()
            if response.status_code == 408:
                response.headers["Connection"] = "close"
            return response
        return next(request)
    return middleware


def errors(error_map: ErrorMap) -> Middleware:
    """Every failure becomes the JSON error format through the one error map; unexpected exceptions are
    logged, never shown."""
    def middleware(request: Request, next: Handler) -> Response:
        try:
            return next(request)
        except Exception as exc:  # noqa: BLE001 - the worker must survive anything a request triggers
            error = error_map(exc)
            request.environ["app.error"] = error
            return error_response(error, request.environ.get("app.request_id", ""), request_language(request))
    return middleware


def audit_log(request: Request, next: Handler) -> Response:
    """One structured JSON line per request: who, from where, what (hashed), which outcome, how long.

    Never secrets, tokens or audio; the text itself only when AUDIT_TEXT is on (the pipeline decides what it
    puts into environ['app.audit']). Stage timings also go out as the Server-Timing header."""
    started = time.perf_counter()
    request.environ["app.audit"] = {}
    response = next(request)
    error = request.environ.get("app.error")
    more = {"detail": error.detail[:300]} if error is not None and error.detail else {}
    entry = audit_line(
        request_id=request.environ.get("app.request_id"), identity=request.environ.get("app.identity"),
        client_ip=request.remote_addr, method=request.method,
        endpoint=request.environ.get("app.route") or request.path[:100], status=response.status_code,
        outcome=error.code if error is not None else "ok", started=started,
        stages=request.environ.get("app.timings", {}), **request.environ["app.audit"], **more)
    metrics.observe(entry)
    response.headers["Server-Timing"] = ", ".join(
        [f"{name};dur={ms}" for name, ms in entry["stages"].items()] + [f"total;dur={entry['ms']}"])
    return response


def audit_line(*, request_id, identity, client_ip, endpoint: str, outcome: str, started: float, **more) -> dict:
    """Write one audit line (an HTTP request, or one message on a WebSocket) and return it."""
    entry = {"ts": round(time.time(), 3), "request_id": request_id,
             "identity": f"{identity.method}:{identity.subject}" if identity else None, "client_ip": client_ip,
             "endpoint": endpoint, "outcome": outcome, "ms": round((time.perf_counter() - started) * 1000, 2),
             **more}
    log.info(json.dumps(entry, ensure_ascii=False))
    return entry


def chain(middlewares: list[Middleware], endpoint: Handler) -> Handler:
    handler = endpoint
    for middleware in reversed(middlewares):
        handler = (lambda m, n: (lambda request: m(request, n)))(middleware, handler)
    return handler
