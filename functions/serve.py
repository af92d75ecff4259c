"""The whole embedded stack for development: `python -m functions.serve` (what `make run` starts).

Starts a local Triton with the CPU engine (unless TRITON_URL points at a running endpoint), then serves the
API on http://127.0.0.1:8080 with local storage and in-process state, and prints a curl command that works.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from werkzeug.serving import make_server

from .app import create_app
from .settings import Settings

REPO = Path(__file__).resolve().parent.parent
SAMPLE_PROMPT = REPO / "examples" / "prompt_zh.wav"


def curl_example(base: str) -> str:
    try:
        prompt = SAMPLE_PROMPT.relative_to(Path.cwd())
    except ValueError:
        prompt = SAMPLE_PROMPT
    return (f"curl -s -X POST {base}/v1/tts -F 'text=你好，欢迎使用语音合成服务。' "
            f"-F 'prompt_text=希望你以后能够做的比我还好呦。' -F 'audio=@{prompt}'")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8080)))
    args = ap.parse_args(argv)

    triton = None
    overrides = {}
    if not os.environ.get("TRITON_URL"):
        from inference.serve import TritonServer

        engine = os.environ.get("COSYVOICE_ENGINE", "espeak")
        log_path = Path(os.environ.get("STORAGE_DIR", "data/storage")).parent / "triton.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        triton = TritonServer(http_port=int(os.environ.get("TRITON_HTTP_PORT", 8000)),
                              grpc_port=int(os.environ.get("TRITON_GRPC_PORT", 8001)),
                              metrics_port=int(os.environ.get("TRITON_METRICS_PORT", 8002)), engine=engine,
                              log_path=log_path)
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
    app = create_app(settings)
    workers = app.services.start_workers()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the app writes its own access log
    server = make_server(args.host, args.port, app, threaded=True)

    def stop(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    where = settings.storage_dir if settings.storage == "local" else ""
    print(f"\nAPI on {base}  (storage: {settings.storage} {where},"
          f" state: {'redis' if settings.redis_url else 'in-process'})", flush=True)
    print("try:\n  " + curl_example(base) + f"\nor open {base}/demo in a browser\n", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopping ...", flush=True)
    finally:
        server.server_close()
        if workers is not None:
            workers.stop()
        if triton is not None:
            triton.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
