"""In-process limits for the embedded default (one process)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from . import Charge

CN = timezone(timedelta(hours=8))  # quotas reset at midnight China time, where the mini programs are used


def seconds_to_midnight(now: float) -> int:
    t = datetime.fromtimestamp(now, CN)
    midnight = (t + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - t).total_seconds()))


def day_of(now: float) -> str:
    return datetime.fromtimestamp(now, CN).strftime("%Y%m%d")


class MemoryLimiter:
    def __init__(self, settings, clock=time.time) -> None:
        self.limit, self.window = settings.rate_limit_per_minute, settings.rate_window_s
        self.quota = settings.daily_char_quota
        self.max_inflight = settings.max_inflight_misses
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}
        self._chars: dict[str, tuple[str, int]] = {}
        self._inflight: dict[str, float] = {}  # token -> expiry: a lease lost in a Redis flap lapses

    def charge(self, subject: str, chars: int) -> Charge:
        now = self._clock()
        window = int(now // self.window)
        day = day_of(now)
        with self._lock:
            w, count = self._windows.get(subject, (window, 0))
            count = count if w == window else 0
            used = self._chars.get(subject, (day, 0))
            used_today = used[1] if used[0] == day else 0
            if self.limit and count >= self.limit:
                return Charge(False, "rate", max(1, int((window + 1) * self.window - now) + 1))
            if self.quota and used_today + chars > self.quota:
                return Charge(False, "quota", seconds_to_midnight(now))
            self._windows[subject] = (window, count + 1)
            self._chars[subject] = (day, used_today + chars)
            return Charge(True)

    def acquire_slot(self, ttl_s: float) -> str | None:
        now = self._clock()
        with self._lock:
            for token in [t for t, expiry in self._inflight.items() if expiry <= now]:
                del self._inflight[token]
            if self.max_inflight and len(self._inflight) >= self.max_inflight:
                return None
            token = uuid.uuid4().hex
            self._inflight[token] = now + ttl_s
            return token

    def release_slot(self, token: str) -> None:
        with self._lock:
            self._inflight.pop(token, None)

    def extend_slot(self, token: str, ttl_s: float) -> bool:
        """Keep a held slot for another `ttl_s` (False: it had already expired and is gone)."""
        with self._lock:
            if token not in self._inflight:
                return False
            self._inflight[token] = self._clock() + ttl_s
            return True

    def ping(self) -> None:
        return None
