"""The whole embedded stack for development: `python -m functions.serve` (what `make run` starts).

Starts a local Triton with the CPU engine (unless TRITON_URL points at a running endpoint), then serves the
API on http://127.0.0.1:8080 with local storage and in-process state, under the same host as production
(gunicorn, functions/gunicorn_conf.py), and prints a curl command that works.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from gunicorn.app.base import BaseApplication

from .settings import Settings

REPO = Path(__file__).resolve().parent.parent
SAMPLE_PROMPT = REPO / "examples" / "prompt_zh.wav"


def curl_example(base: str) -> str:
    try:
        prompt = SAMPLE_PROMPT.relative_to(Path.cwd())
    except ValueError:
        prompt = SAMPLE_PROMPT
    return (f"curl -s -X POST {base}/v1/tts -F 'text=你好，欢迎使用语音合成服务。' "
            f"-F 'prompt_text=希望你以后能够做的比我还好呦。' -F 'consent=self' -F 'audio=@{prompt}'")


def port_taken(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def check_ports(ports: dict[str, tuple[str, int]]) -> None:
    """Refuse to start beside a port that is taken (another `make run`, another Triton): serving through
    someone else's server would look like success. Names the variable to change."""
    taken = [name for name, (host, port) in ports.items() if port_taken(host, port)]
    if taken:
        used = ", ".join(f"{name}={ports[name][1]}" for name in taken)
        example = " ".join(f"{name}=<free port>" for name in taken)
        raise SystemExit(f"port already in use: {used}. Another `make run` or Triton is running: stop it, or choose "
                         f"free ports, e.g. `{example} make run`")


def limits_banner(settings: Settings) -> str:
    rate = f"{settings.rate_limit_per_minute}/min" if settings.rate_limit_per_minute else "off"
    quota = f"{settings.daily_char_quota} chars/day" if settings.daily_char_quota else "off"
    local = ("applied to the local dev identity too (DEV_LIMITS=true)" if settings.dev_limits
             else "not applied to the local dev identity (DEV_LIMITS=true applies them)")
    return f"limits: {rate}, {quota} per caller; {local}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8080)))
    args = ap.parse_args(argv)

    triton = None
    overrides = {}
    ports = {"PORT": (args.host, args.port)}
    if not os.environ.get("TRITON_URL"):
        ports.update({f"TRITON_{kind}_PORT": ("127.0.0.1", int(os.environ.get(f"TRITON_{kind}_PORT", default)))
                      for kind, default in (("HTTP", 8000), ("GRPC", 8001), ("METRICS", 8002))})
    check_ports(ports)
    if not os.environ.get("TRITON_URL"):
        from inference.serve import TritonServer

        engine = os.environ.get("COSYVOICE_ENGINE", "espeak")
        http_port = ports["TRITON_HTTP_PORT"][1]
        log_path = Path(os.environ.get("STORAGE_DIR", "data/storage")).parent / f"triton-{http_port}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        triton = TritonServer(http_port=http_port, grpc_port=ports["TRITON_GRPC_PORT"][1],
                              metrics_port=ports["TRITON_METRICS_PORT"][1], engine=engine, log_path=log_path)
        print(f"starting local Triton (engine={engine}, log: {log_path}) ...", flush=True)
        if engine == "espeak":
            print("NOTE: the espeak engine speaks the text but does NOT clone voices (development only).", flush=True)
        triton.start()
        try:
            took = triton.wait_ready(progress=lambda m: print(m, flush=True))
        except BaseException:
            triton.stop()
            raise
        print(f"Triton ready in {took:.1f}s (gRPC {triton.grpc_url}, HTTP {triton.http_url})", flush=True)
        overrides = {"triton_url": triton.grpc_url, "triton_protocol": "grpc", "engine": engine}
    base = f"http://{args.host}:{args.port}"
    overrides.setdefault("public_base_url", os.environ.get("PUBLIC_BASE_URL") or base)
    # The local developer has no WeChat account: accept unauthenticated requests from loopback only
    # (AUTH_REQUIRED=true turns that off, e.g. to fuzz the stack as the public would see it).
    overrides["dev_mode"] = os.environ.get("AUTH_REQUIRED", "").lower() not in ("1", "true", "yes")
    overrides.setdefault("demo_page", True)
    overrides.setdefault("metrics", True)
    settings = Settings.from_env(**overrides)
    where = settings.storage_dir if settings.storage == "local" else ""
    print(limits_banner(settings), flush=True)
    if settings.dev_mode:
        print("development mode: loopback requests need no credentials; SDKs that must send a key use "
              "api_key='local-dev'", flush=True)
    print(f"\nAPI on {base}  (storage: {settings.storage} {where},"
          f" state: {'redis' if settings.redis_url else 'in-process'})", flush=True)
    print("try:\n  " + curl_example(base) + f"\nor open {base}/demo in a browser\n", flush=True)
    launcher = os.getpid()
    try:
        Host(settings, f"{args.host}:{args.port}").run()  # returns (SystemExit) when stopped: SIGTERM, Ctrl-C
    finally:
        if os.getpid() == launcher:  # not in a forked worker that is exiting
            print("stopping ...", flush=True)
            if triton is not None:
                triton.stop()
    return 0


class Host(BaseApplication):
    """The production host (gunicorn with functions/gunicorn_conf.py: event-driven workers) serving the app on
    `settings`, built in the worker process after it is forked, with its job workers."""

    def __init__(self, settings: Settings, bind: str) -> None:
        self.settings, self.bind = settings, bind
        super().__init__()

    def load_config(self) -> None:
        from . import gunicorn_conf

        for name, value in vars(gunicorn_conf).items():
            if name in self.cfg.settings:
                self.cfg.set(name, value)
        self.cfg.set("bind", [self.bind])
        self.cfg.set("workers", 1)  # in-process state: one process holds the tasks, jobs and limits

    def load(self):
        from .app import create_app  # imported here, in the worker: after gevent has patched the standard library

        app = create_app(self.settings)
        app.services.start_workers()
        return app

if __name__ == "__main__":
    sys.exit(main())
