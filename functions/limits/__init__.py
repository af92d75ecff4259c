"""Per-identity limits (requests per window, characters per day) and a global cap on in-flight misses.

Redis implementations are atomic Lua scripts, exact under concurrency across processes; the in-process ones
serve the embedded default. The exceptions below are the domain's own; functions/error_map.py answers them
429 with Retry-After (limits) or 503 with Retry-After (capacity).
"""

from __future__ import annotations

from dataclasses import dataclass



class LimitExceeded(Exception):
    """A caller's limit was reached; it may try again after `retry_after_s` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s


class RateLimited(LimitExceeded):
    """Too many requests in the current window."""


class QuotaExceeded(LimitExceeded):
    """The day's character quota is spent."""


class Busy(Exception):
    """Every GPU slot stayed taken for as long as the request could wait."""


@dataclass(frozen=True)
class Charge:
    allowed: bool
    reason: str = ""  # rate | quota
    retry_after_s: int = 0


def build_limiter(settings, redis_client=None):
    """In-process limits, or Redis limits (with the REDIS_FAILURE_MODE behaviour when Redis is down)."""
    from .memory import MemoryLimiter

    if redis_client is None and settings.redis_url:
        from ..state.redis_client import connect

        redis_client = connect(settings.redis_url)
    if redis_client is None:
        return MemoryLimiter(settings)
    from ..state.redis_state import ResilientState
    from .redis_limits import RedisLimiter

    return ResilientState(RedisLimiter(redis_client, settings), MemoryLimiter(settings),
                          mode=settings.redis_failure_mode)


def raise_for(charge: Charge) -> None:
    if charge.allowed:
        return
    if charge.reason == "quota":
        raise QuotaExceeded(charge.retry_after_s)
    raise RateLimited(charge.retry_after_s)
