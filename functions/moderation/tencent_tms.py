"""Tencent Cloud TMS TextModeration via tencentcloud-sdk-python (Suggestion: Pass / Review / Block)."""

from __future__ import annotations

import base64

from . import ModerationUnavailable, Subject, Verdict

_SUGGESTION = {"Pass": "pass", "Review": "review", "Block": "refuse"}


class TencentTextModeration:
    name = "tencent"
    local = False

    def __init__(self, client, biz_type: str = "") -> None:
        self.client, self.biz_type = client, biz_type

    @classmethod
    def from_settings(cls, settings) -> "TencentTextModeration":
        from tencentcloud.tms.v20201229 import tms_client

        from ..tencent import tencent_client

        return cls(tencent_client(tms_client.TmsClient, "tms", settings, settings.tencent_tms_endpoint, timeout_s=5))

    def check(self, item: Subject) -> Verdict:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.tms.v20201229 import models

        request = models.TextModerationRequest()
        request.Content = base64.b64encode(item.spoken.encode("utf-8")).decode("ascii")
        if self.biz_type:
            request.BizType = self.biz_type
        try:
            response = self.client.TextModeration(request)
        except TencentCloudSDKException as exc:
            raise ModerationUnavailable(exc.get_code() or "tms_error") from exc
        except Exception as exc:  # noqa: BLE001 - network errors arrive as various types
            raise ModerationUnavailable(str(exc)) from exc
        suggestion = _SUGGESTION.get(response.Suggestion or "")
        if suggestion is None:
            raise ModerationUnavailable(f"unexpected Suggestion {response.Suggestion!r}")
        return Verdict(suggestion, self.name, response.Label or "")
