"""Redis limits: one Lua script checks the rate window and the daily quota and charges both, or neither.

Fixed windows keyed by window number: exact ("N of 4N concurrent requests") because INCR is atomic and the
check-and-charge runs as one script. In-flight misses are leases in a sorted set scored by expiry, so a
crashed worker's lease lapses instead of leaking capacity.
"""

from __future__ import annotations

import time
import uuid

from . import Charge
from .memory import day_of, seconds_to_midnight

_CHARGE = """
local rate_key, quota_key = KEYS[1], KEYS[2]
local limit, window_ttl, chars, quota, quota_ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4]), tonumber(ARGV[5])
local count = tonumber(redis.call('GET', rate_key) or '0')
if limit > 0 and count >= limit then
  return {0, 'rate', redis.call('PTTL', rate_key)}
end
local used = tonumber(redis.call('GET', quota_key) or '0')
if quota > 0 and used + chars > quota then
  return {0, 'quota', quota_ttl * 1000}
end
redis.call('INCR', rate_key)
redis.call('EXPIRE', rate_key, window_ttl)
redis.call('INCRBY', quota_key, chars)
redis.call('EXPIRE', quota_key, quota_ttl + 60)
return {1, '', 0}
"""

_ACQUIRE = """
local key, cap, now, expiry, token = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if cap > 0 and redis.call('ZCARD', key) >= cap then return 0 end
redis.call('ZADD', key, expiry, token)
redis.call('EXPIRE', key, math.ceil(expiry - now) + 60)
return 1
"""


class RedisLimiter:
    def __init__(self, client, settings, prefix: str = "cvr:", clock=time.time) -> None:
        self.r, self.prefix, self._clock = client, prefix, clock
        self.limit, self.window = settings.rate_limit_per_minute, settings.rate_window_s
        self.quota, self.max_inflight = settings.daily_char_quota, settings.max_inflight_misses
        self._charge = client.register_script(_CHARGE)
        self._acquire = client.register_script(_ACQUIRE)

    def charge(self, subject: str, chars: int) -> Charge:
        now = self._clock()
        window = int(now // self.window)
        keys = [f"{self.prefix}rate:{subject}:{window}", f"{self.prefix}chars:{subject}:{day_of(now)}"]
        ok, reason, wait_ms = self._charge(keys=keys, args=[self.limit, self.window + 1, chars, self.quota,
                                                            seconds_to_midnight(now)])
        if ok:
            return Charge(True)
        reason = reason.decode() if isinstance(reason, bytes) else reason
        return Charge(False, reason, max(1, int((int(wait_ms) + 999) // 1000)))

    def acquire_slot(self, ttl_s: float) -> str | None:
        now = self._clock()
        token = uuid.uuid4().hex
        ok = self._acquire(keys=[f"{self.prefix}inflight"], args=[self.max_inflight, now, now + ttl_s, token])
        return token if ok else None

    def release_slot(self, token: str) -> None:
        self.r.zrem(f"{self.prefix}inflight", token)

    def extend_slot(self, token: str, ttl_s: float) -> bool:
        """Keep a held slot for another `ttl_s` (XX: never re-adds one that expired and was taken back)."""
        key = f"{self.prefix}inflight"
        if self.r.zscore(key, token) is None:
            return False
        self.r.zadd(key, {token: self._clock() + ttl_s}, xx=True)
        return True

    def ping(self) -> None:
        self.r.ping()
