"""A local HTTP server speaking the WeChat server API's wire format for the calls this project makes:
GET /sns/jscode2session, GET /cgi-bin/token, POST /wxa/msg_sec_check (v2). The real code paths (urllib, JSON,
query strings, error codes) run against it, since api.weixin.qq.com is unreachable from tests.

Follows the server API reference (developers.weixin.qq.com/miniprogram/dev/OpenApiDoc): code2Session needs
grant_type=authorization_code, getAccessToken grant_type=client_credential (else 40002); an access token
expires after its expires_in (7200 s, on the fake's injected clock), after which calls answer 42001, and a
token never issued is 40001. Codes: "code-<openid>" logs in as <openid>; "used-..." is 40163 and "bad-..."
40029; "busy-..." is 45011; "risk-..." is 40226. msg_sec_check: "风险词" -> risky, "复核词" -> review, else
pass; `down` makes it answer errcode -1.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeWeChat:
    def __init__(self, appid: str, secret: str, *, token_ttl_s: int = 7200, clock=None) -> None:
        import time

        self.appid, self.secret, self.token_ttl_s = appid, secret, token_ttl_s
        self.clock = clock or time.time
        self.tokens: dict[str, float] = {}  # token -> expiry
        self.down = False
        self.open_interface = False  # Cloud Hosting's open-interface service: calls carry no access_token
        self.calls: list[tuple[str, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, body: dict) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                self._send(fake.get(url.path, dict(urllib.parse.parse_qsl(url.query))))

            def do_POST(self):
                url = urllib.parse.urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                self._send(fake.post(url.path, dict(urllib.parse.parse_qsl(url.query)), body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def get(self, path: str, query: dict) -> dict:
        self.calls.append((path, query))
        if path == "/sns/jscode2session":
            if query.get("appid") != self.appid or query.get("secret") != self.secret:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            if query.get("grant_type") != "authorization_code":
                return {"errcode": 40002, "errmsg": "invalid grant_type"}
            code = query.get("js_code", "")
            for prefix, errcode in (("used-", 40163), ("bad-", 40029), ("busy-", 45011), ("risk-", 40226)):
                if code.startswith(prefix):
                    return {"errcode": errcode, "errmsg": "refused"}
            if code.startswith("code-"):
                return {"openid": code[5:], "session_key": secrets.token_hex(8), "unionid": "u" + code[5:]}
            return {"errcode": 40029, "errmsg": "invalid code"}
        if path == "/cgi-bin/token":
            if query.get("grant_type") != "client_credential":
                return {"errcode": 40002, "errmsg": "invalid grant_type"}
            if query.get("appid") != self.appid or query.get("secret") != self.secret:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            token = secrets.token_hex(16)
            self.tokens[token] = self.clock() + self.token_ttl_s
            return {"access_token": token, "expires_in": self.token_ttl_s}
        return {"errcode": 404, "errmsg": "unknown path"}

    def post(self, path: str, query: dict, body: dict) -> dict:
        self.calls.append((path, body))
        if path != "/wxa/msg_sec_check":
            return {"errcode": 404, "errmsg": "unknown path"}
        if self.down:
            return {"errcode": -1, "errmsg": "system error"}
        if not (self.open_interface and "access_token" not in query):
            expiry = self.tokens.get(query.get("access_token", ""))
            if expiry is None:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            if self.clock() >= expiry:
                return {"errcode": 42001, "errmsg": "access_token expired"}
        if body.get("version") != 2 or not body.get("openid") or body.get("scene") not in (1, 2, 3, 4):
            return {"errcode": 40003, "errmsg": "invalid openid or parameters"}
        content = body.get("content", "")
        suggest, label = ("risky", 20001) if "风险词" in content else (("review", 20002) if "复核词" in content
                                                                         else ("pass", 100))
        return {"errcode": 0, "errmsg": "ok", "result": {"suggest": suggest, "label": label},
                "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label}],
                "trace_id": secrets.token_hex(8)}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
