"""The keep-warm rule of functions/warm_hours.py at its edges: hours and weeks of the week (UTC, weeks from
Monday), the expected waiters of an hour asleep, the wait budget met exactly, the window of full past weeks,
the history kept in the state for as long as it is read, and starting ahead of a learned hour."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from functions.state.memory import MemoryState
from functions.warm_hours import (HOURS_PER_WEEK, MissHistory, expected_waiters, hour_of_week, learn_hours,
                                  rates_from, warm_now, week_index)

MONDAY = datetime(2026, 11, 2, tzinfo=timezone.utc).timestamp()  # a Monday, 00:00 UTC
HOUR, DAY, WEEK = 3600, 86400, 7 * 86400


def utc(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(("when", "hour"), [(utc(2026, 11, 2, 0, 0), 0), (utc(2026, 11, 2, 0, 59, 59), 0),
                                            (utc(2026, 11, 3, 5, 30), 29), (utc(2026, 11, 8, 23, 59, 59), 167),
                                            (utc(2026, 11, 9, 0, 0), 0)])
def test_the_hour_of_the_week_counts_from_monday_midnight_utc(when, hour):
    assert hour_of_week(when) == hour


def test_weeks_begin_on_monday_midnight_utc():
    first_monday = utc(1970, 1, 5)
    assert week_index(first_monday) == 0 and week_index(first_monday - 1) == -1
    assert week_index(first_monday + WEEK - 1) == 0 and week_index(first_monday + WEEK) == 1
    assert week_index(MONDAY) == week_index(MONDAY + WEEK - 1) == week_index(MONDAY - 1) + 1


@pytest.mark.parametrize(("rate", "cold_start_s", "waiters"), [
    (0.0, 180, 0.0),
    (1.0, 0, 1 - math.exp(-1)),  # the first miss of the hour waits when a cold start happens at all
    (1.0, 3600, (1 - math.exp(-1)) * 2),  # and the misses that arrive during the boot
    (2.0, 1800, (1 - math.exp(-2)) * 2),
    (30.0, 180, (1 - math.exp(-30)) * 2.5),
])
def test_expected_waiters_of_an_hour_asleep(rate, cold_start_s, waiters):
    assert expected_waiters(rate, cold_start_s) == pytest.approx(waiters, rel=1e-12, abs=1e-15)


def one_busy_hour(rate: float = 1.0, hour: int = 5) -> list[float]:
    rates = [0.0] * HOURS_PER_WEEK
    rates[hour] = rate
    return rates


def test_waits_exactly_at_the_budget_need_no_warm_hour():
    share = expected_waiters(1.0, 0)  # one miss per hour: its waiters make exactly this share of the misses
    assert learn_hours(one_busy_hour(), cold_start_s=0, wait_share=share) == set()
    assert learn_hours(one_busy_hour(), cold_start_s=0, wait_share=share * 0.999) == {5}


def test_the_busiest_hours_go_first_and_no_more_than_needed():
    rates = [0.0] * HOURS_PER_WEEK
    rates[1], rates[100], rates[167] = 2.0, 8.0, 4.0
    total = sum(rates)
    w = {h: expected_waiters(rates[h], 180) for h in (1, 100, 167)}
    assert learn_hours(rates, cold_start_s=180, wait_share=(w[1] + w[167]) / total * 1.000001) == {100}
    assert learn_hours(rates, cold_start_s=180, wait_share=w[1] / total * 1.000001) == {100, 167}
    assert learn_hours(rates, cold_start_s=180, wait_share=w[1] / total * 0.99) == {1, 100, 167}


def test_the_budget_is_a_share_of_the_misses_unless_requests_are_given():
    share = expected_waiters(1.0, 0) / 2  # half of what one miss per hour makes wait
    assert learn_hours(one_busy_hour(), cold_start_s=0, wait_share=share) == {5}
    assert learn_hours(one_busy_hour(), cold_start_s=0, wait_share=share, requests=one_busy_hour(2.0)) == set()


def test_without_misses_no_hour_is_kept_warm_however_many_requests():
    assert learn_hours([0.0] * HOURS_PER_WEEK, cold_start_s=180, wait_share=0.0,
                       requests=one_busy_hour(50.0)) == set()


def test_rates_count_the_full_weeks_before_now_and_nothing_older():
    now = MONDAY + 3 * WEEK + 2 * DAY  # Wednesday of the week after three full weeks
    first = MONDAY  # the earliest of the three weeks
    times = [first, first + 20 * HOUR, now - 2 * DAY - 1, first - 1, now - 2 * DAY, now]
    rates = rates_from(times, weeks=3, now=now)
    assert rates[0] == pytest.approx(1 / 3) and rates[20] == pytest.approx(1 / 3)  # first second, Monday 20:00
    assert rates[167] == pytest.approx(1 / 3)  # the last second before this week
    assert sum(rates) == pytest.approx(1.0)  # not before the window, not this week


def test_the_history_keeps_a_count_for_as_long_as_its_week_is_read():
    clock = [MONDAY]
    state = MemoryState(clock=lambda: clock[0])
    history = MissHistory(state, weeks=2, clock=lambda: clock[0])
    history.record()
    history.record(MONDAY + 30)
    clock[0] = MONDAY + 3 * WEEK - 1  # the last second at which that week is among the two full weeks read
    assert history.rates()[0] == 1.0  # two misses over two weeks
    clock[0] = MONDAY + 3 * WEEK
    assert history.rates() == [0.0] * HOURS_PER_WEEK


def test_requests_and_misses_are_counted_apart():
    history = MissHistory(MemoryState(), weeks=1, clock=lambda: MONDAY + WEEK)
    history.record(MONDAY + 20 * HOUR, kind="requests")
    history.record(MONDAY + 20 * HOUR, kind="requests")
    history.record(MONDAY + 20 * HOUR)
    assert history.rates(kind="requests")[20] == 2.0 and history.rates()[20] == 1.0
    assert history.rates(MONDAY + WEEK)[20] == 1.0 and history.rates(MONDAY + 3 * WEEK)[20] == 0.0


def test_a_learned_hour_is_warm_from_its_start_and_lead_s_ahead_of_it():
    hours = {20}
    assert warm_now(hours, MONDAY + 20 * HOUR) and warm_now(hours, MONDAY + 21 * HOUR - 1)
    assert not warm_now(hours, MONDAY + 21 * HOUR)
    ahead = MONDAY + 20 * HOUR - 120
    assert not warm_now(hours, ahead) and not warm_now(hours, ahead, lead_s=60)
    assert warm_now(hours, ahead, lead_s=120) and warm_now(hours, ahead, lead_s=180)
    assert not warm_now(hours, MONDAY + 21 * HOUR, lead_s=-HOUR)  # no lead backwards
    last_second = MONDAY + 20 * HOUR - 1
    assert not warm_now(hours, last_second) and warm_now(hours, last_second, lead_s=1)  # no lead unless asked


def test_the_hour_is_utc_whatever_the_hosts_time_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        assert hour_of_week(MONDAY) == 0 and hour_of_week(MONDAY + 20 * HOUR) == 20
    finally:
        monkeypatch.undo()
        time.tzset()


def test_nobody_may_wait_warms_the_hours_with_misses_and_no_other():
    """WARM_WAIT_SHARE=0: every hour with a miss is warm, an hour without is not (a float remainder once kept all
    168 hours warm, the GPU awake all week)."""
    rates = [0.0] * 168
    rates[1], rates[100], rates[167] = 2.0, 8.0, 4.0
    assert learn_hours(rates, cold_start_s=180, wait_share=0.0) == {1, 100, 167}
