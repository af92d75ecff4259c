"""Our own short-lived JWTs (issued after WeChat login), verified with the algorithm pinned.

Keys rotate by key id: JWT_KEYS="k2:<secret>,k1:<old secret>" with JWT_ACTIVE_KID=k2 signs new tokens with
k2 and still accepts k1 until it is removed. Verification requires exp, iat, nbf, iss, aud and sub, accepts
only the configured algorithm (HS256 by default; RS256/ES256 take PEM keys), and only known key ids: `none`,
wrong keys, expired or not-yet-valid tokens, wrong audience or issuer, and algorithm confusion (an HS256 token
signed with an RS256 public key) are all refused. Expiry and not-before are also checked against the service's
own clock (injectable), with the same leeway.

Two kinds, by the `use` claim, and nothing else is accepted:
- `session`: from a WeChat login (POST /v1/auth/wechat); authenticates the HTTP API and the WebSocket, and may
  mint socket tokens. Its `jti` is the user's current session in the state (`Sessions`): a new login replaces
  it, and the old session token stops working at once.
- `socket`: from POST /v1/auth/token, short-lived; authenticates only the WebSocket (`SOCKET_PATHS`), and
  nothing can be minted from it. Its `bnd` claim names the credential it was minted from, checked at every
  verification: `api_key:<fingerprint of the API_KEYS entry>` (valid while that entry is configured),
  `session:<jti>` (while that session is the user's current one), `cloud_hosting:` or `dev:` (while that
  method is on). It never outlives the session it came from.
"""

from __future__ import annotations

import time
import uuid

import jwt

from ..errors import ApiError
from . import SOCKET_PATHS, Identity, Unauthorized
from .sessions import Sessions

ASYMMETRIC = ("RS256", "ES256")
SESSION, SOCKET = "session", "socket"  # the `use` claim
# What a socket token may be minted from (Identity.via): never a socket token
MINTABLE = ("session", "api_key", "cloud_hosting", "dev")


class TokenService:
    def __init__(self, keys: dict[str, str], active_kid: str, *, algorithm: str = "HS256",
                 issuer: str = "cosyvoice-relay", audience: str = "cosyvoice-relay-api", ttl_s: int = 7200,
                 leeway_s: int = 30, clock=time.time, state=None) -> None:
        if algorithm not in ("HS256",) + ASYMMETRIC:
            raise ValueError("JWT_ALGORITHM must be HS256, RS256 or ES256")
        if active_kid not in keys:
            raise ValueError("JWT_ACTIVE_KID must name one of JWT_KEYS")
        if algorithm == "HS256" and any(len(k) < 32 for k in keys.values()):
            raise ValueError("HS256 keys must be at least 32 characters")
        self.keys, self.active_kid, self.algorithm = keys, active_kid, algorithm
        self.issuer, self.audience, self.ttl_s, self.leeway_s = issuer, audience, ttl_s, leeway_s
        self._clock = clock
        if state is None:  # on its own (no app): the sessions it started, in this process
            from ..state.memory import MemoryState

            state = MemoryState()
        self.sessions = Sessions(state)
        self._verify_keys = {kid: self._public(key) for kid, key in keys.items()}

    def _public(self, key: str):
        if self.algorithm in ASYMMETRIC:
            from cryptography.hazmat.primitives import serialization

            private = serialization.load_pem_private_key(key.encode(), password=None)
            return private.public_key()
        return key

    @classmethod
    def from_settings(cls, settings, *, state=None) -> "TokenService | None":
        if not settings.jwt_keys:
            return None
        keys = {}
        for item in filter(None, (p.strip() for p in settings.jwt_keys.split(","))):
            kid, _, secret = item.partition(":")
            keys[kid] = secret.replace("\\n", "\n")
        return cls(keys, settings.jwt_active_kid or next(iter(keys)), algorithm=settings.jwt_algorithm,
                   issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=settings.jwt_ttl_s,
                   state=state)

    def issue(self, subject: str, method: str = "wechat", ttl_s: int | None = None, *, use: str = SESSION,
              binding: str = "") -> tuple[str, int]:
        """A signed token and its lifetime (at most the configured one). A session token becomes the subject's
        one current session (a login); a socket token needs its `binding` ("<kind>:<value>", see `mint`)."""
        if use not in (SESSION, SOCKET) or (use == SOCKET) != bool(binding):
            raise ValueError("a session token has no binding; a socket token must have one")
        now = int(self._clock())
        ttl = min(ttl_s or self.ttl_s, self.ttl_s)
        claims = {"iss": self.issuer, "aud": self.audience, "sub": subject, "amr": method, "iat": now, "nbf": now,
                  "exp": now + ttl, "jti": uuid.uuid4().hex, "use": use}
        if use == SOCKET:
            claims["bnd"] = binding
        token = jwt.encode(claims, self.keys[self.active_kid], algorithm=self.algorithm,
                           headers={"kid": self.active_kid})
        if use == SESSION:
            self.sessions.begin(subject, method, claims["jti"], ttl)
        return token, ttl

    def mint(self, identity: Identity, ttl_s: int) -> tuple[str, int]:
        """A socket token for `identity`, bound to the credential that proved it; refused (token_not_allowed)
        for an identity proved by anything but a session token, an API key, Cloud Hosting or development mode."""
        if identity.via not in MINTABLE or (identity.via in ("session", "api_key") and not identity.binding):
            raise ApiError("token_not_allowed")
        value = identity.binding if identity.via in ("session", "api_key") else ""
        if identity.expires_at is not None:  # never outlives the session it is minted from
            left = int(identity.expires_at - self._clock())
            if left <= 0:
                raise Unauthorized()
            ttl_s = min(ttl_s, left)
        return self.issue(identity.subject, identity.method, ttl_s, use=SOCKET, binding=f"{identity.via}:{value}")

    def decode(self, token: str) -> dict | None:
        """The claims of a token whose signature, algorithm, key id and registered claims all hold (expiry and
        not-before against both PyJWT's clock and ours); None for anything else. Nothing about its kind."""
        try:
            header = jwt.get_unverified_header(token)
            key = self._verify_keys.get(header.get("kid", ""))
            if key is None or header.get("alg") != self.algorithm:
                return None
            claims = jwt.decode(token, key, algorithms=[self.algorithm], audience=self.audience, issuer=self.issuer,
                                leeway=self.leeway_s, options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]})
            now = self._clock()
            if (int(claims["exp"]) <= now - self.leeway_s or int(claims["nbf"]) > now + self.leeway_s
                    or int(claims["iat"]) > now + self.leeway_s):
                return None
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
            return None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            return None
        return claims

    def verify(self, token: str, *, socket: bool = False, bound=None) -> Identity | None:
        """The identity a token stands for, or None. A session token: while it is its subject's current session.
        A socket token: only where `socket` is true (the WebSocket), and only while its binding holds: a session
        binding is checked here, any other by `bound(kind, value, subject, method) -> bool` (none: refused)."""
        claims = self.decode(token)
        if claims is None:
            return None
        subject, method, use = claims["sub"], str(claims.get("amr") or "wechat"), claims.get("use")
        expires_at = int(claims["exp"])
        if use == SESSION:
            jti = claims.get("jti")
            if not self.sessions.current(subject, method, jti):
                return None
            return Identity(subject, method, via="session", expires_at=expires_at, binding=jti)
        binding = claims.get("bnd")
        if use != SOCKET or not socket or not isinstance(binding, str):
            return None
        kind, _, value = binding.partition(":")
        if kind == "session":
            ok = self.sessions.current(subject, method, value)
        else:
            ok = kind in MINTABLE and bound is not None and bound(kind, value, subject, method) is True
        return Identity(subject, method, via="socket_token", expires_at=expires_at, binding=binding) if ok else None


class BearerTokenAuth:
    """`Authorization: Bearer <our token>`. A socket token anywhere but on the WebSocket is refused with 403
    token_not_allowed (it is ours and valid, only not a credential there)."""

    def __init__(self, tokens: TokenService, *, api_keys=None, methods=()) -> None:
        self.tokens, self.api_keys, self.methods = tokens, api_keys, frozenset(methods)

    def bound(self, kind: str, value: str, subject: str, method: str) -> bool:
        """Whether the credential a socket token was minted from still holds (a session's: see TokenService)."""
        if kind == "api_key":
            return method == "api_key" and self.api_keys is not None and self.api_keys.configured(value, subject)
        if kind == "cloud_hosting":
            return method == "wechat" and not value and kind in self.methods
        if kind == "dev":
            return method == "dev" and subject == "dev" and not value and kind in self.methods
        return False

    def __call__(self, request) -> Identity | None:
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() != "bearer " or len(auth) > 4096:
            return None
        token = auth[7:].strip()
        if token.count(".") != 2:
            return None
        identity = self.tokens.verify(token, socket=True, bound=self.bound)
        if identity is not None and identity.via == "socket_token" and request.path not in SOCKET_PATHS:
            raise ApiError("token_not_allowed")
        return identity
