"""Tencent SCF event function behind API Gateway (integrated response).

SCF's event differs from AWS's: the query is in `queryString` (values may be lists), the body is a string
that is base64 when `isBase64Encoded` is true, and the function returns
{"isBase64Encoded", "statusCode", "headers", "body"}. Binary responses are base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import sys
from urllib.parse import urlencode

from ..error_map import default_error_map
from ..errors import BadRequest
from . import buffered, shared_app

_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/javascript")


def to_environ(event: dict) -> dict:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
    query = event.get("queryString") or event.get("queryStringParameters") or {}
    context = event.get("requestContext") or {}
    environ = {
        "REQUEST_METHOD": (event.get("httpMethod") or context.get("httpMethod") or "GET").upper(),
        "SCRIPT_NAME": "",
        "PATH_INFO": event.get("path") or "/",
        "QUERY_STRING": urlencode(query, doseq=True),
        "SERVER_NAME": headers.get("host", "scf"),
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": (context.get("sourceIp") or "").strip() or "0.0.0.0",
        "CONTENT_LENGTH": str(len(raw)),
        "CONTENT_TYPE": headers.get("content-type", ""),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": headers.get("x-forwarded-proto", "https"),
        "wsgi.input": io.BytesIO(raw),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for key, value in headers.items():
        if key not in ("content-type", "content-length"):
            environ["HTTP_" + key.upper().replace("-", "_")] = value
    if context.get("requestId"):
        environ.setdefault("HTTP_X_REQUEST_ID", str(context["requestId"]))
    return environ


def call_wsgi(app, environ: dict) -> tuple[int, dict, bytes]:
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = dict(headers)

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return captured["status"], captured["headers"], body


def handler(event, context, app=None):
    try:
        environ = to_environ(event)
    except (binascii.Error, ValueError, TypeError, AttributeError) as exc:  # before the app: answer in its format
        error = default_error_map()(BadRequest(case="body_encoding", detail=str(exc)))
        request_id = str((event.get("requestContext") or {}).get("requestId", ""))
        return {"isBase64Encoded": False, "statusCode": error.status,
                "headers": {"Content-Type": "application/json; charset=utf-8"},
                "body": json.dumps(error.body(request_id), ensure_ascii=False)}
    status, headers, body = call_wsgi(buffered(app or shared_app()), environ)
    content_type = headers.get("Content-Type", "")
    if content_type.startswith(_TEXT_TYPES):
        return {"isBase64Encoded": False, "statusCode": status, "headers": headers,
                "body": body.decode("utf-8")}
    return {"isBase64Encoded": True, "statusCode": status, "headers": headers,
            "body": base64.b64encode(body).decode("ascii")}
