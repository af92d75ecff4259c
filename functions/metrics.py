"""Prometheus metrics for the long-running deployments (web function, container, dev server): requests by
route and status, latency, per-stage time, cache hits. Exposed at /metrics when METRICS=true.

Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (an empty directory) so the workers' metrics
are aggregated. Triton's own metrics (queue and compute time per model) are on its port 8002.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REQUESTS = Counter("relay_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram("relay_request_seconds", "Request latency", ["route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
STAGES = Histogram("relay_stage_seconds", "Time per request-path stage", ["stage"],
                   buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
SYNTHESES = Counter("relay_syntheses_total", "Synthesis requests by cache outcome", ["cache"])


def observe(entry: dict) -> None:
    """Record one audit entry (see middleware.audit_log)."""
    route = entry.get("endpoint") if entry.get("endpoint", "").startswith(("/v1", "/healthz", "/readyz")) \
        else "other"  # unmatched paths must not create unbounded label values
    REQUESTS.labels(route, entry["method"], str(entry["status"])).inc()
    LATENCY.labels(route).observe(entry["ms"] / 1000)
    for stage, ms in entry.get("stages", {}).items():
        STAGES.labels(stage).observe(ms / 1000)
    if "cache_hit" in entry:
        SYNTHESES.labels("hit" if entry["cache_hit"] else "miss").inc()


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
