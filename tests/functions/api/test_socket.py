"""GET /v1/tts/ws on a real HTTP server (Werkzeug, threaded, as `make run` serves) with the real Triton: auth in
a header or in the first message, the same limits and moderation, the stream as the cache fill that the HTTP
API sees, and a client that leaves mid-stream."""

from __future__ import annotations

import json
import threading
import time

import pytest
import simple_websocket

from functions.tts.cache_key import object_key
from tests.support import ALICE_KEY, client_for

TEXT = "今天天气很好。我们去公园散步吧。路上有很多花。"


@pytest.fixture
def serve(served):
    return served


def ask(ws, body: dict) -> tuple[list[dict], bytes]:
    """Send one request; (the JSON events, the audio) until done, error or queued."""
    ws.send(json.dumps({"voice_id": "default", **body}))
    events, audio = [], b""
    while True:
        message = ws.receive(timeout=60)
        assert message is not None, "no answer within 60 s"
        if isinstance(message, bytes):
            audio += message
            continue
        event = json.loads(message)
        events.append(event)
        if event["type"] in ("done", "error", "queued"):
            return events, audio


def test_a_stream_over_websocket_fills_the_cache_the_http_api_reads(serve):
    app, url, _ = serve()
    ws = simple_websocket.Client.connect(url, headers={"X-Api-Key": ALICE_KEY})
    events, audio = ask(ws, {"text": TEXT, "format": "pcm"})
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[1] == "segment" and kinds[-1] == "done" and "segment_end" in kinds
    task_id = events[0]["task_id"]
    assert audio == app.services.storage.get(object_key(task_id, "pcm"))  # exactly the stored file
    again = client_for(app, ALICE_KEY).post("/v1/tts", json={"voice_id": "default", "text": TEXT, "format": "pcm"})
    assert again.get_json()["cached"] is True and again.get_json()["task_id"] == task_id
    # the same connection serves the next request; a repeat is replayed from storage
    events, replay = ask(ws, {"text": TEXT, "format": "pcm"})
    assert replay == audio and events[-1]["cached"] is True
    ws.close()


def test_auth_in_the_first_message_or_refused(serve):
    _, url, _ = serve()
    ws = simple_websocket.Client.connect(url)  # a browser or iOS Cloud Hosting: no header to carry it
    events, _ = ask(ws, {"text": "你好。"})
    assert events[-1]["type"] == "error" and events[-1]["status"] == 401
    events, _ = ask(ws, {"text": "你好。", "token": "not-a-key"})
    assert events[-1]["status"] == 401
    events, audio = ask(ws, {"text": "你好。", "token": ALICE_KEY})
    assert events[-1]["type"] == "done" and audio
    events, _ = ask(ws, {"text": "再说一句。"})  # the connection keeps the identity it proved
    assert events[-1]["type"] == "done"
    ws.close()


def test_limits_and_moderation_apply_per_request(serve):
    _, url, _ = serve(rate_limit_per_minute=1)  # a refused text is never charged
    ws = simple_websocket.Client.connect(url, headers={"X-Api-Key": ALICE_KEY})
    assert ask(ws, {"text": "违禁测试词"})[0][-1]["status"] == 422
    assert ask(ws, {"text": "第一句。"})[0][-1]["type"] == "done"
    refused = ask(ws, {"text": "第三句。"})[0][-1]
    assert refused["status"] == 429 and refused["code"] == "rate_limited" and refused["retry_after"]
    invalid = ask(ws, {"text": "坏的", "speed": 9})[0][-1]  # validated before any limit: the request's own error
    assert (invalid["status"], invalid["code"]) == (400, "invalid_speed")
    ws.close()


def test_a_client_that_leaves_mid_stream_still_fills_the_cache(serve):
    app, url, _ = serve()
    ws = simple_websocket.Client.connect(url, headers={"X-Api-Key": ALICE_KEY})
    ws.send(json.dumps({"voice_id": "default", "text": TEXT * 3, "format": "pcm"}))
    start = json.loads(ws.receive(timeout=30))
    ws.close()  # gone before the audio
    client = client_for(app, ALICE_KEY)
    until = time.monotonic() + 60
    while client.get(f"/v1/tts/{start['task_id']}").get_json().get("status") != "done":
        assert time.monotonic() < until
        time.sleep(0.1)


def test_a_plain_request_is_told_to_upgrade(serve):
    import urllib.error
    import urllib.request

    _, _, base = serve()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(base + "/v1/tts/ws", headers={"X-Api-Key": ALICE_KEY}))
    assert refused.value.code == 426 and json.loads(refused.value.read())["error"]["code"] == "websocket_required"
    with pytest.raises(urllib.error.HTTPError) as incomplete:  # Upgrade alone is not a handshake (no key)
        urllib.request.urlopen(urllib.request.Request(base + "/v1/tts/ws", headers={
            "X-Api-Key": ALICE_KEY, "Upgrade": "websocket", "Connection": "Upgrade"}))
    assert incomplete.value.code == 426


def test_a_socket_token_stands_for_its_owner_only_and_briefly(serve):
    """POST /v1/auth/token: what a client that cannot send headers on a WebSocket (a browser; connectContainer
    in iOS high-performance mode) puts in its first message. It is the caller's own identity, nobody else's,
    and it lives exactly as long as `expires_in` says."""
    import io

    import jwt

    from tests.audio_samples import encode, speech_at
    from tests.support import BOB_KEY

    secret = "s" * 40
    app, url, _ = serve(jwt_keys="k:" + secret)
    alice, bob = client_for(app, ALICE_KEY), client_for(app, BOB_KEY)
    wav = encode(speech_at(16000), 16000, "wav", "pcm_s16le")
    enrolled = alice.post("/v1/voices", data={"consent": "self", "audio": (io.BytesIO(wav), "a.wav")},
                          content_type="multipart/form-data")
    assert enrolled.status_code == 201, enrolled.get_json()
    voice_id = enrolled.get_json()["voice_id"]  # alice has it, bob does not

    before = int(time.time())
    issued = {name: client.post("/v1/auth/token").get_json() for name, client in (("alice", alice), ("bob", bob))}
    after = int(time.time())
    for name, body in issued.items():
        assert body["token_type"] == "Bearer" and body["expires_in"] == 300, name
        claims = jwt.decode(body["token"], secret, algorithms=["HS256"], audience="cosyvoice-relay-api")
        assert claims["exp"] - claims["iat"] == body["expires_in"], name  # the token's own life is what it says
        assert before <= claims["iat"] <= after, name
        assert claims["sub"] == name and claims["amr"] == "api_key"  # minted for the caller, by its method
        assert claims["use"] == "socket" and claims["bnd"].startswith("api_key:")  # bound to the caller's key
        # a socket token is no credential for the HTTP API, nor for minting another token
        for r in (client_for(app).get("/v1/voices", headers={"Authorization": f"Bearer {body['token']}"}),
                  client_for(app).post("/v1/auth/token", headers={"Authorization": f"Bearer {body['token']}"})):
            assert (r.status_code, r.get_json()["error"]["code"]) == (403, "token_not_allowed"), name

    assert [v["voice_id"] for v in bob.get("/v1/voices").get_json()["voices"]] == []

    # over the socket, both at once: alice's token may use alice's voice, bob's token may not
    sockets = {name: simple_websocket.Client.connect(url) for name in issued}
    answers = {}

    def speak(name):
        answers[name] = ask(sockets[name], {"text": "令牌。", "voice_id": voice_id, "token": issued[name]["token"]})

    threads = [threading.Thread(target=speak, args=(name,)) for name in issued]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    for ws in sockets.values():
        ws.close()
    events, audio = answers["alice"]
    assert events[-1]["type"] == "done" and audio, events[-1]
    events, audio = answers["bob"]
    assert (events[-1]["type"], events[-1]["status"], events[-1]["code"]) == ("error", 404, "voice_not_found")
    assert audio == b""
    assert client_for(app).post("/v1/auth/token").status_code == 401  # no identity, no token


def test_no_signing_keys_no_tokens(serve):
    app, _, _ = serve()
    refused = client_for(app, ALICE_KEY).post("/v1/auth/token")
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "tokens_not_configured"
