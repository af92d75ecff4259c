"""The hybrid wake rule of functions/tts/route.py, on its own: what a hosted miss costs, and when the hosted
spend of the last 15 minutes (per hour) outprices an hour of GPU so the sleeping GPU is woken.

Time is an injected clock shared by the Waker and the in-memory state (the state's TTLs expire on it)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from functions.state.memory import MemoryState
from functions.tts.route import Waker, hosted_cost

T0 = 600_000.0  # the first second of a minute
TEXT = "一二三四五"  # five characters, billed as ten
PRICE = 10.0  # CNY per 10,000 billed characters: one miss of TEXT costs 0.01 CNY
MISS = 0.01
PER_HOUR = 4  # spend measured over 15 minutes, counted per hour


class Controller:
    def __init__(self, fails: Exception | None = None) -> None:
        self.started, self.fails = 0, fails

    def start(self) -> None:
        if self.fails is not None:
            raise self.fails
        self.started += 1


class Clock:
    def __init__(self, at: float = T0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def waker(gpu_price: float, *, clock: Clock, state: MemoryState | None = None, controller=None) -> Waker:
    settings = SimpleNamespace(hosted_price=PRICE, gpu_price=gpu_price)
    return Waker(settings, state=state if state is not None else MemoryState(clock=clock),
                 controller=Controller() if controller is None else controller, clock=clock)


@pytest.mark.parametrize(("text", "price", "cost"), [("你好", 1.0, 0.0004), ("你好。", 2.5, 0.0015),
                                                    (TEXT, PRICE, MISS), ("", 3.0, 0.0)])
def test_a_hosted_miss_costs_two_billed_characters_per_character(text, price, cost):
    assert hosted_cost(text, price) == pytest.approx(cost, rel=1e-9)


def test_the_gpu_is_woken_once_the_hourly_hosted_spend_reaches_its_price():
    clock = Clock()
    rule = waker(MISS * PER_HOUR, clock=clock)  # one miss in 15 minutes is exactly the GPU's hourly price
    assert rule.note(TEXT) is True and rule.controller.started == 1


def test_a_hosted_spend_just_below_the_gpu_price_does_not_wake_it():
    clock = Clock()
    rule = waker(MISS * PER_HOUR * 1.0001, clock=clock)
    assert rule.note(TEXT) is False and rule.controller.started == 0


def test_misses_in_the_same_minute_add_up():
    clock = Clock()
    rule = waker(2 * MISS * PER_HOUR, clock=clock)
    assert rule.note(TEXT) is False
    clock.at += 30
    assert rule.note(TEXT) is True and rule.controller.started == 1


def test_a_miss_still_counts_in_the_last_second_of_its_fifteen_minutes():
    clock = Clock()
    rule = waker(2 * MISS * PER_HOUR, clock=clock)
    assert rule.note(TEXT) is False
    clock.at = T0 + 14 * 60 + 59  # the 15th minute, counting the first one
    assert rule.note(TEXT) is True and rule.controller.started == 1


def test_a_miss_fifteen_minutes_ago_no_longer_counts():
    clock = Clock(T0 + 59)  # the last second of the first minute
    rule = waker(2 * MISS * PER_HOUR, clock=clock)
    assert rule.note(TEXT) is False
    clock.at = T0 + 15 * 60  # the 16th minute: the first one left the window
    assert rule.note(TEXT) is False and rule.controller.started == 0


def test_spend_recorded_under_a_later_minute_is_not_in_this_processs_window_yet():
    """Processes share the state; one whose clock runs a minute ahead records under a minute that has not
    begun here, and the window ends at the current minute."""
    clock, ahead = Clock(), Clock(T0 + 60)
    state = MemoryState(clock=clock)
    waker(1.0, clock=ahead, state=state).note(TEXT)
    rule = waker(2 * MISS * PER_HOUR, clock=clock, state=state)
    assert rule.note(TEXT) is False and rule.controller.started == 0


def test_without_a_controller_nothing_is_woken():
    clock = Clock()
    rule = Waker(SimpleNamespace(hosted_price=PRICE, gpu_price=0.0), state=MemoryState(clock=clock),
                 controller=None, clock=clock)
    assert rule.note(TEXT) is False


def test_a_wake_up_that_fails_reports_no_wake_and_logs_why(caplog):
    caplog.set_level(logging.INFO, logger="functions.tts.route")
    clock = Clock()
    rule = waker(0.0, clock=clock, controller=Controller(fails=RuntimeError("scf quota exceeded")))
    assert rule.note(TEXT) is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "scf quota exceeded" in warnings[0]
    assert not [r for r in caplog.records if r.levelno == logging.INFO]  # no claim that it woke


def test_a_wake_up_is_logged_with_the_hosted_rate_and_the_gpu_price(caplog):
    caplog.set_level(logging.INFO, logger="functions.tts.route")
    clock = Clock()
    rule = waker(0.03, clock=clock)  # 0.04 CNY/h of hosted misses against 0.03 CNY/h of GPU
    assert rule.note(TEXT) is True
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1 and "0.04" in infos[0] and "0.03" in infos[0]
