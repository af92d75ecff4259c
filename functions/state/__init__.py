"""Shared state: task records, single-flight locks and small aliases (upload digest -> voice hash).

In-process by default; Redis when REDIS_URL is set. Object storage stays the source of truth: losing the
state loses no audio, only speed (cache lookups fall back to storage, single-flight to one process).
"""

from __future__ import annotations

from .base import State, StateUnavailable
from .memory import MemoryState


def build_state(settings) -> State:
    if not settings.redis_url:
        return MemoryState(max_tasks=settings.state_max_tasks)
    from .redis_state import RedisState, ResilientState

    return ResilientState(RedisState.from_url(settings.redis_url), MemoryState(), mode=settings.redis_failure_mode)


__all__ = ["MemoryState", "State", "StateUnavailable", "build_state"]
