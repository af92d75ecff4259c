"""API keys for server-to-server callers: only their sha256 is configured, compared in constant time.

API_KEYS="name1:<sha256 hex of key1>,name2:<sha256 hex of key2>"; clients send `Authorization: Bearer <key>`
or `X-Api-Key: <key>`. Generate one with `python -m functions.auth.api_keys NAME`.

Each entry has a fingerprint (`fingerprint`): a socket token minted from a key carries it, and is valid only
while that very entry is configured, so removing a key or rotating its digest revokes the tokens minted from it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys

from . import Identity


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def fingerprint(name: str, hexdigest: str) -> str:
    """Names one API_KEYS entry, `name:<sha256 hex>` (it reveals nothing of the key)."""
    return hashlib.sha256(f"{name}:{hexdigest.lower()}".encode("utf-8")).hexdigest()[:32]


class ApiKeyAuth:
    def __init__(self, hashed: dict[str, str]) -> None:
        self._entries = [(name, bytes.fromhex(h), fingerprint(name, h)) for name, h in hashed.items()]
        self._names = {mark: name for name, _, mark in self._entries}

    def configured(self, mark: str, name: str) -> bool:
        """Whether the entry with this fingerprint is configured, for this key name."""
        return bool(mark) and self._names.get(mark) == name

    @classmethod
    def from_setting(cls, value: str) -> "ApiKeyAuth":
        entries = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, _, hexdigest = item.partition(":")
            if len(hexdigest) != 64:
                raise ValueError("API_KEYS entries must be name:<sha256 hex>")
            entries[name] = hexdigest.lower()
        return cls(entries)

    def __call__(self, request) -> Identity | None:
        auth = request.headers.get("Authorization")
        if auth is not None:  # an Authorization header decides alone: a bad one is not rescued by X-Api-Key
            key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        else:
            key = request.headers.get("X-Api-Key", "")
        if not key or len(key) > 256:
            return None
        given = hashlib.sha256(key.encode("utf-8")).digest()
        found = None
        for name, expected, mark in self._entries:  # no early exit: timing does not reveal which entry matched
            if hmac.compare_digest(given, expected):
                found = name, mark
        return Identity(found[0], "api_key", via="api_key", binding=found[1]) if found else None


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "server"
    key = secrets.token_urlsafe(32)
    print(f"key (give to the caller): {key}\nAPI_KEYS entry: {name}:{digest(key)}")
