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
import select
import socket
import time

from simple_websocket import ConnectionClosed, Server
from werkzeug.wrappers import Request, Response

from .. import deadline
from ..auth import Unauthorized, recheck
from ..connections import TooManyConnections
from ..errors import ApiError, BadRequest
from ..middleware import audit_line, request_language
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
AUTH_TRIES = 3  # messages an unauthenticated socket may send before it is closed
PRE_AUTH_MESSAGE = 8 * 1024  # bytes a message may have before the socket has authenticated
PENDING_MESSAGES = 2  # messages waiting while one is answered; more closes the socket
SEND_S = 30.0  # a frame the client does not take within this closes the socket
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

    def authenticate(token: str | None):  # a token sent in a message, or (None) the upgrade's own credentials
        return recheck(app.authenticators, environ, token)

    handshake = (request.headers.get("Upgrade", "").lower() == "websocket" and
                 "upgrade" in request.headers.get("Connection", "").lower() and
                 request.headers.get("Sec-WebSocket-Key") and request.headers.get("Sec-WebSocket-Version") == "13")
    if not handshake:  # a plain request, or an incomplete handshake (RFC 6455 section 4.2.1)
        raise ApiError("websocket_required", headers={"Upgrade": "websocket", "Sec-WebSocket-Version": "13"})
    identity = environ.get("app.identity")
    release = services.connections.hold(request.remote_addr, frames.identity_key(identity))  # 503 when full
    try:
        ws = BoundedServer.accept(environ, ping_interval=PING_S,
                                  max_message_size=services.settings.max_body_bytes if identity else PRE_AUTH_MESSAGE)
    except BaseException:
        release()
        raise
    session = Session(services, ws, request, authenticate, release)
    try:
        session.serve()
    except (ConnectionClosed, OSError):  # the client went away, or stopped reading
        pass
    finally:
        session.release()
        try:
            ws.close()
        except Exception:  # noqa: BLE001 - already closed by the client
            pass
    return _Done(ws.mode)


class WholeSends:
    """The socket as simple-websocket uses it, but every send whole and bounded in time: it calls `send`, which
    on an event-driven host may write part of a frame (the rest would be lost), and a client that stops reading
    would hold the connection, and its slot, for ever. A send that cannot finish within `timeout_s` closes the
    socket (OSError)."""

    def __init__(self, sock, timeout_s: float) -> None:
        self._sock, self.timeout_s = sock, timeout_s

    def send(self, data) -> int:
        view, until = memoryview(data), time.monotonic() + self.timeout_s
        while view:
            left = until - time.monotonic()
            if left <= 0 or not select.select([], [self._sock], [], left)[1]:
                self._sock.shutdown(socket.SHUT_RDWR)
                raise ConnectionError("the client stopped reading")
            try:  # no more than the socket takes now: a blocking send would wait for all of it
                view = view[self._sock.send(view, socket.MSG_DONTWAIT):]
            except (BlockingIOError, InterruptedError):
                continue
        return len(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class Pending(list):
    """simple-websocket's buffer of received messages, bounded: its reader keeps reading while a message is
    being answered, and a client sending on would fill the process's memory. One more than `limit` waiting
    closes the socket instead."""

    def __init__(self, owner, limit: int) -> None:
        super().__init__()
        self.owner, self.limit = owner, limit  # the server (its socket)

    def append(self, message) -> None:
        if len(self) >= self.limit:
            try:
                self.owner.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        super().append(message)


class BoundedServer(Server):
    """simple-websocket's server with whole, timed sends and a bounded buffer from its first byte: set where its
    constructor sets them, before its reader thread starts (swapping them afterwards could lose a message that
    had already arrived)."""

    @property
    def sock(self):
        return self._whole

    @sock.setter
    def sock(self, value) -> None:
        self._whole = value if value is None or isinstance(value, WholeSends) else WholeSends(value, SEND_S)

    @property
    def input_buffer(self) -> list:
        return self._pending

    @input_buffer.setter
    def input_buffer(self, value: list) -> None:
        self._pending = Pending(self, PENDING_MESSAGES)
        self._pending.extend(value)


class Session:
    """One socket's budgets: it must authenticate within SOCKET_AUTH_S and AUTH_TRIES messages (sending at most
    PRE_AUTH_MESSAGE bytes per message until then), is closed after IDLE_S without a message, re-checks its
    token at every message (an expired or revoked one closes it), and gives each message a deadline of its
    own (REQUEST_DEADLINE_S): the upgrade request's does not govern the socket's life."""

    def __init__(self, services, ws: Server, request: Request, authenticate, release) -> None:
        self.services, self.ws, self.authenticate, self.release = services, ws, authenticate, release
        self.identity = request.environ.get("app.identity")
        self.token: str | None = None  # when it authenticated with a token in a message
        self.request_id = request.environ.get("app.request_id", "")
        self.client_ip = request.remote_addr
        self.lang = request_language(request)  # of the error messages, from the handshake's Accept-Language
        self.count = self.failures = 0
        self.auth_by = time.monotonic() + services.settings.socket_auth_s

    def serve(self) -> None:
        while True:
            wait = IDLE_S if self.identity is not None else max(0.0, self.auth_by - time.monotonic())
            message = self.ws.receive(timeout=wait)
            if message is None:
                if self.identity is None:
                    self.refuse(Unauthorized(), 1008, "authentication timed out")
                return  # idle
            self.count += 1
            started, audit, outcome = time.perf_counter(), {}, "ok"
            try:
                with deadline.scope(self.services.settings.request_deadline_s):
                    self.one(message, audit)
            except (ConnectionClosed, OSError):
                outcome = "closed"
                raise
            except Unauthorized as exc:
                self.failures += 1
                if self.failures >= AUTH_TRIES or self.identity is not None:  # too many tries, or a credential gone
                    outcome = self.refuse(exc, 1008, "unauthorized")
                    return
                outcome = self.send_error(exc)
            except TooManyConnections as exc:
                outcome = self.refuse(exc, 1013, "too many connections")
                return
            except Exception as exc:  # noqa: BLE001 - one request's failure; the connection serves on
                outcome = self.send_error(exc)
            finally:
                audit_line(request_id=f"{self.request_id}.{self.count}", identity=self.identity,
                           client_ip=self.client_ip, endpoint="/v1/tts/ws", outcome=outcome, started=started,
                           **audit)

    def one(self, message, audit: dict) -> None:
        if isinstance(message, bytes):
            raise Unauthorized() if self.identity is None else BadRequest("invalid_json", case="text_message")
        try:
            body = json.loads(message)
        except (ValueError, RecursionError):
            raise Unauthorized() if self.identity is None else BadRequest("invalid_json", case="message") from None
        token = body.pop("token", None) if isinstance(body, dict) else None
        if self.identity is None:
            self.authenticate_with(token)
        elif self.authenticate(self.token) is None:  # its credential expired or was revoked: the socket is closed
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

    def authenticate_with(self, token) -> None:
        """The first message's token: the identity it stands for, counted against its own connection cap, and
        the socket's full message size from now on."""
        identity = self.authenticate(token) if isinstance(token, str) and token else None
        if identity is None:
            raise Unauthorized()
        self.release.become(frames.identity_key(identity))  # the anonymous slot is now the identity's
        self.identity, self.token = identity, token
        self.ws.max_message_size = self.services.settings.max_body_bytes

    def send_error(self, exc: Exception) -> str:
        fields = frames.error_fields(self.services.errors, exc, self.lang)
        self.send_json({"type": ERROR, **fields})
        return fields["code"]

    def refuse(self, exc: Exception, code: int, reason: str) -> str:
        """The last word: the error message, then the close frame with its code and reason."""
        outcome = self.send_error(exc)
        self.ws.close(reason=code, message=reason)
        return outcome

    def send(self, event: Event) -> None:
        if event.kind == AUDIO:
            for start in range(0, len(event.audio), AUDIO_FRAME):
                self.ws.send(event.audio[start:start + AUDIO_FRAME])
        elif event.kind == ERROR:
            self.send_json({"type": ERROR, **frames.error_fields(self.services.errors, event.error, self.lang)})
        else:
            self.send_json({"type": event.kind, **event.data})

    def send_json(self, data: dict) -> None:
        self.ws.send(json.dumps(data))  # ASCII (escaped): any client decodes it, even without TextDecoder
