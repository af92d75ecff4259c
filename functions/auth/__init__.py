"""Who is calling: a chain of authenticators, the first that recognizes the request wins.

Every endpoint but health requires an identity. Configured by Settings: API keys for server-to-server
callers, and a development mode (only ever switched on explicitly by the local dev server, never by an
environment variable) that accepts unauthenticated requests from loopback.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Callable, Protocol

from ..errors import ApiError

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/", "/healthz", "/readyz", "/v1/auth/wechat", "/openapi.yaml", "/demo", "/metrics")
# Identity may come after the request: a WebSocket's first message carries the token its client cannot put in
# a header (browsers, Cloud Hosting in iOS high-performance mode). The route itself refuses to work without it.
DEFERRED_PATHS = ("/v1/tts/ws",)


class Unauthorized(ApiError):
    status, code, message = 401, "unauthorized", "需要登录或提供有效的凭证"


@dataclass(frozen=True)
class Identity:
    subject: str  # openid, api key name, or "dev"
    method: str  # api_key | dev | ...
    exempt: bool = False  # not charged against limits (the local developer, the operator's warm-up)

    @property
    def owner(self) -> str:
        """A stable, path-safe namespace for what this caller owns (voices)."""
        return hashlib.sha256(f"{self.method}:{self.subject}".encode()).hexdigest()[:24]


class Authenticator(Protocol):
    def __call__(self, request) -> Identity | None: ...


def build_authenticators(settings, tokens=None) -> list[Authenticator]:
    from .api_keys import ApiKeyAuth
    from .cloud_hosting import CloudHostingAuth
    from .dev import DevLoopbackAuth
    from .tokens import BearerTokenAuth

    chain: list[Authenticator] = []
    if settings.wechat_cloud_hosting:
        chain.append(CloudHostingAuth(settings.wechat_appid))
    if tokens is not None:
        chain.append(BearerTokenAuth(tokens))
    if settings.api_keys:
        chain.append(ApiKeyAuth.from_setting(settings.api_keys))
    if settings.dev_mode:
        log.warning("DEVELOPMENT MODE: unauthenticated requests from loopback are accepted. Never deploy this.")
        chain.append(DevLoopbackAuth(limited=settings.dev_limits))
    return chain


def authentication(authenticators: list[Authenticator]) -> Callable:
    """Middleware: resolve the identity into request.environ['app.identity'] or answer 401."""

    def middleware(request, next):
        if request.path not in PUBLIC_PATHS and not request.path.startswith("/media/"):
            identity = None
            for authenticate in authenticators:
                identity = authenticate(request)
                if identity is not None:
                    break
            if identity is None and request.path not in DEFERRED_PATHS:
                raise Unauthorized()
            if identity is not None:
                request.environ["app.identity"] = identity
        return next(request)

    return middleware


def token_identity(authenticators: list[Authenticator], environ: dict, token: str) -> Identity | None:
    """The identity a bearer token stands for, judged by the same authenticators as a header would be."""
    env = {k: v for k, v in environ.items() if k not in ("HTTP_AUTHORIZATION", "HTTP_X_API_KEY")}
    env["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    from werkzeug.wrappers import Request

    request = Request(env)
    for authenticate in authenticators:
        identity = authenticate(request)
        if identity is not None:
            return identity
    return None


def identity_of(request) -> Identity:
    identity = request.environ.get("app.identity")
    if identity is None:
        raise Unauthorized()
    return identity
