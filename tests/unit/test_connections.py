"""Connection caps and budgets, part by part: anonymous sockets have a pool of their own, a socket that
authenticates moves its slot atomically, a body that has fully arrived is not cut later, a socket's waiting
messages are bounded, and a send is whole or fails in time."""

from __future__ import annotations

import io
import socket
import threading
import time

import pytest

from functions.api.socket import Pending, WholeSends
from functions.connections import BudgetedInput, ConnectionCaps, TooManyConnections


def test_anonymous_connections_cannot_take_the_slots_of_authenticated_callers():
    caps = ConnectionCaps(total=2, anonymous=2)
    anonymous = [caps.hold("1.1.1.1", None), caps.hold("2.2.2.2", None)]
    with pytest.raises(TooManyConnections):
        caps.hold("3.3.3.3", None)
    alice, bob = caps.hold("4.4.4.4", "api_key:alice"), caps.hold("5.5.5.5", "api_key:bob")
    with pytest.raises(TooManyConnections) as full:
        caps.hold("6.6.6.6", "api_key:carol")
    assert full.value.scope == "server" and caps.held() == 4
    for held in (*anonymous, alice, bob):
        held.release()
        held.release()  # twice counts once
    assert caps.held() == 0


def test_a_socket_that_authenticates_moves_its_slot_to_its_identity():
    caps = ConnectionCaps(total=10, per_identity=1, anonymous=1)
    first = caps.hold("1.1.1.1", "api_key:alice")
    anonymous = caps.hold("1.1.1.1", None)
    with pytest.raises(TooManyConnections) as refused:
        anonymous.become("api_key:alice")  # alice is at her cap: refused, the anonymous slot kept
    assert refused.value.scope == "identity" and caps.held() == 2
    first.release()
    anonymous.become("api_key:alice")
    assert caps.hold("9.9.9.9", None) is not None  # the anonymous pool has its slot back
    with pytest.raises(TooManyConnections):
        caps.hold("8.8.8.8", "api_key:alice")
    anonymous.release()
    assert caps.held() == 1


def test_a_body_that_has_arrived_is_not_cut_later():
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(b"abcdef")
        body = BudgetedInput(ours.makefile("rb"), 0.3, ours, length=6)
        assert body.read(6) == b"abcdef"
        time.sleep(0.5)  # past the budget: the timer was stopped when the body was whole
        assert not body.expired
        theirs.sendall(b"next")
        assert ours.recv(4) == b"next"  # the reading side is still open (keep-alive works)
    finally:
        ours.close()
        theirs.close()


def test_a_socket_holds_at_most_its_limit_of_waiting_messages():
    class Sock:
        shut = 0

        def shutdown(self, how):
            self.shut += 1

    sock = Sock()
    pending = Pending(type("Owner", (), {"sock": sock})(), 2)
    for message in ("a", "b", "c", "d"):
        pending.append(message)
    assert pending == ["a", "b"] and sock.shut == 2


def test_a_send_is_whole_even_when_the_reader_is_slow():
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    data = bytes(range(256)) * 4096  # 1 MB, far beyond the buffers
    got = bytearray()

    def read_slowly():
        while len(got) < len(data):
            chunk = theirs.recv(65536)
            if not chunk:
                return
            got.extend(chunk)
            time.sleep(0.001)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    try:
        assert WholeSends(ours, 10).send(data) == len(data)
        reader.join(10)
        assert bytes(got) == data
    finally:
        ours.close()
        theirs.close()


def test_a_send_to_a_client_that_stopped_reading_fails_in_time():
    ours, theirs = socket.socketpair()
    try:
        started = time.monotonic()
        with pytest.raises(ConnectionError):
            WholeSends(ours, 0.5).send(b"x" * 10_000_000)
        assert time.monotonic() - started < 3
    finally:
        ours.close()
        theirs.close()


def test_whole_sends_pass_everything_else_through():
    assert WholeSends(io.BytesIO(b"abc"), 1).read() == b"abc"
