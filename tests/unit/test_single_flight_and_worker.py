"""Single-flight and the worker on in-memory parts, with injected clocks: no waiting."""

from __future__ import annotations

import time

import pytest

from functions.endpoint.controller import ASLEEP, READY
from functions.queues import MemoryQueue
from functions.jobs.worker import Worker
from functions.state import MemoryState
from functions.tts.single_flight import SingleFlight, StillRunning


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_follower_gets_the_leaders_result():
    state, clock = MemoryState(), Clock()
    flight = SingleFlight(state, wait_s=5, sleep=clock.sleep, clock=clock)
    assert flight.run("k", lambda: None, lambda: "mine") == ("mine", False)
    state.acquire("sf:k", 10)  # another caller leads now
    results = iter([None, None, "theirs"])
    assert flight.run("k", lambda: next(results), lambda: "mine") == ("theirs", True)


def test_a_follower_gives_up_within_its_wait():
    state, clock = MemoryState(), Clock()
    flight = SingleFlight(state, wait_s=1, poll_s=0.25, sleep=clock.sleep, clock=clock)
    state.acquire("sf:k", 60)
    with pytest.raises(StillRunning):
        flight.run("k", lambda: None, lambda: "mine")
    assert clock.now == pytest.approx(1.0)


def test_a_follower_takes_over_when_the_leader_vanished():
    state, clock = MemoryState(), Clock()
    flight = SingleFlight(state, wait_s=5, sleep=clock.sleep, clock=clock)
    token = state.acquire("sf:k", 60)

    def lookup():
        state.release("sf:k", token)  # the leader failed without a result
        return None

    assert flight.run("k", lookup, lambda: "mine") == ("mine", False)


class Jobs:
    def __init__(self, error: Exception | None = None) -> None:
        self.error, self.ran, self.touched, self.failed = error, [], 0, []

    def touch(self, job):
        self.touched += 1

    def run(self, job):
        if self.error:
            raise self.error
        self.ran.append(job["id"])

    def note_retry(self, job, attempt, reason):
        pass

    def fail(self, job, error):
        self.failed.append(error.code)


class Controller:
    scales_to_zero = True

    def __init__(self, state: str) -> None:
        self._state, self.started = state, 0

    def state(self) -> str:
        return self._state

    def start(self) -> None:
        self.started += 1


def test_a_sleeping_endpoint_is_woken_and_the_job_waits_without_an_attempt():
    queue, jobs, controller = MemoryQueue(), Jobs(), Controller(ASLEEP)
    queue.enqueue({"id": "a"})
    worker = Worker(queue, jobs, controller, not_ready_delay_s=0)
    assert worker.handle(queue.receive(1)[0]) == "waiting" and controller.started == 1
    controller._state = READY
    delivery = queue.receive(1, wait_s=1)[0]
    assert delivery.attempt == 1 and worker.handle(delivery) == "done" and jobs.ran == ["a"]
    assert queue.depth() == 0


def test_an_unexpected_error_fails_the_job_as_an_internal_error():
    queue, jobs = MemoryQueue(), Jobs(error=KeyError("bug"))
    queue.enqueue({"id": "a"})
    worker = Worker(queue, jobs, Controller(READY), max_attempts=1)
    assert worker.handle(queue.receive(1)[0]) == "failed" and jobs.failed == ["internal_error"]


def test_an_sqs_triggered_function_renews_a_long_jobs_lease():
    from functions.handlers.scheduled import _LambdaBatch
    from functions.queues import Delivery

    class Sqs:
        extended = 0

        def extend(self, delivery):
            self.extended += 1
            return True

    class SlowJobs(Jobs):
        def run(self, job):
            time.sleep(0.3)

    sqs, jobs = Sqs(), SlowJobs()
    worker = Worker(_LambdaBatch(sqs), jobs, Controller(READY), renew_every_s=0.05)
    assert worker.handle(Delivery({"id": "a"}, "receipt")) == "done"
    assert sqs.extended >= 2 and jobs.touched >= 3  # the message stays invisible, the task's heartbeat fresh


def test_a_leader_that_outlives_its_lease_keeps_the_lock_while_it_works():
    """The lock is short (lock_ttl_s) and renewed while the leader computes: a second caller arriving long
    after the first lease would have lapsed follows the leader instead of computing the same result again."""
    import threading

    class RenewalsSeen(MemoryState):
        def __init__(self, clock) -> None:
            super().__init__(clock=clock)
            self.renewals, self.cond = 0, threading.Condition()

        def extend(self, name, token, ttl_s):
            ok = super().extend(name, token, ttl_s)
            with self.cond:
                self.renewals += ok
                self.cond.notify_all()
            return ok

    clock = Clock()  # the state's time; the lease keeper renews on real time (every lock_ttl_s / 3 = 0.1 s)
    state = RenewalsSeen(clock)
    ttl = 0.3
    leader = SingleFlight(state, wait_s=5, lock_ttl_s=ttl)
    follower = SingleFlight(state, wait_s=5, lock_ttl_s=ttl, poll_s=0.01)
    done: dict = {}
    computed: list[str] = []
    follower_waiting = threading.Event()
    outcome: dict = {}

    def leader_computes():
        computed.append("leader")
        for _ in range(10):  # 1.0 s of the state's time: the first lease lapsed three times over
            clock.now += ttl / 3
            with state.cond:
                seen = state.renewals
                state.cond.wait_for(lambda seen=seen: state.renewals > seen, timeout=2)
        outcome["locked_late"] = state.is_locked("sf:k")
        second.start()  # a second caller for the same result, now
        follower_waiting.wait(5)
        done["v"] = "the leader's"
        return "the leader's"

    def follower_lookup():
        follower_waiting.set()
        return done.get("v")

    def follower_computes():
        computed.append("follower")
        return "the follower's"

    second = threading.Thread(target=lambda: outcome.setdefault(
        "follower", follower.run("k", follower_lookup, follower_computes)))
    assert leader.run("k", lambda: None, leader_computes) == ("the leader's", False)
    second.join(10)
    assert outcome["locked_late"] is True and clock.now > 3 * ttl
    assert outcome["follower"] == ("the leader's", True)
    assert computed == ["leader"]
    assert not state.is_locked("sf:k")  # released when the leader finished
