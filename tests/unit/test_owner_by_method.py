"""A voice's owner is the identity as authenticated: the method and the subject. An API key named `alice` and
a WeChat user whose openid is `alice` are two callers, who never see each other's voices."""

from __future__ import annotations

import io
import threading

from werkzeug.test import Client

from functions.auth import Identity
from tests.audio_samples import recorder_files
from tests.support import ALICE_KEY, client_for

WAV = recorder_files()["wav_16k_mono"][0]


class BearerClient(Client):
    """A remote caller with our JWT (WeChat login)."""

    def __init__(self, app, token: str) -> None:
        super().__init__(app)
        self.token = token

    def open(self, *args, **kwargs):
        kwargs.setdefault("environ_base", {}).setdefault("REMOTE_ADDR", "203.0.113.7")
        kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {self.token}"
        return super().open(*args, **kwargs)


def test_the_owner_depends_on_the_method():
    assert Identity("alice", "api_key").owner != Identity("alice", "wechat").owner
    assert Identity("alice", "api_key").owner == Identity("alice", "api_key").owner
    assert Identity("alice", "api_key").owner != Identity("bob", "api_key").owner


def test_one_subject_by_two_methods_is_two_owners(unit_app, endpoint):
    app = unit_app(dev_mode=False, jwt_keys="k:" + "s" * 40)
    token, _ = app.services.tokens.issue("alice", "wechat")  # a WeChat user whose openid is "alice"
    callers = {"api_key": client_for(app, ALICE_KEY), "wechat": BearerClient(app, token)}  # the key's name: alice
    enrolled = {}

    def enroll(method):
        enrolled[method] = callers[method].post(
            "/v1/voices", data={"consent": "self", "audio": (io.BytesIO(WAV), "a.wav")},
            content_type="multipart/form-data")

    threads = [threading.Thread(target=enroll, args=(m,)) for m in callers]  # both at once, the same recording
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for method, r in enrolled.items():  # a new voice for each: neither finds the other's as its own
        assert r.status_code == 201 and "existing" not in r.get_json(), (method, r.get_json())
    ids = {method: r.get_json()["voice_id"] for method, r in enrolled.items()}
    assert ids["api_key"] != ids["wechat"]

    for method, client in callers.items():
        other = ids["wechat" if method == "api_key" else "api_key"]
        listed = client.get("/v1/voices")
        assert [v["voice_id"] for v in listed.get_json()["voices"]] == [ids[method]], method
        assert client.get(f"/v1/voices/{ids[method]}").status_code == 200
        for r in (client.get(f"/v1/voices/{other}"), client.delete(f"/v1/voices/{other}"),
                  client.post("/v1/tts", json={"text": "别人的声音。", "voice_id": other})):
            assert r.status_code == 404 and r.get_json()["error"]["code"] == "voice_not_found", (method, r.json)
    store = app.services.voice_store
    assert [v["voice_id"] for v in store.list(Identity("alice", "api_key").owner)] == [ids["api_key"]]
    assert [v["voice_id"] for v in store.list(Identity("alice", "wechat").owner)] == [ids["wechat"]]
    assert endpoint.requests == []  # nobody synthesized with the other's voice
