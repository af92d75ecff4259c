"""Every long-lived connection has budgets, tried as an attacker would: a WebSocket must authenticate soon and in
few tries, sends little before it has, is closed when its token expires, and gives each message a deadline of
its own; streams and sockets count against caps per identity, refused clearly (503, close code 1013)."""

from __future__ import annotations

import json
import time

import pytest
import simple_websocket

from tests.support import ALICE_KEY, BOB_KEY, client_for

TEXT = "今天天气很好。我们去公园散步吧。"


@pytest.fixture
def serve(served):
    return lambda **settings: served(**settings)[:2]


def closed_with(ws, timeout: float = 10) -> tuple[int, list[dict]]:
    """Read until the server closes: (its close code, the JSON messages it sent first)."""
    said = []
    until = time.monotonic() + timeout
    try:
        while time.monotonic() < until:
            message = ws.receive(timeout=max(0.01, until - time.monotonic()))
            if isinstance(message, str):
                said.append(json.loads(message))
    except simple_websocket.ConnectionClosed as closed:
        return closed.reason, said
    raise AssertionError(f"still open after {timeout}s; said {said}")


def ask(ws, body: dict) -> dict:
    ws.send(json.dumps({"voice_id": "default", **body}))
    while True:
        message = ws.receive(timeout=60)
        assert message is not None
        if isinstance(message, str):
            event = json.loads(message)
            if event["type"] in ("done", "error", "queued"):
                return event


def test_a_socket_that_never_authenticates_is_closed(serve):
    _, url = serve(socket_auth_s=0.5)
    ws = simple_websocket.Client.connect(url)
    code, said = closed_with(ws)
    assert code == 1008 and said[-1]["code"] == "unauthorized"


def test_a_socket_sending_wrong_tokens_is_closed_after_three(serve):
    _, url = serve()
    ws = simple_websocket.Client.connect(url)
    for attempt in range(2):
        assert ask(ws, {"text": TEXT, "token": f"wrong-{attempt}"})["code"] == "unauthorized"
    ws.send(json.dumps({"text": TEXT, "voice_id": "default", "token": "wrong-3"}))
    code, said = closed_with(ws)
    assert code == 1008 and said == [{"type": "error", **said[0]}] and said[0]["code"] == "unauthorized"


def test_an_anonymous_socket_cannot_send_a_large_message(serve):
    _, url = serve()
    ws = simple_websocket.Client.connect(url)
    ws.send(json.dumps({"text": "好" * 100_000}))  # about 300 KB before any credential
    code, _ = closed_with(ws)
    assert code == 1009  # message too big: never read into memory whole


def test_a_socket_whose_token_expires_is_closed(serve):
    app, url = serve(jwt_keys="k1:" + "s" * 40)
    tokens = app.services.tokens
    tokens.leeway_s = 0
    tokens._clock = lambda: time.time() - 298  # a 300 s token issued 298 s ago: 2 s left
    token = client_for(app, ALICE_KEY).post("/v1/auth/token").get_json()["token"]
    ws = simple_websocket.Client.connect(url)
    assert ask(ws, {"text": TEXT, "token": token})["type"] == "done"
    time.sleep(2.5)  # the socket is open, its token has expired
    ws.send(json.dumps({"text": TEXT + "二", "voice_id": "default"}))
    code, said = closed_with(ws)
    assert code == 1008 and said == [{"type": "error", **said[0]}] and said[0]["code"] == "unauthorized"


def test_each_message_has_a_deadline_of_its_own(serve):
    _, url = serve(request_deadline_s=2.0)
    ws = simple_websocket.Client.connect(url, headers={"X-Api-Key": ALICE_KEY})
    time.sleep(2.5)  # past the upgrade request's deadline
    assert ask(ws, {"text": TEXT + "晚一点。"})["type"] == "done"  # not synthesis_in_progress


def test_sockets_beyond_an_identitys_cap_are_refused_and_others_are_not(serve):
    app, url = serve(max_connections_per_identity=1)
    first = simple_websocket.Client.connect(url, headers={"X-Api-Key": ALICE_KEY})
    with pytest.raises(simple_websocket.ConnectionError) as refused:  # 503 before the upgrade
        simple_websocket.Client.connect(url, headers={"X-Api-Key": ALICE_KEY})
    assert refused.value.status_code == 503
    other = simple_websocket.Client.connect(url, headers={"X-Api-Key": BOB_KEY})  # bob has his own cap
    assert ask(other, {"text": TEXT})["type"] == "done"
    first.close()
    until = time.monotonic() + 5
    while app.services.connections.held() > 1 and time.monotonic() < until:
        time.sleep(0.05)
    again = simple_websocket.Client.connect(url, headers={"X-Api-Key": ALICE_KEY})  # given back on close
    assert ask(again, {"text": TEXT})["type"] == "done"


def test_a_token_socket_counts_against_its_identitys_cap(serve):
    app, url = serve(max_connections_per_identity=1, jwt_keys="k1:" + "s" * 40)
    token = client_for(app, ALICE_KEY).post("/v1/auth/token").get_json()["token"]
    held = simple_websocket.Client.connect(url, headers={"X-Api-Key": ALICE_KEY})
    ws = simple_websocket.Client.connect(url)  # anonymous: counted by address only, until it authenticates
    ws.send(json.dumps({"text": TEXT, "voice_id": "default", "token": token}))
    code, said = closed_with(ws)
    assert code == 1013 and said[-1]["code"] == "too_many_connections"
    held.close()


def test_streams_beyond_an_identitys_cap_are_refused_until_one_ends(make_app):
    app = make_app(aigc_cue="none", max_connections_per_identity=1)
    client = client_for(app, ALICE_KEY)
    first = client.post("/v1/tts/stream", json={"text": TEXT, "voice_id": "default"}, buffered=False)
    assert first.status_code == 200
    second = client.post("/v1/tts/stream", json={"text": TEXT + "二", "voice_id": "default"}, buffered=False)
    assert (second.status_code, second.get_json()["error"]["code"]) == (503, "too_many_connections")
    assert second.headers["Retry-After"]
    assert client_for(app, BOB_KEY).post("/v1/tts/stream", json={"text": TEXT, "voice_id": "default"},
                                         buffered=False).status_code == 200
    b"".join(first.response)
    first.close()  # the server closes the body: the connection is given back
    third = client.post("/v1/tts/stream", json={"text": TEXT + "三", "voice_id": "default"}, buffered=False)
    assert third.status_code == 200
    third.close()


def test_a_trickled_body_is_cut_at_its_budget(served):
    """A body sent a byte at a time is not waited for forever: 408 body_timeout, and the connection closed."""
    import socket

    _, _, base = served(body_timeout_s=1.0)
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST /v1/tts/stream HTTP/1.1\r\nHost: x\r\nX-Api-Key: {ALICE_KEY}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n".encode())
        started, answer = time.monotonic(), b""
        for byte in b'{"text": "' + b"x" * 100:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
            sock.setblocking(False)
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            if answer:
                break
        took = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408") and b"body_timeout" in answer, answer[:300]
        assert b"Connection: close" in answer and took < 3


def test_a_silent_body_is_cut_when_its_budget_runs_out():
    """A client that stops sending: the blocked read is ended by shutting the socket's reading side."""
    import socket

    from functions.connections import BodyTimeout, BudgetedInput

    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(b"abc")  # then nothing more
        body = BudgetedInput(ours.makefile("rb"), 0.5, ours)
        started = time.monotonic()
        with pytest.raises(BodyTimeout):
            body.read(1000)
        assert 0.4 < time.monotonic() - started < 3
        body.close()
        with pytest.raises(BodyTimeout):
            body.read(1)  # spent
    finally:
        ours.close()
        theirs.close()
