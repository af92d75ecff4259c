#!/usr/bin/env python
"""Does a request's latency grow with its neighbours'? Concurrent requests to the cosyvoice3 Triton model.

At concurrency 1, 4 and 8 (`--concurrency`), that many identical requests are sent at once over gRPC, a few
rounds each; printed: per-request latency p50 and max, and the time to the first answer. A configuration is
the repository's config.pbtxt (default), or another file (`--config`, e.g. an earlier revision's) with
`--instances` model instances. Writes a PNG.

    python scripts/bench_concurrency.py                                  # espeak engine, this config
    python scripts/bench_concurrency.py --engine cosyvoice3 --model-dir DIR --vendor DIR \\
        --config old.pbtxt --label before --instances 1                  # the real code, another config
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference.client import MODEL_NAME, make_inputs  # noqa: E402
from inference.serve import TritonServer, free_port, repository_copy  # noqa: E402

TEXT = "你好，欢迎使用语音合成。"


def round_latencies(url: str, prompt: np.ndarray, concurrency: int) -> list[float]:
    import tritonclient.grpc as grpcclient

    clients = [grpcclient.InferenceServerClient(url) for _ in range(concurrency)]
    inputs = make_inputs(grpcclient, TEXT, reference_wav=prompt)
    started = time.monotonic()

    def one(client) -> float:
        client.infer(MODEL_NAME, inputs)
        return time.monotonic() - started

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, clients))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="espeak")
    ap.add_argument("--model-dir", default="", help="cosyvoice3: the model directory")
    ap.add_argument("--vendor", default="", help="cosyvoice3: the official source (added to PYTHONPATH)")
    ap.add_argument("--config", type=Path, help="another config.pbtxt (default: the repository's)")
    ap.add_argument("--instances", type=int, help="model instances (default: the config's)")
    ap.add_argument("--label", default="this config")
    ap.add_argument("--concurrency", default="1,4,8")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default="artifacts/bench_concurrency.png")
    ap.add_argument("--json", default="artifacts/bench_concurrency.json", help="results, appended per label")
    args = ap.parse_args()

    env = {}
    if args.model_dir:
        env["COSYVOICE_MODEL_DIR"] = args.model_dir
    if args.vendor:
        env["PYTHONPATH"] = os.pathsep.join([args.vendor, str(Path(args.vendor) / "third_party" / "Matcha-TTS")])
    work = tempfile.TemporaryDirectory(prefix="bench-concurrency-")
    repo = repository_copy(Path(work.name), instances=args.instances,
                           config=args.config.read_text(encoding="utf-8") if args.config else None)
    server = TritonServer(http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(), engine=args.engine,
                          model_repository=repo, extra_env=env, log_path=Path(work.name) / "triton.log")
    prompt = (0.1 * np.random.default_rng(0).standard_normal(5 * 16000)).astype(np.float32)
    results = {}
    print(f"starting Triton ({args.engine}, {args.label}) ...", flush=True)
    server.start()
    try:
        print(f"ready in {server.wait_ready(timeout=900):.1f}s", flush=True)
        round_latencies(server.grpc_url, prompt, 4)  # warm every instance
        for conc in (int(c) for c in args.concurrency.split(",")):
            latencies = [t for _ in range(args.rounds) for t in round_latencies(server.grpc_url, prompt, conc)]
            firsts = [min(latencies[i:i + conc]) for i in range(0, len(latencies), conc)]
            results[conc] = {"p50": float(np.median(latencies)), "max": float(max(latencies)),
                             "first": float(np.median(firsts))}
            r = results[conc]
            print(f"{args.label:>12} c={conc}: p50 {r['p50']:6.2f} s  max {r['max']:6.2f} s  "
                  f"first answer {r['first']:6.2f} s", flush=True)
    finally:
        server.stop()
        work.cleanup()
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    everything = json.loads(out.read_text()) if out.exists() else {}
    everything[args.label] = {str(k): v for k, v in results.items()}
    out.write_text(json.dumps(everything, indent=1))
    plot(everything, Path(args.out))
    return 0


def plot(everything: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, results in everything.items():
        conc = sorted(int(c) for c in results)
        line, = ax.plot(conc, [results[str(c)]["p50"] for c in conc], marker="o", label=f"{label}: p50")
        ax.plot(conc, [results[str(c)]["first"] for c in conc], marker="x", linestyle="--", color=line.get_color(),
                label=f"{label}: first answer")
    ax.set_xlabel("concurrent requests")
    ax.set_ylabel("latency (s)")
    ax.set_title("cosyvoice3 model: latency under concurrency")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    sys.exit(main())
