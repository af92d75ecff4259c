"""scripts/cost_model.py's policies on small traces whose answers are known by hand."""

from __future__ import annotations

import sys
from argparse import Namespace
from datetime import datetime, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import cost_model  # noqa: E402

from functions.settings import Settings  # noqa: E402

T0 = datetime(2026, 11, 2, 0, 0, 30, tzinfo=timezone.utc).timestamp()  # a Monday, 08:00:30 China time


def args(**overrides) -> Namespace:
    base = dict(cold_start_s=120.0, infer_s=2.0, gpu_price=4.0, billing_min_s=60.0, billing_increment_s=1.0,
                scale_down_cron="*/5 * * * *", warmup_cron=[], keep_warm="", hosted_price=1.0,
                chars_per_request=50.0, learn_weeks=2, warm_wait_share=0.02)
    return Namespace(**{**base, **overrides})


SETTINGS = Settings.from_env({}, idle_stop_s=600)
# three different texts: at 0 s, 60 s (while the GPU boots) and two hours later (long after it stopped)
TRACE = [cost_model.Request(T0, "a", "v"), cost_model.Request(T0 + 60, "b", "v"),
         cost_model.Request(T0 + 7200, "c", "v")]


def run(policy: str, **overrides):
    return cost_model.simulate(policy, TRACE, SETTINGS, args(**overrides), policy=policy)


def test_always_on_pays_every_hour_and_nobody_waits():
    o = run("always-on")
    assert o.billed_hours == pytest.approx(3.0) and o.cost == pytest.approx(12.0) and o.waits == []


def test_hosted_pays_per_character_and_nobody_waits():
    o = run("hosted")
    per_miss = 50 * 2 * 1.0 / 10000  # a Chinese character bills as two
    assert o.cost == pytest.approx(3 * per_miss) and o.billed_hours == 0 and o.waits == []


def test_scale_to_zero_makes_cold_misses_wait():
    o = run("scale-to-zero")
    # first: the whole boot; second: what is left of it; third: a new boot after the idle stop
    assert o.waits == pytest.approx([122.0, 62.0, 122.0])
    # GPU time: each boot runs until the first 5-minute scale-down tick 600 s after its last inference
    # (T0 is 00:00:30: boot + 122 s + 600 s idle -> stopped at 00:15:00, twice): 870 s each
    assert o.gpu_hours == pytest.approx(2 * 870 / 3600)


def test_hybrid_sends_cold_misses_to_the_hosted_api_and_wakes_only_when_it_pays():
    per_miss = 50 * 2 * 1.0 / 10000
    dear_gpu = run("hybrid", gpu_price=100.0)  # a miss rate of 4/hour never pays for this GPU
    assert dear_gpu.waits == [] and dear_gpu.billed_hours == 0 and dear_gpu.cost == pytest.approx(3 * per_miss)
    cheap_gpu = run("hybrid", gpu_price=0.001)  # the first miss pays for waking it
    # every miss found the GPU asleep or booting (the third comes after it stopped again): all hosted, none
    # waited, and the GPU was woken (paid) for the misses that might have followed
    assert cheap_gpu.waits == [] and cheap_gpu.billed_hours > 0 and cheap_gpu.hosted_cost == pytest.approx(3 * per_miss)


def test_learned_hours_come_from_the_weeks_of_history():
    monday_20 = datetime(2026, 11, 2, 20, 0, tzinfo=timezone.utc).timestamp()
    trace = [cost_model.Request(monday_20 + week * 7 * 86400 + i * 60, f"t{week}-{i}", "v")
             for week in range(2) for i in range(30)]
    keys = [r.text for r in trace]
    learned = cost_model.learned_hours_for(trace, keys, monday_20 + 14 * 86400, args())
    assert learned == {20}  # Monday 20:00 UTC, hour 20 of the week
