"""Platform entry points, each a thin adapter over `functions.app.create_app()`.

- `aws_lambda.handler`: API Gateway (REST/HTTP), ALB and function URLs through serverless-wsgi.
- `scf_apigw.handler`: Tencent SCF event functions behind API Gateway (integrated response).
- `web.app`: WSGI callable for gunicorn (SCF web functions via `functions/scf_bootstrap`, containers).
- `scheduled`: timers (warm-up, scale-down, drain) and the SQS-triggered worker.
The app is built once per process, on the first event (cold start), and reused. Only a long-running host
(`web`) also starts the in-process job workers: an event function is frozen between events.
"""

from __future__ import annotations

import threading

_app = None
_workers = None
_lock = threading.Lock()


def shared_app(*, workers: bool = False):
    """The process's app; with `workers`, its job workers are running too (started once)."""
    global _app, _workers
    if _app is None or (workers and _workers is None):
        with _lock:  # threaded servers: concurrent first requests must not build two apps (and two workers)
            if _app is None:
                from ..app import create_app

                _app = create_app()
            if workers and _workers is None:
                _workers = _app.services.start_workers() or False
    return _app
