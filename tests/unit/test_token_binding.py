"""Our tokens' kinds and bindings (functions/auth/tokens.py): a socket token from POST /v1/auth/token
authenticates only the WebSocket and mints nothing; it is bound to the credential it was minted from (an API_KEYS
entry, a WeChat session, Cloud Hosting, development mode), so removing or rotating the key, or a new login,
revokes it; a session token from POST /v1/auth/wechat is valid only while it is its user's current session.

The app is the unit tier's (fake endpoint, in-memory state); "a restart with other settings" is a second app on
the same state and storage. Two tests open a real WebSocket on a loopback server, as tests/functions/api/test_socket.py
does."""

from __future__ import annotations

import json
import threading
import time

import jwt
import pytest
import simple_websocket
from werkzeug.serving import make_server
from werkzeug.test import Client, EnvironBuilder

from functions.auth import Identity, recheck, token_identity
from functions.auth.api_keys import digest, fingerprint
from tests.support import ALICE_KEY, BOB_KEY, client_for

SECRET = "s" * 40
JWT = {"jwt_keys": f"k:{SECRET}", "dev_mode": False, "aigc_cue": "none"}
ALICE, BOB = f"alice:{digest(ALICE_KEY)}", f"bob:{digest(BOB_KEY)}"
NEW_ALICE_KEY = "alice-rotated-key-0003"


@pytest.fixture
def login_app(unit_app, wechat):
    return unit_app(wechat_appid="wxappid123", wechat_secret="wxsecret456", wechat_api_base=wechat.base, **JWT)


def bearer(app, token: str) -> Client:
    """A remote caller sending `Authorization: Bearer <token>` and nothing else."""

    class BearerClient(Client):
        def open(self, *args, **kwargs):
            kwargs.setdefault("environ_base", {}).setdefault("REMOTE_ADDR", "203.0.113.7")
            kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {token}"
            return super().open(*args, **kwargs)

    return BearerClient(app)


def socket_environ(**headers) -> dict:
    """The environ of a WebSocket upgrade request from a remote caller."""
    return EnvironBuilder(path="/v1/tts/ws", headers=headers, environ_base={"REMOTE_ADDR": "203.0.113.7"}).get_environ()


def on_socket(app, token: str):
    """The identity a token in a WebSocket's first message stands for (what the socket asks)."""
    return token_identity(app.authenticators, socket_environ(), token)


def mint(client) -> str:
    r = client.post("/v1/auth/token")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["token"]


def login(app, code: str) -> str:
    r = client_for(app, "unused").post("/v1/auth/wechat", json={"code": code}, headers={"X-Api-Key": ""})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["token"]


def claims(token: str) -> dict:
    """A token's claims, its signature checked (not its times: some are issued on a moved clock)."""
    return jwt.decode(token, SECRET, algorithms=["HS256"], audience="cosyvoice-relay-api",
                      options={"verify_exp": False, "verify_nbf": False, "verify_iat": False})


def forge(**fields) -> str:
    """A token signed with the deployment's own key (what only the server can make), for binding mix-ups."""
    now = int(time.time())
    base = {"iss": "cosyvoice-relay", "aud": "cosyvoice-relay-api", "iat": now, "nbf": now, "exp": now + 300,
            "jti": "f" * 32}
    return jwt.encode({**base, **fields}, SECRET, algorithm="HS256", headers={"kid": "k"})


def restarted(app, unit_app, **settings):
    """The same deployment restarted with other settings: a new app on the same state and storage."""
    return unit_app(state=app.services.state, storage=app.services.storage, **{**JWT, **settings})


def refused_on_http(app, token: str) -> None:
    client = bearer(app, token)
    for r in (client.get("/v1/voices"), client.post("/v1/tts", json={"text": "你好。", "voice_id": "default"}),
              client.post("/v1/auth/token")):
        error = (r.get_json() or {}).get("error") or {}
        assert (r.status_code, error.get("code")) == (403, "token_not_allowed"), r.request.path


@pytest.fixture
def serve():
    servers = []

    def start(app) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"ws://127.0.0.1:{server.server_port}/v1/tts/ws"

    yield start
    for server in servers:
        server.shutdown()


def speak(ws, **body) -> dict:
    ws.send(json.dumps({"voice_id": "default", "text": "令牌。", **body}))
    while True:
        message = ws.receive(timeout=30)
        assert message is not None, "no answer within 30 s"
        if isinstance(message, str) and json.loads(message)["type"] in ("done", "error", "queued"):
            return json.loads(message)


# what a socket token is


def test_a_socket_token_is_refused_on_every_http_route_and_mints_nothing(unit_app):
    app = unit_app(**JWT)
    token = mint(client_for(app, ALICE_KEY))
    refused_on_http(app, token)  # /v1/voices, /v1/tts, and no token minted from a token
    assert claims(token)["use"] == "socket"
    assert claims(token)["bnd"] == "api_key:" + fingerprint("alice", digest(ALICE_KEY))
    identity = on_socket(app, token)
    assert (identity.subject, identity.method, identity.via) == ("alice", "api_key", "socket_token")
    assert identity.owner == Identity("alice", "api_key").owner  # the key's own voices stay reachable


def test_a_session_token_mints_a_socket_token_that_works_on_the_websocket(login_app, serve):
    url = serve(login_app)
    session = login(login_app, "code-oUser123456")
    assert claims(session)["use"] == "session"
    assert bearer(login_app, session).get("/v1/voices").status_code == 200  # the HTTP API, as before
    r = bearer(login_app, session).post("/v1/auth/token")
    assert r.status_code == 200 and r.get_json()["expires_in"] == 300
    token = r.get_json()["token"]
    assert claims(token)["bnd"] == "session:" + claims(session)["jti"] and claims(token)["sub"] == "oUser123456"
    assert claims(token)["exp"] <= claims(session)["exp"]
    refused_on_http(login_app, token)

    ws = simple_websocket.Client.connect(url)  # the first message carries the socket token
    first = speak(ws, token=token)
    assert first["type"] == "done", first
    assert speak(ws)["type"] == "done"
    ws.close()
    for credential in (token, session):  # or the upgrade request's own Authorization header
        ws = simple_websocket.Client.connect(url, headers={"Authorization": f"Bearer {credential}"})
        assert speak(ws)["type"] == "done"
        ws.close()


def test_a_minted_token_never_outlives_the_session_it_came_from(login_app, monkeypatch):
    session = login(login_app, "code-oUser123456")
    left_100_s = claims(session)["exp"] - 100  # 100 s of the session left, by the server's clock
    monkeypatch.setattr(login_app.services.tokens, "_clock", lambda: left_100_s)
    r = bearer(login_app, session).post("/v1/auth/token")
    assert r.status_code == 200 and r.get_json()["expires_in"] == 100
    assert claims(r.get_json()["token"])["exp"] == claims(session)["exp"]


# revocation


def test_removing_or_rotating_an_api_key_revokes_the_socket_tokens_minted_from_it(unit_app, serve):
    app = unit_app(**JWT, api_keys=f"{ALICE},{BOB}")
    alice, bob = mint(client_for(app, ALICE_KEY)), mint(client_for(app, BOB_KEY))
    assert on_socket(app, alice).subject == "alice" and on_socket(app, bob).subject == "bob"

    removed = restarted(app, unit_app, api_keys=ALICE)  # bob's key is gone
    assert client_for(removed, BOB_KEY).get("/v1/voices").status_code == 401
    assert on_socket(removed, bob) is None  # his token went with it
    assert on_socket(removed, alice).subject == "alice"  # alice's did not
    client = bearer(removed, bob)
    for r in (client.get("/v1/voices"), client.post("/v1/tts", json={"text": "你好。", "voice_id": "default"}),
              client.post("/v1/auth/token")):
        assert r.status_code == 401, r.get_json()
    url = serve(removed)
    ws = simple_websocket.Client.connect(url)
    assert (speak(ws, token=bob)["status"], speak(ws, token=alice)["type"]) == (401, "done")
    ws.close()

    rotated = restarted(app, unit_app, api_keys=f"alice:{digest(NEW_ALICE_KEY)},{BOB}")  # alice's new key
    assert on_socket(rotated, alice) is None
    assert on_socket(rotated, bob).subject == "bob"
    assert on_socket(rotated, mint(client_for(rotated, NEW_ALICE_KEY))).subject == "alice"
    restored = restarted(app, unit_app, api_keys=f"{ALICE},{BOB}")  # the very entry again: valid again
    assert on_socket(restored, alice).subject == "alice"


def test_a_new_wechat_login_revokes_the_previous_session_and_its_socket_tokens(login_app):
    first = login(login_app, "code-oUser123456")
    socket_token = mint(bearer(login_app, first))
    other = login(login_app, "code-oOther12345")  # someone else's login changes nothing for this user
    assert bearer(login_app, first).get("/v1/voices").status_code == 200
    assert on_socket(login_app, socket_token).subject == "oUser123456"

    second = login(login_app, "code-oUser123456")  # the same user logs in again (another phone, a new code)
    assert bearer(login_app, first).get("/v1/voices").status_code == 401
    assert bearer(login_app, first).post("/v1/auth/token").status_code == 401
    assert on_socket(login_app, socket_token) is None
    assert token_identity(login_app.authenticators, socket_environ(), first) is None
    assert bearer(login_app, second).get("/v1/voices").status_code == 200
    assert on_socket(login_app, mint(bearer(login_app, second))).subject == "oUser123456"
    assert bearer(login_app, other).get("/v1/voices").status_code == 200


def test_a_session_lives_in_the_shared_state_not_in_the_process(login_app, unit_app, wechat):
    session = login(login_app, "code-oUser123456")
    token = mint(bearer(login_app, session))
    again = restarted(login_app, unit_app, wechat_appid="wxappid123", wechat_secret="wxsecret456",
                      wechat_api_base=wechat.base)
    assert bearer(again, session).get("/v1/voices").status_code == 200
    assert on_socket(again, token).subject == "oUser123456"
    fresh = unit_app(**JWT)  # a state that never saw the login (in-process state after a restart)
    assert bearer(fresh, session).get("/v1/voices").status_code == 401 and on_socket(fresh, token) is None


# isolation and strictness


def test_two_users_tokens_never_authenticate_each_other(login_app):
    alice, bob = mint(client_for(login_app, ALICE_KEY)), mint(client_for(login_app, BOB_KEY))
    ids = {name: on_socket(login_app, token) for name, token in (("alice", alice), ("bob", bob))}
    assert {name: i.subject for name, i in ids.items()} == {"alice": "alice", "bob": "bob"}
    assert ids["alice"].owner != ids["bob"].owner

    # even signed with the server's key, a token whose binding is someone else's credential is refused
    alice_mark = claims(alice)["bnd"]
    assert on_socket(login_app, forge(sub="bob", amr="api_key", use="socket", bnd=alice_mark)) is None
    assert on_socket(login_app, forge(sub="alice", amr="api_key", use="socket", bnd=alice_mark)) is not None
    a, b = login(login_app, "code-oUserA12345"), login(login_app, "code-oUserB12345")
    a_session = "session:" + claims(a)["jti"]
    assert on_socket(login_app, forge(sub="oUserB12345", amr="wechat", use="socket", bnd=a_session)) is None
    assert on_socket(login_app, forge(sub="oUserA12345", amr="wechat", use="socket", bnd=a_session)) is not None
    b_as_a = forge(sub="oUserA12345", amr="wechat", use="session", jti=claims(b)["jti"])
    assert bearer(login_app, b_as_a).get("/v1/voices").status_code == 401
    assert on_socket(login_app, mint(bearer(login_app, b))).subject == "oUserB12345"


@pytest.mark.parametrize("fields", [
    {"amr": "wechat"},  # no `use`: a token from before kinds existed
    {"amr": "wechat", "use": "admin"},
    {"amr": "api_key", "use": "socket"},  # no binding
    {"amr": "api_key", "use": "socket", "bnd": 42},
    {"amr": "api_key", "use": "socket", "bnd": "api_key:"},
    {"amr": "api_key", "use": "socket", "bnd": "other:x"},
    {"amr": "wechat", "use": "socket", "bnd": "cloud_hosting:"},  # Cloud Hosting is not on here
    {"amr": "dev", "use": "socket", "bnd": "dev:"},  # nor development mode
    {"amr": "wechat", "use": "session"},  # a session nobody started
])
def test_a_token_of_no_known_kind_or_binding_is_refused_everywhere(unit_app, fields):
    app = unit_app(**JWT)
    token = forge(sub="alice" if fields["amr"] == "api_key" else fields["amr"], **fields)
    assert on_socket(app, token) is None
    r = bearer(app, token).get("/v1/voices")
    assert (r.status_code, r.get_json()["error"]["code"]) == (401, "unauthorized")


def test_cloud_hosting_and_development_identities_mint_socket_only_tokens_bound_to_their_method(unit_app):
    hosted = unit_app(**JWT, wechat_cloud_hosting=True, wechat_appid="wxappid123")
    headers = {"X-WX-OPENID": "oHosted123456", "X-WX-APPID": "wxappid123", "X-Api-Key": ""}
    r = client_for(hosted, "unused").post("/v1/auth/token", headers=headers)
    token = r.get_json()["token"]
    assert claims(token)["bnd"] == "cloud_hosting:" and claims(token)["amr"] == "wechat"
    identity = on_socket(hosted, token)
    assert (identity.subject, identity.via) == ("oHosted123456", "socket_token")
    assert client_for(hosted, "unused").get("/v1/voices", headers=headers).status_code == 200
    refused_on_http(hosted, token)
    assert on_socket(restarted(hosted, unit_app), token) is None  # Cloud Hosting switched off

    dev = unit_app(**{**JWT, "dev_mode": True})
    token = mint(client_for(dev))
    assert claims(token)["bnd"] == "dev:" and on_socket(dev, token).method == "dev"
    refused_on_http(dev, token)
    assert on_socket(restarted(dev, unit_app), token) is None  # development mode off


# the socket's re-check


def test_recheck_judges_a_socket_again_on_the_servers_clock_and_configuration(login_app, unit_app, monkeypatch):
    token = mint(client_for(login_app, ALICE_KEY))
    expiry, tokens = claims(token)["exp"], login_app.services.tokens
    with monkeypatch.context() as patch:
        patch.setattr(tokens, "_clock", lambda: expiry - 1)
        identity = recheck(login_app.authenticators, socket_environ(), token)
        assert identity.subject == "alice" and identity.expires_at == expiry
        patch.setattr(tokens, "_clock", lambda: expiry + 30)  # past its expiry and the leeway, by the server's clock
        assert recheck(login_app.authenticators, socket_environ(), token) is None

    # an identity from the upgrade request's headers: those headers judged again
    session = login(login_app, "code-oUser123456")
    by_session = socket_environ(Authorization=f"Bearer {session}")
    assert recheck(login_app.authenticators, by_session, None).via == "session"
    by_key = socket_environ(**{"X-Api-Key": BOB_KEY})
    key = recheck(login_app.authenticators, by_key, None)
    assert (key.subject, key.via, key.expires_at) == ("bob", "api_key", None)
    assert key.binding == fingerprint("bob", digest(BOB_KEY)) and key.binding not in repr(key)
    login(login_app, "code-oUser123456")
    assert recheck(login_app.authenticators, by_session, None) is None  # replaced by a new login
    removed = restarted(login_app, unit_app, api_keys=ALICE)
    assert recheck(removed.authenticators, by_key, None) is None  # bob's key removed
    assert recheck(login_app.authenticators, socket_environ(), "") is None  # no credential at all

