"""Local HTTP servers speaking Tencent Cloud API 3.0's wire format (ASR SentenceRecognition, TMS
TextModeration).

They stand in for *.tencentcloudapi.com (unreachable here). They follow Tencent Cloud API 3.0's signature
documentation (cloud.tencent.com/document/api/213/30654, "Signature v3") and each product's API reference,
and refuse what the real service refuses: an action or version the product does not have, a signature not
recomputable with the configured secret, one that does not sign `content-type` and `host`, one scoped to
another service or another date than its timestamp (the service is the fake's own, never the client's
claim), a timestamp more than 5 minutes old (AuthFailure.SignatureExpire), an unknown region where the
product needs one. They answer in the real response shapes, so the real tencentcloud-sdk-python clients run
against them unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def tc3_signature(secret_key: str, method: str, headers: dict[str, str], signed: list[str], payload: bytes,
                  timestamp: int, service: str) -> str:
    canonical_headers = "".join(f"{h}:{headers[h].strip().lower() if h == 'content-type' else headers[h].strip()}\n"
                                for h in signed)
    canonical = "\n".join([method, "/", "", canonical_headers, ";".join(signed), hashlib.sha256(payload).hexdigest()])
    date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


REGIONS = {"ap-guangzhou", "ap-shanghai", "ap-beijing", "ap-chengdu", "ap-chongqing", "ap-nanjing", "ap-hongkong",
           "ap-singapore", "ap-tokyo", "ap-seoul", "na-siliconvalley", "eu-frankfurt"}
MAX_SKEW_S = 300


class FakeTencentApi:
    action = ""  # or `actions`, a tuple, for services with several
    actions: tuple[str, ...] = ()
    version = ""
    service = ""  # what the signature must be scoped to (the product's domain prefix)
    needs_region = False

    def __init__(self, secret_id: str, secret_key: str) -> None:
        self.secret_id, self.secret_key = secret_id, secret_key
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = fake.handle({k.lower(): v for k, v in self.headers.items()}, payload)
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error(self, code: str, message: str) -> dict:
        return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}

    def handle(self, headers: dict, payload: bytes) -> dict:
        action = headers.get("x-tc-action")
        if action not in (self.actions or (self.action,)) or headers.get("x-tc-version") != self.version:
            return self.error("InvalidAction", "unsupported action")
        auth = headers.get("authorization", "")
        try:
            algorithm, rest = auth.split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            secret_id, date, service, _ = parts["Credential"].split("/")
            signed = parts["SignedHeaders"].split(";")
            timestamp = int(headers["x-tc-timestamp"])
            expected = tc3_signature(self.secret_key, "POST", headers, signed, payload, timestamp, self.service)
        except (ValueError, KeyError):
            return self.error("AuthFailure.InvalidAuthorization", "malformed Authorization")
        if abs(time.time() - timestamp) > MAX_SKEW_S:
            return self.error("AuthFailure.SignatureExpire", "the signature has expired")
        if not {"content-type", "host"} <= set(signed) or service != self.service or \
                date != datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d"):
            return self.error("AuthFailure.SignatureFailure", "the signature does not cover what it must")
        if algorithm != "TC3-HMAC-SHA256" or secret_id != self.secret_id or \
                not hmac.compare_digest(expected, parts.get("Signature", "")):
            return self.error("AuthFailure.SignatureFailure", "signature mismatch")
        if self.needs_region and headers.get("x-tc-region") not in REGIONS:
            return self.error("InvalidParameterValue.Region", "unknown or missing region")
        request = json.loads(payload)
        self.requests.append(request)
        return self.answer(request) if not self.actions else getattr(self, action)(request)

    def answer(self, request: dict) -> dict:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeTencentAsr(FakeTencentApi):
    action, version, service = "SentenceRecognition", "2019-06-14", "asr"

    def __init__(self, secret_id: str, secret_key: str, transcript: str) -> None:
        super().__init__(secret_id, secret_key)
        self.transcript = transcript

    def answer(self, request: dict) -> dict:
        audio = base64.b64decode(request.get("Data", ""))
        if request.get("SourceType") != 1 or len(audio) != request.get("DataLen") or audio[:4] != b"RIFF":
            return self.error("InvalidParameterValue", "bad audio data")
        return {"Response": {"Result": self.transcript, "AudioDuration": int(len(audio) / 32), "WordSize": 0,
                             "WordList": None, "RequestId": str(uuid.uuid4())}}


class FakeTencentTms(FakeTencentApi):
    """TextModeration: texts containing a word from `block` are Block, from `review` Review, else Pass."""

    action, version, service = "TextModeration", "2020-12-29", "tms"

    def __init__(self, secret_id: str, secret_key: str, block=("危险内容",), review=("可疑内容",)) -> None:
        super().__init__(secret_id, secret_key)
        self.block, self.review = block, review

    def answer(self, request: dict) -> dict:
        try:
            text = base64.b64decode(request["Content"]).decode("utf-8")
        except (KeyError, ValueError):
            return self.error("InvalidParameter.Content", "Content must be base64")
        suggestion, label = "Pass", "Normal"
        if any(w in text for w in self.block):
            suggestion, label = "Block", "Illegal"
        elif any(w in text for w in self.review):
            suggestion, label = "Review", "Polity"
        return {"Response": {"BizType": "0", "Label": label, "Suggestion": suggestion, "Keywords": [], "Score": 90,
                             "DetailResults": [], "RequestId": str(uuid.uuid4())}}


class FakeTencentCvm(FakeTencentApi):
    """CVM instance lifecycle (CVM API 2017-03-12: StartInstances, StopInstances, DescribeInstances):
    StartInstances moves STOPPED -> STARTING -> RUNNING (one describe later), StopInstances RUNNING ->
    STOPPING -> STOPPED. Both act on the instances named in InstanceIds (required; an unknown id is
    InvalidInstanceId.NotFound), StoppedMode must be KEEP_CHARGING or STOP_CHARGING, and a region is required."""

    actions, version, service, needs_region = ("DescribeInstances", "StartInstances", "StopInstances"), \
        "2017-03-12", "cvm", True

    def __init__(self, secret_id: str, secret_key: str, instance_id: str, state: str = "STOPPED") -> None:
        super().__init__(secret_id, secret_key)
        self.instance_id, self.state, self.stopped_modes = instance_id, state, []

    def _ok(self, **fields) -> dict:
        return {"Response": {**fields, "RequestId": str(uuid.uuid4())}}

    def DescribeInstances(self, request: dict) -> dict:  # noqa: N802 - the API's action names
        if request.get("InstanceIds") != [self.instance_id]:
            return self._ok(TotalCount=0, InstanceSet=[])
        current = self.state
        self.state = {"STARTING": "RUNNING", "STOPPING": "STOPPED"}.get(self.state, self.state)
        return self._ok(TotalCount=1, InstanceSet=[{"InstanceId": self.instance_id, "InstanceState": current,
                                                    "InstanceType": "GN7.2XLARGE32"}])

    def _unknown_ids(self, request: dict) -> dict | None:
        ids = request.get("InstanceIds")
        if not ids:
            return self.error("MissingParameter", "InstanceIds is required")
        if ids != [self.instance_id]:
            return self.error("InvalidInstanceId.NotFound", f"instances not found: {ids}")
        return None

    def StartInstances(self, request: dict) -> dict:  # noqa: N802
        if (refused := self._unknown_ids(request)) is not None:
            return refused
        if self.state != "STOPPED":
            return self.error("UnsupportedOperation.InstanceStateRunning", "not stopped")
        self.state = "STARTING"
        return self._ok()

    def StopInstances(self, request: dict) -> dict:  # noqa: N802
        if (refused := self._unknown_ids(request)) is not None:
            return refused
        if request.get("StoppedMode", "KEEP_CHARGING") not in ("KEEP_CHARGING", "STOP_CHARGING"):
            return self.error("InvalidParameterValue.StoppedMode", "StoppedMode: KEEP_CHARGING | STOP_CHARGING")
        if self.state != "RUNNING":
            return self.error("UnsupportedOperation.InstanceStateStopped", "not running")
        self.stopped_modes.append(request.get("StoppedMode"))
        self.state = "STOPPING"
        return self._ok()


class FakeTencentScf(FakeTencentApi):
    """The SCF API calls scripts/deploy_tencent.py makes (SCF API 2018-04-16), with state, recording every
    change. Function changes are asynchronous as in the service: after CreateFunction a function is `Creating`,
    after UpdateFunctionCode or UpdateFunctionConfiguration `Updating`, for `busy_polls` GetFunction calls, and
    meanwhile refuses code and configuration updates and new triggers (FailedOperation, as the real service
    answers a change to a function that is not Active)."""

    actions = ("GetFunction", "CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration",
               "ListTriggers", "CreateTrigger", "DeleteTrigger", "ListLayerVersions", "PublishLayerVersion")
    version, service, needs_region = "2018-04-16", "scf", True

    def __init__(self, secret_id: str, secret_key: str, *, busy_polls: int = 2) -> None:
        super().__init__(secret_id, secret_key)
        self.busy_polls = busy_polls
        self._busy: dict[str, int] = {}  # function -> GetFunction polls until Active
        self.functions: dict[str, dict] = {}
        self.triggers: dict[str, dict[str, str]] = {}
        self.layers: dict[str, list[dict]] = {}
        self.changes: list[str] = []

    def _ok(self, **fields) -> dict:
        return {"Response": {**fields, "RequestId": str(uuid.uuid4())}}

    def _fn(self, request):
        return self.functions.get(request.get("FunctionName", ""))

    def _settle(self, name: str, status: str) -> None:
        self.functions[name]["Status"] = status
        self._busy[name] = self.busy_polls

    def _not_active(self, request, operation: str):
        fn = self._fn(request)
        if fn is not None and fn.get("Status") != "Active":
            return self.error(f"FailedOperation.{operation}", f"function is {fn['Status']}: retry when Active")
        return None

    def GetFunction(self, request):  # noqa: N802 - the API's action names
        fn = self._fn(request)
        if fn is None:
            return self.error("ResourceNotFound.Function", "function not found")
        name = request["FunctionName"]
        if self._busy.get(name, 0) > 0:
            self._busy[name] -= 1
        elif fn.get("Status") != "Active":
            fn["Status"] = "Active"
        return self._ok(**fn)

    def CreateFunction(self, request):  # noqa: N802
        name = request["FunctionName"]
        if name in self.functions:
            return self.error("ResourceInUse.Function", "exists")
        if not request.get("Code", {}).get("CosObjectName"):
            return self.error("InvalidParameterValue.Code", "code required")
        if "ProtocolType" in request:  # WebSocket: web functions only, idle 1-1800 s, no longer than the timeout
            idle = (request.get("ProtocolParams") or {}).get("WSParams", {}).get("IdleTimeOut", 15)
            if request["ProtocolType"] != "WS" or request.get("Type") != "HTTP":
                return self.error("InvalidParameterValue.ProtocolType", "WS is for HTTP (web) functions only")
            if not 1 <= idle <= 1800 or idle > request.get("Timeout", 3):
                return self.error("InvalidParameterValue.ProtocolParams", "IdleTimeOut 1-1800 and <= Timeout")
        self.functions[name] = {k: request[k] for k in ("FunctionName", "Handler", "Runtime", "MemorySize",
                                                         "Timeout", "Environment", "Type", "ProtocolType",
                                                         "ProtocolParams") if k in request}
        self.functions[name]["Layers"] = [{**layer, "CompatibleRuntimes": ["Python3.10"]}
                                          for layer in request.get("Layers", [])]
        self._settle(name, "Creating")
        self.changes.append(f"CreateFunction {name}")
        return self._ok()

    def UpdateFunctionCode(self, request):  # noqa: N802
        if not self._fn(request):
            return self.error("ResourceNotFound.Function", "function not found")
        if (refused := self._not_active(request, "UpdateFunctionCode")) is not None:
            return refused
        self._settle(request["FunctionName"], "Updating")
        self.changes.append(f"UpdateFunctionCode {request['FunctionName']}")
        return self._ok()

    def UpdateFunctionConfiguration(self, request):  # noqa: N802
        fn = self._fn(request)
        if not fn:
            return self.error("ResourceNotFound.Function", "function not found")
        if (refused := self._not_active(request, "UpdateFunctionConfiguration")) is not None:
            return refused
        if "ProtocolType" in request:
            return self.error("InvalidParameter.ProtocolType", "a function's protocol cannot be changed")
        for key in ("MemorySize", "Timeout", "Environment", "ProtocolParams"):
            if key in request:
                fn[key] = request[key]
        if "Layers" in request:
            fn["Layers"] = [{**layer, "CompatibleRuntimes": ["Python3.10"]} for layer in request["Layers"]]
        self._settle(request["FunctionName"], "Updating")
        self.changes.append(f"UpdateFunctionConfiguration {request['FunctionName']}")
        return self._ok()

    def ListTriggers(self, request):  # noqa: N802
        if not self._fn(request):
            return self.error("ResourceNotFound.Function", "function not found")
        triggers = [{"TriggerName": n, "Type": "timer", "TriggerDesc": json.dumps({"cron": c}), "Enable": 1}
                    for n, c in self.triggers.get(request["FunctionName"], {}).items()]
        return self._ok(TotalCount=len(triggers), Triggers=triggers)

    def CreateTrigger(self, request):  # noqa: N802
        if (refused := self._not_active(request, "CreateTrigger")) is not None:
            return refused
        if request.get("Type") != "timer" or len(request.get("TriggerDesc", "").split()) != 7:
            return self.error("InvalidParameterValue.TriggerDesc", "timer needs a 7-field cron")
        self.triggers.setdefault(request["FunctionName"], {})[request["TriggerName"]] = request["TriggerDesc"]
        self.changes.append(f"CreateTrigger {request['FunctionName']}/{request['TriggerName']}")
        return self._ok(TriggerInfo={"TriggerName": request["TriggerName"], "Type": "timer"})

    def DeleteTrigger(self, request):  # noqa: N802
        self.triggers.get(request["FunctionName"], {}).pop(request["TriggerName"], None)
        self.changes.append(f"DeleteTrigger {request['FunctionName']}/{request['TriggerName']}")
        return self._ok()

    def ListLayerVersions(self, request):  # noqa: N802
        if request["LayerName"] not in self.layers:
            return self.error("ResourceNotFound.Layer", "layer not found")
        return self._ok(LayerVersions=self.layers[request["LayerName"]])

    def PublishLayerVersion(self, request):  # noqa: N802
        versions = self.layers.setdefault(request["LayerName"], [])
        versions.append({"LayerName": request["LayerName"], "LayerVersion": len(versions) + 1,
                         "Description": request.get("Description", ""), "CompatibleRuntimes":
                             request.get("CompatibleRuntimes", [])})
        self.changes.append(f"PublishLayerVersion {request['LayerName']}")
        return self._ok(LayerVersion=len(versions))
