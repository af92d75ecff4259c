"""WeChat mini program login: wx.login's code -> jscode2session -> openid -> our JWT.

The HTTP call is injected (`http_get`) for tests; by default it is urllib with a timeout. WeChat's error
codes map to clear errors; the session_key is never stored, logged or returned.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
import urllib.request

from ..errors import ApiError, BadRequest, DependencyDown

log = logging.getLogger(__name__)
_CODE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


class WeChatLoginRefused(ApiError):
    code, status = "wechat_code_invalid", 401


def _default_get(url: str, timeout: float) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - fixed https base from settings
        return json.loads(resp.read())


class WeChatLogin:
    def __init__(self, appid: str, secret: str, *, api_base: str = "https://api.weixin.qq.com",
                 http_get=_default_get, timeout_s: float = 5.0) -> None:
        self.appid, self.secret, self.api_base = appid, secret, api_base.rstrip("/")
        self.http_get, self.timeout_s = http_get, timeout_s

    def openid(self, code) -> str:
        if not isinstance(code, str) or not _CODE.match(code):
            raise BadRequest("invalid_code")
        query = urllib.parse.urlencode({"appid": self.appid, "secret": self.secret, "js_code": code,
                                        "grant_type": "authorization_code"})
        try:
            body = self.http_get(f"{self.api_base}/sns/jscode2session?{query}", self.timeout_s)
        except (OSError, ValueError) as exc:
            raise DependencyDown("wechat_unavailable", detail=str(exc)) from exc
        errcode = int(body.get("errcode") or 0)
        if errcode == 0 and body.get("openid"):
            return str(body["openid"])
        log.info("jscode2session refused: errcode=%s", errcode)
        if errcode in (40029, 40163):  # invalid or already used code
            raise WeChatLoginRefused()
        if errcode == 45011:
            raise ApiError("wechat_rate_limited")
        if errcode == 40226:
            raise ApiError("wechat_high_risk_user")
        if errcode == -1:
            raise DependencyDown("wechat_busy")
        raise DependencyDown("wechat_error", detail=f"errcode {errcode}")
