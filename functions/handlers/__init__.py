"""Platform entry points, each a thin adapter over `functions.app.create_app()`.

- `aws_lambda.handler`: API Gateway (REST/HTTP), ALB and function URLs through serverless-wsgi.
- `scf_apigw.handler`: Tencent SCF event functions behind API Gateway (integrated response).
- `web.app`: WSGI callable for gunicorn (SCF web functions via `functions/scf_bootstrap`, containers).
- `scheduled`: timers (warm-up, scale-down, drain) and the SQS-triggered worker.
The app is built once per process, on the first event (cold start), and reused. Only a long-running host
(`web`) also starts the in-process job workers: an event function is frozen between events.
"""

from __future__ import annotations

import json
import threading

from werkzeug.http import HTTP_STATUS_CODES

_app = None
_workers = None
_lock = threading.Lock()


def shared_app(*, workers: bool = False):
    """The process's app; with `workers`, its job workers are running too (started once)."""
    global _app, _workers
    if _app is None or (workers and _workers is None):
        with _lock:  # threaded servers: concurrent first requests must not build two apps (and two workers)
            if _app is None:
                from ..app import create_app

                _app = create_app()
            if workers and _workers is None:
                _workers = _app.services.start_workers() or False
    return _app


def buffered(app):
    """The app for platforms that send a response only once it is whole (API Gateway integrations behind
    event functions): the body is collected here, so a stream that breaks midway is answered as the error it
    is (nothing has been sent yet) instead of failing the invocation."""
    from ..error_codes import language
    from ..error_map import default_error_map

    def wsgi(environ, start_response):
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=headers)
            return lambda data: None

        chunks = app(environ, capture)
        try:
            body = b"".join(chunks)
        except Exception as exc:  # noqa: BLE001 - mapped like any request's failure
            error = default_error_map()(exc)
            lang = language(environ.get("HTTP_ACCEPT_LANGUAGE"))
            body = json.dumps(error.body(environ.get("app.request_id", ""), lang), ensure_ascii=False).encode()
            captured = {"status": f"{error.status} {HTTP_STATUS_CODES.get(error.status, 'Error')}",
                        "headers": [("Content-Type", "application/json; charset=utf-8"),
                                    ("X-Request-Id", environ.get("app.request_id", ""))]}
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], headers + [("Content-Length", str(len(body)))])
        return [body]
    return wsgi
