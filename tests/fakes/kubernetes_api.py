"""A local server speaking the Kubernetes API for one Deployment and its scale subresource (apps/v1 read, read
scale, patch scale): the real kubernetes client runs against it. A scale-up becomes ready one read later, a
scale-down drains one read later, as pods would.

As the API server does (kubernetes.io/docs/reference/access-authn-authz/authentication), it refuses a request
without the service account's bearer token (401 Unauthorized). With `tls=True` it serves HTTPS with a
certificate of its own (`ca_file`), as the in-cluster endpoint (KUBERNETES_SERVICE_HOST/PORT) does, so the
client's in-cluster configuration path (token and CA files) runs against it."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeKubernetes:
    def __init__(self, namespace: str, name: str, replicas: int = 0, *, token: str = "sa-token",
                 tls: bool = False, workdir: str | None = None) -> None:
        self.namespace, self.name, self.token = namespace, name, token
        self.refused = 0
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

            def _authorized(self) -> bool:
                scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
                if scheme.lower() == "bearer" and value == fake.token:  # the scheme is case-insensitive (RFC 7235)
                    return True
                fake.refused += 1
                self._send(401, {"kind": "Status", "status": "Failure", "reason": "Unauthorized", "code": 401})
                return False

            def do_GET(self):
                if not self._authorized():
                    return None
                if re.match(base + r"/scale$", self.path):
                    return self._send(200, fake.scale())
                if re.match(base + r"$", self.path):
                    return self._send(200, fake.deployment())
                self._send(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})

            def do_PATCH(self):
                if not self._authorized():
                    return None
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if not re.match(base + r"/scale$", self.path) or "patch" not in self.headers.get("Content-Type", ""):
                    return self._send(400, {"kind": "Status", "status": "Failure", "code": 400})
                fake.patches.append(body)
                fake.spec_replicas = int(body["spec"]["replicas"])
                self._send(200, fake.scale())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.tls, self.ca_file = tls, None
        if tls:
            import ssl

            self.ca_file, key_file = _self_signed(workdir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca_file, key_file)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

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


def _self_signed(workdir: str | None) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (its own CA), written to files as a cluster's ca.crt would be."""
    import datetime
    import ipaddress
    import os
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory = workdir or tempfile.mkdtemp(prefix="fake-k8s-")
    cert_file, key_file = os.path.join(directory, "ca.crt"), os.path.join(directory, "tls.key")
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_file, key_file
