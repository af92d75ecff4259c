"""WeChat msgSecCheck v2 (POST /wxa/msg_sec_check): needs the user's openid (WeChat identities only).

With an access token (client_credential, cached until shortly before expiry, refreshed on 40001/42001), or,
behind WeChat Cloud Hosting, through the container's open-interface service, which needs no token
(WECHAT_CLOUD_HOSTING=true; the platform injects credentials for http://api.weixin.qq.com).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request

from . import ModerationUnavailable, Subject, Verdict

_SUGGEST = {"pass": "pass", "review": "review", "risky": "refuse"}


def _post_json(url: str, body: dict, timeout: float) -> dict:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - configured base URL
        return json.loads(resp.read())


def _get_json(url: str, timeout: float) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - configured base URL
        return json.loads(resp.read())


class WeChatMsgSecCheck:
    name = "wechat"
    local = False

    def __init__(self, appid: str, secret: str, *, api_base: str = "https://api.weixin.qq.com",
                 open_interface: bool = False, timeout_s: float = 3.0, post=_post_json, get=_get_json,
                 clock=time.time) -> None:
        self.appid, self.secret, self.api_base = appid, secret, api_base.rstrip("/")
        self.open_interface, self.timeout_s = open_interface, timeout_s
        self._post, self._get, self._clock = post, get, clock
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> "WeChatMsgSecCheck":
        base = settings.wechat_api_base
        if settings.wechat_cloud_hosting and base.startswith("https://api.weixin.qq.com"):
            base = "http://api.weixin.qq.com"  # the open-interface service listens on plain http inside
        return cls(settings.wechat_appid, settings.wechat_secret, api_base=base,
                   open_interface=settings.wechat_cloud_hosting)

    def _access_token(self, refresh: bool = False) -> str:
        with self._lock:
            if not refresh and self._token and self._token[1] > self._clock():
                return self._token[0]
            url = (f"{self.api_base}/cgi-bin/token?grant_type=client_credential&appid={self.appid}"
                   f"&secret={self.secret}")
            try:
                body = self._get(url, self.timeout_s)
            except (OSError, ValueError) as exc:
                raise ModerationUnavailable(f"token: {exc}") from exc
            if not body.get("access_token"):
                raise ModerationUnavailable(f"token errcode {body.get('errcode')}")
            self._token = (body["access_token"], self._clock() + int(body.get("expires_in", 7200)) - 300)
            return self._token[0]

    def check(self, item: Subject) -> Verdict:
        if item.identity_method != "wechat":
            return Verdict("pass", self.name, "not_a_wechat_user")  # the API only judges a WeChat user's text
        body = {"content": item.spoken, "version": 2, "scene": item.scene, "openid": item.subject}
        for attempt in range(2):
            url = f"{self.api_base}/wxa/msg_sec_check"
            if not self.open_interface:
                url += f"?access_token={self._access_token(refresh=attempt > 0)}"
            try:
                result = self._post(url, body, self.timeout_s)
            except (OSError, ValueError) as exc:
                raise ModerationUnavailable(str(exc)) from exc
            errcode = int(result.get("errcode") or 0)
            if errcode in (40001, 42001) and attempt == 0 and not self.open_interface:
                continue  # token expired or revoked: fetch a new one once
            if errcode != 0:
                raise ModerationUnavailable(f"errcode {errcode}")
            suggest = (result.get("result") or {}).get("suggest", "")
            if suggest not in _SUGGEST:
                raise ModerationUnavailable(f"unexpected suggest {suggest!r}")
            return Verdict(_SUGGEST[suggest], self.name, str((result.get("result") or {}).get("label", "")))
        raise ModerationUnavailable("access token refused")
