#!/usr/bin/env python
"""Time to first audio through each client path, on the `make run` stack (python -m functions.serve: a local
Triton with the espeak engine and the API): raw PCM (chunked HTTP), SSE, WebSocket, and the whole file
(POST /v1/tts, then its download) for comparison. Every request has a text of its own (no cache hits).
First audio is the first byte of speech the client can play: the first PCM bytes, the first `audio` event,
the first binary message, the downloaded file. The AIGC cue is off so that this is the model's speech (with
it on, the cue plays first and even earlier).

    python scripts/bench_client_paths.py [--runs 10] [--out artifacts/bench_client_paths.png]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from inference.serve import free_port  # noqa: E402

TEXT = "今天天气很好。我们去公园散步吧。路上有很多花。孩子们在草地上奔跑。傍晚我们一起回家。"


def start_stack(work: Path) -> tuple[subprocess.Popen, str]:
    import requests

    port = free_port()
    env = dict(os.environ, PORT=str(port), TRITON_HTTP_PORT=str(free_port()), TRITON_GRPC_PORT=str(free_port()),
               TRITON_METRICS_PORT=str(free_port()), STORAGE_DIR=str(work / "storage"), REDIS_URL="",
               LOG_LEVEL="WARNING", AIGC_CUE="none")
    env.pop("TRITON_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "functions.serve"], cwd=REPO_ROOT, env=env,
                            stdout=open(work / "serve.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    until = time.monotonic() + 180
    while True:
        try:
            if requests.get(base + "/readyz", timeout=2).status_code == 200:
                return proc, base
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > until:
            raise RuntimeError((work / "serve.log").read_text(errors="replace")[-3000:])
        time.sleep(0.3)


def raw_pcm(base: str, text: str) -> float:
    import requests

    started = time.perf_counter()
    with requests.post(base + "/v1/tts/stream", json={"text": text, "voice_id": "default"}, stream=True,
                       timeout=60) as r:
        first = None
        for chunk in r.iter_content(chunk_size=None):  # each chunk as it arrives
            if chunk and first is None:
                first = time.perf_counter() - started
    return first


def sse(base: str, text: str) -> float:
    import requests

    started = time.perf_counter()
    first = None
    with requests.post(base + "/v1/tts/stream?stream_format=sse", json={"text": text, "voice_id": "default"},
                       stream=True, timeout=60) as r:
        for line in r.iter_lines():
            if first is None and line.startswith(b"event: audio"):
                first = time.perf_counter() - started
    return first


def websocket(base: str, text: str) -> float:
    import simple_websocket

    ws = simple_websocket.Client.connect(base.replace("http", "ws") + "/v1/tts/ws")
    started = time.perf_counter()
    ws.send(json.dumps({"text": text, "voice_id": "default"}))
    first = None
    while True:
        message = ws.receive(timeout=60)
        if isinstance(message, bytes):
            first = first or time.perf_counter() - started
        elif json.loads(message)["type"] in ("done", "error"):
            break
    ws.close()
    return first


def whole_file(base: str, text: str) -> float:
    import requests

    started = time.perf_counter()
    body = requests.post(base + "/v1/tts", json={"text": text, "voice_id": "default"}, timeout=60).json()
    requests.get(body["audio_url"], timeout=60).raise_for_status()
    return time.perf_counter() - started


PATHS = {"raw PCM": raw_pcm, "SSE": sse, "WebSocket": websocket, "whole file": whole_file}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--out", default="artifacts/bench_client_paths.png")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-paths-"))
    print("starting the make-run stack (local Triton, espeak) ...", flush=True)
    proc, base = start_stack(work)
    results: dict[str, list[float]] = {}
    try:
        whole_file(base, TEXT + "预热。")  # the default voice and connections, once
        n = 0
        for name, path in PATHS.items():
            results[name] = []
            for _ in range(args.runs):
                n += 1
                results[name].append(path(base, f"{TEXT}编号{n}。") * 1000)
                print(f"\r  {name}: {len(results[name])}/{args.runs}", end="", flush=True)
            print(flush=True)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    print("\ntime to first audio, ms (5 sentences, make-run stack):")
    for name, values in results.items():
        print(f"  {name:<11} p50 {np.percentile(values, 50):7.1f}  p90 {np.percentile(values, 90):7.1f}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.boxplot(list(results.values()))
    ax.set_xticks(range(1, len(results) + 1), list(results))
    ax.set_ylabel("ms to first audio")
    ax.set_yscale("log")
    ax.set_title("Time to first audio by client path (make run, espeak)")
    ax.grid(alpha=0.3, axis="y")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"plot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
