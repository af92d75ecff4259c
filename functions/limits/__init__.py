"""Per-identity limits (requests per window, characters per day) and a global cap on in-flight misses.

Redis implementations are atomic Lua scripts, exact under concurrency across processes; the in-process ones
serve the embedded default. Both answer 429 with Retry-After (limits) or 503 with Retry-After (capacity).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ApiError, DependencyDown


class RateLimited(ApiError):
    status, code, message = 429, "rate_limited", "请求过于频繁，请稍后再试"


class QuotaExceeded(ApiError):
    status, code, message = 429, "daily_quota_exceeded", "今日合成字数已用完，请明天再试"


class Busy(DependencyDown):
    code, message = "server_busy", "当前合成请求较多，请稍后重试"


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
        raise QuotaExceeded(retry_after=charge.retry_after_s)
    raise RateLimited(retry_after=charge.retry_after_s)
