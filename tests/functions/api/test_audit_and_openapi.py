"""The audit line and the OpenAPI description."""

from __future__ import annotations

import base64
import json
import logging
import re
from pathlib import Path

import yaml

from ...audio_samples import recorder_files
from tests.support import ALICE_KEY, client_for

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"


def audit_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "functions.audit"]


def post(client, text):
    audio = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
    return client.post("/v1/tts", data=json.dumps({"text": text, "consent": "self", "prompt_audio_base64": audio}),
                       content_type="application/json")


def test_audit_line_for_a_refused_request_holds_no_text_or_secrets(make_app, caplog):
    caplog.set_level(logging.INFO, logger="functions.audit")
    app = make_app(dev_mode=False)
    r = post(client_for(app, ALICE_KEY), "含有违禁测试词的句子")
    assert r.status_code == 422
    line = audit_lines(caplog)[-1]
    raw = json.dumps(line, ensure_ascii=False)
    assert "违禁" not in raw and "含有" not in raw and ALICE_KEY not in raw
    assert line["identity"] == "api_key:alice" and line["outcome"] == "content_refused" and line["status"] == 422
    assert line["request_id"] == r.headers["X-Request-Id"] and line["endpoint"] == "/v1/tts"
    assert len(line["text_sha256"]) == 64 and line["text_len"] == 10
    assert line["client_ip"] == "203.0.113.9" and line["ms"] >= 0


def test_audit_line_of_a_synthesis(make_app, caplog):
    caplog.set_level(logging.INFO, logger="functions.audit")
    client = client_for(make_app(), ALICE_KEY)
    post(client, "审计日志里的一句话。")
    post(client, "审计日志里的一句话。")
    first, second = audit_lines(caplog)[-2:]
    assert first["cache_hit"] is False and second["cache_hit"] is True
    assert {"validate", "voice", "cache", "infer", "encode", "store"} <= set(first["stages"])
    assert "prompt_audio_base64" not in json.dumps(first) and "text" not in first


def test_text_is_logged_only_when_enabled(make_app, caplog):
    caplog.set_level(logging.INFO, logger="functions.audit")
    post(client_for(make_app(audit_text=True), ALICE_KEY), "运营者开启了文本审计。")
    assert audit_lines(caplog)[-1]["text"] == "运营者开启了文本审计。"


def spec() -> dict:
    return yaml.safe_load((FUNCTIONS / "openapi.yaml").read_text(encoding="utf-8"))


def test_openapi_covers_every_route(make_app):
    app = make_app()
    paths = spec()["paths"]
    # /media serves exactly the names the service hands out: documented as that shape, not as any path
    aliases = {"/media/{key}": "/media/tts/{shard}/{name}"}
    for rule in app.urls.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        if rule.websocket or path == "/v1/tts/ws":  # OpenAPI 3.0 has no WebSocket: described beside the paths
            assert path in spec()["x-websockets"], path
            continue
        path = aliases.get(path, path)
        assert path in paths, path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], f"{method} {path}"


def test_openapi_lists_every_error_code():
    """The enum is the catalog's codes (functions/error_codes.py); tests/unit/test_error_codes.py checks that every
    raise site's code is catalogued."""
    from functions.error_codes import CODES

    assert set(spec()["components"]["schemas"]["ErrorCode"]["enum"]) == set(CODES)


def test_openapi_is_served(make_app):
    r = client_for(make_app(), "x").get("/openapi.yaml")
    assert r.status_code == 200 and yaml.safe_load(r.data)["openapi"].startswith("3.")
    assert set(spec()["components"]["securitySchemes"]) == {"bearerAuth", "apiKey"}
