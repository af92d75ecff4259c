"""Keep-warm hours learned from the miss history: the rule on rates whose answer is known, the history kept
in the state, and the scheduled scale-down keeping learned hours awake and starting ahead of them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from functions.endpoint.controller import ASLEEP, READY
from functions.jobs.scheduled import scale_down
from functions.warm_hours import MissHistory, expected_waiters, hour_of_week, learn_hours, rates_from, warm_now
from functions.state.memory import MemoryState

MONDAY = datetime(2026, 11, 2, tzinfo=timezone.utc).timestamp()  # a Monday, 00:00 UTC
HOUR = 3600


def test_the_busiest_hours_are_kept_warm_until_the_wait_budget_is_met():
    rates = [0.0] * 168
    rates[20], rates[21], rates[3] = 30.0, 10.0, 0.05  # two evening hours and a stray night request
    # asleep everywhere: 1 + 30*180/3600 = 2.5 and 1.5 waiters in the busy hours out of 40 misses: 10% wait
    assert expected_waiters(30.0, 180) == pytest.approx((1 - 2.718281828 ** -30) * 2.5, rel=1e-6)
    assert learn_hours(rates, cold_start_s=180, wait_share=0.02) == {20, 21}  # 0.05 misses left to wait
    assert learn_hours(rates, cold_start_s=180, wait_share=0.05) == {20}  # 1.5 + 0.05 <= 2.0 allowed
    assert learn_hours(rates, cold_start_s=180, wait_share=1.0) == set()  # everyone may wait: no GPU kept up
    assert learn_hours([0.0] * 168, cold_start_s=180, wait_share=0.02) == set()
    # the share is of requests: with a hit to every miss the budget doubles (0.02 * 80.1 = 1.6 waiters), so
    # keeping hour 20 warm is enough (1.5 + 0.05 left), and with nine hits to a miss nothing needs to be
    assert learn_hours(rates, requests=[2 * r for r in rates], cold_start_s=180, wait_share=0.02) == {20}
    assert learn_hours(rates, requests=[10 * r for r in rates], cold_start_s=180, wait_share=0.02) == set()


def test_rates_are_means_over_full_past_weeks():
    times = [MONDAY + 20 * HOUR + 60 * i for i in range(6)]  # six misses on Monday 20:00, in week 1 of 2
    times += [MONDAY + 7 * 86400 + 20 * HOUR]  # one the next Monday
    times += [MONDAY + 14 * 86400 + 20 * HOUR]  # and one this week, not yet full: not counted
    rates = rates_from(times, weeks=2, now=MONDAY + 14 * 86400 + 21 * HOUR)
    assert rates[20] == 3.5 and sum(rates) == 3.5 and hour_of_week(MONDAY + 20 * HOUR) == 20


def test_the_history_in_the_state_gives_the_same_rates():
    clock = [MONDAY]
    history = MissHistory(MemoryState(), weeks=2, clock=lambda: clock[0])
    for t in (MONDAY + 20 * HOUR, MONDAY + 20 * HOUR + 5, MONDAY + 7 * 86400 + 20 * HOUR):
        clock[0] = t
        history.record()
    assert history.rates(MONDAY + 14 * 86400)[20] == 1.5


class Controller:
    scales_to_zero = True

    def __init__(self, state):
        self._state, self.started, self.stopped = state, 0, 0

    def state(self):
        return self._state

    def start(self):
        self.started += 1

    def stop(self):
        self.stopped += 1


def test_scale_down_keeps_learned_hours_awake_and_starts_ahead_of_them(unit_app):
    app = unit_app(warm_hours="learned", idle_stop_s=60, cold_start_s=180, warm_history_weeks=2)
    history = MissHistory(app.services.state, weeks=2)
    for week in range(2):
        for i in range(20):  # Mondays 20:00 UTC, busy
            history.record(MONDAY + week * 7 * 86400 + 20 * HOUR + i * 60)
    now = MONDAY + 14 * 86400 + 20 * HOUR - 120  # two minutes before the learned hour, two weeks later
    app.services.controller = asleep = Controller(ASLEEP)
    decision = scale_down(app.services, clock=lambda: now)
    assert decision["started"] is True and asleep.started == 1  # a cold start ahead of the hour
    app.services.controller = awake = Controller(READY)
    app.services.state.set_alias("last_inference", str(now), 3600)
    inside = now + 30 * 60  # idle for half an hour, but inside the learned hour
    assert scale_down(app.services, clock=lambda: inside)["stopped"] is False and awake.stopped == 0
    after = now + 2 * HOUR  # past it: the usual rule
    assert scale_down(app.services, clock=lambda: after)["stopped"] is True
    assert warm_now({20}, MONDAY + 20 * HOUR) and not warm_now({20}, MONDAY + 19 * HOUR)


def test_misses_are_counted_only_when_hours_are_learned(unit_app):
    from tests.support import client_for

    counted = unit_app(warm_hours="learned")
    client_for(counted).post("/v1/tts", json={"text": "计数。", "voice_id": "default"})
    history = counted.services.tts.history
    next_week = history._clock() + 7 * 86400
    assert sum(history.rates(next_week)) == 1 / counted.settings.warm_history_weeks  # one miss, in a past week
    assert unit_app().services.tts.history is None
