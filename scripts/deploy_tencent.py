#!/usr/bin/env python
"""Create or update the Tencent Cloud deployment described in serverless.yml, idempotently.

For each function: upload the code to COS once per content hash, create the function or update its code and
configuration only where they differ, and make its timer triggers match. A `protocol: ws` web function is
created with WebSocket (ProtocolType WS and its idle timeout); SCF cannot convert a function's protocol, so a
change there stops the run with what to do. API Gateway endpoints (the HTTPS API and the WSS one for
/v1/tts/ws) come from serverless.yml's `apigw` events through `sls deploy`, or the console. Layers are
published once per content hash. The COS bucket gets the lifecycle rules that expire cached audio. A second
run with nothing changed makes no changes. `--dry-run` reads the current state and prints the plan without
changing anything. A serverless.yml whose functions differ from the wiring table (functions/handlers/wiring.py,
checked by scripts/wiring.py) is refused before anything is read or changed.

    COS_BUCKET=tts-1250000000 TRITON_URL=10.0.0.5:8001 ... \\
    TENCENTCLOUD_SECRET_ID=... TENCENTCLOUD_SECRET_KEY=... python scripts/deploy_tencent.py [--dry-run]

The clients are injected (`Deployer(scf, cos, ...)`), so the same code runs against the real API and against
local servers speaking its wire format in the tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
RUNTIMES = {"Python3.10", "Python3.9", "Python3.7", "Python3.6"}


def expand_env(value, environ):
    """${env:NAME} placeholders (Serverless Framework syntax) from the deploying shell's environment."""
    if isinstance(value, dict):
        return {k: expand_env(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, environ) for v in value]
    if isinstance(value, str):
        return re.sub(r"\$\{env:([A-Z0-9_]+)\}", lambda m: environ.get(m.group(1), ""), value)
    return value


def _cron_of(desc: str) -> str:
    """ListTriggers reports a timer's description as JSON ({"cron": ...}); CreateTrigger takes the cron."""
    try:
        return json.loads(desc).get("cron", desc)
    except (ValueError, AttributeError):
        return desc


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Plan:
    actions: list[str] = field(default_factory=list)

    def add(self, action: str) -> None:
        self.actions.append(action)


class Deployer:
    """`sleep` and `clock` are injected: SCF's function changes are asynchronous (a function is `Creating` or
    `Updating` for a while and refuses further changes), so the deployer waits for `Active` after each change,
    up to `wait_s` (0: never wait, which the real service refuses; the tests show it)."""

    def __init__(self, scf, cos, config: dict, *, root: Path = REPO, dry_run: bool = False, log=print,
                 sleep=time.sleep, clock=time.monotonic, wait_s: float = 300.0) -> None:
        self.scf, self.cos, self.config, self.root, self.dry_run, self.log = scf, cos, config, root, dry_run, log
        self.plan = Plan()
        self.provider = config["provider"]
        self._sleep, self._clock, self.wait_s = sleep, clock, wait_s

    def _wait_active(self, name: str) -> None:
        """Until the function's Status is Active (Creating, Updating and Publishing refuse changes)."""
        if self.dry_run or self.wait_s <= 0:
            return
        until = self._clock() + self.wait_s
        while True:
            current = self._maybe("GetFunction", FunctionName=name) or {}
            status = current.get("Status", "Active")
            if status == "Active":
                return
            if status.endswith("Failed"):
                raise SystemExit(f"{name}: {status} ({current.get('StatusDesc')})")
            if self._clock() >= until:
                raise SystemExit(f"{name} still {status} after {self.wait_s:.0f}s")
            self._sleep(1.0)

    # -- helpers ---------------------------------------------------------------------------------------------
    def _models(self):
        from tencentcloud.scf.v20180416 import models

        return models

    def _call(self, action: str, **params):
        models = self._models()
        request = getattr(models, f"{action}Request")()
        request.from_json_string(json.dumps(params))
        return json.loads(getattr(self.scf, action)(request).to_json_string())

    def _change(self, description: str, action: str | None = None, **params):
        self.plan.add(description)
        self.log(("would " if self.dry_run else "") + description)
        if not self.dry_run and action:
            return self._call(action, **params)
        return None

    def _upload(self, path: Path, digest: str) -> str:
        key = f"deploy/{path.stem}-{digest[:16]}.zip"
        bucket = self.config["cos"]["bucket"]
        try:
            self.cos.head_object(Bucket=bucket, Key=key)
        except Exception:  # noqa: BLE001 - botocore ClientError 404: not uploaded yet
            self.plan.add(f"upload {path.name} to cos://{bucket}/{key}")
            self.log(("would " if self.dry_run else "") + f"upload {path.name} -> {key}")
            if not self.dry_run:
                self.cos.upload_file(str(path), bucket, key)
        return key

    # -- layers -------------------------------------------------------------------------------------------------
    def layers(self) -> list[dict]:
        out = []
        for name, artifact in (self.config.get("layers") or {}).items():
            path = self.root / artifact
            digest = sha256_file(path)
            versions = self._maybe("ListLayerVersions", LayerName=name) or {}
            existing = [v for v in versions.get("LayerVersions", []) if digest[:16] in (v.get("Description") or "")]
            if existing:
                out.append({"LayerName": name, "LayerVersion": existing[0]["LayerVersion"]})
                continue
            key = self._upload(path, digest)
            result = self._change(f"publish layer {name} ({digest[:16]})", "PublishLayerVersion", LayerName=name,
                                  CompatibleRuntimes=[self.provider["runtime"]], Description=f"sha256 {digest[:16]}",
                                  Content={"CosBucketName": self.config["cos"]["bucket"], "CosObjectName": key,
                                           "CosBucketRegion": self.provider["region"]})
            out.append({"LayerName": name, "LayerVersion": (result or {}).get("LayerVersion", 0)})
        return out

    def _maybe(self, action: str, **params) -> dict | None:
        """A read that answers ResourceNotFound for things that do not exist yet."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        try:
            return self._call(action, **params)
        except TencentCloudSDKException as exc:
            if "ResourceNotFound" in (exc.get_code() or ""):
                return None
            raise

    # -- functions ----------------------------------------------------------------------------------------------
    def desired(self, spec: dict, code_digest: str, layers: list[dict]) -> dict:
        env = dict(self.provider.get("environment", {}).get("variables", {}))
        env.update((spec.get("environment") or {}).get("variables", {}))
        env["DEPLOY_CODE_SHA256"] = code_digest[:16]  # lets the next run see whether the code changed
        want = {
            "Handler": spec["handler"], "Runtime": spec.get("runtime", self.provider["runtime"]),
            "MemorySize": int(spec.get("memorySize", self.provider.get("memorySize", 512))),
            "Timeout": int(spec.get("timeout", self.provider.get("timeout", 30))),
            "Environment": {"Variables": [{"Key": k, "Value": str(v)} for k, v in sorted(env.items())]},
            "Layers": layers,
        }
        if spec.get("protocol") == "ws":  # a web function serving WebSocket (GET /v1/tts/ws)
            want["ProtocolType"] = "WS"
            want["ProtocolParams"] = {"WSParams": {"IdleTimeOut": int(spec.get("wsIdleTimeout", 600))}}
        return want

    def function(self, spec: dict, code_key: str, code_digest: str, layers: list[dict], key: str = "") -> None:
        name = spec["name"]
        want = self.desired(spec, code_digest, layers)
        current = self._maybe("GetFunction", FunctionName=name)
        code = {"CosBucketName": self.config["cos"]["bucket"], "CosObjectName": code_key,
                "CosBucketRegion": self.provider["region"]}
        if current is None:
            self._change(f"create function {name}", "CreateFunction", FunctionName=name, Code=code,
                         Type="HTTP" if spec.get("type") == "web" else "Event", **want)
            self._wait_active(name)
        else:
            if (current.get("ProtocolType") or "") != want.get("ProtocolType", ""):
                raise SystemExit(f"{name}: its protocol cannot be changed in place (SCF does not convert a web "
                                 "function to or from WebSocket); delete the function and deploy again")
            current_env = {v["Key"]: v["Value"] for v in (current.get("Environment") or {}).get("Variables", [])}
            if current_env.get("DEPLOY_CODE_SHA256") != code_digest[:16]:
                self._change(f"update code of {name}", "UpdateFunctionCode", FunctionName=name,
                             CosBucketName=code["CosBucketName"], CosObjectName=code_key,
                             CosBucketRegion=code["CosBucketRegion"], Handler=want["Handler"])
                self._wait_active(name)
            differs = [k for k in ("Handler", "Runtime", "MemorySize", "Timeout", "ProtocolParams")
                       if current.get(k) != want.get(k)]
            want_env = {v["Key"]: v["Value"] for v in want["Environment"]["Variables"]}
            if want_env != current_env:
                differs.append("Environment")
            have_layers = [{"LayerName": x.get("LayerName"), "LayerVersion": x.get("LayerVersion")}
                           for x in current.get("Layers") or []]
            if have_layers != want["Layers"]:
                differs.append("Layers")
            if differs:
                config = {k: v for k, v in want.items() if k not in ("Handler", "Runtime", "ProtocolType")}
                self._change(f"update configuration of {name} ({', '.join(differs)})",
                             "UpdateFunctionConfiguration", FunctionName=name, **config)
                self._wait_active(name)
        self.triggers(name, spec, key)

    def triggers(self, name: str, spec: dict, key: str = "") -> None:
        """The function's timers as configured. The deployer owns the timers named like its configuration key
        (`drain`, and `drain-2` where a schedule takes two in China time): those it creates, changes and
        removes when no longer configured; a timer added by hand under another name is left alone."""
        wanted = {}
        for event in spec.get("events") or []:
            if "timer" in event:
                timer = event["timer"]
                wanted[timer["name"]] = timer["parameters"]["cronExpression"]
        owned = re.compile(rf"{re.escape(key)}(-\d+)?") if key else None
        if not wanted and owned is None:
            return
        listed = self._maybe("ListTriggers", FunctionName=name) or {}  # none for a function not created yet
        existing = {t["TriggerName"]: _cron_of(t.get("TriggerDesc", "")) for t in listed.get("Triggers", [])
                    if t.get("Type") == "timer"}
        for trigger, cron in wanted.items():
            if existing.get(trigger) == cron:
                continue
            if trigger in existing:
                self._change(f"delete timer {trigger} of {name} (schedule changed)", "DeleteTrigger",
                             FunctionName=name, TriggerName=trigger, Type="timer")
            self._change(f"create timer {trigger} of {name}: {cron}", "CreateTrigger", FunctionName=name,
                         TriggerName=trigger, Type="timer", TriggerDesc=cron, Enable="OPEN")
        stale = [t for t in existing if t not in wanted and owned is not None and owned.fullmatch(t)]
        for trigger in sorted(stale):  # e.g. a schedule that took two timers now takes one
            self._change(f"delete timer {trigger} of {name} (no longer in the configuration)", "DeleteTrigger",
                         FunctionName=name, TriggerName=trigger, Type="timer")

    # -- COS lifecycle --------------------------------------------------------------------------------------------
    def lifecycle(self) -> None:
        bucket = self.config["cos"]["bucket"]
        rules = [{"ID": r["id"], "Filter": {"Prefix": r["prefix"]}, "Status": "Enabled",
                  "Expiration": {"Days": int(r["days"])}} for r in self.config["cos"].get("lifecycle", [])]
        try:
            current = self.cos.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
        except Exception:  # noqa: BLE001 - NoSuchLifecycleConfiguration
            current = []
        normalize = lambda rs: sorted(  # noqa: E731
            (r["ID"], r.get("Filter", {}).get("Prefix", r.get("Prefix", "")), r["Status"], r["Expiration"]["Days"])
            for r in rs)
        if normalize(current) != normalize(rules):
            self.plan.add(f"set lifecycle of cos://{bucket}: {[r['ID'] for r in rules]}")
            self.log(("would " if self.dry_run else "") + f"set the lifecycle rules of {bucket}")
            if not self.dry_run:
                self.cos.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    def run(self) -> Plan:
        artifact = self.root / self.config["package"]["artifact"]
        digest = sha256_file(artifact)
        code_key = self._upload(artifact, digest)
        layers = self.layers()
        for key, spec in self.config["functions"].items():
            if spec.get("runtime", self.provider["runtime"]) not in RUNTIMES:
                raise SystemExit(f"unsupported runtime for {spec['name']}")
            self.function(spec, code_key, digest, layers, key)
        self.lifecycle()
        self.log(f"{len(self.plan.actions)} change(s)" + (" planned (dry run)" if self.dry_run else ""))
        return self.plan


def clients(config: dict, environ, *, scf_endpoint: str = "", cos_endpoint: str = ""):
    import boto3
    from botocore.config import Config
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.scf.v20180416 import scf_client

    region = config["provider"]["region"]
    secret_id, secret_key = environ.get("TENCENTCLOUD_SECRET_ID", ""), environ.get("TENCENTCLOUD_SECRET_KEY", "")
    http = HttpProfile(reqTimeout=30)
    if scf_endpoint:
        scheme, _, host = scf_endpoint.partition("://")
        http.endpoint, http.scheme = host, scheme
    else:
        http.endpoint = "scf.tencentcloudapi.com"
    scf = scf_client.ScfClient(credential.Credential(secret_id, secret_key), region, ClientProfile(httpProfile=http))
    cos = boto3.client("s3", endpoint_url=cos_endpoint or f"https://cos.{region}.myqcloud.com",
                       region_name=region, aws_access_key_id=secret_id, aws_secret_access_key=secret_key,
                       config=Config(s3={"addressing_style": "path" if cos_endpoint else "virtual"}))
    return scf, cos


def load_config(path: Path, environ) -> dict:
    return expand_env(yaml.safe_load(path.read_text(encoding="utf-8")), environ)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=REPO / "serverless.yml")
    ap.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    ap.add_argument("--scf-endpoint", default="", help="override (tests)")
    ap.add_argument("--cos-endpoint", default="", help="override (tests)")
    args = ap.parse_args()
    from wiring import check_serverless  # scripts/wiring.py: deploy only what the wiring table declares

    drift = check_serverless(args.config)
    if drift:
        raise SystemExit("\n".join(drift + [f"{args.config.name} differs from the wiring table "
                                            "(functions/handlers/wiring.py); see python scripts/wiring.py --check"]))
    config = load_config(args.config, os.environ)
    if not config["cos"]["bucket"]:
        raise SystemExit("COS_BUCKET is not set")
    scf, cos = clients(config, os.environ, scf_endpoint=args.scf_endpoint, cos_endpoint=args.cos_endpoint)
    Deployer(scf, cos, config, dry_run=args.dry_run).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
