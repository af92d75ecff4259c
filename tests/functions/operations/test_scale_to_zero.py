"""Scale to zero: misses on a sleeping endpoint become jobs that wake it; durable queues lose nothing;
scheduled warm-up, scale-down and drain; the cloud controllers against wire-format servers (moto, Tencent)."""

from __future__ import annotations

import base64
import io
import json
import time

import boto3
import pytest
import redis

from functions.endpoint import TritonEndpoint
from functions.endpoint.controller import ASLEEP, DRAINING, READY, CvmController, Ec2Controller, build_controller
from functions.handlers import scheduled as handlers
from functions.queues import MemoryQueue, RedisStreamQueue, SqsQueue
from functions.jobs.upkeep import drain, scale_down, should_scale_down, warm_up
from functions.jobs.worker import Worker
from functions.cron import matches, to_aws, to_scf
from functions.settings import Settings
from inference.serve import free_port

from ...audio_samples import PROMPT_TEXT, recorder_files
from tests.support import ALICE_KEY, client_for, triton_inference_count
from ...fakes.tencent_cloud import FakeTencentCvm


def post(client, text, **extra):
    audio = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
    return client.post("/v1/tts", data=json.dumps({"text": text,
                                                   "consent": "self", "prompt_audio_base64": audio, **extra}),
                       content_type="application/json")


def wait_status(client, url, want="done", timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json
        if body["status"] == want:
            return body
        time.sleep(0.1)
    raise AssertionError(f"status never became {want}: {body}")


@pytest.fixture
def ec2(s3_server):
    client = boto3.client("ec2", endpoint_url=s3_server, region_name="us-east-1")
    image = client.describe_images()["Images"][0]["ImageId"]
    instance = client.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="g4dn.xlarge")
    instance_id = instance["Instances"][0]["InstanceId"]
    client.stop_instances(InstanceIds=[instance_id])
    return client, instance_id


def ec2_app(make_app, s3_server, instance_id, **kw):
    return make_app(endpoint_controller="ec2", endpoint_instance_id=instance_id, aws_endpoint_url=s3_server,
                    aws_region="us-east-1", **kw)


def machine(ec2_client, instance_id):
    return ec2_client.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]


def test_miss_on_a_sleeping_endpoint_is_a_job_that_wakes_it(make_app, s3_server, ec2):
    client_ec2, instance_id = ec2
    app = ec2_app(make_app, s3_server, instance_id)
    assert app.services.controller.state() == ASLEEP
    client = client_for(app)
    r = post(client, "端点睡着的时候。")
    assert r.status_code == 202 and r.json["status"] == "queued" and r.headers["Location"] == r.json["poll_url"]
    assert machine(client_ec2, instance_id) == "running"  # woken by the request
    done = wait_status(client, r.json["poll_url"])  # the local Triton is ready once the machine runs
    assert done["audio_url"] and done["duration_s"] > 0.5
    assert post(client, "端点睡着的时候。").json["cached"]
    again = post(client, "端点醒着的时候。")
    assert again.status_code == 200  # ready now: answered synchronously


def test_identical_queued_requests_share_one_job(make_app, triton):
    queue = MemoryQueue()
    app = make_app(worker_threads=0, queue=queue, controller=_Asleep())
    client = client_for(app)
    ids = {post(client, "同一个排队的请求。").json["task_id"] for _ in range(5)}
    assert len(ids) == 1 and queue.depth() == 1


class _Asleep:
    name = "test-asleep"
    scales_to_zero = True
    started = 0

    def state(self):
        return ASLEEP

    def start(self):
        self.started += 1

    def stop(self):
        pass


VISIBILITY_S = 1.5  # wide enough that "still invisible" holds on a loaded 2-core machine


def test_worker_killed_mid_job_loses_nothing_and_completes_once(make_app, triton, redis_url, redis_prefix):
    r = redis.Redis.from_url(redis_url)
    stream = f"{redis_prefix}jobs"
    app = make_app(worker_threads=0, queue=RedisStreamQueue(r, stream, visibility_s=VISIBILITY_S), controller=_Asleep())
    client = client_for(app)
    body = post(client, "工作进程中途被杀死。").json
    # worker A takes the job and dies (it never acknowledges: what a killed process leaves in Redis)
    doomed = RedisStreamQueue(r, stream, consumer="doomed", visibility_s=VISIBILITY_S)
    taken = doomed.receive(1)
    assert len(taken) == 1 and taken[0].job["id"] == body["task_id"]
    other = RedisStreamQueue(r, stream, consumer="other", visibility_s=VISIBILITY_S)
    assert other.receive(1) == []  # invisible for now
    time.sleep(VISIBILITY_S + 0.1)  # the reclaim needs at least the visibility; the check above had 1.5 s
    before = triton_inference_count(triton)
    survivor = Worker(RedisStreamQueue(r, stream, consumer="survivor", visibility_s=VISIBILITY_S), app.services.jobs,
                      build_controller(app.settings, app.services.endpoint))
    assert survivor.run_once(wait_s=0) == 1
    assert triton_inference_count(triton) - before == 1
    assert client.get(body["poll_url"]).json["status"] == "done"
    assert RedisStreamQueue(r, stream, visibility_s=0.5).depth() == 0
    # the doomed worker's late duplicate (it was only slow, not dead) finds the result: no second synthesis
    app.services.jobs.run(taken[0].job)
    assert triton_inference_count(triton) - before == 1


def test_a_job_that_keeps_failing_ends_failed_after_the_retry_limit(make_app):
    dead = TritonEndpoint(f"127.0.0.1:{free_port()}", retries=0, connect_timeout_s=0.3)
    queue = MemoryQueue()
    app = make_app(worker_threads=0, endpoint=dead, queue=queue, controller=_Asleep())
    client = client_for(app)
    body = post(client, "一直失败的任务。").json
    worker = Worker(queue, app.services.jobs, build_controller(app.settings, dead), max_attempts=3, backoff_s=0.01)
    outcomes = []
    deadline = time.monotonic() + 20
    while queue.depth() and time.monotonic() < deadline:
        for delivery in queue.receive(1, wait_s=0.1):
            outcomes.append(worker.handle(delivery))
    assert outcomes == ["retry", "retry", "failed"]
    final = client.get(body["poll_url"]).json
    assert final["status"] == "failed" and final["error"]["code"] == "inference_unavailable"


def test_waiting_for_the_endpoint_is_not_an_attempt(make_app):
    queue, asleep = MemoryQueue(), _Asleep()
    app = make_app(worker_threads=0, queue=queue, controller=asleep)
    post(client_for(app), "等待端点启动。")
    worker = Worker(queue, app.services.jobs, asleep, max_attempts=1, not_ready_delay_s=0)
    for _ in range(3):
        assert worker.handle(queue.receive(1, wait_s=0.1)[0]) == "waiting"
    assert asleep.started == 1 + 3 and queue.depth() == 1  # woken by the request, then by each look


def test_scale_down_stops_only_an_idle_endpoint_without_work(make_app, s3_server, ec2, triton):
    client_ec2, instance_id = ec2
    client_ec2.start_instances(InstanceIds=[instance_id])
    app = ec2_app(make_app, s3_server, instance_id, idle_stop_s=60, worker_threads=0)
    now = time.time()
    app.services.state.set_alias("last_inference", str(now - 10), 3600)
    assert scale_down(app.services, clock=lambda: now)["stopped"] is False  # recently busy
    app.services.state.set_alias("last_inference", str(now - 120), 3600)
    app.services.queue.enqueue({"id": "x" * 64, "plan": {}, "voice": {}})
    assert scale_down(app.services, clock=lambda: now)["stopped"] is False  # queued work
    app.services.queue = MemoryQueue()
    decision = handlers.scale_down({"source": "aws.events"}, None, app=app)
    assert decision["stopped"] is True and machine(client_ec2, instance_id) == "stopped"
    assert should_scale_down(READY, 0, 61, 60) and not should_scale_down(ASLEEP, 0, 1e9, 60)


def test_warm_up_starts_the_endpoint_and_prerenders_phrases(make_app, s3_server, ec2, triton):
    client_ec2, instance_id = ec2
    app = ec2_app(make_app, s3_server, instance_id, warmup_phrases="早上好。|晚安，好梦。", worker_threads=0)
    voice = client_for(app, ALICE_KEY).post(
        "/v1/voices", data={"consent": "self", "audio": (io.BytesIO(recorder_files()["wav_16k_mono"][0]), "a.wav"),
                            "prompt_text": PROMPT_TEXT}, content_type="multipart/form-data").json
    from functions.auth import Identity

    owner = Identity("alice", "api_key").owner
    app = ec2_app(make_app, s3_server, instance_id, warmup_phrases="早上好。|晚安，好梦。", worker_threads=0,
                  warmup_voices=f"{owner}:{voice['voice_id']}", storage=app.services.storage, state=app.services.state)
    sleeps = []
    result = warm_up(app.services, sleep=sleeps.append, wait_s=60)
    assert result == {"ready": True, "warmup_inference": True, "prerendered": 2, "already_cached": 0, "failed": 0}
    assert machine(client_ec2, instance_id) == "running"
    before = triton_inference_count(triton)
    client = client_for(app, ALICE_KEY)
    for phrase in ("早上好。", "晚安，好梦。"):
        r = client.post("/v1/tts", data=json.dumps({"text": phrase, "voice_id": voice["voice_id"]}),
                        content_type="application/json")
        assert r.json["cached"] is True
    assert triton_inference_count(triton) == before


def test_drain_starts_a_sleeping_endpoint_then_processes(make_app, s3_server, ec2):
    client_ec2, instance_id = ec2
    app = ec2_app(make_app, s3_server, instance_id, worker_threads=0)
    body = post(client_for(app), "定时清空队列。").json
    client_ec2.stop_instances(InstanceIds=[instance_id])  # asleep again before the drain runs
    assert drain(app.services, budget_s=10) == {"queued": 1, "handled": 0, "starting": True}
    assert machine(client_ec2, instance_id) == "running"
    app.services.renderer._cold_checked = (-1e9, False)
    result = handlers.drain({}, None, app=app)
    assert result["handled"] == 1 and client_for(app).get(body["poll_url"]).json["status"] == "done"


def test_cvm_controller_against_the_tencent_wire_format(triton):
    fake = FakeTencentCvm("AKIDtest", "secretkey", "ins-gpu0001")
    try:
        settings = Settings.from_env({}, endpoint_controller="cvm", endpoint_instance_id="ins-gpu0001",
                                     tencent_secret_id="AKIDtest", tencent_secret_key="secretkey",
                                     tencent_cvm_endpoint=fake.endpoint)
        controller = build_controller(settings, TritonEndpoint(triton.grpc_url))
        assert isinstance(controller, CvmController) and controller.state() == ASLEEP
        controller.start()
        assert controller.state() != ASLEEP  # STARTING, then RUNNING
        assert controller.state() == READY  # running and the model answers
        controller.stop()
        assert fake.stopped_modes == ["STOP_CHARGING"]
        acted = [r["InstanceIds"] for r in fake.requests if "StoppedMode" in r or r.get("InstanceIds")]
        assert acted and all(ids == ["ins-gpu0001"] for ids in acted)  # this instance, and no other
        assert controller.state() == DRAINING  # STOPPING, then STOPPED
        assert controller.state() == ASLEEP
    finally:
        fake.close()


def test_the_tencent_fake_refuses_what_the_real_api_refuses():
    """The CVM fake (tests/fakes/tencent_cloud.py) as strict as the service: a start for another instance or
    none, a bad StoppedMode, a stale or mis-scoped signature, no region: each refused with the real code."""
    import time
    import urllib.request

    from ...fakes.tencent_cloud import tc3_signature

    fake = FakeTencentCvm("AKIDtest", "secretkey", "ins-gpu0001", state="RUNNING")

    def call(action, body, *, age_s=0, service="cvm", region="ap-guangzhou", signed=("content-type", "host")):
        payload = json.dumps(body).encode()
        ts = int(time.time()) - age_s
        headers = {"content-type": "application/json", "host": f"127.0.0.1:{fake.port}", "x-tc-action": action,
                   "x-tc-version": "2017-03-12", "x-tc-timestamp": str(ts)}
        if region:
            headers["x-tc-region"] = region
        date = time.strftime("%Y-%m-%d", time.gmtime(ts))
        sig = tc3_signature("secretkey", "POST", headers, list(signed), payload, ts, service)
        headers["authorization"] = (f"TC3-HMAC-SHA256 Credential=AKIDtest/{date}/{service}/tc3_request, "
                                    f"SignedHeaders={';'.join(signed)}, Signature={sig}")
        req = urllib.request.Request(fake.endpoint, data=payload, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return (json.loads(resp.read())["Response"].get("Error") or {}).get("Code")

    try:
        assert call("StopInstances", {"InstanceIds": ["ins-other0001"]}) == "InvalidInstanceId.NotFound"
        assert call("StopInstances", {}) == "MissingParameter"
        assert call("StopInstances", {"InstanceIds": ["ins-gpu0001"], "StoppedMode": "NEVER"}) == \
            "InvalidParameterValue.StoppedMode"
        assert call("DescribeInstances", {}, age_s=600) == "AuthFailure.SignatureExpire"
        assert call("DescribeInstances", {}, service="scf") == "AuthFailure.SignatureFailure"
        assert call("DescribeInstances", {}, signed=("content-type",)) == "AuthFailure.SignatureFailure"
        assert call("DescribeInstances", {}, region="") == "InvalidParameterValue.Region"
        assert call("StopInstances", {"InstanceIds": ["ins-gpu0001"], "StoppedMode": "STOP_CHARGING"}) is None
    finally:
        fake.close()


def test_ec2_controller_states(s3_server, ec2, triton):
    client_ec2, instance_id = ec2
    controller = Ec2Controller(client_ec2, instance_id, TritonEndpoint(triton.grpc_url))
    assert controller.state() == ASLEEP
    controller.start()
    assert controller.state() == READY
    controller.stop()
    assert controller.state() == ASLEEP


def test_sqs_queue_against_moto(s3_server):
    sqs = boto3.client("sqs", endpoint_url=s3_server, region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"jobs-{free_port()}")["QueueUrl"]
    queue = SqsQueue(sqs, url, visibility_s=1)
    queue.enqueue({"id": "a"})
    got = queue.receive(1)
    assert got[0].job == {"id": "a"} and got[0].attempt == 1
    assert queue.receive(1) == []  # in flight
    time.sleep(1.2)
    again = queue.receive(1, wait_s=1)  # the visibility timeout lapsed: a dead worker loses nothing
    assert again[0].job == {"id": "a"} and again[0].attempt == 2
    queue.retry(again[0], 0)
    third = queue.receive(1, wait_s=1)
    assert third[0].attempt == 3
    queue.ack(third[0])
    assert queue.depth() == 0


def test_sqs_triggered_worker_handler(make_app, s3_server, triton):
    sqs = boto3.client("sqs", endpoint_url=s3_server, region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"jobs-{free_port()}")["QueueUrl"]
    queue = SqsQueue(sqs, url)
    app = make_app(worker_threads=0, queue=queue, controller=_Asleep())
    body = post(client_for(app), "来自消息队列的任务。").json
    message = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    event = {"Records": [{"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                          "body": message["Body"], "attributes": {"ApproximateReceiveCount": "1"},
                          "eventSource": "aws:sqs"}]}
    # the endpoint is up when the worker runs
    app.services.controller = build_controller(app.settings, app.services.endpoint)
    assert handlers.sqs_worker(event, None, app=app) == {"batchItemFailures": []}
    assert client_for(app).get(body["poll_url"]).json["status"] == "done"


def test_redis_queue_retries_after_the_backoff(redis_url, redis_prefix):
    queue = RedisStreamQueue(redis.Redis.from_url(redis_url), f"{redis_prefix}delay", visibility_s=30)
    queue.enqueue({"id": "b"})
    first = queue.receive(1)[0]
    queue.retry(first, delay_s=1.5)  # wide enough that "still waiting" holds on a loaded machine
    assert queue.receive(1) == [] and queue.depth() == 1  # waiting out its backoff
    time.sleep(1.6)
    again = queue.receive(1)
    assert again[0].job == {"id": "b"} and again[0].attempt == 2
    queue.ack(again[0])
    assert queue.depth() == 0


def test_schedules_render_for_both_clouds():
    assert to_aws("40 11 * * *") == "cron(40 11 * * ? *)"
    assert to_scf("40 11 * * *") == ["0 40 19 * * * *"]  # SCF reads China time
    assert to_aws("0 12 * * 1-5") == "cron(0 12 ? * MON-FRI *)"  # the same days (tests/unit/test_cron.py)
    from datetime import datetime

    assert matches("*/5 * * * *", datetime(2026, 11, 24, 10, 15)) and not matches("*/5 * * * *",
                                                                                 datetime(2026, 11, 24, 10, 16))
    assert matches("40 11 * * *", datetime(2026, 11, 24, 11, 40))


def test_kubernetes_controller_scales_the_deployment(triton):
    from ...fakes.kubernetes_api import FakeKubernetes

    fake = FakeKubernetes("tts", "cosyvoice-triton", replicas=0, token="sa-token")
    try:
        settings = Settings.from_env({}, endpoint_controller="k8s", k8s_namespace="tts",
                                     k8s_deployment="cosyvoice-triton", k8s_api_url=fake.url, k8s_token="sa-token")
        without = Settings.from_env({}, endpoint_controller="k8s", k8s_namespace="tts",
                                    k8s_deployment="cosyvoice-triton", k8s_api_url=fake.url)
        from kubernetes.client.exceptions import ApiException

        with pytest.raises(ApiException) as refused:  # the API server refuses a client without the token
            build_controller(without, TritonEndpoint(triton.grpc_url)).start()
        assert refused.value.status == 401
        assert fake.refused >= 1 and fake.patches == []
        controller = build_controller(settings, TritonEndpoint(triton.grpc_url))
        assert controller.state() == ASLEEP
        controller.start()
        assert fake.patches == [{"spec": {"replicas": 1}}]
        assert controller.state() == "starting"  # scaled, pods not ready yet
        assert controller.state() == READY
        controller.start()  # already up: no second patch
        assert len(fake.patches) == 1
        controller.stop()
        assert fake.patches[-1] == {"spec": {"replicas": 0}}
        assert controller.state() == "draining"
        assert controller.state() == ASLEEP
    finally:
        fake.close()


def test_kubernetes_controller_in_cluster_uses_the_service_account(triton, tmp_path, monkeypatch):
    """No K8S_API_URL: the in-cluster path (KUBERNETES_SERVICE_HOST/PORT, the mounted token and CA) against an
    HTTPS API server that requires the token."""
    import kubernetes.config.incluster_config as incluster

    from ...fakes.kubernetes_api import FakeKubernetes

    fake = FakeKubernetes("tts", "cosyvoice-triton", replicas=0, token="mounted-token", tls=True,
                          workdir=str(tmp_path))
    try:
        (tmp_path / "token").write_text("mounted-token")
        monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
        monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", fake.ca_file)
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(fake.port))
        settings = Settings.from_env({}, endpoint_controller="k8s", k8s_namespace="tts",
                                     k8s_deployment="cosyvoice-triton")
        controller = build_controller(settings, TritonEndpoint(triton.grpc_url))
        assert controller.state() == ASLEEP
        controller.start()
        assert fake.patches == [{"spec": {"replicas": 1}}] and fake.refused == 0
    finally:
        fake.close()


def test_asg_controller_sets_the_desired_capacity(s3_server, triton):
    ec2 = boto3.client("ec2", endpoint_url=s3_server, region_name="us-east-1")
    asg = boto3.client("autoscaling", endpoint_url=s3_server, region_name="us-east-1")
    name = f"gpu-{free_port()}"
    image = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": image,
                                                                            "InstanceType": "g4dn.xlarge"})
    asg.create_auto_scaling_group(AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateName": name},
                                  MinSize=0, MaxSize=1, DesiredCapacity=0, AvailabilityZones=["us-east-1a"])
    settings = Settings.from_env({}, endpoint_controller="asg", endpoint_asg_name=name, aws_endpoint_url=s3_server,
                                 aws_region="us-east-1")
    controller = build_controller(settings, TritonEndpoint(triton.grpc_url))
    assert controller.state() == ASLEEP
    controller.start()
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 1
    assert controller.state() == READY  # an InService instance and a model that answers
    controller.stop()
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0][
        "DesiredCapacity"] == 0
    assert controller.state() == ASLEEP  # the group lets its instance go at once


def test_a_queue_outage_is_a_503_and_leaves_no_phantom_job(make_app):
    class BrokenQueue(MemoryQueue):
        def enqueue(self, job, delay_s=0, attempt=1):
            raise ConnectionError("queue down")

    app = make_app(worker_threads=0, queue=BrokenQueue(), controller=_Asleep())
    client = client_for(app)
    r = post(client, "队列故障时的请求。")
    assert r.status_code == 503 and r.json["error"]["code"] == "queue_unavailable" and r.headers["Retry-After"]
    records = [record for _, (_, record) in app.services.state._tasks.items()]
    assert not [r for r in records if r.get("status") in ("queued", "running")]  # no record without its job
