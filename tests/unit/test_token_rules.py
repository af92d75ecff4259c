"""Token edge rules on a frozen clock: the default leeway is exactly 30 seconds on both ends of a token's
validity, and a key configured with an empty key id is also the key for tokens that carry no key id."""

from __future__ import annotations

from datetime import datetime, timezone

import jwt
import pytest

from functions.auth.tokens import TokenService

SECRET = "s" * 32
NOW = 1_700_000_000


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.fromtimestamp(NOW, tz or timezone.utc)


@pytest.fixture
def frozen(monkeypatch):
    """PyJWT checks exp and nbf against its own clock: frozen at NOW."""
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)


def _claims(**override) -> dict:
    return {"iss": "cosyvoice-relay", "aud": "cosyvoice-relay-api", "sub": "openid-1", "amr": "wechat",
            "iat": NOW - 100, "nbf": NOW - 100, "exp": NOW + 600, **override}


def _service(kid: str = "k1") -> TokenService:
    return TokenService({kid: SECRET}, kid, clock=lambda: NOW)


def _sign(claims: dict) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256", headers={"kid": "k1"})


def test_a_token_expired_29_seconds_ago_passes_and_30_seconds_ago_is_refused(frozen):
    tokens = _service()
    assert tokens.decode(_sign(_claims(exp=NOW - 29)))["sub"] == "openid-1"
    assert tokens.decode(_sign(_claims(exp=NOW - 30))) is None


def test_a_token_valid_30_seconds_from_now_passes_and_31_seconds_is_refused(frozen):
    tokens = _service()
    assert tokens.decode(_sign(_claims(nbf=NOW + 30)))["sub"] == "openid-1"
    assert tokens.decode(_sign(_claims(nbf=NOW + 31))) is None


def test_a_token_without_a_key_id_is_read_as_the_empty_key_id(frozen):
    unnamed = _service(kid="")
    no_kid = jwt.encode(_claims(), SECRET, algorithm="HS256")
    assert "kid" not in jwt.get_unverified_header(no_kid)
    assert unnamed.decode(no_kid)["sub"] == "openid-1"
    assert unnamed.verify(unnamed.issue("u")[0]).subject == "u"
    assert _service().decode(no_kid) is None
