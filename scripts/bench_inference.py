#!/usr/bin/env python
"""Benchmark the cosyvoice3 model through Triton (HTTP and gRPC) against the engine called in-process.

For a ~5 s and a ~20 s utterance, at concurrency 1 and 4: latency p50/p95 and real-time factor (latency /
audio seconds), plus the Triton overhead per request (Triton p50 minus in-process p50, concurrency 1).
Requests carry a 5 s 16 kHz reference wav, as the official clients send. Writes a PNG plot.

    python scripts/bench_inference.py [--engine espeak] [--requests 40] [--out artifacts/bench_inference.png]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference.client import MODEL_NAME, make_inputs, waveform  # noqa: E402
from inference.engines import OUTPUT_SAMPLE_RATE, build_request, load_engine  # noqa: E402
from inference.serve import TritonServer, free_port  # noqa: E402

SENTENCE = "今天天气很好。"


def text_for_seconds(engine, seconds: float) -> str:
    """Repeat a sentence until the engine's output reaches the target duration."""
    text = SENTENCE
    while engine.synthesize(build_request(text=text)).size / OUTPUT_SAMPLE_RATE < seconds:
        text += SENTENCE
    return text


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def run(call, n: int, concurrency: int) -> tuple[list[float], float]:
    """Latencies (s) of n calls at the given concurrency, and audio seconds of one result."""
    audio_s = call() / OUTPUT_SAMPLE_RATE  # warm-up, also measures output length

    def timed(_):
        t0 = time.perf_counter()
        call()
        return time.perf_counter() - t0

    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(timed, range(n)))
    return latencies, audio_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="espeak")
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--out", default="artifacts/bench_inference.png")
    args = ap.parse_args()

    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    engine = load_engine(args.engine)
    prompt = (0.1 * np.random.default_rng(0).standard_normal(5 * 16000)).astype(np.float32)
    texts = {"5s": text_for_seconds(engine, 5), "20s": text_for_seconds(engine, 20)}
    server = TritonServer(http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(), engine=args.engine,
                          log_path=Path("/tmp") / f"bench-triton-{free_port()}.log")
    print(f"starting Triton ({args.engine}) ...", flush=True)
    server.start()
    results: dict[tuple[str, str, int], dict] = {}
    try:
        print(f"ready in {server.wait_ready():.1f}s", flush=True)
        clients = {
            "http": lambda: httpclient.InferenceServerClient(server.http_url),
            "grpc": lambda: grpcclient.InferenceServerClient(server.grpc_url),
        }
        for label, text in texts.items():
            req = build_request(text=text, reference_wav=prompt)
            calls = {"in-process": lambda req=req: engine.synthesize(req).size}
            for proto, make in clients.items():
                module = httpclient if proto == "http" else grpcclient
                inputs = make_inputs(module, text, reference_wav=prompt)
                # tritonclient.http is gevent-based and cannot be shared between threads: one client per thread.
                local = threading.local()

                def call(make=make, inputs=inputs, local=local):
                    if not hasattr(local, "client"):
                        local.client = make()
                    return waveform(local.client.infer(MODEL_NAME, inputs)).size

                calls[proto] = call
            for path, call in calls.items():
                for conc in (1, 4):
                    lat, audio_s = run(call, args.requests, conc)
                    r = {"p50": pct(lat, 50), "p95": pct(lat, 95), "audio_s": audio_s,
                         "rtf": statistics.median(lat) / audio_s}
                    results[(label, path, conc)] = r
                    print(f"{label:>4} {path:>10} c={conc}: p50 {r['p50']:7.2f} ms  p95 {r['p95']:7.2f} ms  "
                          f"RTF {r['rtf']:.4f}  ({audio_s:.1f} s audio, {args.requests} requests)", flush=True)
    finally:
        server.stop()

    print("\nTriton overhead per request (p50 through Triton minus p50 in-process, concurrency 1):")
    for label in texts:
        base = results[(label, "in-process", 1)]["p50"]
        for proto in ("http", "grpc"):
            over = results[(label, proto, 1)]["p50"] - base
            print(f"  {label:>4} {proto}: {over:6.2f} ms  (target <= 15 ms: {'ok' if over <= 15 else 'MISSED'})")
    plot(results, texts, Path(args.out))
    return 0


def plot(results, texts, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(texts), figsize=(11, 4))
    for ax, label in zip(axes, texts, strict=True):
        keys = [k for k in results if k[0] == label]
        names = [f"{p}\nc={c}" for _, p, c in keys]
        ax.bar(names, [results[k]["p95"] for k in keys], color="#f4a261", label="p95")
        ax.bar(names, [results[k]["p50"] for k in keys], color="#2a9d8f", label="p50")
        ax.set_title(f"{label} utterance")
        ax.set_ylabel("latency (ms)")
        ax.tick_params(axis="x", labelsize=8)
        ax.legend()
    fig.suptitle("cosyvoice3 model: Triton (HTTP, gRPC) vs in-process engine")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    sys.exit(main())
