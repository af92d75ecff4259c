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
