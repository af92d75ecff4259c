"""Background jobs for work that does not fit a synchronous request (long texts).

`LocalJobRunner` runs jobs on a small thread pool in this process: right for the embedded default and for
long-running deployments (web function, container). Job state lives in the state backend, so progress is
visible to every instance; a job whose process dies is marked failed by its record's heartbeat check.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

log = logging.getLogger(__name__)


class LocalJobRunner:
    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="job")
        self._active: set[str] = set()
        self._lock = threading.Lock()

    def submit(self, job_id: str, fn: Callable[[], None]) -> bool:
        """Start fn unless a job with this id is already running here; True when started."""
        with self._lock:
            if job_id in self._active:
                return False
            self._active.add(job_id)

        def run():
            try:
                fn()
            except Exception:  # noqa: BLE001 - the job records its own failure; never kill the pool
                log.exception("job %s crashed", job_id)
            finally:
                with self._lock:
                    self._active.discard(job_id)

        self._pool.submit(run)
        return True

    def active(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._active

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
