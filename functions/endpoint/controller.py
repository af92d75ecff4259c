"""The endpoint controller: whether the GPU endpoint is asleep, starting, ready or draining, and how to start
and stop it. Chosen by ENDPOINT_CONTROLLER:

- `static` (default): always on (the local Triton, or an endpoint someone else manages);
- `ec2`: an AWS EC2 instance (start/stop), `asg`: an Auto Scaling group's desired capacity (0/1), via boto3;
- `k8s`: a Kubernetes Deployment's replica count (0/1) via the kubernetes client;
- `cvm`: a Tencent Cloud CVM instance (StartInstances / StopInstances with StoppedMode=STOP_CHARGING where the
  instance allows it, so a stopped GPU costs nothing), via tencentcloud-sdk-python.

"ready" needs both the cloud's "running" and Triton's model readiness (/v2/health/ready and the model's
ready endpoint), since a booted machine still loads weights for minutes.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

log = logging.getLogger(__name__)

ASLEEP, STARTING, READY, DRAINING = "asleep", "starting", "ready", "draining"


class EndpointController(Protocol):
    name: str
    scales_to_zero: bool  # False: always on; a down endpoint is an outage, not a reason to wait or wake it

    def state(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class _WithReadiness:
    """Combines a machine state (running, pending, stopping, stopped) with the model's readiness."""

    scales_to_zero = True

    def __init__(self, endpoint) -> None:
        self.endpoint = endpoint

    def machine_state(self) -> str:
        raise NotImplementedError

    def state(self) -> str:
        machine = self.machine_state()
        if machine == "running":
            return READY if self.endpoint.is_ready(use_cache=False) else STARTING
        return {"pending": STARTING, "stopping": DRAINING}.get(machine, ASLEEP)


class StaticController:
    """Always on: nothing to start or stop. Reports starting while Triton itself is not ready."""

    name = "static"
    scales_to_zero = False

    def __init__(self, endpoint) -> None:
        self.endpoint = endpoint

    def state(self) -> str:
        return READY if self.endpoint.is_ready() else STARTING

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


class Ec2Controller(_WithReadiness):
    name = "ec2"
    _MAP = {"pending": "pending", "running": "running", "stopping": "stopping", "shutting-down": "stopping",
            "stopped": "stopped", "terminated": "stopped"}

    def __init__(self, client, instance_id: str, endpoint) -> None:
        super().__init__(endpoint)
        self.ec2, self.instance_id = client, instance_id

    def machine_state(self) -> str:
        r = self.ec2.describe_instances(InstanceIds=[self.instance_id])
        name = r["Reservations"][0]["Instances"][0]["State"]["Name"]
        return self._MAP.get(name, "stopped")

    def start(self) -> None:
        if self.machine_state() in ("stopped",):
            log.info("starting EC2 instance %s", self.instance_id)
            self.ec2.start_instances(InstanceIds=[self.instance_id])

    def stop(self) -> None:
        if self.machine_state() in ("running", "pending"):
            log.info("stopping EC2 instance %s", self.instance_id)
            self.ec2.stop_instances(InstanceIds=[self.instance_id])


class AsgController(_WithReadiness):
    name = "asg"

    def __init__(self, client, group: str, endpoint) -> None:
        super().__init__(endpoint)
        self.asg, self.group = client, group

    def _group(self) -> dict:
        return self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[self.group])["AutoScalingGroups"][0]

    def machine_state(self) -> str:
        group = self._group()
        states = [i["LifecycleState"] for i in group.get("Instances", [])]
        if group["DesiredCapacity"] == 0:
            return "stopping" if states else "stopped"
        if "InService" in states:
            return "running"
        return "pending"

    def start(self) -> None:
        if self._group()["DesiredCapacity"] == 0:
            self.asg.set_desired_capacity(AutoScalingGroupName=self.group, DesiredCapacity=1, HonorCooldown=False)

    def stop(self) -> None:
        if self._group()["DesiredCapacity"] > 0:
            self.asg.set_desired_capacity(AutoScalingGroupName=self.group, DesiredCapacity=0, HonorCooldown=False)


class CvmController(_WithReadiness):
    name = "cvm"
    _MAP = {"PENDING": "pending", "STARTING": "pending", "REBOOTING": "pending", "RUNNING": "running",
            "STOPPING": "stopping", "SHUTDOWN": "stopped", "TERMINATING": "stopping", "STOPPED": "stopped",
            "LAUNCH_FAILED": "stopped"}

    def __init__(self, client, instance_id: str, endpoint) -> None:
        super().__init__(endpoint)
        self.cvm, self.instance_id = client, instance_id

    def _models(self):
        from tencentcloud.cvm.v20170312 import models

        return models

    def machine_state(self) -> str:
        request = self._models().DescribeInstancesRequest()
        request.InstanceIds = [self.instance_id]
        response = self.cvm.DescribeInstances(request)
        if not response.InstanceSet:
            return "stopped"
        return self._MAP.get(response.InstanceSet[0].InstanceState, "stopped")

    def start(self) -> None:
        if self.machine_state() == "stopped":
            request = self._models().StartInstancesRequest()
            request.InstanceIds = [self.instance_id]
            log.info("starting CVM instance %s", self.instance_id)
            self.cvm.StartInstances(request)

    def stop(self) -> None:
        if self.machine_state() in ("running", "pending"):
            request = self._models().StopInstancesRequest()
            request.InstanceIds = [self.instance_id]
            request.StopType = "SOFT_FIRST"
            request.StoppedMode = "STOP_CHARGING"  # pay-as-you-go instances stop billing for compute
            log.info("stopping CVM instance %s (STOP_CHARGING)", self.instance_id)
            self.cvm.StopInstances(request)


class KubernetesController(_WithReadiness):
    """A Deployment's replica count (0 or 1) through the Kubernetes API, for KEDA/Knative-style clusters where
    the GPU node pool scales with the pods."""

    name = "k8s"

    def __init__(self, apps_api, namespace: str, deployment: str, endpoint) -> None:
        super().__init__(endpoint)
        self.apps, self.namespace, self.deployment = apps_api, namespace, deployment

    def machine_state(self) -> str:
        d = self.apps.read_namespaced_deployment(self.deployment, self.namespace)
        wanted, current = d.spec.replicas or 0, d.status.replicas or 0
        if wanted == 0:
            return "stopping" if current else "stopped"
        return "running" if (d.status.ready_replicas or 0) >= 1 else "pending"

    def _scale(self, replicas: int) -> None:
        log.info("scaling deployment %s/%s to %d", self.namespace, self.deployment, replicas)
        self.apps.patch_namespaced_deployment_scale(self.deployment, self.namespace, {"spec": {"replicas": replicas}})

    def start(self) -> None:
        if self.apps.read_namespaced_deployment_scale(self.deployment, self.namespace).spec.replicas == 0:
            self._scale(1)

    def stop(self) -> None:
        if (self.apps.read_namespaced_deployment_scale(self.deployment, self.namespace).spec.replicas or 0) > 0:
            self._scale(0)


def build_controller(settings, endpoint) -> EndpointController:
    kind = settings.endpoint_controller
    if kind == "static":
        return StaticController(endpoint)
    if kind in ("ec2", "asg"):
        import boto3

        kwargs = {"region_name": settings.aws_region or None, "endpoint_url": settings.aws_endpoint_url or None}
        if kind == "ec2":
            return Ec2Controller(boto3.client("ec2", **kwargs), settings.endpoint_instance_id, endpoint)
        return AsgController(boto3.client("autoscaling", **kwargs), settings.endpoint_asg_name, endpoint)
    if kind == "cvm":
        from tencentcloud.cvm.v20170312 import cvm_client

        from ..tencent import tencent_client

        client = tencent_client(cvm_client.CvmClient, "cvm", settings, settings.tencent_cvm_endpoint)
        return CvmController(client, settings.endpoint_instance_id, endpoint)
    if kind == "k8s":
        from kubernetes import client, config

        if settings.k8s_api_url:  # an API server outside the cluster: its URL and a service account's token
            configuration = client.Configuration(host=settings.k8s_api_url)
            if settings.k8s_token:
                configuration.api_key = {"authorization": f"Bearer {settings.k8s_token}"}
        else:
            config.load_incluster_config()
            configuration = client.Configuration.get_default_copy()
        apps = client.AppsV1Api(client.ApiClient(configuration))
        return KubernetesController(apps, settings.k8s_namespace, settings.k8s_deployment, endpoint)
    raise ValueError(f"unknown ENDPOINT_CONTROLLER {kind!r} (static, ec2, asg, cvm, k8s)")


def wait_until_ready(controller, *, timeout_s: float, poll_s: float = 5.0, sleep=time.sleep,
                     clock=time.monotonic) -> bool:
    """Start the endpoint if needed and poll until it is ready or the time is up (injected sleep and clock)."""
    deadline = clock() + timeout_s
    controller.start()
    while True:
        if controller.state() == READY:
            return True
        if clock() + poll_s > deadline:
            return False
        sleep(poll_s)
