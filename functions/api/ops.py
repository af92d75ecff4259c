"""What operators and browsers reach: health and readiness, metrics, the OpenAPI description, the demo page,
and the synthesized audio served by URL from local storage."""

from __future__ import annotations

from pathlib import Path

from werkzeug.http import parse_range_header
from werkzeug.utils import redirect, send_file
from werkzeug.wrappers import Response

from .. import metrics as prometheus
from ..errors import NotFound
from ..middleware import json_response
from ..tts.cache_key import is_media_key
from .router import Router

router = Router()
FUNCTIONS = Path(__file__).resolve().parent.parent
OPENAPI = FUNCTIONS / "openapi.yaml"
DEMO = FUNCTIONS / "assets" / "demo.html"


def _enabled(on: bool) -> None:
    # Optional routes exist everywhere and answer 404 where they are off, so every route answers an undeclared
    # method with 405 and its Allow header, as the OpenAPI description says.
    if not on:
        raise NotFound("route_not_found")


@router.get("/healthz")
def healthz(app, request) -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz")
def readyz(app, request) -> Response:
    services, checks = app.services, {}

    def inference() -> None:
        if not services.endpoint.is_ready(use_cache=False):
            raise ConnectionError("model not ready")

    for name, probe in (("inference", inference), ("storage", services.storage.ping),
                        ("state", services.state.ping), ("queue", services.queue.ping)):
        try:
            probe()
            checks[name] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - report, never raise
            checks[name] = {"ok": False, "error": type(exc).__name__}
    ok = all(c["ok"] for c in checks.values())
    headers = None if ok else {"Retry-After": str(app.settings.retry_after_s)}
    return json_response({"status": "ready" if ok else "not_ready", "checks": checks}, 200 if ok else 503, headers)


@router.get("/openapi.yaml")
def openapi(app, request) -> Response:
    return Response(OPENAPI.read_bytes(), content_type="application/yaml; charset=utf-8")


@router.get("/metrics")
def metrics(app, request) -> Response:
    _enabled(app.settings.metrics)
    body, content_type = prometheus.exposition()
    return Response(body, content_type=content_type)


@router.get("/demo")
def demo(app, request) -> Response:
    _enabled(app.settings.demo_page)
    return Response(DEMO.read_bytes(), content_type="text/html; charset=utf-8")


@router.get("/")
def root(app, request) -> Response:  # a browser on the dev server finds the page
    _enabled(app.settings.demo_page)
    return redirect("/demo")


def _range_as_rfc9110(environ: dict, size: int) -> None:
    """Range the way RFC 9110 (section 14) reads it, where werkzeug is stricter: a header that is not one valid
    byte range (another unit, bad syntax, last before first, several ranges, which are not served) is ignored
    (the whole file, 200), and a suffix longer than the file means the whole file (206). A first byte beyond the
    end stays 416."""
    value = environ.get("HTTP_RANGE")
    if value is None:
        return
    parsed = parse_range_header(value)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        del environ["HTTP_RANGE"]
    elif parsed.ranges[0][0] < 0 and -parsed.ranges[0][0] > size > 0:
        environ["HTTP_RANGE"] = "bytes=0-"


@router.get("/media/<path:key>")
def media(app, request, key: str) -> Response:
    # Only synthesized audio is public by URL, under exactly the names the service gives it: never enrolled
    # recordings, uploaded prompts, secrets or metadata sidecars, and no absurd names reach disk.
    storage = app.services.storage
    _enabled(getattr(storage, "serves_media", False))
    if not is_media_key(key):
        raise NotFound("media_not_found")
    path = storage.path(key)
    info = storage.head(key)
    if info is None:
        raise NotFound("media_not_found")
    _range_as_rfc9110(request.environ, info.size)
    # conditional=True gives ETag, Last-Modified and HTTP Range (206), which iOS playback requires.
    response = send_file(str(path), request.environ, mimetype=info.content_type, conditional=True, max_age=86400)
    response.headers["Accept-Ranges"] = "bytes"
    if info.metadata.get("aigc"):  # the implicit label, also for raw pcm, which has no metadata of its own
        response.headers["X-AIGC"] = info.metadata["aigc"]
    return response
