"""One way to connect to Redis: short timeouts and no client-side retries. redis-py retries failed commands
with exponential backoff by default, which turns a dead Redis into multi-second stalls on every request; we
fail fast instead and let ResilientState degrade or answer 503 (REDIS_FAILURE_MODE)."""

from __future__ import annotations


def connect(url: str, *, socket_timeout: float = 1.0):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=socket_timeout,
                                retry=Retry(NoBackoff(), 0), health_check_interval=15)
