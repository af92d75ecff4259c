"""Tencent Cloud API clients (tencentcloud-sdk-python), built one way: credentials from the settings, the
public endpoint of the service unless an override (tests: a local server speaking the wire format)."""

from __future__ import annotations


def tencent_client(client_cls, service: str, settings, endpoint_override: str = "", timeout_s: int = 10):
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    http = HttpProfile(reqTimeout=timeout_s)
    if endpoint_override:
        scheme, _, host = endpoint_override.partition("://")
        http.endpoint, http.scheme = (host, scheme) if host else (scheme, "https")
    else:
        http.endpoint = f"{service}.tencentcloudapi.com"
    cred = credential.Credential(settings.tencent_secret_id, settings.tencent_secret_key)
    return client_cls(cred, settings.tencent_region, ClientProfile(httpProfile=http))
