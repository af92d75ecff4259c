"""gunicorn settings for the relay: `gunicorn -c python:functions.gunicorn_conf functions.handlers.web:app`
(what the SCF bootstrap and the container run).

Worker processes share nothing but what lives in Redis: without REDIS_URL, each would keep its own task
records, job queue, limits and single-flight locks (a poll answered by another worker finds no task, limits
multiply by the worker count). So more than one worker without REDIS_URL is refused at start-up, and the
default is 2 workers with Redis and 1 without, each with 8 threads. The worker timeout stays well above
REQUEST_DEADLINE_S, so a request waiting on a stalled dependency is answered (503) before its worker could be
killed for waiting.
"""

from __future__ import annotations

import os

workers = int(os.environ.get("WEB_CONCURRENCY") or (2 if os.environ.get("REDIS_URL") else 1))
# Threads, not sync workers: a stream (POST /v1/tts/stream) lasts as long as its speech, and a sync worker is
# killed after `timeout` in one request; a threaded worker only has to stay responsive.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 8)
timeout = 60
graceful_timeout = 30


def check_workers(count: int, environ) -> None:
    if count > 1 and not environ.get("REDIS_URL"):
        raise SystemExit(f"refusing to start {count} worker processes without REDIS_URL: each would keep its own "
                         "tasks, jobs and limits. Set REDIS_URL, or run one worker (WEB_CONCURRENCY=1) with threads.")


def on_starting(server) -> None:
    check_workers(server.cfg.workers, os.environ)
