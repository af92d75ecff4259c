"""Prometheus metrics: request counts, latency and per-stage time reach /metrics."""

from __future__ import annotations

import base64
import json

from ...audio_samples import recorder_files
from tests.support import client_for


def test_metrics_count_requests_stages_and_cache(make_app):
    app = make_app(metrics=True)
    client = client_for(app)
    body = json.dumps({"text": "指标里的一句话。", "consent": "self",
                       "prompt_audio_base64": base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()})
    for _ in range(2):
        assert client.post("/v1/tts", data=body, content_type="application/json").status_code == 200
    client.get("/no/such/path/123")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'relay_requests_total{method="POST",route="/v1/tts",status="200"}' in text
    assert 'relay_stage_seconds_count{stage="infer"}' in text
    assert 'relay_syntheses_total{cache="hit"}' in text and 'relay_syntheses_total{cache="miss"}' in text
    assert 'route="other"' in text and "/no/such/path" not in text  # no unbounded labels
    assert client_for(make_app()).get("/metrics").status_code == 404  # off unless configured
