"""gunicorn settings for the relay: `gunicorn -c python:functions.gunicorn_conf functions.handlers.web:app`
(what the SCF bootstrap, the container, the Lambda Web Adapter script and `make run` run).

Event-driven workers (gevent): streams, WebSockets and slow clients are long-lived connections, and a thread
per connection in a pool of eight froze the whole process with eight idle sockets (scripts/bench_connections.py
measures it: with gthread 1x8, 50 idle WebSockets made /healthz time out at 30 s; with gevent, 1,000 idle
WebSockets, 200 trickling clients and 100 unread streams leave /healthz and a cache hit in milliseconds). Each
connection is a greenlet; gRPC to Triton is made cooperative (`grpc.experimental.gevent`), and CPU-bound work
(decode, encode, VAD) runs on the hub's native thread pool (functions/cpu.py), so it does not stall the others.
`GUNICORN_WORKER_CLASS=gthread` goes back to threads (then GUNICORN_THREADS applies).

Worker processes share nothing but what lives in Redis: without REDIS_URL, each would keep its own task
records, job queue, limits and single-flight locks (a poll answered by another worker finds no task, limits
multiply by the worker count). So more than one worker without REDIS_URL is refused at start-up, and the
default is 2 workers with Redis and 1 without. The worker timeout stays well above REQUEST_DEADLINE_S, so a
request waiting on a stalled dependency is answered (503) before its worker could be killed for waiting.
"""

from __future__ import annotations

import os

workers = int(os.environ.get("WEB_CONCURRENCY") or (2 if os.environ.get("REDIS_URL") else 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or "gevent"
# The most connections one worker holds at once; beyond it, new ones wait in the listen backlog. The app's own
# caps (MAX_CONNECTIONS, per address and per identity) refuse long-lived work with 503 well before this.
worker_connections = int(os.environ.get("GUNICORN_CONNECTIONS") or 4000)
threads = int(os.environ.get("GUNICORN_THREADS") or 8)  # gthread only
timeout = 60
graceful_timeout = 30
# An idle keep-alive connection is closed after this many seconds; under the event-driven workers it is also the
# time a request's headers must arrive within (a client trickling them is cut). Bodies: BODY_TIMEOUT_S.
keepalive = 5


def check_workers(count: int, environ) -> None:
    if count > 1 and not environ.get("REDIS_URL"):
        raise SystemExit(f"refusing to start {count} worker processes without REDIS_URL: each would keep its own "
                         "tasks, jobs and limits. Set REDIS_URL, or run one worker (WEB_CONCURRENCY=1).")


def on_starting(server) -> None:
    check_workers(server.cfg.workers, os.environ)


def post_worker_init(worker) -> None:
    """gevent has patched the standard library by now; gRPC's C core needs its own switch to cooperate."""
    if "gevent" in type(worker).__module__:
        import grpc.experimental.gevent as grpc_gevent

        grpc_gevent.init_gevent()


def worker_exit(server, worker) -> None:
    """The worker has served its last connection: end the process now. Left to the interpreter's teardown, gRPC's
    cooperative (gevent) mode and the native threads of CPU work kept it alive until the master killed it
    graceful_timeout later (30 s for every stop and every deploy)."""
    if "gevent" in type(worker).__module__:
        import logging
        import sys

        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(0)
