"""Tencent Cloud ASR one-sentence recognition (SentenceRecognition, up to 60 s) via tencentcloud-sdk-python."""

from __future__ import annotations

import base64
import logging

from . import AsrUnavailable

log = logging.getLogger(__name__)


class TencentSentenceAsr:
    def __init__(self, client, engine: str = "16k_zh") -> None:
        self.client, self.engine = client, engine

    @classmethod
    def from_settings(cls, settings) -> "TencentSentenceAsr":
        from tencentcloud.asr.v20190614 import asr_client

        from ..tencent import tencent_client

        return cls(tencent_client(asr_client.AsrClient, "asr", settings, settings.tencent_asr_endpoint))

    def transcribe(self, wav_16k: bytes) -> str | None:
        from tencentcloud.asr.v20190614 import models
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        request = models.SentenceRecognitionRequest()
        request.EngSerViceType = self.engine
        request.SourceType = 1  # audio in the request body
        request.VoiceFormat = "wav"
        request.Data = base64.b64encode(wav_16k).decode("ascii")
        request.DataLen = len(wav_16k)
        try:
            response = self.client.SentenceRecognition(request)
        except TencentCloudSDKException as exc:
            log.warning("Tencent ASR failed: %s %s", exc.get_code(), exc.get_message())
            raise AsrUnavailable(exc.get_code() or "asr_error") from exc
        except Exception as exc:  # noqa: BLE001 - network errors surface as various types
            raise AsrUnavailable(str(exc)) from exc
        text = (response.Result or "").strip()
        return text or None
