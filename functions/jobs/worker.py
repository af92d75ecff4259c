"""The job worker: take a job, make sure the endpoint is up, run it, acknowledge it.

- a scale-to-zero endpoint that is not ready: start it and put the job back without counting an attempt
  (a static endpoint that is down is just a failure, retried and counted);
- failure: retry with exponential backoff up to JOB_MAX_ATTEMPTS, then the task ends `failed` with a reason;
- a job is acknowledged only after its result is stored, and running it again finds the stored result
  (object storage first), so a worker dying mid-job loses nothing and nothing completes twice;
- while a job runs its lease is renewed (the queue delivery stays invisible, the task's heartbeat fresh), so a
  slow job is never delivered to a second worker, and a dead worker's job comes back after one visibility
  timeout; tasks whose job was lost altogether are healed by a periodic sweep (`TtsJobs.heal_stale`).

A failure is judged by the same error map as an HTTP request (functions/error_map.py), so a task fails with
the code, message and status the synchronous request would have answered.
"""

from __future__ import annotations

import logging
import threading
import time

from ..endpoint.controller import READY
from ..error_map import ErrorMap, default_error_map
from ..lease import Renewer

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, queue, jobs, controller, *, errors: ErrorMap | None = None, max_attempts: int = 4,
                 backoff_s: float = 5.0, not_ready_delay_s: float = 5.0, renew_every_s: float | None = None,
                 sleep=time.sleep) -> None:
        self.queue, self.jobs, self.controller = queue, jobs, controller
        self.errors = errors or default_error_map()
        self.max_attempts, self.backoff_s, self.not_ready_delay_s = max_attempts, backoff_s, not_ready_delay_s
        self.renew_every_s = renew_every_s or float(getattr(queue, "visibility_s", 60)) / 3
        self._sleep = sleep

    def run_once(self, wait_s: float = 1.0) -> int:
        """Handle at most one job; the number handled (0 when the queue was empty)."""
        deliveries = self.queue.receive(1, wait_s)
        for delivery in deliveries:
            self.handle(delivery)
        return len(deliveries)

    def handle(self, delivery) -> str:
        job = delivery.job
        try:
            self.jobs.touch(job)
            if self.controller.scales_to_zero and self.controller.state() != READY:
                self.controller.start()
                self.queue.retry(delivery, self.not_ready_delay_s, count_attempt=False)  # waiting is not failing
                return "waiting"
            with Renewer(lambda: self._renew(delivery), self.renew_every_s, what=f"job {str(job.get('id'))[:12]}"):
                self.jobs.run(job)
            self.queue.ack(delivery)
            return "done"
        except Exception as exc:  # noqa: BLE001 - every failure is either retried or recorded
            error = self.errors(exc)
            log.warning("job %s attempt %d failed: %s", job.get("id"), delivery.attempt, error.detail or exc)
            if delivery.attempt >= self.max_attempts:
                self.jobs.fail(job, error)
                self.queue.ack(delivery)
                return "failed"
            self.jobs.note_retry(job, delivery.attempt, error.code)
            self.queue.retry(delivery, self.backoff_s * 2 ** (delivery.attempt - 1))
            return "retry"

    def _renew(self, delivery) -> bool:
        held = self.queue.extend(delivery)
        self.jobs.touch(delivery.job)
        return held

    def run_until_empty(self, budget_s: float, clock=time.monotonic) -> int:
        """Drain: handle jobs until none is ready or the time budget is spent."""
        deadline, handled = clock() + budget_s, 0
        while clock() < deadline:
            n = self.run_once(wait_s=0)
            if n == 0:
                break
            handled += n
        return handled


class WorkerThreads:
    """Workers inside a long-running server process (the embedded default, web functions, containers)."""

    def __init__(self, worker: Worker, count: int, sweep_every_s: float = 30.0) -> None:
        self.worker, self.count, self.sweep_every_s = worker, count, sweep_every_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "WorkerThreads":
        for i in range(self.count):
            t = threading.Thread(target=self._loop, args=(i == 0,), name=f"job-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _loop(self, sweeps: bool = False) -> None:
        next_sweep = time.monotonic() + self.sweep_every_s
        while not self._stop.is_set():
            try:
                if sweeps and time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_every_s
                    self.worker.jobs.heal_stale()
                self.worker.run_once(wait_s=0.2)
            except Exception:  # noqa: BLE001 - a broken queue connection must not kill the thread
                log.exception("job worker loop")
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
