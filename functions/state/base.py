"""The state interface."""

from __future__ import annotations

from typing import Protocol


class StateUnavailable(Exception):
    """The state backend cannot be reached."""


class State(Protocol):
    def get_task(self, task_id: str) -> dict | None: ...

    def put_task(self, task_id: str, record: dict, ttl_s: int) -> None: ...

    def acquire(self, name: str, ttl_s: float) -> str | None:
        """Take the named lock if free; a token to release it with, or None when someone else holds it."""

    def release(self, name: str, token: str) -> None: ...

    def extend(self, name: str, token: str, ttl_s: float) -> bool:
        """Renew a lock we hold for another `ttl_s`; False when it lapsed or someone else holds it."""

    def is_locked(self, name: str) -> bool: ...

    def mark_active(self, task_id: str, heartbeat: float) -> None:
        """A queued or running task, with the time its work was last seen alive."""

    def clear_active(self, task_id: str) -> None: ...

    def stale_active(self, before: float, limit: int = 100) -> list[str]:
        """Active tasks whose last heartbeat is older than `before` (candidates for healing)."""

    def get_alias(self, name: str) -> str | None:
        """A small remembered value (e.g. upload digest -> voice hash)."""

    def set_alias(self, name: str, value: str, ttl_s: int) -> None: ...

    def ping(self) -> None: ...
