"""Our own short-lived JWTs (issued after WeChat login), verified with the algorithm pinned.

Keys rotate by key id: JWT_KEYS="k2:<secret>,k1:<old secret>" with JWT_ACTIVE_KID=k2 signs new tokens with
k2 and still accepts k1 until it is removed. Verification requires exp, iat, nbf, iss, aud and sub, accepts
only the configured algorithm (HS256 by default; RS256/ES256 take PEM keys), and only known key ids: `none`,
wrong keys, expired or not-yet-valid tokens, wrong audience or issuer, and algorithm confusion (an HS256 token
signed with an RS256 public key) are all refused.
"""

from __future__ import annotations

import time
import uuid

import jwt

from . import Identity

ASYMMETRIC = ("RS256", "ES256")


class TokenService:
    def __init__(self, keys: dict[str, str], active_kid: str, *, algorithm: str = "HS256",
                 issuer: str = "cosyvoice-relay", audience: str = "cosyvoice-relay-api", ttl_s: int = 7200,
                 leeway_s: int = 30, clock=time.time) -> None:
        if algorithm not in ("HS256",) + ASYMMETRIC:
            raise ValueError("JWT_ALGORITHM must be HS256, RS256 or ES256")
        if active_kid not in keys:
            raise ValueError("JWT_ACTIVE_KID must name one of JWT_KEYS")
        if algorithm == "HS256" and any(len(k) < 32 for k in keys.values()):
            raise ValueError("HS256 keys must be at least 32 characters")
        self.keys, self.active_kid, self.algorithm = keys, active_kid, algorithm
        self.issuer, self.audience, self.ttl_s, self.leeway_s = issuer, audience, ttl_s, leeway_s
        self._clock = clock
        self._verify_keys = {kid: self._public(key) for kid, key in keys.items()}

    def _public(self, key: str):
        if self.algorithm in ASYMMETRIC:
            from cryptography.hazmat.primitives import serialization

            private = serialization.load_pem_private_key(key.encode(), password=None)
            return private.public_key()
        return key

    @classmethod
    def from_settings(cls, settings) -> "TokenService | None":
        if not settings.jwt_keys:
            return None
        keys = {}
        for item in filter(None, (p.strip() for p in settings.jwt_keys.split(","))):
            kid, _, secret = item.partition(":")
            keys[kid] = secret.replace("\\n", "\n")
        return cls(keys, settings.jwt_active_kid or next(iter(keys)), algorithm=settings.jwt_algorithm,
                   issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_s=settings.jwt_ttl_s)

    def issue(self, subject: str, method: str = "wechat", ttl_s: int | None = None) -> tuple[str, int]:
        now = int(self._clock())
        ttl = min(ttl_s or self.ttl_s, self.ttl_s)
        claims = {"iss": self.issuer, "aud": self.audience, "sub": subject, "amr": method, "iat": now, "nbf": now,
                  "exp": now + ttl, "jti": uuid.uuid4().hex}
        token = jwt.encode(claims, self.keys[self.active_kid], algorithm=self.algorithm,
                           headers={"kid": self.active_kid})
        return token, ttl

    def verify(self, token: str) -> Identity | None:
        try:
            header = jwt.get_unverified_header(token)
            key = self._verify_keys.get(header.get("kid", ""))
            if key is None or header.get("alg") != self.algorithm:
                return None
            claims = jwt.decode(token, key, algorithms=[self.algorithm], audience=self.audience, issuer=self.issuer,
                                leeway=self.leeway_s, options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]})
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            return None
        return Identity(subject, str(claims.get("amr") or "wechat"))


class BearerTokenAuth:
    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    def __call__(self, request) -> Identity | None:
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() != "bearer " or len(auth) > 4096:
            return None
        token = auth[7:].strip()
        return self.tokens.verify(token) if token.count(".") == 2 else None
