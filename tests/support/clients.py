"""WSGI test clients and the API keys of the two test callers."""

from __future__ import annotations

import hashlib

from werkzeug.test import Client

# Two callers with API keys (only the sha256 of each key is configured), for owner-isolation tests.
ALICE_KEY, BOB_KEY = "alice-secret-key-0001", "bob-secret-key-0002"
TEST_API_KEYS = ",".join(f"{n}:{hashlib.sha256(k.encode()).hexdigest()}"
                         for n, k in (("alice", ALICE_KEY), ("bob", BOB_KEY)))


class LocalClient(Client):
    """A test client whose requests come from loopback (what development mode accepts)."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("environ_base", {}).setdefault("REMOTE_ADDR", "127.0.0.1")
        return super().open(*args, **kwargs)


def client_for(app, key: str | None = None) -> Client:
    """Loopback dev-mode client, or with an API key: a remote caller identified by that key."""
    if key is None:
        return LocalClient(app)

    class KeyClient(Client):
        def open(self, *args, **kwargs):
            kwargs.setdefault("environ_base", {}).setdefault("REMOTE_ADDR", "203.0.113.9")
            kwargs.setdefault("headers", {})
            if isinstance(kwargs["headers"], dict):
                kwargs["headers"].setdefault("X-Api-Key", key)
            return super().open(*args, **kwargs)

    return KeyClient(app)
