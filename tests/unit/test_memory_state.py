"""The in-process state is bounded by size and by time: expired records go without being read, a burst of
tasks evicts the oldest tasks but never an alias (the scale-down's `last_inference`, a voice mapping)."""

from __future__ import annotations

from functions.state.memory import SWEEP_EVERY, MemoryState


def test_expired_records_are_swept_without_being_read():
    now = [0.0]
    state = MemoryState(clock=lambda: now[0])
    for i in range(100):
        state.put_task(f"t{i}", {"status": "done"}, ttl_s=10)
        state.set_alias(f"a{i}", "x", ttl_s=10)
    assert state.sizes()["tasks"] == 100
    now[0] = 11.0  # all expired; nobody reads them
    for i in range(SWEEP_EVERY):
        state.put_task(f"new{i}", {"status": "done"}, ttl_s=1000)
    sizes = state.sizes()
    assert sizes["tasks"] == SWEEP_EVERY and sizes["aliases"] == 0


def test_a_burst_of_tasks_never_evicts_an_alias():
    state = MemoryState(max_tasks=5)
    state.set_alias("last_inference", "123.0", ttl_s=3600)
    for i in range(50):
        state.put_task(f"t{i}", {"status": "queued"}, ttl_s=3600)
    assert state.sizes()["tasks"] == 5 and state.get_task("t0") is None and state.get_task("t49") is not None
    assert state.get_alias("last_inference") == "123.0"


def test_a_burst_of_finished_tasks_never_evicts_a_waiting_job():
    """A long job queued behind a backlog keeps its record while thousands of other tasks finish: its caller's
    polls must not say task_not_found for a job that is still coming (the size bound takes finished ones)."""
    state = MemoryState(max_tasks=5)
    state.put_task("job", {"status": "queued"}, ttl_s=3600)
    for i in range(50):
        state.put_task(f"t{i}", {"status": "done"}, ttl_s=3600)
    assert state.get_task("job") == {"status": "queued"} and state.sizes()["tasks"] == 5
    assert state.get_task("t44") is None and state.get_task("t49") is not None
    state.put_task("job", {"status": "done"}, ttl_s=3600)  # finished: an ordinary record from now on
    for i in range(50, 55):
        state.put_task(f"t{i}", {"status": "done"}, ttl_s=3600)
    assert state.get_task("job") is None


def test_jobs_filling_the_table_leave_finished_records_their_share():
    """Even when waiting jobs fill every place, a job that just failed keeps its record (its reason) past the
    next submissions: active records hold at most max_tasks minus a reserve, oldest out first."""
    state = MemoryState(max_tasks=100)
    for i in range(100):
        state.put_task(f"q{i}", {"status": "queued"}, ttl_s=3600)
    state.put_task("q0", {"status": "failed", "error": {"code": "voice_consent_missing"}}, ttl_s=3600)
    for i in range(100, 105):
        state.put_task(f"q{i}", {"status": "queued"}, ttl_s=3600)
    assert state.get_task("q0")["status"] == "failed" and state.sizes()["tasks"] == 100
    assert state.get_task("q1") is None and state.get_task("q104") is not None


def test_an_expired_waiting_record_goes_before_a_live_finished_one():
    now = [0.0]
    state = MemoryState(max_tasks=3, clock=lambda: now[0])
    state.put_task("q1", {"status": "queued"}, ttl_s=1)
    state.put_task("q2", {"status": "queued"}, ttl_s=1)
    now[0] = 10.0
    state.put_task("d", {"status": "done"}, ttl_s=100)
    state.put_task("e", {"status": "failed"}, ttl_s=100)
    assert state.get_task("d") is not None and state.get_task("e") is not None


def test_nine_thousand_waiting_jobs_outlast_twenty_thousand_finished_tasks():
    """Waiting jobs up to their share keep their records through any churn of finished ones (which take the
    reserved places, oldest out first)."""
    state = MemoryState(max_tasks=10_000)
    for i in range(9_000):
        state.put_task(f"q{i}", {"status": "queued"}, ttl_s=3600)
    for i in range(20_000):
        state.put_task(f"d{i}", {"status": "done"}, ttl_s=3600)
    assert state.sizes()["tasks"] == 10_000
    assert all(state.get_task(f"q{i}") is not None for i in range(9_000))
    assert state.get_task("d18999") is None and state.get_task("d19000") is not None
