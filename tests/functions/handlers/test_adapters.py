"""Each platform entry point, driven by its event fixture from tests/events/, over the same app."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder

from functions.handlers import aws_lambda, scf_apigw, web

from ...audio_samples import recorder_files
from tests.support import BreaksMidStream, load_event

TEXT = "来自云函数的请求。"
REPO = Path(__file__).resolve().parents[3]


def multipart_body(text: str) -> tuple[bytes, str]:
    audio = recorder_files()["aac_adts_44k"][0]
    builder = EnvironBuilder(method="POST", data={"text": text,
                                                  "consent": "self", "audio": (io.BytesIO(audio), "r.aac")})
    env = builder.get_environ()
    return env["wsgi.input"].read(), env["CONTENT_TYPE"]


def fill(event, **values):
    """Replace "__NAME__" placeholders anywhere in a fixture."""
    if isinstance(event, dict):
        return {k: fill(v, **values) for k, v in event.items()}
    if isinstance(event, list):
        return [fill(v, **values) for v in event]
    if isinstance(event, str) and event.startswith("__") and event.endswith("__"):
        return values.get(event.strip("_"), event)
    return event


def test_aws_http_api_json_event(make_app):
    audio = base64.b64encode(recorder_files()["mp3_16k"][0]).decode()
    body = json.dumps({"text": TEXT, "consent": "self", "prompt_audio_base64": audio})
    event = fill(load_event("aws_apigw_v2_json"), JSON_BODY=body)
    result = aws_lambda.handler(event, None, app=make_app())
    assert result["statusCode"] == 200, result
    payload = json.loads(result["body"])
    assert payload["status"] == "done" and payload["audio_url"].endswith(".mp3")


def test_aws_rest_api_binary_multipart_event(make_app):
    body, content_type = multipart_body(TEXT)
    event = fill(load_event("aws_apigw_v1_multipart"), CONTENT_TYPE=content_type,
                 BASE64_BODY=base64.b64encode(body).decode())
    result = aws_lambda.handler(event, None, app=make_app())
    assert result["statusCode"] == 200, result
    assert json.loads(result["body"])["format"] == "mp3"


def test_aws_event_without_credentials_is_401(make_app):
    event = fill(load_event("aws_apigw_v2_json"), JSON_BODY="{}")
    del event["headers"]["x-api-key"]
    result = aws_lambda.handler(event, None, app=make_app())
    assert result["statusCode"] == 401 and json.loads(result["body"])["error"]["code"] == "unauthorized"


def test_aws_error_keeps_json_format(make_app):
    event = load_event("aws_apigw_v2_json")
    event["body"] = "{not json"
    result = aws_lambda.handler(event, None, app=make_app())
    assert result["statusCode"] == 400 and json.loads(result["body"])["error"]["code"] == "invalid_json"


def test_scf_api_gateway_binary_event(make_app):
    body, content_type = multipart_body(TEXT)
    event = fill(load_event("scf_apigw_multipart"), CONTENT_TYPE=content_type,
                 BASE64_BODY=base64.b64encode(body).decode())
    result = scf_apigw.handler(event, None, app=make_app())
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is False, result
    assert json.loads(result["body"])["status"] == "done"
    assert result["headers"]["X-Request-Id"] == event["requestContext"]["requestId"]


def test_scf_query_string_shape_and_get(make_app):
    environ = scf_apigw.to_environ(fill(load_event("scf_apigw_multipart"), BASE64_BODY=""))
    assert environ["QUERY_STRING"] == "debug=1&debug=2"
    bad = scf_apigw.handler(load_event("scf_apigw_multipart"), None, app=make_app())  # body is not base64
    assert bad["statusCode"] == 400 and json.loads(bad["body"])["error"]["code"] == "invalid_request"
    result = scf_apigw.handler(load_event("scf_apigw_get"), None, app=make_app())
    assert result["statusCode"] == 200 and json.loads(result["body"]) == {"status": "ok"}


def test_scf_binary_response_is_base64(make_app):
    app = make_app()
    body, content_type = multipart_body(TEXT + "二")
    event = fill(load_event("scf_apigw_multipart"), CONTENT_TYPE=content_type,
                 BASE64_BODY=base64.b64encode(body).decode())
    url = json.loads(scf_apigw.handler(event, None, app=app)["body"])["audio_url"]
    media = dict(load_event("scf_apigw_get"), path=url.split("http://testserver", 1)[1])
    result = scf_apigw.handler(media, None, app=app)
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"])[:3] in (b"ID3", b"\xff\xfb\x90")


@pytest.mark.parametrize("platform", ["aws", "scf"])
def test_a_stream_is_buffered_whole_and_one_that_breaks_is_an_error(make_app, triton, platform):
    """Event functions answer once the body is whole: a stream arrives complete, and one that breaks after its
    first chunk is a 502 JSON error, not a failed invocation."""
    from functions.endpoint.triton import TritonEndpoint

    def call(app, text):
        event = fill(load_event("aws_apigw_v2_json"), JSON_BODY=json.dumps({"text": text, "voice_id": "default"}))
        event["rawPath"] = event["requestContext"]["http"]["path"] = "/v1/tts/stream"
        if platform == "aws":
            return aws_lambda.handler(event, None, app=app)
        scf = dict(load_event("scf_apigw_get"), path="/v1/tts/stream", httpMethod="POST",
                   body=event["body"], isBase64Encoded=False)
        scf["headers"] = {**scf.get("headers", {}), "content-type": "application/json",
                          "x-api-key": event["headers"]["x-api-key"]}
        return scf_apigw.handler(scf, None, app=app)

    whole = call(make_app(), TEXT)
    assert whole["statusCode"] == 200 and len(base64.b64decode(whole["body"])) > 48000, whole.get("body", "")[:300]
    broken = call(make_app(endpoint=BreaksMidStream(TritonEndpoint(triton.grpc_url))), TEXT + "断。")
    assert broken["statusCode"] == 502 and json.loads(broken["body"])["error"]["code"] == "inference_failed"


def test_web_entry_builds_the_app_from_the_environment(triton, tmp_path):
    # A separate interpreter, as gunicorn would import it: settings only from environment variables.
    env = dict(os.environ, TRITON_URL=triton.grpc_url, STORAGE_DIR=str(tmp_path), ENGINE="espeak")
    code = ("from werkzeug.test import Client; from functions.handlers.web import app; "
            "r = Client(app).get('/readyz'); print(r.status_code, r.get_data(as_text=True))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith("200"), out.stderr[-2000:]
    assert callable(web.app)


def test_scf_bootstrap_is_executable_and_binds_port_9000():
    bootstrap = REPO / "functions" / "scf_bootstrap"
    assert os.access(bootstrap, os.X_OK)
    text = bootstrap.read_text()
    assert "0.0.0.0:9000" in text and "functions.handlers.web:app" in text


def test_several_gunicorn_workers_without_shared_state_are_refused_at_start(tmp_path):
    """Without REDIS_URL every worker would keep its own tasks, jobs and limits: gunicorn refuses to start
    two; one worker starts (the default without Redis)."""
    from inference.serve import free_port

    env = {**os.environ, "REDIS_URL": "", "STORAGE_DIR": str(tmp_path), "TRITON_URL": "127.0.0.1:1",
           "WORKER_THREADS": "0"}
    env.pop("WEB_CONCURRENCY", None)
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:functions.gunicorn_conf", "-b",
           f"127.0.0.1:{free_port()}", "functions.handlers.web:app"]
    refused = subprocess.run([*cmd, "--workers", "2"], env=env, cwd=REPO, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode != 0 and "without REDIS_URL" in refused.stderr
    one = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            one.wait(timeout=3)  # still running: started
    finally:
        one.terminate()
        one.wait(timeout=10)
