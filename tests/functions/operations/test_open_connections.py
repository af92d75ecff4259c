"""The production host (gunicorn with functions/gunicorn_conf.py, as the container and the SCF bootstrap run it)
stays responsive while long-lived connections sit open: idle WebSockets and clients trickling a body held a
thread each in a pool of eight, and froze every other caller (scripts/bench_connections.py measures it at
scale)."""

from __future__ import annotations

import base64
import os
import socket
import time
import urllib.request


def _open(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_idle_sockets_and_trickled_bodies_do_not_freeze_other_callers(production_stack):
    base, key = production_stack
    held = []
    try:
        for _ in range(24):  # three times the threads the host used to have
            s = _open(base)
            s.sendall((f"GET /v1/tts/ws HTTP/1.1\r\nHost: x\r\nX-Api-Key: {key}\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n").encode())
            held.append(s)
        for _ in range(12):
            s = _open(base)
            s.sendall((f"POST /v1/tts/stream HTTP/1.1\r\nHost: x\r\nX-Api-Key: {key}\r\n"
                       "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"text\": \"").encode())
            held.append(s)
        time.sleep(0.5)
        for _ in range(5):
            started = time.monotonic()
            with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
                assert r.status == 200
            assert time.monotonic() - started < 1.0
            request = urllib.request.Request(base + "/v1/voices", headers={"X-Api-Key": key})
            with urllib.request.urlopen(request, timeout=5) as r:
                assert r.status == 200
    finally:
        for s in held:
            s.close()
