"""Deployment files: the SAM template lints and every handler it or serverless.yml names imports and answers
its event fixture; the Tencent deployer issues the expected calls and a second run changes nothing."""

from __future__ import annotations

import base64
import importlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml

from ..audio_samples import recorder_files
from tests.support import client_for, load_event
from ..fakes.tencent_cloud import FakeTencentScf

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import deploy_tencent  # noqa: E402


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, ...), kept as plain values."""


for _tag in ("!Ref", "!Sub", "!GetAtt", "!If", "!Not", "!Equals", "!Join", "!Select", "!Split"):
    CfnLoader.add_multi_constructor(_tag, lambda loader, suffix, node: None)


def template() -> dict:
    return yaml.load((REPO / "template.yaml").read_text(), Loader=CfnLoader)


def sam_handlers() -> dict[str, str]:
    return {name: r["Properties"]["Handler"] for name, r in template()["Resources"].items()
            if r["Type"] == "AWS::Serverless::Function"}


def scf_handlers() -> dict[str, str]:
    functions = yaml.safe_load((REPO / "serverless.yml").read_text())["functions"]
    return {name: spec["handler"] for name, spec in functions.items()}


def resolve(handler: str):
    module, _, attr = handler.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def test_cfn_lint_passes():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")  # the venv's console script
    result = subprocess.run([str(cfn_lint), str(REPO / "template.yaml")], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_has_what_a_deployment_needs():
    t = template()
    kinds = {r["Type"] for r in t["Resources"].values()}
    assert {"AWS::Serverless::Function", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Serverless::HttpApi"} <= kinds
    bucket = t["Resources"]["AudioBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert any(rule["Prefix"] == "tts/" for rule in bucket["LifecycleConfiguration"]["Rules"])
    assert "ApiUrl" in t["Outputs"]
    assert set(sam_handlers().values()) >= {"functions.handlers.aws_lambda.handler",
                                            "functions.handlers.scheduled.warmup",
                                            "functions.handlers.scheduled.scale_down",
                                            "functions.handlers.scheduled.drain",
                                            "functions.handlers.scheduled.sqs_worker"}


@pytest.fixture
def shared(make_app, monkeypatch):
    """The app the handlers build on a cold start, here on the test's real parts."""
    import functions.handlers as handlers

    app = make_app(worker_threads=0)
    monkeypatch.setattr(handlers, "_app", app)
    return app


def test_every_handler_imports_and_answers_its_event(shared):
    body = json.dumps({"text": "模板里的每个函数。", "consent": "self", "prompt_audio_base64":
                       base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()})
    for name, handler in {**sam_handlers(), **{f"scf:{k}": v for k, v in scf_handlers().items()}}.items():
        if handler in ("scf_bootstrap", "lambda_web.sh"):  # executables that start gunicorn on the web app
            bootstrap = REPO / "functions" / handler
            assert bootstrap.stat().st_mode & 0o111 and "functions.handlers.web:app" in bootstrap.read_text()
            continue
        fn = resolve(handler)
        if handler.endswith("aws_lambda.handler"):
            event = load_event("aws_apigw_v2_json")
            event["body"] = body
            assert fn(event, None)["statusCode"] == 200, name
        elif handler.endswith("sqs_worker"):
            assert fn(json.loads(json.dumps(load_event("aws_sqs")).replace('"__BODY__"', json.dumps(
                json.dumps({"job": {"id": "f" * 64}, "attempt": 9})))), None) == {"batchItemFailures": []}, name
        else:
            event = load_event("scf_timer" if name.startswith("scf:") else "aws_schedule")
            result = fn(event, None)
            assert isinstance(result, dict), name
    assert client_for(shared).get("/v1/tts/" + "f" * 64).json["status"] == "failed"  # the hopeless job ended


def test_the_streaming_function_url_serves_a_stream_as_the_web_adapter_relays_it(triton, tmp_path):
    """StreamFunction: a function URL in RESPONSE_STREAM mode, the Lambda Web Adapter in response_stream mode,
    its entry script serving the app; driven here the way the adapter drives it: wait for the readiness path,
    then the function-URL event's request as plain HTTP, the response read as it streams."""
    import os
    import signal
    import time

    import requests

    from inference.serve import free_port
    from tests.support import TEST_API_KEYS

    spec = template()["Resources"]["StreamFunction"]["Properties"]
    variables = spec["Environment"]["Variables"]
    assert spec["FunctionUrlConfig"]["InvokeMode"] == "RESPONSE_STREAM"
    assert variables["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert "StreamUrl" in template()["Outputs"]
    port = free_port()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",  # the runtime's python3
               AWS_LWA_PORT=str(port), TRITON_URL=triton.grpc_url, STORAGE_DIR=str(tmp_path / "s"),
               API_KEYS=TEST_API_KEYS, REDIS_URL="", WEB_CONCURRENCY="1", WORKER_THREADS="0", LOG_LEVEL="WARNING")
    proc = subprocess.Popen(["bash", str(REPO / "functions" / spec["Handler"])], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        until = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + variables["AWS_LWA_READINESS_CHECK_PATH"], timeout=10).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or the app still building (a cold start)
                pass
            assert time.monotonic() < until and proc.poll() is None, "the entry script did not become ready"
            time.sleep(0.2)
        event = load_event("aws_function_url_stream")
        started, arrivals, body = time.monotonic(), [], b""
        with requests.request(event["requestContext"]["http"]["method"], f"{base}{event['rawPath']}?"
                              f"{event['rawQueryString']}", data=event["body"].encode(), headers=event["headers"],
                              stream=True, timeout=60) as response:
            assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
            assert response.headers.get("Transfer-Encoding") == "chunked"  # what the adapter streams on
            for chunk in response.iter_content(chunk_size=None):
                arrivals.append(time.monotonic() - started)
                body += chunk
        assert len(arrivals) > 3 and b"event: done" in body
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def test_every_schedule_in_both_files_is_the_configured_default():
    """Warm-up, scale-down and drain: serverless.yml's SCF crons and template.yaml's EventBridge schedules are
    the renderings of functions/cron.py's defaults (EventBridge's rate() where the cron is a plain
    interval: the same instants, tests/unit/test_cron.py checks the renderings day by day)."""
    from functions.cron import DEFAULTS, to_aws, to_scf

    scf = {n: [e["timer"]["parameters"]["cronExpression"] for e in s.get("events", []) if "timer" in e]
           for n, s in yaml.safe_load((REPO / "serverless.yml").read_text())["functions"].items()}
    scf = {n: crons for n, crons in scf.items() if crons}
    params = template()["Parameters"]
    aws = {"warmup": params["WarmupSchedule"]["Default"], "scale_down": params["ScaleDownSchedule"]["Default"],
           "drain": params["DrainSchedule"]["Default"]}
    rates = {"*/5 * * * *": "rate(5 minutes)", "* * * * *": "rate(1 minute)"}
    assert scf == {"warmup": to_scf(DEFAULTS["warmup"]), "scale-down": to_scf(DEFAULTS["scale_down"]),
                   "drain": to_scf(DEFAULTS["drain"])}
    assert aws == {name: rates.get(cron, to_aws(cron)) for name, cron in DEFAULTS.items()}


def artifacts(root: Path) -> None:
    for name in ("function", "layer-audio", "layer-native"):
        path = root / "build" / "tencent" / f"{name}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(f"{name}.txt", name)


def test_tencent_deploy_dry_run_then_apply_then_nothing(tmp_path, s3_server):
    artifacts(tmp_path)
    cos = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    cos.create_bucket(Bucket="tts-1250000000")
    env = {"COS_BUCKET": "tts-1250000000", "TRITON_URL": "10.0.0.5:8001", "GPU_INSTANCE_ID": "ins-gpu0001"}
    config = deploy_tencent.load_config(REPO / "serverless.yml", env)
    fake = FakeTencentScf("AKIDtest", "secretkey")
    try:
        scf, _ = deploy_tencent.clients(config, {"TENCENTCLOUD_SECRET_ID": "AKIDtest",
                                                 "TENCENTCLOUD_SECRET_KEY": "secretkey"},
                                        scf_endpoint=fake.endpoint, cos_endpoint=s3_server)
        quiet = lambda *a: None  # noqa: E731
        slept: list[float] = []
        dry = deploy_tencent.Deployer(scf, cos, config, root=tmp_path, dry_run=True, log=quiet).run()
        assert fake.changes == [] and cos.list_objects_v2(Bucket="tts-1250000000").get("KeyCount", 0) == 0
        applied = deploy_tencent.Deployer(scf, cos, config, root=tmp_path, log=quiet, sleep=slept.append).run()
        assert slept  # each new function was Creating for a while: the deployer waited before its trigger
        assert dry.actions == applied.actions
        assert sorted(fake.changes) == sorted(
            ["PublishLayerVersion cosyvoice-relay-audio", "PublishLayerVersion cosyvoice-relay-native"]
            + [f"CreateFunction cosyvoice-relay-{n}" for n in ("api", "ws", "warmup", "scale-down", "drain")]
            + ["CreateTrigger cosyvoice-relay-warmup/warmup", "CreateTrigger cosyvoice-relay-scale-down/scale-down",
               "CreateTrigger cosyvoice-relay-drain/drain"])
        api = fake.functions["cosyvoice-relay-api"]
        assert api["Type"] == "HTTP" and api["Handler"] == "scf_bootstrap" and "ProtocolType" not in api
        ws = fake.functions["cosyvoice-relay-ws"]  # the WebSocket web function: its own, as SCF requires
        assert ws["Type"] == "HTTP" and ws["ProtocolType"] == "WS"
        assert ws["ProtocolParams"]["WSParams"]["IdleTimeOut"] == 600
        env_vars = {v["Key"]: v["Value"] for v in api["Environment"]["Variables"]}
        assert env_vars["TRITON_URL"] == "10.0.0.5:8001" and env_vars["WORKER_THREADS"] == "2"
        rules = cos.get_bucket_lifecycle_configuration(Bucket="tts-1250000000")["Rules"]
        assert {r["ID"] for r in rules} == {"expire-cached-audio", "expire-uploaded-prompts"}
        changes = len(fake.changes)
        again = deploy_tencent.Deployer(scf, cos, config, root=tmp_path, log=quiet).run()
        assert again.actions == [] and len(fake.changes) == changes  # idempotent
        # a changed schedule changes exactly that trigger; changed code updates code of every function
        config["functions"]["drain"]["events"][0]["timer"]["parameters"]["cronExpression"] = "0 */2 * * * * *"
        assert deploy_tencent.Deployer(scf, cos, config, root=tmp_path, log=quiet).run().actions == [
            "delete timer drain of cosyvoice-relay-drain (schedule changed)",
            "create timer drain of cosyvoice-relay-drain: 0 */2 * * * * *"]
        # a schedule that needs two timers in China time, then one again: the second is created, then removed
        events = config["functions"]["warmup"]["events"]
        events.append({"timer": {"name": "warmup-2", "parameters": {"cronExpression": "0 0 2 * * SUN-MON *"}}})
        assert deploy_tencent.Deployer(scf, cos, config, root=tmp_path, log=quiet).run().actions == [
            "create timer warmup-2 of cosyvoice-relay-warmup: 0 0 2 * * SUN-MON *"]
        events.pop()
        assert deploy_tencent.Deployer(scf, cos, config, root=tmp_path, log=quiet).run().actions == [
            "delete timer warmup-2 of cosyvoice-relay-warmup (no longer in the configuration)"]
        assert "warmup-2" not in fake.triggers.get("cosyvoice-relay-warmup", {})
        # a timer an operator added by hand is not the deployer's; a function whose schedule is gone loses its own
        fake.triggers["cosyvoice-relay-warmup"]["launch-day"] = "0 0 9 * * * *"
        config["functions"]["drain"]["events"] = []
        assert deploy_tencent.Deployer(scf, cos, config, root=tmp_path, log=quiet).run().actions == [
            "delete timer drain of cosyvoice-relay-drain (no longer in the configuration)"]
        assert "launch-day" in fake.triggers["cosyvoice-relay-warmup"]
    finally:
        fake.close()


def test_the_deployer_waits_for_each_function_to_be_active(tmp_path, s3_server):
    """SCF's changes are asynchronous: a deployer that sent create-trigger right after create-function (as
    this one did before) is refused; waiting for Active, with an injected sleep, it goes through."""
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    artifacts(tmp_path)
    cos = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    cos.create_bucket(Bucket="tts-1250000001")
    env = {"COS_BUCKET": "tts-1250000001", "TRITON_URL": "10.0.0.5:8001", "GPU_INSTANCE_ID": "ins-gpu0001"}
    config = deploy_tencent.load_config(REPO / "serverless.yml", env)
    secrets_env = {"TENCENTCLOUD_SECRET_ID": "AKIDtest", "TENCENTCLOUD_SECRET_KEY": "secretkey"}
    quiet = lambda *a: None  # noqa: E731
    fake = FakeTencentScf("AKIDtest", "secretkey", busy_polls=3)
    try:
        scf, _ = deploy_tencent.clients(config, secrets_env, scf_endpoint=fake.endpoint, cos_endpoint=s3_server)
        with pytest.raises(TencentCloudSDKException) as refused:
            deploy_tencent.Deployer(scf, cos, config, root=tmp_path, log=quiet, wait_s=0).run()
        assert "FailedOperation.CreateTrigger" in str(refused.value)
    finally:
        fake.close()
    fake = FakeTencentScf("AKIDtest", "secretkey", busy_polls=3)
    try:
        scf, _ = deploy_tencent.clients(config, secrets_env, scf_endpoint=fake.endpoint, cos_endpoint=s3_server)
        clock, slept = [0.0], []

        def sleep(s):
            slept.append(s)
            clock[0] += s

        deploy_tencent.Deployer(scf, cos, config, root=tmp_path, log=quiet, sleep=sleep, clock=lambda: clock[0]).run()
        assert len(slept) == 3 * 5 and all(f["Status"] == "Active" for f in fake.functions.values())
    finally:
        fake.close()
