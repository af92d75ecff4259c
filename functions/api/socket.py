"""GET /v1/tts/ws: the stream over WebSocket, for hosts where chunked HTTP cannot reach the phone (WeChat Cloud
Hosting's `connectContainer`, Tencent API Gateway's WebSocket in front of an SCF web function).

The connection is served inside the WSGI app by simple-websocket (it takes the socket from Werkzeug's or
gunicorn's environ), so every other route keeps its plain WSGI path. Protocol:

- auth: the upgrade request's own credentials (Authorization / X-Api-Key header, Cloud Hosting's injected
  identity, the development identity), or, where the client cannot set headers (browsers; Cloud Hosting in
  iOS high-performance mode, which drops the identity headers), `"token"` in the first message;
- each client message is one synthesis: the JSON body of POST /v1/tts (audio as `prompt_audio_base64`);
- the answer is the SSE form's events as JSON text messages `{"type": "start" | "segment" | "segment_end" |
  "done" | "error" | "queued", ...}` with the audio as binary messages (s16le mono 24 kHz, at most
  AUDIO_FRAME bytes each: Tencent's gateway takes 256 KB per message); `queued` (a sleeping endpoint or a busy
  GPU) carries the job to poll, as POST /v1/tts's 202 does;
- errors are `error` messages with the HTTP status the same failure has elsewhere; the connection stays open
  for the next request. A client that goes away mid-stream leaves the synthesis to finish into the cache.
"""

from __future__ import annotations

import json
import time

from simple_websocket import ConnectionClosed, Server
from werkzeug.wrappers import Request, Response

from ..auth import Unauthorized, token_identity
from ..errors import ApiError, BadRequest
from ..middleware import audit_line
from ..request_body import json_fields
from ..timings import Timings
from ..tts.decide import Queued
from ..tts.live import AUDIO, ERROR, Event
from ..tts.request import FIELDS, build_request
from . import frames
from .router import Router

router = Router()
AUDIO_FRAME = 32 * 1024
IDLE_S = 60.0  # a connection with no request for this long is closed
PING_S = 25.0  # keeps gateways and NATs from dropping a quiet connection


class _Done(Response):
    """What the WSGI server gets once the socket is closed: nothing more to write (the simple-websocket way)."""

    def __init__(self, mode: str) -> None:
        super().__init__(status=200)
        self.mode = mode

    def __call__(self, environ, start_response):
        if self.mode == "gunicorn":
            raise StopIteration()
        return super().__call__(environ, start_response)


@router.get("/v1/tts/ws")  # (registered second) a plain request: told to upgrade (426)
@router.get("/v1/tts/ws", websocket=True)
def tts_socket(app, request: Request) -> Response:
    services, environ = app.services, request.environ

    def authenticate(token: str):  # a token sent in the first message
        return token_identity(app.authenticators, environ, token)

    handshake = (request.headers.get("Upgrade", "").lower() == "websocket" and
                 "upgrade" in request.headers.get("Connection", "").lower() and
                 request.headers.get("Sec-WebSocket-Key") and request.headers.get("Sec-WebSocket-Version") == "13")
    if not handshake:  # a plain request, or an incomplete handshake (RFC 6455 section 4.2.1)
        raise ApiError("请使用 WebSocket 连接", code="websocket_required", status=426,
                       headers={"Upgrade": "websocket", "Sec-WebSocket-Version": "13"})
    ws = Server.accept(request.environ, max_message_size=services.settings.max_body_bytes, ping_interval=PING_S)
    try:
        Session(services, ws, request, authenticate).serve()
    except ConnectionClosed:
        pass
    finally:
        try:
            ws.close()
        except Exception:  # noqa: BLE001 - already closed by the client
            pass
    return _Done(ws.mode)


class Session:
    def __init__(self, services, ws: Server, request: Request, authenticate) -> None:
        self.services, self.ws, self.authenticate = services, ws, authenticate
        self.identity = request.environ.get("app.identity")
        self.request_id = request.environ.get("app.request_id", "")
        self.client_ip = request.remote_addr
        self.count = 0

    def serve(self) -> None:
        while True:
            message = self.ws.receive(timeout=IDLE_S)
            if message is None:
                return  # idle
            self.count += 1
            started, audit, outcome = time.perf_counter(), {}, "ok"
            try:
                self.one(message, audit)
            except ConnectionClosed:
                raise
            except Exception as exc:  # noqa: BLE001 - one request's failure; the connection serves on
                fields = frames.error_fields(self.services.errors, exc)
                outcome = fields["code"]
                self.send_json({"type": ERROR, **fields})
            audit_line(request_id=f"{self.request_id}.{self.count}", identity=self.identity,
                       client_ip=self.client_ip, endpoint="/v1/tts/ws", outcome=outcome, started=started, **audit)

    def one(self, message, audit: dict) -> None:
        if isinstance(message, bytes):
            raise BadRequest("请求必须是 JSON 文本消息", code="invalid_json")
        try:
            body = json.loads(message)
        except (ValueError, RecursionError):
            raise BadRequest("请求不是有效的 JSON", code="invalid_json") from None
        if isinstance(body, dict) and "token" in body:
            token = body.pop("token")
            if self.identity is None:
                self.identity = self.authenticate(token) if isinstance(token, str) and token else None
        if self.identity is None:
            raise Unauthorized()
        limits = self.services.request_limits
        fields, audio = json_fields(body, fields=FIELDS, max_audio_bytes=limits.max_prompt_bytes)
        timings = Timings()
        req = build_request(fields, audio, limits)
        prepared = self.services.tts.prepare(req, timings, self.identity, audit)
        outcome = self.services.decider.decide(prepared, timings, stream=True,
                                               request_id=f"{self.request_id}.{self.count}", audit=audit)
        if isinstance(outcome, Queued):  # a job to poll, as POST /v1/tts's 202
            self.send_json({"type": "queued", **self.services.replies.queued(outcome.key, outcome.record)})
            return
        for event in frames.events(self.services, outcome):
            self.send(event)

    def send(self, event: Event) -> None:
        if event.kind == AUDIO:
            for start in range(0, len(event.audio), AUDIO_FRAME):
                self.ws.send(event.audio[start:start + AUDIO_FRAME])
        elif event.kind == ERROR:
            self.send_json({"type": ERROR, **frames.error_fields(self.services.errors, event.error)})
        else:
            self.send_json({"type": event.kind, **event.data})

    def send_json(self, data: dict) -> None:
        self.ws.send(json.dumps(data))  # ASCII (escaped): any client decodes it, even without TextDecoder
