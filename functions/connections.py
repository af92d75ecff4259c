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
from typing import Callable


class TooManyConnections(Exception):
    """A cap is reached: `scope` is "server", "address" or "identity"."""

    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope


class ConnectionCaps:
    def __init__(self, total: int = 0, per_address: int = 0, per_identity: int = 0) -> None:
        self.total, self.per_address, self.per_identity = total, per_address, per_identity
        self._lock = threading.Lock()
        self._open = 0
        self._by_address: Counter[str] = Counter()
        self._by_identity: Counter[str] = Counter()

    @classmethod
    def from_settings(cls, settings) -> "ConnectionCaps":
        return cls(settings.max_connections, settings.max_connections_per_address,
                   settings.max_connections_per_identity)

    def hold(self, address: str | None, identity: str | None) -> Callable[[], None]:
        """Count one connection (raises TooManyConnections when a cap is reached); returns what gives it back,
        which may be called more than once (only the first counts)."""
        address = address or "?"
        with self._lock:
            if self.total and self._open >= self.total:
                raise TooManyConnections("server")
            if self.per_address and self._by_address[address] >= self.per_address:
                raise TooManyConnections("address")
            if identity and self.per_identity and self._by_identity[identity] >= self.per_identity:
                raise TooManyConnections("identity")
            self._count(address, identity, +1)
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self._count(address, identity, -1)
        return release

    def rehold(self, release: Callable[[], None], address: str | None, identity: str) -> Callable[[], None]:
        """The same connection, now counted for the identity it authenticated as (a WebSocket that
        authenticates in its first message)."""
        release()
        return self.hold(address, identity)

    def _count(self, address: str, identity: str | None, step: int) -> None:
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
            return self._open


class BodyTimeout(Exception):
    """The request's body did not arrive within its budget (a client trickling it, or gone silent)."""


class BudgetedInput:
    """wsgi.input that must be read within a time budget. A read blocks until its bytes arrive, however slowly
    they trickle, so the budget is kept by a timer: when it runs out, the socket's reading side is shut down
    (where the server hands the socket over: gunicorn, Werkzeug), the blocked read returns, and BodyTimeout is
    raised instead of its short data. The answer can still be written: only reading is shut."""

    def __init__(self, stream, seconds: float, sock) -> None:
        self.stream, self.seconds, self.sock = stream, seconds, sock
        self.expired = False
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
