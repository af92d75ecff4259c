"""Keeping leases alive (functions/lease.py): a renewal every period while the block runs and never outside it,
a lost or failing renewal logged (a loss once), and one keeper thread that renews on time, sleeps while idle,
forgets what ended and never holds a process open.

Each test gets a fresh keeper. The renewal rules run on an injected monotonic clock (the keeper is then
woken only by what the test does); the keeper's own timing uses real periods of 50 ms to 1 s."""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

import pytest

from functions import lease
from functions.lease import Renewer, _Keeper


class Renewal:
    """A renewal that answers `result` (or raises the next of `failures`) and counts its calls."""

    def __init__(self, result: object = True, failures: list[Exception] | None = None) -> None:
        self.result, self.failures, self.calls = result, list(failures or []), 0

    def __call__(self) -> object:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


class Clock:
    """lease.time, with a monotonic clock the test sets, that counts the calls made by one thread."""

    def __init__(self, at: float | None = None) -> None:
        self.at, self.watch, self.watched_calls = at, None, 0

    def monotonic(self) -> float:
        if self.watch is not None and threading.current_thread() is self.watch:
            self.watched_calls += 1
        return time.monotonic() if self.at is None else self.at


def wait_until(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


@pytest.fixture
def keeper(monkeypatch):
    fresh = _Keeper()
    monkeypatch.setattr(lease, "_KEEPER", fresh)
    return fresh


@pytest.fixture
def clock(monkeypatch):
    fake = Clock(1000.0)
    monkeypatch.setattr(lease, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "functions.lease" and r.levelno == logging.WARNING]


# the renewal rules, driven by hand on the injected clock


def test_the_first_renewal_is_due_one_period_after_the_start_and_each_renewal_schedules_the_next(keeper, clock):
    renew = Renewal()
    held = Renewer(renew, 30)
    assert held.next_at == 1030.0
    with held:
        clock.at = 1031.0
        held.tick()
        assert renew.calls == 1 and held.next_at == 1061.0


def test_a_period_under_50_ms_is_raised_to_50_ms(keeper, clock):
    assert Renewer(Renewal(), 0.001).next_at == pytest.approx(1000.05)


def test_a_lease_is_renewed_only_while_its_block_runs(keeper, clock):
    renew = Renewal()
    held = Renewer(renew, 30)
    held.tick()  # not entered yet
    assert renew.calls == 0
    with held:
        held.tick()
        assert renew.calls == 1
    held.tick()  # the keeper may still tick a lease it found due just before the block ended
    assert renew.calls == 1


@pytest.mark.parametrize("answer", [True, None, "OK", 1])
def test_a_renewal_that_succeeds_logs_nothing(keeper, clock, caplog, answer):
    renew = Renewal(result=answer)
    with Renewer(renew, 30, what="job 7") as held:
        held.tick()
        held.tick()
    assert renew.calls == 2 and warnings(caplog) == []


def test_a_lost_lease_is_logged_once_naming_the_work_and_renewals_go_on(keeper, clock, caplog):
    renew = Renewal(result=False)
    with Renewer(renew, 30, what="job 7") as held:
        held.tick()
        held.tick()
        held.tick()
    assert renew.calls == 3
    logged = warnings(caplog)
    assert len(logged) == 1 and "job 7" in logged[0] and "lost" in logged[0]


def test_a_failing_renewal_is_logged_with_its_cause_and_tried_again_at_the_next_tick(keeper, clock, caplog):
    renew = Renewal(failures=[OSError("redis unreachable")])
    with Renewer(renew, 30, what="job 7") as held:
        clock.at = 1030.0
        held.tick()
        assert held.next_at == 1060.0  # rescheduled although it failed
        held.tick()
    assert renew.calls == 2
    logged = warnings(caplog)
    assert len(logged) == 1 and "job 7" in logged[0] and "redis unreachable" in logged[0]
    assert "lost" not in logged[0]


# the keeper thread


def test_the_keeper_renews_every_period_while_the_block_runs_and_stops_after(keeper):
    renew = Renewal()
    started = time.monotonic()
    with Renewer(renew, 0.05):
        assert wait_until(lambda: renew.calls >= 3, timeout=0.8), renew.calls
        elapsed = time.monotonic() - started
        assert renew.calls <= elapsed / 0.05 + 1, (renew.calls, elapsed)  # on schedule, never a burst
    ended = renew.calls
    time.sleep(0.15)
    assert renew.calls <= ended + 1  # at most a tick that was already under way


def test_the_first_renewal_waits_a_whole_period(keeper):
    renew = Renewal()
    with Renewer(renew, 1.0):
        time.sleep(0.1)
        assert renew.calls == 0


def test_a_lease_due_at_this_very_instant_is_renewed(keeper, clock):
    renew = Renewal()
    held = Renewer(renew, 5)
    clock.at = held.next_at  # due exactly now when the keeper first looks
    with held:
        assert wait_until(lambda: renew.calls == 1, timeout=1.0), renew.calls


def test_the_keeper_forgets_a_lease_when_its_block_ends(keeper):
    """A process holds millions of leases over its life: the keeper must not keep any that ended."""
    held = Renewer(Renewal(), 0.05)
    with held:
        assert held in keeper._leases
    assert held not in keeper._leases and not keeper._leases


def test_an_idle_keeper_sleeps_stays_alive_and_never_holds_the_process_open(keeper, monkeypatch):
    clock = Clock()  # the real clock, counting the keeper thread's readings
    monkeypatch.setattr(lease, "time", SimpleNamespace(monotonic=clock.monotonic))
    with Renewer(Renewal(), 0.05):
        clock.watch = keeper._thread
    time.sleep(0.3)  # past the ended lease's due time: the keeper found nothing left to renew
    assert keeper._thread.is_alive() and keeper._thread.daemon
    assert clock.watched_calls <= 5, clock.watched_calls  # asleep, not polling


def test_one_keeper_thread_serves_every_lease(keeper):
    first, second = Renewal(), Renewal()
    with Renewer(first, 0.05):
        thread = keeper._thread
        with Renewer(second, 0.05):
            assert wait_until(lambda: first.calls >= 2 and second.calls >= 2, timeout=1.0)
            assert keeper._thread is thread
