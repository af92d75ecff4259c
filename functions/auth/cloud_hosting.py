"""WeChat Cloud Hosting: wx.cloud.callContainer requests arrive with X-WX-OPENID / X-WX-APPID / X-WX-SOURCE
set by the platform's gateway. They are trusted only when the deployment declares it runs behind Cloud
Hosting (WECHAT_CLOUD_HOSTING=true); anywhere else anyone could send them, so they are ignored."""

from __future__ import annotations

import re

from . import Identity

_OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


class CloudHostingAuth:
    def __init__(self, appid: str = "") -> None:
        self.appid = appid

    def __call__(self, request) -> Identity | None:
        openid = request.headers.get("X-WX-OPENID", "")
        if not _OPENID.match(openid):
            return None
        if self.appid and request.headers.get("X-WX-APPID", "") != self.appid:
            return None
        return Identity(openid, "wechat", via="cloud_hosting")
