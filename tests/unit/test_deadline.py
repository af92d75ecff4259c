"""`deadline.cap()`: a dependency call inside a request takes at most what is left of the request's deadline
(functions/deadline.py), and only that request's."""

from __future__ import annotations

import json
import threading
import time

import pytest

from functions import deadline
from tests.support import LocalClient


def test_cap_is_what_is_left_of_the_request_not_the_callers_timeout():
    assert deadline.cap(30.0) == 30.0  # outside a request: the caller's own timeout
    with deadline.scope(2.0):
        left = deadline.cap(30.0)
        assert 2.0 - deadline.MARGIN_S - 0.5 < left <= 2.0 - deadline.MARGIN_S  # the remaining time, not 30
        assert left == pytest.approx(deadline.remaining(), abs=0.05)
        assert deadline.cap(0.25) == 0.25  # a shorter timeout is kept
    with deadline.scope(0.1):  # less than the margin: nothing left, never negative
        assert deadline.cap(30.0) == 0.0
    assert deadline.cap(30.0) == 30.0 and deadline.remaining() is None  # the scope ended with its request


def test_each_request_has_its_own_deadline():
    """Two requests at once on two threads: each call is capped by its own request's time, never another's."""
    seen: dict = {}
    both_inside = threading.Barrier(3)

    def request(name, seconds):
        with deadline.scope(seconds):
            both_inside.wait(5)
            seen[name] = deadline.cap(100.0)
            both_inside.wait(5)

    def no_request():
        both_inside.wait(5)
        seen["outside"] = deadline.cap(100.0)
        both_inside.wait(5)

    threads = [threading.Thread(target=request, args=("short", 3.0)), threading.Thread(target=request,
               args=("long", 60.0)), threading.Thread(target=no_request)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert 2.0 < seen["short"] <= 2.5
    assert 59.0 < seen["long"] <= 59.5
    assert seen["outside"] == 100.0


def test_the_app_caps_dependency_calls_by_request_deadline_s(unit_app, endpoint):
    """The middleware opens the scope: what the inference endpoint may take is what is left of
    REQUEST_DEADLINE_S, not its own request timeout."""
    caps: list[float] = []
    synthesize = endpoint.synthesize

    def capped(request):
        caps.append(deadline.cap(1000.0))  # as the Triton client asks for its timeout
        return synthesize(request)

    endpoint.synthesize = capped
    started = time.monotonic()
    r = LocalClient(unit_app(request_deadline_s=3.0)).post(
        "/v1/tts", data=json.dumps({"text": "时间有限。", "voice_id": "default"}), content_type="application/json")
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.json
    assert len(caps) == 1 and 3.0 - deadline.MARGIN_S - elapsed - 0.05 <= caps[0] <= 3.0 - deadline.MARGIN_S
