"""AWS Lambda entry point (API Gateway v1/v2, ALB, function URLs) via serverless-wsgi."""

from __future__ import annotations

import serverless_wsgi

from . import buffered, shared_app


def handler(event, context, app=None):
    return serverless_wsgi.handle_request(buffered(app or shared_app()), event, context)
