"""Who is calling: a chain of authenticators, the first that recognizes the request wins.

Every endpoint but health requires an identity. Configured by Settings: API keys for server-to-server
callers, WeChat Cloud Hosting's injected identity, our own tokens (functions/auth/tokens.py: a WeChat login's
session token, and the short-lived socket tokens minted from a credential, bound to it), and a development
mode (only ever switched on explicitly by the local dev server, never by an environment variable) that accepts
unauthenticated requests from loopback.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Callable, Protocol

from ..errors import ApiError

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/", "/healthz", "/readyz", "/v1/auth/wechat", "/openapi.yaml", "/demo", "/metrics")
# Identity may come after the request: a WebSocket's first message carries the token its client cannot put in
# a header (browsers, Cloud Hosting in iOS high-performance mode). The route itself refuses to work without it.
DEFERRED_PATHS = ("/v1/tts/ws",)
# Where a socket token (POST /v1/auth/token) is a credential: the WebSocket only, never an HTTP route.
SOCKET_PATHS = ("/v1/tts/ws",)


class Unauthorized(ApiError):
    code, status = "unauthorized", 401


@dataclass(frozen=True)
class Identity:
    subject: str  # openid, api key name, or "dev"
    method: str  # api_key | wechat | dev | ...: with the subject, who owns what (see `owner`)
    exempt: bool = False  # not charged against limits (the local developer, the operator's warm-up)
    via: str = ""  # what proved it: api_key | session | socket_token | cloud_hosting | dev | wechat_login
    expires_at: int | None = None  # epoch seconds, for an identity from a token; None otherwise
    # what a token minted from this identity is bound to: the API key entry's fingerprint, the session's id
    binding: str = field(default="", repr=False, compare=False)

    @property
    def owner(self) -> str:
        """A stable, path-safe namespace for what this caller owns (voices)."""
        return hashlib.sha256(f"{self.method}:{self.subject}".encode()).hexdigest()[:24]


class Authenticator(Protocol):
    def __call__(self, request) -> Identity | None: ...


def build_authenticators(settings, tokens=None) -> list[Authenticator]:
    """The chain for `settings`. Our tokens are judged against the same configuration: a socket token minted
    from an API key is valid only while that key's entry is configured, one minted from Cloud Hosting's or the
    development identity only while that method is on (a session's, against the state: `tokens.sessions`)."""
    from .api_keys import ApiKeyAuth
    from .cloud_hosting import CloudHostingAuth
    from .dev import DevLoopbackAuth
    from .tokens import BearerTokenAuth

    api_keys = ApiKeyAuth.from_setting(settings.api_keys) if settings.api_keys else None
    methods = {m for m, on in (("cloud_hosting", settings.wechat_cloud_hosting), ("dev", settings.dev_mode)) if on}
    chain: list[Authenticator] = []
    if settings.wechat_cloud_hosting:
        chain.append(CloudHostingAuth(settings.wechat_appid))
    if tokens is not None:
        chain.append(BearerTokenAuth(tokens, api_keys=api_keys, methods=methods))
    if api_keys is not None:
        chain.append(api_keys)
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


def _first(authenticators: list[Authenticator], environ: dict) -> Identity | None:
    from werkzeug.wrappers import Request

    request = Request(environ, populate_request=False)
    for authenticate in authenticators:
        identity = authenticate(request)
        if identity is not None:
            return identity
    return None


def token_identity(authenticators: list[Authenticator], environ: dict, token: str) -> Identity | None:
    """The identity a bearer token stands for, judged by the same authenticators as a header would be, on the
    path of `environ` (a socket token counts only on the WebSocket's)."""
    env = {k: v for k, v in environ.items() if k not in ("HTTP_AUTHORIZATION", "HTTP_X_API_KEY")}
    env["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return _first(authenticators, env)


def recheck(authenticators: list[Authenticator], environ: dict, token: str | None) -> Identity | None:
    """A WebSocket's identity judged again, as at its start: before each message of a long-lived connection.

    `environ` is the upgrade request's; `token` the one the socket authenticated with in a message, or None (or
    "") when the upgrade request's own credentials did. The same judgement runs again, on the authenticators' clock and
    configuration: a token that expired, a session replaced by a new login, an API key entry removed or rotated
    give None, and so does a credential in the upgrade headers that no longer holds. A bad credential never
    raises (on the socket's own path); the state's own failure (StateUnavailable) propagates."""
    if token:
        return token_identity(authenticators, environ, token)
    return _first(authenticators, environ)


def identity_of(request) -> Identity:
    identity = request.environ.get("app.identity")
    if identity is None:
        raise Unauthorized()
    return identity
