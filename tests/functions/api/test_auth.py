"""Identity: WeChat login -> our JWT, every JWT attack refused, Cloud Hosting headers, API keys, dev mode.

The attacks are made on a session token whose session is current (`claims()`, recorded by the `app` fixture),
so each is refused for its own flaw; tests/unit/test_token_binding.py has the kinds and bindings of tokens."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.auth.tokens import TokenService

from tests.support import ALICE_KEY, client_for

SECRET = "k" * 40
OLD_SECRET = "o" * 40
JTI = "a" * 32  # the session the forged session tokens below claim, current for their subjects


@pytest.fixture
def app(make_app, wechat):
    app = make_app(wechat_appid="wxappid123", wechat_secret="wxsecret456", wechat_api_base=wechat.base,
                   jwt_keys=f"k2:{SECRET},k1:{OLD_SECRET}", jwt_active_kid="k2", dev_mode=False)
    for subject in ("oAttacker", "oOld", "oAdmin"):  # as if each had just logged in with session JTI
        app.services.tokens.sessions.begin(subject, "wechat", JTI, 3600)
    return app


def login(client, code):
    return client.post("/v1/auth/wechat", data=json.dumps({"code": code}), content_type="application/json")


def remote(app, token=None, headers=None):
    client = client_for(app, "unused")  # a remote caller (not loopback)
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    headers.setdefault("X-Api-Key", "")
    return client.get("/v1/voices", headers=headers)


def test_wechat_login_issues_a_working_token(app):
    client = client_for(app, "unused")
    r = login(client, "code-oUser123456")
    assert r.status_code == 200, r.json
    assert r.json["token_type"] == "Bearer" and r.json["expires_in"] == 7200
    claims = jwt.decode(r.json["token"], SECRET, algorithms=["HS256"], audience="cosyvoice-relay-api")
    assert claims["sub"] == "oUser123456" and claims["iss"] == "cosyvoice-relay" and claims["amr"] == "wechat"
    assert claims["use"] == "session"  # a session token: the HTTP API, and socket tokens minted from it
    assert claims["exp"] - claims["iat"] == r.json["expires_in"]  # the token lives as long as it says
    assert jwt.get_unverified_header(r.json["token"])["kid"] == "k2"
    assert "session_key" not in r.get_data(as_text=True)
    assert remote(app, r.json["token"]).status_code == 200


@pytest.mark.parametrize("code, status, error", [
    ("bad-xxxxxxxx", 401, "wechat_code_invalid"), ("used-xxxxxxx", 401, "wechat_code_invalid"),
    ("busy-xxxxxxx", 429, "wechat_rate_limited"), ("risk-xxxxxxx", 403, "wechat_high_risk_user"),
    ("x", 400, "invalid_code"), ("../../etc/passwd", 400, "invalid_code"),
])
def test_wechat_errors_map_to_clear_errors(app, code, status, error):
    r = login(client_for(app, "unused"), code)
    assert (r.status_code, r.json["error"]["code"]) == (status, error)


def test_wechat_down_is_503(make_app):
    app = make_app(wechat_appid="a", wechat_secret="b", wechat_api_base="http://127.0.0.1:9",
                   jwt_keys=f"k:{SECRET}")
    r = login(client_for(app, "unused"), "code-abcdefgh")
    assert r.status_code == 503 and r.headers["Retry-After"]


def claims(**over):
    now = int(time.time())
    return {"iss": "cosyvoice-relay", "aud": "cosyvoice-relay-api", "sub": "oAttacker", "iat": now, "nbf": now,
            "exp": now + 600, "amr": "wechat", "use": "session", "jti": JTI, **over}


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("name, token", [
    ("alg none", lambda: f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k2'})}.{b64(claims())}."),
    ("alg None spelled", lambda: f"{b64({'alg': 'None', 'kid': 'k2'})}.{b64(claims())}.x"),
    ("wrong key", lambda: jwt.encode(claims(), "w" * 40, algorithm="HS256", headers={"kid": "k2"})),
    ("unknown kid", lambda: jwt.encode(claims(), SECRET, algorithm="HS256", headers={"kid": "k9"})),
    ("no kid", lambda: jwt.encode(claims(), SECRET, algorithm="HS256")),
    ("expired", lambda: jwt.encode(claims(exp=int(time.time()) - 120), SECRET, "HS256", headers={"kid": "k2"})),
    ("not yet valid", lambda: jwt.encode(claims(nbf=int(time.time()) + 600), SECRET, "HS256",
                                         headers={"kid": "k2"})),
    ("wrong audience", lambda: jwt.encode(claims(aud="other-api"), SECRET, "HS256", headers={"kid": "k2"})),
    ("wrong issuer", lambda: jwt.encode(claims(iss="evil"), SECRET, "HS256", headers={"kid": "k2"})),
    ("no expiry", lambda: jwt.encode({k: v for k, v in claims().items() if k != "exp"}, SECRET, "HS256",
                                     headers={"kid": "k2"})),
    ("HS512", lambda: jwt.encode(claims(), SECRET, algorithm="HS512", headers={"kid": "k2"})),
    ("tampered payload", lambda: (lambda t: t.split(".")[0] + "." + b64(claims(sub="oAdmin")) + "." +
                                  t.split(".")[2])(jwt.encode(claims(), SECRET, "HS256", headers={"kid": "k2"}))),
    ("garbage", lambda: "a.b.c"),
])
def test_jwt_attacks_are_refused(app, name, token):
    r = remote(app, token())
    assert r.status_code == 401, name
    assert r.json["error"]["code"] == "unauthorized"


def test_the_untampered_token_the_attacks_start_from_is_accepted(app):
    assert remote(app, jwt.encode(claims(), SECRET, "HS256", headers={"kid": "k2"})).status_code == 200


@pytest.mark.parametrize("name, over", [
    ("no use: a token from before token kinds", {"use": None}),
    ("a session that is not the subject's current one", {"jti": "b" * 32}),
    ("a socket token on an HTTP route, bound to nothing", {"use": "socket"}),
])
def test_tokens_of_no_current_kind_are_refused(app, name, over):
    token = jwt.encode({k: v for k, v in claims(**over).items() if v is not None}, SECRET, "HS256",
                       headers={"kid": "k2"})
    r = remote(app, token)
    assert (r.status_code, r.json["error"]["code"]) == (401, "unauthorized"), name


def test_a_socket_token_is_no_credential_for_http_routes(app):
    """The attack that made token kinds: a 300 s token minted another, and worked on every route."""
    minted = client_for(app, ALICE_KEY).post("/v1/auth/token").json["token"]
    for r in (remote(app, minted), client_for(app).post("/v1/auth/token", headers={
            "Authorization": f"Bearer {minted}", "X-Api-Key": ""}, environ_base={"REMOTE_ADDR": "203.0.113.9"})):
        assert (r.status_code, r.json["error"]["code"]) == (403, "token_not_allowed")
        assert "WebSocket" in r.json["error"]["message"]


def test_rotated_key_still_verifies_until_removed(app):
    old = jwt.encode(claims(sub="oOld"), OLD_SECRET, "HS256", headers={"kid": "k1"})
    assert remote(app, old).status_code == 200


def test_algorithm_confusion_with_rs256(make_app):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    app = make_app(jwt_keys="r1:" + pem.replace("\n", "\\n"), jwt_algorithm="RS256", dev_mode=False)
    good, _ = app.services.tokens.issue("oUser", "wechat")
    assert remote(app, good).status_code == 200
    # HS256 signed with the public key as the HMAC secret: the classic confusion attack
    import hashlib
    import hmac
    header, payload = b64({"alg": "HS256", "typ": "JWT", "kid": "r1"}), b64(claims())
    sig = base64.urlsafe_b64encode(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    forged = f"{header}.{payload}.{sig.rstrip(b'=').decode()}"
    assert remote(app, forged).status_code == 401


def test_token_service_refuses_weak_configuration():
    with pytest.raises(ValueError):
        TokenService({"k": "short"}, "k")
    with pytest.raises(ValueError):
        TokenService({"k": SECRET}, "missing")
    with pytest.raises(ValueError):
        TokenService({"k": SECRET}, "k", algorithm="none")


def test_cloud_hosting_headers_are_ignored_unless_declared(make_app):
    forged = {"X-WX-OPENID": "oForged12345", "X-WX-APPID": "wxappid123", "X-WX-SOURCE": "wx_devtools"}
    plain = make_app(dev_mode=False)
    assert remote(plain, headers=forged).status_code == 401
    hosted = make_app(dev_mode=False, wechat_cloud_hosting=True, wechat_appid="wxappid123")
    assert remote(hosted, headers=forged).status_code == 200
    assert remote(hosted, headers={**forged, "X-WX-APPID": "wxother"}).status_code == 401


def test_api_keys_and_dev_mode(make_app):
    app = make_app(dev_mode=False)
    assert client_for(app, ALICE_KEY).get("/v1/voices").status_code == 200
    assert client_for(app, "not-a-key").get("/v1/voices").status_code == 401
    assert client_for(app).get("/v1/voices").status_code == 401  # loopback, but no dev mode
    dev = make_app(dev_mode=True)
    assert client_for(dev).get("/v1/voices").status_code == 200
    proxied = client_for(dev).get("/v1/voices", headers={"X-Forwarded-For": "198.51.100.1"})
    assert proxied.status_code == 401  # a proxy on the same host must not make everyone local
    assert client_for(dev, "wrong").get("/v1/voices").status_code == 401  # remote address, no key


@pytest.mark.parametrize("header", [("X-Forwarded-For", ""), ("X-Real-IP", "198.51.100.1"), ("Via", "1.1 proxy"),
                                    ("X-Forwarded-Host", "example.com"), ("Forwarded", "for=1.2.3.4"),
                                    ("x-forwarded-proto", "https"), ("True-Client-IP", "1.2.3.4"),
                                    ("X-Forwarded", "for=1.2.3.4"), ("X-Original-Host", "a.example"),
                                    ("Fly-Client-IP", "1.2.3.4"), ("CF-Ray", "abc"), ("X-Amzn-Trace-Id", "Root=1"),
                                    ("Host", "api.example.com"), ("Host", "10.0.0.5:8080"),
                                    ("Host", "127.0.0.1.rebind.attacker.example:8080"), ("Host", "127.evil.example")])
def test_dev_mode_refuses_any_proxy_header_or_foreign_host(make_app, header):
    """A proxy, tunnel or port forward on the same host must not make every caller local: any proxy header
    (present at all), or a Host that does not name this machine, ends development mode for the request."""
    dev = make_app(dev_mode=True)
    assert client_for(dev).get("/v1/voices", headers=[header]).status_code == 401
    assert client_for(dev).get("/v1/voices", headers=[("Host", "127.0.0.1:8080")]).status_code == 200


def test_dev_mode_cannot_come_from_the_environment():
    from functions.settings import Settings

    assert Settings.from_env({"DEV_MODE": "true"}).dev_mode is False


def test_health_needs_no_identity(make_app):
    app = make_app(dev_mode=False)
    assert client_for(app, "x").get("/healthz").status_code == 200
    assert client_for(app, "x").get("/v1/presets").status_code == 401
