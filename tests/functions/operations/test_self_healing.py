"""No job stuck forever: the queue heals after Redis loses its data, a task whose job was lost is enqueued
again, a slow job keeps its lease and runs once, a dead worker's job and lock are taken over promptly, and a
failed job reaches an OpenAI client with the status its error deserves. Real Redis and Triton."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
import redis

from functions.endpoint.controller import build_controller
from functions.queues import MemoryQueue, RedisStreamQueue
from functions.jobs.worker import Worker
from functions.state.redis_state import RedisState
from functions.tts.plan import Plan

from ...audio_samples import recorder_files
from tests.support import client_for

AUDIO = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
LONG = "第一句话在这里说完。第二句话也在这里。"  # over max_text_chars=10: a job


def post(client, text, **extra):
    return client.post("/v1/tts", data=json.dumps({"text": text,
                                                   "consent": "self", "prompt_audio_base64": AUDIO, **extra}),
                       content_type="application/json")


def wait_done(client, url, timeout=45.0) -> dict:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        body = client.get(url).json
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"never finished: {body}")


@pytest.fixture
def redis_parts(redis_url, redis_prefix):
    client = redis.Redis.from_url(redis_url)
    yield client, redis_prefix
    for key in client.scan_iter(f"{redis_prefix}*"):
        client.delete(key)


def test_redis_loses_its_data_and_jobs_still_complete(make_app, redis_parts):
    r, prefix = redis_parts
    queue = RedisStreamQueue(r, f"{prefix}jobs", visibility_s=5)
    app = make_app(queue=queue, state=RedisState(r, prefix), worker_threads=2, max_text_chars=10)
    client = client_for(app)
    first = post(client, LONG)
    assert first.status_code == 202
    assert wait_done(client, first.json["poll_url"])["status"] == "done"
    lost = time.monotonic()
    for key in r.scan_iter(f"{prefix}*"):  # a failover to a replica without persistence, a FLUSHALL
        r.delete(key)
    second = post(client, LONG.replace("第一", "重新"))
    assert second.status_code == 202
    assert wait_done(client, second.json["poll_url"])["status"] == "done"
    print(f"\nRedis data lost: the next job finished {time.monotonic() - lost:.1f}s later")
    ready = client.get("/readyz").json
    assert ready["checks"]["queue"]["ok"] is True
    assert client.get(first.json["poll_url"]).json["status"] == "done"  # found again in storage


def test_a_task_whose_job_was_lost_is_enqueued_again_or_failed_truthfully(make_app):
    queue = MemoryQueue()
    app = make_app(queue=queue, worker_threads=0, max_text_chars=10, job_stale_s=0.3, job_max_attempts=2)
    client = client_for(app)
    body = post(client, LONG).json
    queue._items.clear()  # the queue lost the job; the task record still says queued
    assert app.services.jobs.heal_stale() == 0  # not stale yet: a job may simply be waiting
    time.sleep(0.4)
    assert app.services.jobs.heal_stale() == 1 and queue.depth() == 1  # enqueued again from the record
    worker = Worker(queue, app.services.jobs, build_controller(app.settings, app.services.endpoint))
    assert worker.run_once(wait_s=0.1) == 1
    assert client.get(body["poll_url"]).json["status"] == "done"
    # lost again and again: after job_max_attempts re-enqueues, a truthful failure, found by a poll
    body = post(client, LONG.replace("第一", "另一")).json
    for _ in range(3):
        for delivery in queue.receive(10):  # a worker starts it: its progress record rewrites the task
            app.services.jobs._progress(delivery.job, Plan.from_json(delivery.job["plan"]), 0, 2)
        queue._items.clear()  # and the job is lost again
        time.sleep(0.4)
        status = client.get(body["poll_url"]).json
    assert status["status"] == "failed" and status["error"]["code"] == "job_lost"


def test_a_job_waiting_behind_a_backlog_is_not_enqueued_twice(make_app):
    queue = MemoryQueue()
    app = make_app(queue=queue, worker_threads=0, max_text_chars=10, job_stale_s=0.3, job_max_attempts=4)
    client = client_for(app)
    bodies = [post(client, LONG.replace("第一", f"第{i}个")).json for i in range(3)]
    time.sleep(0.4)  # older than job_stale_s, and still waiting in a live queue
    for _ in range(5):
        assert app.services.jobs.heal_stale() == 3 and queue.depth() == 3  # looked at, never duplicated
        assert all(client.get(b["poll_url"]).json["status"] == "queued" for b in bodies)
    # a backlog that never drains (another caller keeps it full) holds a lost job back for a bounded time only
    lost = post(client, LONG.replace("第一", "被挤")).json
    for receipt in [r for r, item in queue._items.items() if item["job"]["id"] == lost["task_id"]]:
        del queue._items[receipt]
    time.sleep(0.3 * 4 + 0.1)  # job_stale_s x job_max_attempts
    assert queue.depth() == 3
    app.services.jobs.heal_stale()  # past the bound every waiting task is enqueued once more, the lost one too
    assert lost["task_id"] in {item["job"]["id"] for item in queue._items.values()}
    queue._items.clear()  # now the queue has lost them: each is enqueued again as the queue drains
    bodies.append(lost)
    worker = Worker(queue, app.services.jobs, build_controller(app.settings, app.services.endpoint))
    for _ in range(12):
        app.services.jobs.heal_stale()
        assert queue.depth() <= 1  # one at a time: never a burst of duplicates
        worker.run_once(wait_s=0.1)
    assert all(client.get(b["poll_url"]).json["status"] == "done" for b in bodies)


def test_a_job_slower_than_its_visibility_timeout_runs_once(make_app):
    queue = MemoryQueue(visibility_s=0.6)
    app = make_app(queue=queue, worker_threads=0, max_text_chars=10)
    calls = []
    synthesize = app.services.endpoint.synthesize

    def slow(item):
        calls.append(item.text)
        time.sleep(1.0)  # two segments: 2 s of work, more than three visibility timeouts
        return synthesize(item)

    app.services.endpoint.synthesize = slow
    body = post(client_for(app), LONG).json
    handled: list[str] = []
    stop = threading.Event()
    controller = build_controller(app.settings, app.services.endpoint)
    workers = [Worker(queue, app.services.jobs, controller) for _ in range(2)]

    def loop(worker):
        while not stop.is_set():
            for delivery in queue.receive(1, wait_s=0.05):
                handled.append(worker.handle(delivery))

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    try:
        assert wait_done(client_for(app), body["poll_url"])["status"] == "done"
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert handled == ["done"] and len(calls) == 2 and queue.depth() == 0  # one delivery, each segment once


def test_a_worker_killed_holding_a_lock_and_a_job_is_taken_over_promptly(make_app, redis_parts):
    r, prefix = redis_parts
    stream = f"{prefix}jobs"
    state = RedisState(r, prefix)
    waking = _Waking()
    app = make_app(queue=RedisStreamQueue(r, stream, visibility_s=1), state=state, worker_threads=0,
                   controller=waking)
    app.services.renderer.flight.lock_ttl_s = 1.5
    body = post(client_for(app), "工作进程拿着锁死了。").json  # the endpoint sleeps: a job
    waking.ready = True
    # the doomed worker takes the job and the single-flight lock, then dies: no ack, no renewal
    doomed = RedisStreamQueue(r, stream, consumer="doomed", visibility_s=1).receive(1)
    assert len(doomed) == 1
    assert state.acquire(f"sf:{body['task_id']}", app.services.renderer.flight.lock_ttl_s) is not None
    time.sleep(1.1)
    survivor_queue = RedisStreamQueue(r, stream, consumer="survivor", visibility_s=1)
    delivery = survivor_queue.receive(1)[0]
    assert delivery.attempt == 2  # the dead worker's attempt counts
    started = time.monotonic()
    outcome = Worker(survivor_queue, app.services.jobs, waking).handle(delivery)
    took = time.monotonic() - started
    print(f"\ndead worker's lock taken over; job done {took:.1f}s after the reclaim")
    assert outcome == "done" and took < 5  # not the old 85 s lock, and no synthesis_in_progress attempt
    assert client_for(app).get(body["poll_url"]).json["status"] == "done"


def test_failed_jobs_reach_openai_clients_with_their_own_status(make_app):
    from functions.errors import BadRequest

    queue = MemoryQueue()
    app = make_app(queue=queue, worker_threads=0, max_text_chars=10, speech_wait_s=3, max_inflight_misses=1,
                   slot_wait_s=0.1)
    held = app.services.limiter.acquire_slot(60)  # every GPU slot busy: the request becomes a job to wait for

    def refuse(item):
        raise BadRequest("inference_rejected")

    app.services.jobs.run = lambda job: refuse(None)
    worker = Worker(queue, app.services.jobs, build_controller(app.settings, app.services.endpoint), max_attempts=1)
    stop = threading.Event()
    thread = threading.Thread(target=lambda: [worker.run_once(0.05) for _ in iter(stop.is_set, True)])
    thread.start()
    try:
        r = client_for(app).post("/v1/audio/speech", data=json.dumps(
            {"model": "cosyvoice3", "voice": "default", "input": LONG}), content_type="application/json")
    finally:
        stop.set()
        thread.join(10)
        app.services.limiter.release_slot(held)
    assert r.status_code == 400 and r.json["error"]["code"] == "inference_rejected", r.json  # not a retryable 503
    assert "Retry-After" not in r.headers


class _Waking:
    """A scale-to-zero endpoint that is asleep until the test wakes it."""

    name, scales_to_zero, ready = "test-waking", True, False

    def state(self):
        from functions.endpoint.controller import ASLEEP, READY

        return READY if self.ready else ASLEEP

    def start(self):
        pass

    def stop(self):
        pass
