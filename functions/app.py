"""The WSGI app: routes and middleware over the services that `functions/services.py` builds.

`create_app()` builds everything from the environment; tests pass settings and outside systems explicitly.
Constructing the app starts nothing: long-running hosts (functions/serve.py, functions/handlers/web.py) start
the job workers. Platform entry points (functions/handlers/) are thin adapters over this one app.
"""

from __future__ import annotations

import logging
from pathlib import Path

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect, send_file
from werkzeug.wrappers import Request, Response

from . import metrics, openai_speech, streams, ws
from .auth import Identity, authentication, build_authenticators, identity_of, token_identity
from .errors import ApiError, MethodNotAllowed, NotFound
from .middleware import audit_log, chain, errors, json_response, request_deadline, request_id
from .request_body import read_body
from .services import Services, build_services
from .settings import Settings
from .timings import Timings
from .tts import presets
from .tts.cache_key import is_media_key
from .tts.request import parse_tts_request
from .voices.enroll import FIELDS as VOICE_FIELDS
from .voices.enroll import public

log = logging.getLogger(__name__)
OPENAPI = Path(__file__).with_name("openapi.yaml")
DEMO = Path(__file__).parent / "assets" / "demo.html"
SOCKET_TOKEN_S = 300  # long enough to open a socket, short enough that a leaked one is soon worthless


def prefers_async(prefer: str) -> bool:
    """RFC 7240: `Prefer: respond-async` among the header's comma-separated preferences (names, not substrings)."""
    return any(token.split(";", 1)[0].split("=", 1)[0].strip().lower() == "respond-async"
               for token in prefer.split(","))


class App:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = settings = services.settings
        rules = [
            Rule("/healthz", endpoint="healthz", methods=["GET"]),
            Rule("/readyz", endpoint="readyz", methods=["GET"]),
            Rule("/v1/tts", endpoint="tts_create", methods=["POST"]),
            Rule("/v1/tts/stream", endpoint="tts_stream", methods=["POST"]),
            Rule("/v1/tts/ws", endpoint="tts_ws", methods=["GET"], websocket=True),
            Rule("/v1/tts/ws", endpoint="tts_ws", methods=["GET"]),  # a plain request: told to upgrade (426)
            Rule("/v1/tts/<task_id>", endpoint="tts_get", methods=["GET"]),
            Rule("/v1/voices", endpoint="voices_create", methods=["POST"]),
            Rule("/v1/voices", endpoint="voices_list", methods=["GET"]),
            Rule("/v1/voices/<voice_id>", endpoint="voices_get", methods=["GET"]),
            Rule("/v1/voices/<voice_id>", endpoint="voices_delete", methods=["DELETE"]),
            Rule("/v1/presets", endpoint="presets", methods=["GET"]),
            Rule("/v1/auth/wechat", endpoint="auth_wechat", methods=["POST"]),
            Rule("/v1/auth/token", endpoint="auth_token", methods=["POST"]),
            Rule("/v1/audio/speech", endpoint="speech", methods=["POST"]),
            Rule("/openapi.yaml", endpoint="openapi", methods=["GET"]),
            # Optional routes exist everywhere and answer 404 where they are off, so every route answers an
            # undeclared method with 405 and its Allow header, as the OpenAPI description says.
            Rule("/metrics", endpoint="metrics", methods=["GET"]),
            Rule("/demo", endpoint="demo", methods=["GET"]),
            Rule("/", endpoint="root", methods=["GET"]),  # a browser on the dev server finds the page
            Rule("/media/<path:key>", endpoint="media", methods=["GET"]),
        ]
        self.urls = Map(rules, strict_slashes=False)
        self.authenticators = build_authenticators(settings, services.tokens)
        self.handler = chain([request_id, request_deadline(settings.request_deadline_s), audit_log,
                              errors(services.errors), authentication(self.authenticators)], self.dispatch)

    def __call__(self, environ, start_response):
        return self.handler(Request(environ))(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.urls.bind_to_environ(request.environ)
        try:
            rule, args = adapter.match(return_rule=True)
            endpoint = rule.endpoint
            request.environ["app.route"] = rule.rule
        except HTTPException as exc:
            if exc.code == 405:
                allowed = sorted(set(getattr(exc, "valid_methods", None) or []) | {"OPTIONS"})
                raise MethodNotAllowed(headers={"Allow": ", ".join(allowed)}) from None
            raise NotFound("接口不存在", code="route_not_found") from None
        return getattr(self, f"on_{endpoint}")(request, **args)

    # -- routes ---------------------------------------------------------------------------------------------
    def on_healthz(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    def on_readyz(self, request: Request) -> Response:
        checks = {}
        sv = self.services
        for name, probe in (("inference", self._probe_inference), ("storage", sv.storage.ping),
                            ("state", sv.state.ping), ("queue", sv.queue.ping)):
            try:
                probe()
                checks[name] = {"ok": True}
            except Exception as exc:  # noqa: BLE001 - report, never raise
                checks[name] = {"ok": False, "error": type(exc).__name__}
        ok = all(c["ok"] for c in checks.values())
        headers = None if ok else {"Retry-After": str(self.settings.retry_after_s)}
        return json_response({"status": "ready" if ok else "not_ready", "checks": checks}, 200 if ok else 503, headers)

    def _probe_inference(self) -> None:
        if not self.services.endpoint.is_ready(use_cache=False):
            raise ConnectionError("model not ready")

    def on_tts_create(self, request: Request) -> Response:
        timings = Timings()
        request.environ["app.timings"] = timings.stages
        identity = identity_of(request)
        with timings.stage("validate"):
            req = parse_tts_request(request, self.services.request_limits)
        respond_async = prefers_async(request.headers.get("Prefer", ""))
        status, body = self.services.tts.synthesize(req, timings, identity, request.environ["app.audit"],
                                                    request.environ.get("app.request_id", ""), respond_async)
        headers = {"Retry-After": str(body["retry_after_s"]), "Location": body["poll_url"]} if status == 202 else {}
        if respond_async and status == 202:
            headers["Preference-Applied"] = "respond-async"
        return json_response(body, status, headers or None)

    def on_tts_stream(self, request: Request) -> Response:
        return streams.tts_stream(self.services, request, identity_of(request))

    def on_tts_ws(self, request: Request) -> Response:
        environ = request.environ
        return ws.tts_socket(self.services, request,
                             lambda token: token_identity(self.authenticators, environ, token))

    def on_tts_get(self, request: Request, task_id: str) -> Response:
        identity_of(request)
        return json_response(self.services.replies.read(task_id))

    def on_voices_create(self, request: Request) -> Response:
        timings = Timings()
        request.environ["app.timings"] = timings.stages
        identity = identity_of(request)
        self.services.guard.charge(identity, 0)  # enrollment decodes, runs VAD, may pay for ASR: same window
        fields, audio = read_body(request, max_body_bytes=self.settings.max_body_bytes,
                                  max_audio_bytes=self.settings.max_prompt_bytes, fields=VOICE_FIELDS,
                                  b64_field="audio_base64", format_field="format")
        voice = self.services.enrollment.enroll(identity, fields, audio, timings, request.environ["app.audit"])
        return json_response(voice, 200 if voice.get("existing") else 201)

    def on_voices_list(self, request: Request) -> Response:
        owner = identity_of(request).owner
        return json_response({"voices": [public(v) for v in self.services.voice_store.list(owner)]})

    def on_voices_get(self, request: Request, voice_id: str) -> Response:
        return json_response(public(self.services.voice_store.get(identity_of(request).owner, voice_id)))

    def on_voices_delete(self, request: Request, voice_id: str) -> Response:
        self.services.voice_store.delete(identity_of(request).owner, voice_id)
        return Response(status=204)

    def on_presets(self, request: Request) -> Response:
        return json_response({"presets": presets.as_json()})

    def on_auth_wechat(self, request: Request) -> Response:
        login, tokens = self.services.wechat_login, self.services.tokens
        if login is None or tokens is None:
            raise ApiError("此部署未开启微信登录（WECHAT_APPID、WECHAT_SECRET、JWT_KEYS）",
                           code="wechat_login_not_configured", status=404)
        fields, _ = read_body(request, max_body_bytes=4096, max_audio_bytes=0, fields={"code"}, forms=False)
        openid = login.openid(fields.get("code"))
        request.environ["app.identity"] = Identity(openid, "wechat")
        token, expires_in = tokens.issue(openid, "wechat")
        return json_response({"token": token, "token_type": "Bearer", "expires_in": expires_in})

    def on_auth_token(self, request: Request) -> Response:
        """A short-lived token for the caller's own identity, for a client that cannot send its credentials
        itself: a WebSocket's first message (browsers; Cloud Hosting's connectContainer in iOS
        high-performance mode, which drops the identity headers callContainer carries)."""
        identity = identity_of(request)
        if self.services.tokens is None:
            raise ApiError("此部署未配置令牌签发（JWT_KEYS）", code="tokens_not_configured", status=404)
        token, expires_in = self.services.tokens.issue(identity.subject, identity.method, ttl_s=SOCKET_TOKEN_S)
        return json_response({"token": token, "token_type": "Bearer", "expires_in": expires_in})

    def on_speech(self, request: Request) -> Response:
        return openai_speech.speech(self.services, request, identity_of(request))

    def _enabled(self, on: bool) -> None:
        if not on:
            raise NotFound("接口不存在", code="route_not_found")

    def on_metrics(self, request: Request) -> Response:
        self._enabled(self.settings.metrics)
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    def on_root(self, request: Request) -> Response:
        self._enabled(self.settings.demo_page)
        return redirect("/demo")

    def on_demo(self, request: Request) -> Response:
        self._enabled(self.settings.demo_page)
        return Response(DEMO.read_bytes(), content_type="text/html; charset=utf-8")

    def on_openapi(self, request: Request) -> Response:
        return Response(OPENAPI.read_bytes(), content_type="application/yaml; charset=utf-8")

    def on_media(self, request: Request, key: str) -> Response:
        # Only synthesized audio is public by URL, under exactly the names the service gives it: never
        # enrolled recordings, uploaded prompts, secrets or metadata sidecars, and no absurd names reach disk.
        self._enabled(getattr(self.services.storage, "serves_media", False))
        if not is_media_key(key):
            raise NotFound("文件不存在", code="media_not_found")
        storage = self.services.storage
        path = storage.path(key)
        info = storage.head(key)
        if info is None:
            raise NotFound("文件不存在", code="media_not_found")
        # conditional=True gives ETag, Last-Modified and HTTP Range (206), which iOS playback requires.
        response = send_file(str(path), request.environ, mimetype=info.content_type, conditional=True,
                             max_age=86400)
        response.headers["Accept-Ranges"] = "bytes"
        if info.metadata.get("aigc"):  # the implicit label, also for raw pcm, which has no metadata of its own
            response.headers["X-AIGC"] = info.metadata["aigc"]
        return response


def create_app(settings: Settings | None = None, **outside) -> App:
    """The app on `settings` (default: from the environment); outside systems may be passed by name
    (functions.services.OUTSIDE)."""
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return App(build_services(settings, **outside))


__all__ = ["App", "ApiError", "create_app"]
