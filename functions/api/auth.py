"""/v1/auth: a WeChat login's session token, and a short-lived socket token for clients that cannot send
credentials on a WebSocket themselves (functions/auth/tokens.py has the rules of both)."""

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
        raise ApiError("wechat_login_not_configured")
    fields, _ = read_body(request, max_body_bytes=4096, max_audio_bytes=0, fields={"code"}, forms=False)
    openid = login.openid(fields.get("code"))
    request.environ["app.identity"] = Identity(openid, "wechat", via="wechat_login")
    token, expires_in = tokens.issue(openid, "wechat")  # the user's one current session: the previous one ends
    return json_response({"token": token, "token_type": "Bearer", "expires_in": expires_in})


@router.post("/v1/auth/token")
def token(app, request) -> Response:
    """A short-lived socket token for the caller's own identity, for a client that cannot send its credentials
    itself: a WebSocket's first message (browsers; Cloud Hosting's connectContainer in iOS high-performance mode,
    which drops the identity headers callContainer carries). It authenticates only the WebSocket, is bound to the
    credential it was minted from, and cannot mint another (403 token_not_allowed)."""
    identity = identity_of(request)
    if app.services.tokens is None:
        raise ApiError("tokens_not_configured")
    issued, expires_in = app.services.tokens.mint(identity, SOCKET_TOKEN_S)
    return json_response({"token": issued, "token_type": "Bearer", "expires_in": expires_in})
