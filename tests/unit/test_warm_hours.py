"""Keep-warm hours learned from the miss history: the rule on rates whose answer is known, the history kept
in the state, and the scheduled scale-down keeping learned hours awake and starting ahead of them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from functions.endpoint.controller import ASLEEP, READY
from functions.jobs.upkeep import scale_down
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


def _requests_at(app, when: float, misses: int, hits: int) -> None:
    """`misses` new texts and `hits` repeats through the app, all counted at `when` (the history's clock)."""
    from tests.support import client_for

    app.services.tts.history._clock = lambda: when
    client = client_for(app)
    for i in range(misses):
        r = client.post("/v1/tts", json={"text": f"第{i}句。", "voice_id": "default"})
        assert r.status_code == 200 and r.get_json()["cached"] is False
    for _ in range(hits):
        r = client.post("/v1/tts", json={"text": "第0句。", "voice_id": "default"})
        assert r.status_code == 200 and r.get_json()["cached"] is True


def _idle_since(app, when: float) -> None:
    from functions.tts.render import LAST_INFERENCE

    app.services.state.set_alias(LAST_INFERENCE, str(when), 3600)  # the last inference, as a render notes it


def test_requests_are_counted_by_their_hour_and_hits_make_a_busy_hour_need_no_gpu(unit_app):
    """Every request is counted (hits too): the wait budget is a share of requests. Three misses at Monday 20:00
    among thirty hits make a cold start's wait rare enough (1.09 waiters <= 5% of 33), so no hour is kept warm
    and an idle GPU is stopped there; counted as misses only, that hour would keep the GPU up."""
    app = unit_app(warm_hours="learned", warm_history_weeks=1, idle_stop_s=60, cold_start_s=180,
                   warm_wait_share=0.05)
    at = MONDAY + 20 * HOUR + 600
    _requests_at(app, at, misses=3, hits=30)
    history, next_week = app.services.tts.history, at + 7 * 86400
    requests, misses = history.rates(next_week, kind="requests"), history.rates(next_week)
    assert (requests[20], sum(requests)) == (33, 33)  # each request, in its hour, and nowhere else
    assert (misses[20], sum(misses)) == (3, 3)
    app.services.controller = awake = Controller(READY)
    _idle_since(app, next_week - HOUR)
    assert scale_down(app.services, clock=lambda: next_week)["stopped"] is True and awake.stopped == 1


def test_only_hours_with_requests_are_kept_warm(unit_app):
    app = unit_app(warm_hours="learned", warm_history_weeks=1, idle_stop_s=60, cold_start_s=180,
                   warm_wait_share=0.02)
    at = MONDAY + 20 * HOUR + 600
    _requests_at(app, at, misses=3, hits=0)  # every request a miss: Monday 20:00 needs the GPU awake
    next_week = at + 7 * 86400
    app.services.controller = awake = Controller(READY)
    _idle_since(app, next_week - 2 * HOUR)
    assert scale_down(app.services, clock=lambda: next_week)["stopped"] is False  # the busy hour: kept warm
    for quiet in (next_week - HOUR, next_week + 3 * HOUR, next_week + 86400):  # no request ever came then
        assert scale_down(app.services, clock=lambda quiet=quiet: quiet)["stopped"] is True, quiet
    assert awake.stopped == 3
