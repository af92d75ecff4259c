"""WSGI callable for long-running servers: `gunicorn functions.handlers.web:app` (SCF web functions via
`functions/scf_bootstrap` on 0.0.0.0:9000, WeChat Cloud Hosting and other containers). Each server process
also runs WORKER_THREADS job workers."""

from __future__ import annotations

from . import shared_app


def app(environ, start_response):
    return shared_app(workers=True)(environ, start_response)
