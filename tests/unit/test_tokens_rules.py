"""Our own JWTs (functions/auth/tokens.py), on their own: what a token carries, how long it lives, which keys
and algorithms the service accepts at start-up, which tokens it refuses, and how a bearer header is read.

Issuing runs on an injected clock; PyJWT checks exp and nbf against the real clock (and the service against its
own clock too), so the lifetimes below are set relative to it with whole seconds to spare. `decode` is the
signature and registered-claims check alone; `verify` adds the token's kind and binding (a forged token is a
session token only once its `jti` is recorded as its subject's current session: tests/unit/test_token_binding.py
has the rest of those rules)."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import jwt
import pytest

from functions.auth.tokens import BearerTokenAuth, TokenService

SECRET = "s" * 32
OLD = "o" * 40


def service(keys=None, active="k1", clock=None, **kwargs) -> TokenService:
    base = math.floor(time.time())
    return TokenService(keys or {"k1": SECRET}, active, clock=clock or (lambda: base), **kwargs)


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def forge(claims: dict, key: str = SECRET, kid: str = "k1", algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def session_token(tokens: TokenService, **override) -> str:
    """A forged session token whose session is its subject's current one."""
    claims = valid_claims(use="session", jti="j" * 32, **override)
    tokens.sessions.begin(claims.get("sub"), claims.get("amr") or "wechat", claims["jti"], 600)
    return forge(claims)


def valid_claims(**override) -> dict:
    now = math.floor(time.time())
    return {"iss": "cosyvoice-relay", "aud": "cosyvoice-relay-api", "sub": "openid-1", "amr": "wechat",
            "iat": now, "nbf": now, "exp": now + 600, **override}


# start-up checks


@pytest.mark.parametrize("algorithm", ["none", "HS512", "hs256", "RS512", ""])
def test_only_hs256_rs256_and_es256_are_accepted(algorithm):
    with pytest.raises(ValueError, match="JWT_ALGORITHM"):
        TokenService({"k1": SECRET}, "k1", algorithm=algorithm)


def test_the_active_key_id_must_be_one_of_the_keys():
    with pytest.raises(ValueError, match="JWT_ACTIVE_KID"):
        TokenService({"k1": SECRET}, "k2")


def test_hs256_keys_need_at_least_32_characters_each():
    assert TokenService({"k1": "x" * 32}, "k1")  # exactly 32 is enough
    with pytest.raises(ValueError, match="32"):
        TokenService({"k1": "x" * 31}, "k1")
    with pytest.raises(ValueError, match="32"):
        TokenService({"k2": SECRET, "k1": "short"}, "k2")  # an old key that is too short counts too


def test_asymmetric_keys_sign_with_the_private_key_and_verify_with_the_public_one():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    tokens = service({"ec1": pem}, "ec1", algorithm="ES256")
    token, _ = tokens.issue("openid-1")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert tokens.verify(token).subject == "openid-1"
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    jwt.decode(token, public_pem, algorithms=["ES256"], audience="cosyvoice-relay-api")  # the public key verifies


# issuing


def test_a_token_carries_who_how_for_whom_and_from_when_to_when():
    tokens = service(clock=lambda: 1_700_000_000.7)
    token, ttl = tokens.issue("openid-1", "wechat")
    claims = claims_of(token)
    assert ttl == 7200 and jwt.get_unverified_header(token)["kid"] == "k1"
    assert {k: claims[k] for k in ("iss", "aud", "sub", "amr", "iat", "nbf", "exp")} == {
        "iss": "cosyvoice-relay", "aud": "cosyvoice-relay-api", "sub": "openid-1", "amr": "wechat",
        "iat": 1_700_000_000, "nbf": 1_700_000_000, "exp": 1_700_007_200}
    assert len(claims["jti"]) == 32 and claims["jti"] != claims_of(tokens.issue("openid-1")[0])["jti"]


def test_a_token_is_issued_for_the_method_given_and_wechat_by_default():
    tokens = service()
    assert claims_of(tokens.issue("u", "password")[0])["amr"] == "password"
    assert claims_of(tokens.issue("u")[0])["amr"] == "wechat"


@pytest.mark.parametrize(("asked", "given"), [(None, 7200), (0, 7200), (60, 60), (7200, 7200), (86400, 7200)])
def test_a_shorter_lifetime_may_be_asked_for_never_a_longer_one(asked, given):
    tokens = service(clock=lambda: 1_000_000)
    token, ttl = tokens.issue("u", ttl_s=asked)
    assert ttl == given and claims_of(token)["exp"] == 1_000_000 + given


def test_new_tokens_are_signed_with_the_active_key_and_old_keys_still_verify():
    old = service({"k1": OLD}, "k1")
    rotated = service({"k2": SECRET, "k1": OLD}, "k2")
    token, _ = rotated.issue("openid-1")
    assert jwt.get_unverified_header(token)["kid"] == "k2"
    jwt.decode(token, SECRET, algorithms=["HS256"], audience="cosyvoice-relay-api")  # signed with k2's secret
    assert rotated.decode(old.issue("openid-1")[0])["sub"] == "openid-1"
    assert old.decode(token) is None  # k2 is unknown to a service that only has k1


# verifying


def test_a_valid_token_gives_its_subject_and_method():
    tokens = service()
    identity = tokens.verify(tokens.issue("openid-1", "wechat")[0])
    assert (identity.subject, identity.method, identity.via) == ("openid-1", "wechat", "session")
    assert tokens.verify(tokens.issue("openid-1", "password")[0]).method == "password"
    assert tokens.verify(session_token(tokens, amr="password")).method == "password"


@pytest.mark.parametrize("amr", [None, ""])
def test_a_token_without_a_method_is_a_wechat_login(amr):
    tokens = service()
    claims = valid_claims(amr=amr) if amr is not None else {k: v for k, v in valid_claims().items() if k != "amr"}
    assert tokens.decode(forge(claims))["sub"] == "openid-1"
    assert tokens.verify(session_token(tokens, amr=amr)).method == "wechat"


def test_expiry_is_checked_with_30_seconds_of_leeway():
    now = math.floor(time.time())
    tokens = service()
    assert tokens.decode(forge(valid_claims(iat=now - 100, nbf=now - 100, exp=now - 25))) is not None
    assert tokens.decode(forge(valid_claims(iat=now - 100, nbf=now - 100, exp=now - 35))) is None
    assert tokens.decode(forge(valid_claims(nbf=now + 25))) is not None
    assert tokens.decode(forge(valid_claims(nbf=now + 35))) is None


def test_an_issued_token_expires_after_its_lifetime():
    now = math.floor(time.time())
    lapsed = service(clock=lambda: now - 7200 - 40)
    assert lapsed.verify(lapsed.issue("u")[0]) is None
    alive = service(clock=lambda: now - 7200 + 20)
    assert alive.verify(alive.issue("u")[0]) is not None


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "iss", "aud", "sub"])
def test_every_required_claim_must_be_present(claim):
    tokens = service()
    assert tokens.decode(forge(valid_claims())) is not None
    assert tokens.decode(forge({k: v for k, v in valid_claims().items() if k != claim})) is None


@pytest.mark.parametrize("override", [{"aud": "someone-else"}, {"iss": "someone-else"}, {"sub": ""},
                                      {"sub": 42}, {"sub": None}])
def test_a_token_for_another_audience_issuer_or_without_a_subject_is_refused(override):
    assert service().decode(forge(valid_claims(**override))) is None


def test_a_configured_issuer_and_audience_are_the_ones_required():
    tokens = service(issuer="me", audience="my-api")
    assert tokens.decode(forge(valid_claims(iss="me", aud="my-api")))["sub"] == "openid-1"
    assert tokens.decode(forge(valid_claims())) is None
    assert claims_of(tokens.issue("u")[0])["iss"] == "me"


@pytest.mark.filterwarnings("ignore:The HMAC key")  # HS512 with a 32-byte secret: forged on purpose
def test_a_token_with_the_wrong_key_an_unknown_or_missing_kid_or_another_algorithm_is_refused():
    tokens = service()
    assert tokens.decode(forge(valid_claims())) is not None
    assert tokens.decode(forge(valid_claims(), key="w" * 32)) is None
    assert tokens.decode(forge(valid_claims(), kid="k9")) is None
    assert tokens.decode(jwt.encode(valid_claims(), SECRET, algorithm="HS256")) is None  # no kid at all
    assert tokens.decode(forge(valid_claims(), algorithm="HS512")) is None
    unsigned = jwt.encode(valid_claims(), None, algorithm="none", headers={"kid": "k1"})
    assert tokens.decode(unsigned) is None


@pytest.mark.parametrize("token", ["", "a.b.c", "not a token", "eyJhbGciOiJIUzI1NiJ9.e30", "...."])
def test_garbage_is_refused_not_raised(token):
    assert service().decode(token) is None and service().verify(token, socket=True) is None


# settings


def settings(**override):
    return SimpleNamespace(**{"jwt_keys": "", "jwt_active_kid": "", "jwt_algorithm": "HS256",
                              "jwt_issuer": "cosyvoice-relay", "jwt_audience": "cosyvoice-relay-api",
                              "jwt_ttl_s": 7200, **override})


def test_without_keys_there_is_no_token_service():
    assert TokenService.from_settings(settings()) is None


def test_keys_are_read_as_kid_colon_secret_pairs_and_the_first_is_active_by_default():
    tokens = TokenService.from_settings(settings(jwt_keys=f" k2:{SECRET} , k1:{OLD},", jwt_ttl_s=600,
                                                 jwt_issuer="me", jwt_audience="my-api"))
    assert tokens.keys == {"k2": SECRET, "k1": OLD} and tokens.active_kid == "k2"
    token, ttl = tokens.issue("u")
    assert ttl == 600 and claims_of(token)["iss"] == "me" and claims_of(token)["aud"] == "my-api"
    chosen = TokenService.from_settings(settings(jwt_keys=f"k2:{SECRET},k1:{OLD}", jwt_active_kid="k1"))
    assert jwt.get_unverified_header(chosen.issue("u")[0])["kid"] == "k1"


def test_a_secret_may_contain_colons_and_escaped_newlines_become_newlines():
    tokens = TokenService.from_settings(settings(jwt_keys="k1:a:b" + "c" * 30 + "\\nline2"))
    assert tokens.keys == {"k1": "a:b" + "c" * 30 + "\nline2"}


def test_the_configured_algorithm_is_used():
    with pytest.raises(ValueError, match="JWT_ALGORITHM"):
        TokenService.from_settings(settings(jwt_keys=f"k1:{SECRET}", jwt_algorithm="HS384"))


# the bearer header


class Request:
    def __init__(self, authorization: str | None, path: str = "/v1/voices") -> None:
        self.headers = {} if authorization is None else {"Authorization": authorization}
        self.path = path


@pytest.mark.parametrize("scheme", ["Bearer ", "bearer ", "BEARER ", "Bearer   "])
def test_a_bearer_header_in_any_case_carries_the_token(scheme):
    tokens = service()
    token, _ = tokens.issue("openid-1")
    assert BearerTokenAuth(tokens)(Request(scheme + token + " ")).subject == "openid-1"


def test_other_schemes_missing_headers_and_non_jwts_are_not_bearer_tokens():
    tokens = service()
    token, _ = tokens.issue("openid-1")
    auth = BearerTokenAuth(tokens)
    assert auth(Request(None)) is None
    assert auth(Request("Basic " + token)) is None
    assert auth(Request("Bearer" + token)) is None
    assert auth(Request("Bearer " + token + ".x")) is None  # three dots: not a JWT
    assert auth(Request("Bearer " + token.replace(".", "", 1))) is None


def test_an_authorization_header_over_4096_characters_is_ignored():
    tokens = service()
    token, _ = tokens.issue("x" * 1000)
    header = "Bearer " + token
    padded = header + " " * (4096 - len(header))
    assert len(padded) == 4096 and BearerTokenAuth(tokens)(Request(padded)).subject == "x" * 1000
    assert BearerTokenAuth(tokens)(Request(padded + " ")) is None
