#!/bin/bash
# AWS Lambda behind a function URL in response-streaming mode: the Lambda Web Adapter (the layer's
# /opt/bootstrap, set as AWS_LAMBDA_EXEC_WRAPPER) runs this, waits for /healthz, and relays each invocation to
# gunicorn as plain HTTP, passing the response on as it is written (AWS_LWA_INVOKE_MODE=response_stream).
# Python's managed runtime cannot stream a handler's response by itself; this is how a WSGI app does.
cd "$(dirname "$0")" || exit 1
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$(pwd)"
exec python3 -m gunicorn -c python:functions.gunicorn_conf --bind "127.0.0.1:${AWS_LWA_PORT:-8080}" \
    functions.handlers.web:app
