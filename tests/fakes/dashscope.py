"""A local DashScope: the hosted CosyVoice API's two wire formats, so the real `dashscope` SDK runs against it.

Follows the API reference of CosyVoice speech synthesis over WebSocket (`wss://dashscope.aliyuncs.com/api-ws/v1/
inference`: `run-task` -> `task-started`, `continue-task` with text -> binary audio + `result-generated`,
`finish-task` -> `task-finished`, or `task-failed` with `error_code` / `error_message`) and of voice enrollment
over HTTP (`POST /api/v1/services/audio/tts/customization`, `input.action` one of create_voice, list_voice,
query_voice, update_voice, delete_voice; errors as `{"code", "message", "request_id"}` with an HTTP status).

What it refuses, as the service does: a missing or wrong API key (401 InvalidApiKey), an unknown model, a voice
that does not exist or belongs to another model, an enrollment audio URL it cannot fetch (400
Audio.DownloadFailed), more voices than the account's quota (400 Audio.VoiceQuotaExceeded; 1,000 by default),
a format or sample rate the model does not produce. Knobs for tests: `down` (connections refused... as a 503),
`stall_s` (holds audio back), `fail_text` (fails a task mid-way). Audio is a tone as long as the text.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid

import numpy as np
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

MODELS = {"cosyvoice-v3-flash", "cosyvoice-v3-plus"}
SYSTEM_VOICES = {"longanyang", "longanhuan"}


class FakeDashScope:
    def __init__(self, api_key: str = "sk-test", *, quota: int = 1000) -> None:
        self.api_key, self.quota = api_key, quota
        self.voices: dict[str, dict] = {}
        self.tasks: list[dict] = []  # every run-task's parameters and text
        self.deleted: list[str] = []
        self.down = False
        self.stall_s = 0.0
        self.fail_text = ""
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        port = self._server.server_port
        self.http_url = f"http://127.0.0.1:{port}/api/v1"
        self.ws_url = f"ws://127.0.0.1:{port}/api-ws/v1/inference"

    def close(self) -> None:
        self._server.shutdown()

    # -- HTTP ----------------------------------------------------------------------------------------------
    def _app(self, environ, start_response):
        request = Request(environ)
        if request.path == "/api-ws/v1/inference":
            return self._socket(request)(environ, start_response)
        return self._http(request)(environ, start_response)

    def _error(self, status: int, code: str, message: str) -> Response:
        return Response(json.dumps({"code": code, "message": message, "request_id": uuid.uuid4().hex}),
                        status=status, content_type="application/json")

    def _authorized(self, request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.api_key}"

    def _http(self, request: Request) -> Response:
        if self.down:
            return self._error(503, "ServiceUnavailable", "the service is unavailable")
        if not self._authorized(request):
            return self._error(401, "InvalidApiKey", "Invalid API-key provided.")
        if request.path != "/api/v1/services/audio/tts/customization" or request.method != "POST":
            return self._error(404, "NotFound", "no such API")
        body = request.get_json(silent=True) or {}
        data = body.get("input") or {}
        action = data.get("action")
        with self._lock:
            if action == "create_voice":
                return self._create(data, body)
            if action == "list_voice":
                prefix = data.get("prefix")
                voices = [{"voice_id": v, "gmt_create": meta["created"], "gmt_modified": meta["created"],
                           "status": "OK"} for v, meta in self.voices.items()
                          if prefix is None or meta["prefix"] == prefix]
                return self._ok({"voice_list": voices})
            voice = self.voices.get(data.get("voice_id", ""))
            if action in ("query_voice", "delete_voice", "update_voice") and voice is None:
                return self._error(400, "Audio.VoiceNotFound", "voice not found")
            if action == "query_voice":
                return self._ok({"voice_id": data["voice_id"], "target_model": voice["model"], "status": "OK",
                                 "resource_link": voice["url"]})
            if action == "delete_voice":
                del self.voices[data["voice_id"]]
                self.deleted.append(data["voice_id"])
                return self._ok({})
        return self._error(400, "InvalidParameter", f"unknown action {action!r}")

    def _ok(self, output: dict) -> Response:
        return Response(json.dumps({"output": output, "usage": {"count": 1}, "request_id": uuid.uuid4().hex}),
                        content_type="application/json")

    def _create(self, data: dict, body: dict) -> Response:
        model, prefix, url = data.get("target_model"), data.get("prefix", ""), data.get("url", "")
        if model not in MODELS:
            return self._error(400, "InvalidParameter", f"target_model {model!r} is not supported")
        if not prefix or not prefix.isalnum() or len(prefix) > 10:
            return self._error(400, "InvalidParameter", "prefix: up to 10 letters or digits")
        if len(self.voices) >= self.quota:
            return self._error(400, "Audio.VoiceQuotaExceeded", "the voice quota of this account is used up")
        try:
            with urllib.request.urlopen(url, timeout=5) as fetched:  # noqa: S310 - a test server
                audio = fetched.read()
        except Exception:  # noqa: BLE001
            return self._error(400, "Audio.DownloadFailed", "the audio url cannot be downloaded")
        if len(audio) < 1000:
            return self._error(400, "Audio.AudioShortError", "the audio is too short")
        voice_id = f"{model}-{prefix}-{uuid.uuid4().hex[:12]}"
        self.voices[voice_id] = {"model": model, "prefix": prefix, "url": url, "created": time.strftime("%F %T")}
        return self._ok({"voice_id": voice_id})

    # -- WebSocket -------------------------------------------------------------------------------------------
    def _socket(self, request: Request) -> Response:
        from simple_websocket import ConnectionClosed, Server

        if not self._authorized(request) or self.down:
            return Response(status=401 if not self.down else 503)
        ws = Server.accept(request.environ)
        try:
            self._session(ws)
        except ConnectionClosed:
            pass
        finally:
            try:
                ws.close()
            except Exception:  # noqa: BLE001
                pass
        return Response(status=200)

    def _event(self, ws, event: str, task_id: str, **more) -> None:
        ws.send(json.dumps({"header": {"event": event, "task_id": task_id, **more}, "payload": {}}))

    def _session(self, ws) -> None:
        params: dict = {}
        task_id = ""
        while True:
            message = ws.receive(timeout=30)
            if message is None:
                return
            cmd = json.loads(message)
            header, payload = cmd.get("header", {}), cmd.get("payload", {})
            action, task_id = header.get("action"), header.get("task_id", task_id)
            if action == "run-task":
                params = payload.get("parameters") or {}
                model, voice = payload.get("model"), params.get("voice")
                problem = None
                if model not in MODELS:
                    problem = f"model {model!r} not found"
                elif voice not in SYSTEM_VOICES and (voice not in self.voices or
                                                     self.voices[voice]["model"] != model):
                    problem = f"voice {voice!r} not found for {model}"
                elif params.get("format") != "pcm" or params.get("sample_rate") != 24000:
                    problem = "this fake produces pcm at 24000 Hz only"
                if problem:
                    self._event(ws, "task-failed", task_id, error_code="InvalidParameter", error_message=problem)
                    return
                self.tasks.append({"model": model, **params, "text": ""})
                self._event(ws, "task-started", task_id)
            elif action == "continue-task":
                text = (payload.get("input") or {}).get("text", "")
                self.tasks[-1]["text"] += text
                if self.stall_s:
                    time.sleep(self.stall_s)
                if self.fail_text and self.fail_text in text:
                    self._event(ws, "task-failed", task_id, error_code="InternalError",
                                error_message="synthesis failed")
                    return
                if text:
                    rate = float(params.get("rate") or 1.0)
                    n = int(0.1 * 24000 * len(text) / rate)
                    tone = (3000 * np.sin(2 * np.pi * 220 * np.arange(n) / 24000)).astype("<i2").tobytes()
                    for start in range(0, len(tone), 9600):
                        ws.send(tone[start:start + 9600])
                    self._event(ws, "result-generated", task_id)
            elif action == "finish-task":
                self._event(ws, "task-finished", task_id)  # the connection stays open for another task
