"""Development mode: unauthenticated requests from loopback get the identity `dev`.

Switched on only by `python -m functions.serve` (the `make run` stack, bound to 127.0.0.1); there is no
environment variable for it, so no deployment can turn it on. A request carrying any proxy header (present
at all, even empty) is not local, since a reverse proxy or tunnel on the same host would make every caller
look local; which header a given proxy adds varies, so the whole family counts.
"""

from __future__ import annotations

import ipaddress

from . import Identity


PROXY_HEADERS = {"forwarded", "via", "x-real-ip", "x-client-ip", "client-ip", "true-client-ip",
                 "cf-connecting-ip", "fastly-client-ip", "x-cluster-client-ip", "x-proxyuser-ip", "x-original-url",
                 "x-envoy-external-address", "x-appengine-user-ip", "ali-cdn-real-ip", "cdn-src-ip"}
PROXY_PREFIXES = ("x-forwarded-", "x-original-forwarded")


def proxied(headers) -> bool:
    for name in headers.keys():
        lower = name.lower()
        if lower in PROXY_HEADERS or lower.startswith(PROXY_PREFIXES):
            return True
    return False


class DevLoopbackAuth:
    def __call__(self, request) -> Identity | None:
        if proxied(request.headers):
            return None
        if request.headers.get("Authorization") or request.headers.get("X-Api-Key"):
            return None  # credentials that the real authenticators refused stay refused, even locally
        try:
            if ipaddress.ip_address(request.remote_addr or "").is_loopback:
                return Identity("dev", "dev")
        except ValueError:
            return None
        return None
