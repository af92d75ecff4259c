"""/v1/auth: a WeChat login's token, and a short-lived token for clients that cannot send credentials
themselves."""

from __future__ import annotations

from werkzeug.wrappers import Response

from ..auth import Identity, identity_of
from ..errors import ApiError
from ..middleware import json_response
from ..request_body import read_body
from .router import Router

router = Router()
SOCKET_TOKEN_S = 300  # long enough to open a socket, short enough that a leaked one is soon worthless


@router.post("/v1/auth/wechat")
def wechat(app, request) -> Response:
    login, tokens = app.services.wechat_login, app.services.tokens
    if login is None or tokens is None:
        raise ApiError("此部署未开启微信登录（WECHAT_APPID、WECHAT_SECRET、JWT_KEYS）",
                       code="wechat_login_not_configured", status=404)
    fields, _ = read_body(request, max_body_bytes=4096, max_audio_bytes=0, fields={"code"}, forms=False)
    openid = login.openid(fields.get("code"))
    request.environ["app.identity"] = Identity(openid, "wechat")
    token, expires_in = tokens.issue(openid, "wechat")
    return json_response({"token": token, "token_type": "Bearer", "expires_in": expires_in})


@router.post("/v1/auth/token")
def token(app, request) -> Response:
    """A short-lived token for the caller's own identity, for a client that cannot send its credentials itself:
    a WebSocket's first message (browsers; Cloud Hosting's connectContainer in iOS high-performance mode, which
    drops the identity headers callContainer carries)."""
    identity = identity_of(request)
    if app.services.tokens is None:
        raise ApiError("此部署未配置令牌签发（JWT_KEYS）", code="tokens_not_configured", status=404)
    issued, expires_in = app.services.tokens.issue(identity.subject, identity.method, ttl_s=SOCKET_TOKEN_S)
    return json_response({"token": issued, "token_type": "Bearer", "expires_in": expires_in})
