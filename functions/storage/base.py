"""The object-store interface. An object is visible only once complete (never half-written)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class StorageUnavailable(Exception):
    """The store cannot be reached or refused the operation; the request should be retried later."""


class ObjectNotFound(KeyError):
    """get() of a key that does not exist."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    metadata: dict = field(default_factory=dict)


class ObjectStore(Protocol):
    serves_media: bool  # True when the app itself must serve objects under /media/

    def head(self, key: str) -> ObjectInfo | None: ...

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> None: ...

    def put_if_absent(self, key: str, data: bytes, content_type: str) -> bool:
        """Create the object unless it exists (atomically: of concurrent callers exactly one wins)."""

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def list_keys(self, prefix: str, limit: int = 1000) -> list[str]: ...

    def url(self, key: str) -> tuple[str, int | None]:
        """A URL the client can download, and its lifetime in seconds (None: does not expire)."""

    def ping(self) -> None:
        """Raise StorageUnavailable when the store cannot be used."""
