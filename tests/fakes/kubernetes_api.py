"""A local HTTP server speaking the Kubernetes API for one Deployment and its scale subresource
(apps/v1 read, read scale, patch scale): the real kubernetes client runs against it. A scale-up becomes
ready one read later, a scale-down drains one read later, as pods would."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeKubernetes:
    def __init__(self, namespace: str, name: str, replicas: int = 0) -> None:
        self.namespace, self.name = namespace, name
        self.spec_replicas, self.replicas, self.ready = replicas, replicas, replicas
        self.patches: list[dict] = []
        fake = self
        base = rf"^/apis/apps/v1/namespaces/{namespace}/deployments/{name}"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if re.match(base + r"/scale$", self.path):
                    return self._send(200, fake.scale())
                if re.match(base + r"$", self.path):
                    return self._send(200, fake.deployment())
                self._send(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})

            def do_PATCH(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if not re.match(base + r"/scale$", self.path) or "patch" not in self.headers.get("Content-Type", ""):
                    return self._send(400, {"kind": "Status", "status": "Failure", "code": 400})
                fake.patches.append(body)
                fake.spec_replicas = int(body["spec"]["replicas"])
                self._send(200, fake.scale())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _meta(self) -> dict:
        return {"name": self.name, "namespace": self.namespace}

    def scale(self) -> dict:
        return {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": self._meta(),
                "spec": {"replicas": self.spec_replicas}, "status": {"replicas": self.replicas}}

    def deployment(self) -> dict:
        body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": self._meta(),
                "spec": {"replicas": self.spec_replicas, "selector": {"matchLabels": {"app": self.name}},
                         "template": {"metadata": {"labels": {"app": self.name}},
                                      "spec": {"containers": [{"name": "triton", "image": "cosyvoice3-triton"}]}}},
                "status": {"replicas": self.replicas, "readyReplicas": self.ready}}
        # pods follow the spec one observation later
        self.replicas = self.spec_replicas
        self.ready = self.spec_replicas
        return body

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
