"""Keep-warm hours learned from the service's own history, instead of fixed cron windows.

Every request and every cache miss is counted by hour of the week (UTC, Monday 00:00 = hour 0) in the state.
The hours to keep the GPU awake are then the fewest, busiest hours of the week such that the cold starts
expected in the remaining hours make at most WARM_WAIT_SHARE of all requests wait (hits never wait).

The rule, derived: with misses arriving at λ per hour (Poisson), an hour spent asleep sees its first miss,
and a cold start, with probability 1 - e^-λ;
that cold start makes its first miss wait, and the λ·cold_start/3600 misses expected during the boot.
Keeping the hour warm removes that wait and costs one GPU hour; ranking by expected waiters per hour and
stopping at the wait budget buys the waits back at the fewest GPU hours. The scheduled scale-down keeps
learned hours awake and starts the endpoint `cold_start_s` ahead of one.

Counts are statistics, not money: two processes incrementing at once may lose a count, which moves a
threshold by one miss and is accepted for a lock-free write on the request path.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Iterable

HOURS_PER_WEEK = 168


def hour_of_week(ts: float) -> int:
    when = datetime.fromtimestamp(ts, timezone.utc)
    return when.weekday() * 24 + when.hour


def week_index(ts: float) -> int:
    return int((ts - 4 * 86400) // (7 * 86400))  # weeks since the first Monday after the epoch (1970-01-05)


def expected_waiters(rate_per_hour: float, cold_start_s: float) -> float:
    """Misses expected to wait for a cold start in an hour spent asleep (see the module docstring)."""
    return (1.0 - math.exp(-rate_per_hour)) * (1.0 + rate_per_hour * cold_start_s / 3600.0)


def learn_hours(rates: Iterable[float], *, cold_start_s: float, wait_share: float,
                requests: Iterable[float] | None = None) -> set[int]:
    """Hours of the week to keep warm, from the mean misses per hour of each hour of the week (`rates`) and
    the mean requests (`requests`, hits included: the share is of requests; default: the misses)."""
    rates = list(rates)
    total = sum(requests) if requests is not None else sum(rates)
    if sum(rates) <= 0:
        return set()
    waiters = [expected_waiters(r, cold_start_s) for r in rates]
    budget = wait_share * total
    asleep = sum(waiters)
    warm: set[int] = set()
    # an hour nobody waits in never needs warming: the subtraction below leaves a float remainder that made
    # WARM_WAIT_SHARE=0 warm all 168 hours
    for hour in sorted((h for h in range(len(rates)) if waiters[h] > 0), key=lambda h: -waiters[h]):
        if asleep <= budget:
            break
        warm.add(hour)
        asleep -= waiters[hour]
    return warm


def rates_from(times: Iterable[float], *, weeks: int, now: float) -> list[float]:
    """Mean misses per hour of the week over the `weeks` full weeks before `now`."""
    counts = [0] * HOURS_PER_WEEK
    current = week_index(now)
    for t in times:
        if current - weeks <= week_index(t) < current:
            counts[hour_of_week(t)] += 1
    return [c / weeks for c in counts]


class MissHistory:
    """Misses by week and hour of the week, kept in the state (aliases) for `weeks` weeks."""

    def __init__(self, state, *, weeks: int = 4, clock=time.time) -> None:
        self.state, self.weeks, self._clock = state, weeks, clock

    def _name(self, kind: str, week: int, hour: int) -> str:
        return f"{kind}:{week}:{hour}"

    def record(self, ts: float | None = None, kind: str = "misses") -> None:
        """Count one miss (or, with kind="requests", one request) at `ts`."""
        ts = self._clock() if ts is None else ts
        name = self._name(kind, week_index(ts), hour_of_week(ts))
        count = int(self.state.get_alias(name) or 0)
        self.state.set_alias(name, str(count + 1), (self.weeks + 1) * 7 * 86400)

    def rates(self, now: float | None = None, kind: str = "misses") -> list[float]:
        now = self._clock() if now is None else now
        current = week_index(now)
        rates = [0.0] * HOURS_PER_WEEK
        for week in range(current - self.weeks, current):
            for hour in range(HOURS_PER_WEEK):
                rates[hour] += int(self.state.get_alias(self._name(kind, week, hour)) or 0) / self.weeks
        return rates


def warm_now(hours: set[int], ts: float, *, lead_s: float = 0.0) -> bool:
    """Whether `ts` (or `ts + lead_s`, to start ahead of an hour) falls in a learned hour."""
    return hour_of_week(ts) in hours or (lead_s > 0 and hour_of_week(ts + lead_s) in hours)
