"""Platform entry points, each a thin adapter over `functions.app.create_app()`.

- `aws_lambda.handler`: API Gateway (REST/HTTP), ALB and function URLs through serverless-wsgi.
- `scf_apigw.handler`: Tencent SCF event functions behind API Gateway (integrated response).
- `web.app`: WSGI callable for gunicorn (SCF web functions via `functions/scf_bootstrap`, containers).
The app is built once per process, on the first event (cold start), and reused.
"""

from __future__ import annotations

import threading

_app = None
_lock = threading.Lock()


def shared_app():
    global _app
    if _app is None:
        with _lock:  # threaded servers: concurrent first requests must not build two apps (and two workers)
            if _app is None:
                from ..app import create_app

                _app = create_app()
    return _app
