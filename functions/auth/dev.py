"""Development mode: requests from loopback without credentials, or with the documented local key
`local-dev` (what SDKs that always send a key use, e.g. OpenAI's), get the identity `dev`.

Switched on only by `python -m functions.serve` (the `make run` stack, bound to 127.0.0.1); there is no
environment variable for it, so no deployment can turn it on. A request carrying any proxy header (present
at all, even empty) is not local, since a reverse proxy or tunnel on the same host would make every caller
look local; which header a given proxy adds varies, so the whole family counts. The Host must name this
machine too: a port forward or tunnel adds no header but carries the name the caller used. Any other
credential is judged by the real authenticators only (a wrong key stays a 401, even locally). The local
developer is not throttled by the production limits unless DEV_LIMITS=true.
"""

from __future__ import annotations

import ipaddress
import re

from . import Identity


# Header names proxies, tunnels and CDNs add (matched by family, since each names them its own way).
PROXY_HEADER = re.compile(r"^(forwarded|via|x-forwarded.*|x-original.*|x-real-ip|x-host|x-proxy.*|.*client-?ip"
                          r"|.*-ip|x-envoy-.*|cf-.*|fly-.*|x-azure-.*|x-amzn-.*|x-vercel-.*|cdn-loop|tailscale-.*"
                          r"|ali-.*|x-tencent-.*|x-scf-.*|x-apigw-.*)$")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
LOCAL_KEY = "local-dev"  # printed by the dev server; accepted nowhere else


def proxied(headers) -> bool:
    return any(PROXY_HEADER.match(name.lower()) for name in headers.keys())


def local_host(host: str) -> bool:
    """The Host the client asked for is this machine (a tunnel or a port forward carries the public name)."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    try:
        return name.lower() in LOCAL_HOSTS or ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that only resolves to loopback (DNS rebinding) is not local


def _credential(headers) -> str | None:
    """The key a request carries (Bearer token or X-Api-Key), "" when none, None when it carries another
    kind of Authorization."""
    auth = headers.get("Authorization")
    if auth is not None:
        scheme, _, value = auth.strip().partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None  # an empty key is no key
    return headers.get("X-Api-Key") or ""


def cross_site(headers) -> bool:
    """A request a web page on another site made the developer's browser send (it could enroll voices or burn
    the GPU as the local developer, though it cannot read the answers)."""
    if headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site"):
        return True
    origin = headers.get("Origin")
    return origin is not None and not local_host(origin.split("://", 1)[-1])


class DevLoopbackAuth:
    def __init__(self, *, limited: bool = False) -> None:
        self.limited = limited

    def __call__(self, request) -> Identity | None:
        if proxied(request.headers) or not local_host(request.host or "") or cross_site(request.headers):
            return None
        if _credential(request.headers) not in ("", LOCAL_KEY):
            return None  # credentials that the real authenticators refused stay refused, even locally
        try:
            if ipaddress.ip_address(request.remote_addr or "").is_loopback:
                return Identity("dev", "dev", exempt=not self.limited, via="dev")
        except ValueError:
            return None
        return None
