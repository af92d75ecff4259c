"""Redis state (REDIS_URL), shared by every process and function instance.

`ResilientState` decides what a Redis outage means (REDIS_FAILURE_MODE): `degrade` (default) carries on with
per-process state (no cross-process single-flight, task records local to the process; audio is unaffected
since object storage is the truth), `fail` answers 503 until Redis is back.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from .base import StateUnavailable

log = logging.getLogger(__name__)

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end
"""


class RedisState:
    def __init__(self, client, prefix: str = "cvr:") -> None:
        self.r = client
        self.prefix = prefix
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)

    @classmethod
    def from_url(cls, url: str, prefix: str = "cvr:") -> "RedisState":
        from .redis_client import connect

        return cls(connect(url), prefix)

    def k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def get_task(self, task_id: str) -> dict | None:
        raw = self.r.get(self.k("task", task_id))
        return None if raw is None else json.loads(raw)

    def put_task(self, task_id: str, record: dict, ttl_s: int) -> None:
        self.r.set(self.k("task", task_id), json.dumps(record, ensure_ascii=False), ex=max(1, int(ttl_s)))

    def acquire(self, name: str, ttl_s: float) -> str | None:
        token = uuid.uuid4().hex
        ok = self.r.set(self.k("lock", name), token, nx=True, px=max(1, int(ttl_s * 1000)))
        return token if ok else None

    def release(self, name: str, token: str) -> None:
        self._release(keys=[self.k("lock", name)], args=[token])

    def extend(self, name: str, token: str, ttl_s: float) -> bool:
        return bool(self._extend(keys=[self.k("lock", name)], args=[token, max(1, int(ttl_s * 1000))]))

    def is_locked(self, name: str) -> bool:
        return bool(self.r.exists(self.k("lock", name)))

    def mark_active(self, task_id: str, heartbeat: float) -> None:
        self.r.zadd(self.k("active"), {task_id: heartbeat})

    def clear_active(self, task_id: str) -> None:
        self.r.zrem(self.k("active"), task_id)

    def stale_active(self, before: float, limit: int = 100) -> list[str]:
        return [t.decode() for t in self.r.zrangebyscore(self.k("active"), "-inf", f"({before}", start=0, num=limit)]

    def get_alias(self, name: str) -> str | None:
        raw = self.r.get(self.k("alias", name))
        return None if raw is None else raw.decode()

    def set_alias(self, name: str, value: str, ttl_s: int) -> None:
        self.r.set(self.k("alias", name), value, ex=max(1, int(ttl_s)))

    def ping(self) -> None:
        self.r.ping()


class ResilientState:
    """Redis first; on a connection failure either degrade to the in-process fallback or raise.

    Generic over the wrapped interface (state, limiter): every method call goes to the primary unless it
    failed within the last `recheck_s`, in which case it goes to the fallback (degrade) or raises (fail)."""

    def __init__(self, primary, fallback, mode: str = "degrade", clock=time.monotonic,
                 recheck_s: float = 2.0) -> None:
        import redis

        self.primary, self.fallback, self.mode = primary, fallback, mode
        self._errors = (redis.ConnectionError, redis.TimeoutError)
        self._clock = clock
        self._down_until = 0.0
        self._recheck_s = recheck_s

    def _call(self, name: str, *args):
        if self._clock() >= self._down_until:
            try:
                return getattr(self.primary, name)(*args)
            except self._errors as exc:
                # Skip Redis for a moment so a dead server does not cost a timeout on every call.
                self._down_until = self._clock() + self._recheck_s
                log.warning("redis unavailable (%s): %s", self.mode, exc)
                if self.mode == "fail":
                    raise StateUnavailable(str(exc)) from exc
        elif self.mode == "fail":
            raise StateUnavailable("redis unavailable")
        return getattr(self.fallback, name)(*args)

    def __getattr__(self, name: str):
        if name.startswith("_") or not callable(getattr(self.fallback, name, None)):
            raise AttributeError(name)
        return lambda *args: self._call(name, *args)

    def ping(self):
        try:
            self.primary.ping()
            self._down_until = 0.0
        except self._errors as exc:
            raise StateUnavailable(str(exc)) from exc
