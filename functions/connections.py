"""Caps on the long-lived connections one process holds (streamed answers and WebSockets), and the time budget
of a request's body.

Each costs little under the event-driven host (functions/gunicorn_conf.py), but not nothing (a socket, buffers,
a greenlet, and for a stream a GPU slot): without a cap one caller, or one address, could hold them all. So
each is counted while it is open, against a total (MAX_CONNECTIONS), per address (MAX_CONNECTIONS_PER_ADDRESS;
behind a gateway every client has the gateway's address, so set it to 0 there) and per identity
(MAX_CONNECTIONS_PER_IDENTITY); 0 turns a cap off. One over a cap is refused at once, clearly (503 with
Retry-After, or WebSocket close code 1013), never left waiting. The counts are this process's.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter


class TooManyConnections(Exception):
    """A cap is reached: `scope` is "server", "address" or "identity"."""

    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope


class Held:
    """One counted connection: `release()` gives it back (only the first call counts); `become(identity)`
    moves it, atomically, from the anonymous pool to an identity (a WebSocket authenticating in a message)."""

    def __init__(self, caps: "ConnectionCaps", address: str, identity: str | None) -> None:
        self.caps, self.address, self.identity = caps, address, identity
        self.released = False

    def release(self) -> None:
        with self.caps._lock:
            if not self.released:
                self.released = True
                self.caps._count(self.address, self.identity, -1)

    __call__ = release

    def become(self, identity: str) -> None:
        caps = self.caps
        with caps._lock:
            if self.released or self.identity is not None:
                return
            caps._check(self.address, identity, moving=True)
            caps._count(self.address, None, -1)
            self.identity = identity
            caps._count(self.address, identity, +1)


class ConnectionCaps:
    """Counts per process. Connections not yet authenticated (a WebSocket before its first message) have a pool
    of their own (MAX_ANONYMOUS_CONNECTIONS), so anonymous clients cannot take the slots of callers who have."""

    def __init__(self, total: int = 0, per_address: int = 0, per_identity: int = 0, anonymous: int = 0) -> None:
        self.total, self.per_address, self.per_identity, self.anonymous = total, per_address, per_identity, anonymous
        self._lock = threading.Lock()
        self._open = self._anonymous = 0
        self._by_address: Counter[str] = Counter()
        self._by_identity: Counter[str] = Counter()

    @classmethod
    def from_settings(cls, settings) -> "ConnectionCaps":
        return cls(settings.max_connections, settings.max_connections_per_address,
                   settings.max_connections_per_identity, settings.max_anonymous_connections)

    def hold(self, address: str | None, identity: str | None) -> Held:
        """Count one connection (raises TooManyConnections when a cap is reached)."""
        address = address or "?"
        with self._lock:
            self._check(address, identity)
            self._count(address, identity, +1)
        return Held(self, address, identity)

    def _check(self, address: str, identity: str | None, *, moving: bool = False) -> None:
        if identity is None:
            if self.anonymous and self._anonymous >= self.anonymous:
                raise TooManyConnections("server")
        elif self.total and self._open >= self.total:
            raise TooManyConnections("server")
        if not moving and self.per_address and self._by_address[address] >= self.per_address:
            raise TooManyConnections("address")
        if identity and self.per_identity and self._by_identity[identity] >= self.per_identity:
            raise TooManyConnections("identity")

    def _count(self, address: str, identity: str | None, step: int) -> None:
        if identity is None:
            self._anonymous += step
        else:
            self._open += step
        self._by_address[address] += step
        if self._by_address[address] <= 0:
            del self._by_address[address]
        if identity:
            self._by_identity[identity] += step
            if self._by_identity[identity] <= 0:
                del self._by_identity[identity]

    def held(self) -> int:
        with self._lock:
            return self._open + self._anonymous


class BodyTimeout(Exception):
    """The request's body did not arrive within its budget (a client trickling it, or gone silent)."""


class BudgetedInput:
    """wsgi.input that must be read within a time budget. A read blocks until its bytes arrive, however slowly
    they trickle, so the budget is kept by a timer: when it runs out, the socket's reading side is shut down
    (where the server hands the socket over: gunicorn, Werkzeug), the blocked read returns, and BodyTimeout is
    raised instead of its short data. The answer can still be written: only reading is shut."""

    def __init__(self, stream, seconds: float, sock, length: int | None = None) -> None:
        self.stream, self.seconds, self.sock, self.length = stream, seconds, sock, length
        self.expired = False
        self._read_bytes = 0
        self._timer: threading.Timer | None = None
        self._until = time.monotonic() + seconds

    def _cut(self) -> None:
        self.expired = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def _read(self, method: str, *args):
        if self.expired or time.monotonic() >= self._until:
            raise BodyTimeout()
        if self._timer is None:
            self._timer = threading.Timer(max(0.0, self._until - time.monotonic()), self._cut)
            self._timer.daemon = True
            self._timer.start()
        try:
            data = getattr(self.stream, method)(*args)
        except OSError as exc:
            if self.expired or isinstance(exc, TimeoutError):
                raise BodyTimeout() from exc
            raise
        if self.expired:
            raise BodyTimeout()
        self._read_bytes += len(data)
        if self.length is not None and self._read_bytes >= self.length:
            self.close()  # all of it has arrived: the rest of the request has its own deadlines
        return data

    def read(self, *args):
        return self._read("read", *args)

    def readline(self, *args):
        return self._read("readline", *args)

    def __iter__(self):
        return iter(self.readline, b"")

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
