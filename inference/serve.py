"""Run a real Triton Inference Server on the `inference/model_repository` from the nvidia-pytriton wheel.

`python -m inference.serve` starts the server in the foreground on Triton's usual ports (HTTP 8000, gRPC 8001,
metrics 8002), waits until the `cosyvoice3` model is ready, prints the addresses, and stops the server and its
Python-backend stubs on SIGINT/SIGTERM. Tests and benchmarks use `TritonServer` directly on free ports.

The wheel's server needs a prepared backend directory and two environment settings (see the repository's
FACTS): the bundled libs on LD_LIBRARY_PATH, and the directory of this interpreter's own libpython, or the stub
loads the system's older libpython and fails inside multiprocessing.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_REPOSITORY = Path(__file__).resolve().parent / "model_repository"
MODEL_NAME = "cosyvoice3"


def stop_process_group(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM a process started with start_new_session=True, SIGKILL it after `grace`, then SIGKILL whatever
    is left in its group (Triton's backend stubs, gunicorn's workers outlive a killed parent)."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends it SIGTERM when the launcher dies, however it dies (SIGKILL,
    a crash), so a server never outlives its launcher holding its ports. (Linux; the launching thread counts
    as the parent, and every launcher here starts Triton from its main thread.)"""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: stop() and the session group remain the only cleanup


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pytriton_root() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nvidia-pytriton is not installed: pip install '.[inference]'")
    return Path(list(spec.submodule_search_locations)[0]) / "tritonserver"


def prepare_backend_dir(dest: Path) -> Path:
    """Assemble `dest/python/` with the backend library, its utils module and the stub for this Python."""
    root = _pytriton_root()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = root / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.exists():
        raise RuntimeError(f"the Triton wheel has no Python backend stub for Python {version}")
    python_dir = dest / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for src in (root / "backends" / "python" / "libtriton_python.so",
                root / "backends" / "python" / "triton_python_backend_utils.py", stub):
        target = python_dir / src.name
        if not target.exists():
            shutil.copy2(src, target)
    return dest


def repository_copy(dest: Path, *, instances: int | None = None, config: str | None = None) -> Path:
    """A copy of the model repository under `dest` with another instance count or another config.pbtxt (the
    launcher's --instances, benchmarks comparing configurations)."""
    repo = dest / "model_repository"
    shutil.copytree(MODEL_REPOSITORY, repo, ignore=shutil.ignore_patterns("__pycache__"))
    if config is not None:
        (repo / MODEL_NAME / "config.pbtxt").write_text(config, encoding="utf-8")
    if instances is not None:
        if instances < 1:
            raise ValueError("instances must be at least 1")
        for path in repo.glob("*/config.pbtxt"):  # the offline and the streaming model alike
            text, n = re.subn(r"(instance_group\s*\[\s*\{\s*count:\s*)\d+", rf"\g<1>{instances}",
                              path.read_text(encoding="utf-8"))
            if n != 1:
                raise ValueError(f"{path} has no single instance_group count to change")
            path.write_text(text, encoding="utf-8")
    return repo


# glibc's malloc keeps what tritonserver frees in per-thread arenas and seldom returns it, so under a long mixed
# load its resident memory keeps climbing (scripts/load_test.py: +87 MB in 26 minutes, still rising); Triton's
# release notes name this and the cure, another allocator by LD_PRELOAD (its container ships jemalloc and
# tcmalloc). jemalloc is used wherever it is installed; TRITON_MALLOC=glibc keeps glibc's.
JEMALLOC = ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
            "/usr/lib64/libjemalloc.so.2", "/usr/lib/x86_64-linux-gnu/libjemalloc.so")


def allocator_preload(env: dict[str, str]) -> str | None:
    """The allocator library to preload into tritonserver, or None for glibc's."""
    choice = env.get("TRITON_MALLOC", "jemalloc").lower()
    if choice == "glibc":
        return None
    if choice != "jemalloc":
        raise ValueError(f"TRITON_MALLOC must be jemalloc or glibc, not {choice!r}")
    return next((path for path in JEMALLOC if Path(path).exists()), None)


def server_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    site_packages = Path(sysconfig.get_paths()["purelib"])
    libs = [str(site_packages / "nvidia_pytriton.libs")]
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir:
        libs.append(libdir)
    if env.get("LD_LIBRARY_PATH"):
        libs.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(libs)
    paths = [str(REPO_ROOT), str(site_packages)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


@dataclass
class TritonServer:
    """One tritonserver process (and its stubs, in their own process group)."""

    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    host: str = "127.0.0.1"
    engine: str | None = None
    model_repository: Path = MODEL_REPOSITORY
    instances: int | None = None  # model instances (None: config.pbtxt's count)
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    _workdir: tempfile.TemporaryDirectory | None = None

    @property
    def http_url(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def command(self, backend_dir: Path) -> list[str]:
        return [
            str(_pytriton_root() / "bin" / "tritonserver"),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={backend_dir}",
            f"--http-address={self.host}", f"--http-port={self.http_port}",
            f"--grpc-address={self.host}", f"--grpc-port={self.grpc_port}",
            f"--metrics-address={self.host}", f"--metrics-port={self.metrics_port}",
            "--exit-on-error=true", "--strict-readiness=true", "--log-verbose=0",
        ]

    def start(self) -> "TritonServer":
        self._workdir = tempfile.TemporaryDirectory(prefix="triton-backends-")
        backend_dir = prepare_backend_dir(Path(self._workdir.name))
        if self.instances is not None:
            self.model_repository = repository_copy(Path(self._workdir.name), instances=self.instances)
        env = server_environment()
        for key, value in self.extra_env.items():  # PYTHONPATH extends the one the stub needs, never replaces it
            env[key] = os.pathsep.join([env[key], value]) if key == "PYTHONPATH" and env.get(key) else value
        if self.engine:
            env["COSYVOICE_ENGINE"] = self.engine
        preload = allocator_preload(env)
        if preload:
            env["LD_PRELOAD"] = os.pathsep.join(filter(None, [preload, env.get("LD_PRELOAD")]))
        out = open(self.log_path, "ab") if self.log_path else None
        # Own session: stopping the group also stops the Python-backend stub processes.
        # The backend stub's embedded interpreter ignores PYTHONPATH and puts its base installation's
        # site-packages ahead of ours, but its first sys.path entry is the working directory: start it in our
        # site-packages so the stub and model import this environment's numpy (a mismatched numpy corrupts
        # BYTES inputs) and packages.
        self.process = subprocess.Popen(self.command(backend_dir), env=env, stdout=out, stderr=out,
                                        cwd=sysconfig.get_paths()["purelib"], start_new_session=True,
                                        preexec_fn=_die_with_parent)
        if out:
            out.close()
        return self

    def _get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://{self.http_url}{path}", timeout=2) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def is_ready(self) -> bool:
        return self._get("/v2/health/ready") == 200 and self._get(f"/v2/models/{MODEL_NAME}/ready") == 200

    def wait_ready(self, timeout: float = 120.0, progress=None) -> float:
        start = time.monotonic()
        next_note = start + 5
        while time.monotonic() - start < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"tritonserver exited with code {self.process.returncode} before ready"
                                   + (f"; see {self.log_path}" if self.log_path else ""))
            if self.is_ready():
                return time.monotonic() - start
            if progress and time.monotonic() > next_note:
                progress(f"waiting for Triton ... {time.monotonic() - start:.0f}s")
                next_note += 5
            time.sleep(0.2)
        raise TimeoutError(f"Triton not ready after {timeout:.0f}s")

    def stop(self, grace: float = 10.0) -> None:
        stop_process_group(self.process, grace)
        self.process = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> "TritonServer":
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(description="Serve the cosyvoice3 Triton model repository locally.")
    parser.add_argument("--host", default=env.get("TRITON_HOST", "127.0.0.1"))
    parser.add_argument("--http-port", type=int, default=int(env.get("TRITON_HTTP_PORT", 8000)))
    parser.add_argument("--grpc-port", type=int, default=int(env.get("TRITON_GRPC_PORT", 8001)))
    parser.add_argument("--metrics-port", type=int, default=int(env.get("TRITON_METRICS_PORT", 8002)))
    parser.add_argument("--engine", default=env.get("COSYVOICE_ENGINE", "espeak"),
                        help="espeak (CPU, does not clone voices) or cosyvoice3 (needs the official package and "
                             "weights)")
    parser.add_argument("--instances", type=int, default=int(env["COSYVOICE_INSTANCES"]) if env.get(
        "COSYVOICE_INSTANCES") else None, help="model instances, each with its own engine (default: config.pbtxt)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    args = parser.parse_args(argv)

    server = TritonServer(http_port=args.http_port, grpc_port=args.grpc_port, metrics_port=args.metrics_port,
                          host=args.host, engine=args.engine, instances=args.instances)
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    print(f"starting Triton (engine={args.engine}) ...", flush=True)
    if args.engine == "espeak":
        print("NOTE: the espeak engine is for development: it speaks the text but does NOT clone voices.", flush=True)
    server.start()
    try:
        took = server.wait_ready(args.timeout, progress=lambda m: print(m, flush=True))
        print(f"Triton ready in {took:.1f}s: HTTP http://{server.http_url}  gRPC {server.grpc_url}  "
              f"metrics http://{server.host}:{server.metrics_port}/metrics  model '{MODEL_NAME}'", flush=True)
        code = server.process.wait()
        print(f"tritonserver exited with code {code}", flush=True)
        return code or 1
    except KeyboardInterrupt:
        print("stopping Triton ...", flush=True)
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
