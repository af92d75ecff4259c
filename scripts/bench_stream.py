#!/usr/bin/env python
"""Benchmark streaming: time to first audio and total time, streamed vs not, through Triton and the relay.

Starts a real Triton (espeak engine: it streams clause by clause) and the app under gunicorn (threaded
workers, as deployed) on free ports, with AIGC_CUE=none so that "first audio" is the model's first speech
(with the cue at the start, a listener hears the cue even earlier). For a 1-sentence, a 5-sentence and a
2,000-character text, at concurrency 1 and 4, it measures:

- engine: the streaming model over gRPC directly (the official streaming client's protocol): first chunk,
  total; and the offline model's total (a non-streamed answer's first audio is its last byte);
- stream: POST /v1/tts/stream (raw PCM) through the relay: first byte, total;
- file: POST /v1/tts (the 2,000-character text is a job: polled every 50 ms until done): total.
Every request has a text of its own (a numbered ending), so nothing is a cache hit.

Then: the relay's added latency (relay first byte minus engine first chunk for the same text, p50), the
per-chunk delay (arrival of each chunk through the relay minus through Triton, matched by index), and seam
statistics of the streamed audio against the offline output of the same text: the jump at every chunk join
relative to the signal's own sample-to-sample differences (a click is a join far above them), and the level
of the last 50 ms (noise added at the end).

Targets on this machine: relay first-byte overhead p50 <= 10 ms; the 5-sentence text's first audio at most a
quarter of its non-streamed time. Writes a PNG of the time-to-first-audio distributions.

    python scripts/bench_stream.py [--runs 8] [--out artifacts/bench_stream.png]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import queue
import secrets
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "scripts"))

from bench_relay import Gunicorn, log, pct, tail, verdict  # noqa: E402
from inference.serve import TritonServer, free_port  # noqa: E402

ONE = "今天天气很好，我们一起去公园散步吧。"
FIVE = "今天天气很好。我们去公园散步吧。路上有很多花，红的黄的都有。孩子们在草地上奔跑。傍晚我们一起回家。"
LONG = "".join(f"第{i}段，城市里的公园是大家休息的好地方，早上有人跑步，晚上有人跳舞。" for i in range(60))[:2000]
TEXTS = {"1 sentence": ONE, "5 sentences": FIVE, "2000 chars": LONG}
RATE = 24000


def unique(text: str, n: int) -> str:
    return f"{text}编号{n}。"


# -- the three ways to get audio ------------------------------------------------------------------------------
def engine_stream(triton_url: str, text: str, voice: tuple) -> dict:
    """The streaming model directly: chunk arrival times (s) and the chunks."""
    import tritonclient.grpc as grpcclient

    from inference.client import STREAM_MODEL_NAME, make_inputs, waveform

    results: queue.Queue = queue.Queue()
    client = grpcclient.InferenceServerClient(triton_url)
    client.start_stream(callback=lambda result, error: results.put((result, error)))
    started = time.perf_counter()
    client.async_stream_infer(STREAM_MODEL_NAME, make_inputs(grpcclient, text, reference_wav=voice[0],
                                                             reference_text=voice[1]),
                              enable_empty_final_response=True)
    times, chunks = [], []
    while True:
        result, error = results.get(timeout=120)
        if error is not None:
            raise RuntimeError(str(error))
        final = result.get_response().parameters.get("triton_final_response")
        if final is not None and final.bool_param:
            break
        chunks.append(waveform(result))
        times.append(time.perf_counter() - started)
    total = time.perf_counter() - started
    client.stop_stream()
    client.close()
    return {"first": times[0], "total": total, "times": times, "chunks": chunks}


def engine_offline(triton_url: str, text: str, voice: tuple) -> dict:
    import tritonclient.grpc as grpcclient

    from inference.client import MODEL_NAME, make_inputs, waveform

    client = grpcclient.InferenceServerClient(triton_url)
    started = time.perf_counter()
    audio = waveform(client.infer(MODEL_NAME, make_inputs(grpcclient, text, reference_wav=voice[0],
                                                          reference_text=voice[1]), client_timeout=300))
    total = time.perf_counter() - started
    client.close()
    return {"first": total, "total": total, "audio": audio}


def relay_stream(base: str, auth: dict, text: str) -> dict:
    import requests

    started = time.perf_counter()
    with requests.post(f"{base}/v1/tts/stream", json={"text": text, "voice_id": "default", "format": "pcm"},
                       headers=auth, stream=True, timeout=300) as r:
        if r.status_code != 200:
            raise RuntimeError(f"stream: HTTP {r.status_code} {r.text[:200]}")
        times, size = [], 0
        for chunk in r.raw.stream(65536, decode_content=False):
            if chunk:
                times.append(time.perf_counter() - started)
                size += len(chunk)
    return {"first": times[0], "total": time.perf_counter() - started, "times": times, "seconds": size / 2 / RATE}


def relay_file(base: str, auth: dict, text: str) -> dict:
    import requests

    started = time.perf_counter()
    r = requests.post(f"{base}/v1/tts", json={"text": text, "voice_id": "default", "format": "mp3"}, headers=auth,
                      timeout=300)
    body = r.json()
    while r.status_code == 202 or body.get("status") in ("queued", "running"):
        time.sleep(0.05)
        r = requests.get(f"{base}/v1/tts/{body['task_id']}", headers=auth, timeout=30)
        body = r.json()
    if body.get("status") != "done":
        raise RuntimeError(f"file: {body}")
    requests.get(body["audio_url"], timeout=30).raise_for_status()  # first audio = the whole file downloaded
    total = time.perf_counter() - started
    return {"first": total, "total": total}


# -- phases ---------------------------------------------------------------------------------------------------
def measure(name: str, fn, texts: list[str], concurrency: int) -> list[dict]:
    """fn(text) for every text, `concurrency` at a time; a progress line per batch."""
    out: list[dict] = []
    with ThreadPoolExecutor(concurrency) as pool:
        for i in range(0, len(texts), concurrency):
            out += list(pool.map(fn, texts[i:i + concurrency]))
            print(f"\r  {name}: {len(out)}/{len(texts)}", end="", flush=True)
    print(flush=True)
    return out


def seam_stats(chunks: list[np.ndarray], offline: np.ndarray) -> dict:
    """Jumps at chunk joins relative to the signal's own |x[n] - x[n-1]|, and the end level vs the offline output."""
    audio = np.concatenate(chunks)
    diffs = np.abs(np.diff(audio))
    joins = np.cumsum([c.size for c in chunks])[:-1]
    jumps = np.abs(audio[joins] - audio[joins - 1]) if joins.size else np.zeros(0)
    p99, p999 = float(np.percentile(diffs, 99)), float(np.percentile(diffs, 99.9))
    tail_n = int(0.05 * RATE)

    def rms(x):
        return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0

    return {"joins": int(joins.size), "jump_max": float(jumps.max()) if jumps.size else 0.0,
            "jump_p50": float(np.median(jumps)) if jumps.size else 0.0, "diff_p99": p99, "diff_p999": p999,
            "clicks": int((jumps > p999).sum()), "jumps": jumps,
            "tail_rms_stream": rms(audio[-tail_n:]), "tail_rms_offline": rms(offline[-tail_n:]),
            "length_ratio": audio.size / max(1, offline.size)}


def plot(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TEXTS), figsize=(5 * len(TEXTS), 4.5))
    for ax, label in zip(axes, TEXTS, strict=True):
        data, names = [], []
        for c in (1, 4):
            for way in ("engine", "stream", "file"):
                values = [r["first"] * 1000 for r in results[(label, c, way)]]
                data.append(values)
                names.append(f"{way}\nc={c}")
        ax.boxplot(data, showfliers=True)
        ax.set_xticks(range(1, len(names) + 1), names, fontsize=8)
        ax.set_yscale("log")
        ax.set_title(f"{label}: time to first audio")
        ax.set_ylabel("ms (log)")
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("engine = streaming model direct, stream = POST /v1/tts/stream, file = POST /v1/tts (whole file)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8, help="requests per text, way and concurrency (4 for 2000 chars)")
    ap.add_argument("--out", default="artifacts/bench_stream.png")
    args = ap.parse_args()

    from inference.contract import DEFAULT_VOICE_TRANSCRIPT
    from inference.engines.base import default_voice

    voice = (default_voice(), DEFAULT_VOICE_TRANSCRIPT)
    workdir = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    key = secrets.token_urlsafe(32)
    auth = {"Authorization": f"Bearer {key}"}
    triton = TritonServer(http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(), engine="espeak",
                          log_path=workdir / "triton.log")
    app: Gunicorn | None = None
    results: dict = {}
    failed = True
    try:
        log("starting Triton (espeak) ...")
        triton.start()
        log(f"  ready in {triton.wait_ready(progress=log):.1f}s")
        port = free_port()
        env = dict(os.environ, TRITON_URL=triton.grpc_url, ENGINE="espeak", STORAGE="local",
                   STORAGE_DIR=str(workdir / "storage"), PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                   LOG_LEVEL="WARNING", REDIS_URL="", AIGC_CUE="none", WEB_CONCURRENCY="1",
                   API_KEYS=f"bench:{hashlib.sha256(key.encode()).hexdigest()}", RATE_LIMIT_PER_MINUTE="0",
                   DAILY_CHAR_QUOTA="0", WORKER_THREADS="4", MAX_INFLIGHT_MISSES="0")
        app = Gunicorn(port, env, workdir / "gunicorn.log", config="python:functions.gunicorn_conf")
        app.start()
        log(f"  relay (gunicorn, threaded) ready in {app.wait_ready():.1f}s on {app.base_url}")
        relay_stream(app.base_url, auth, unique(ONE, 0))  # warm the relay (default voice, connections)
        ways = {"engine": lambda t: engine_stream(triton.grpc_url, t, voice),
                "offline": lambda t: engine_offline(triton.grpc_url, t, voice),
                "stream": lambda t: relay_stream(app.base_url, auth, t),
                "file": lambda t: relay_file(app.base_url, auth, t)}
        n = 0
        for label, text in TEXTS.items():
            runs = args.runs if label != "2000 chars" else max(2, args.runs // 2)
            for c in (1, 4):
                count = runs if c == 1 else max(runs, 4) // 4 * 4
                for way in ("engine", "offline", "stream", "file"):
                    texts = [unique(text, n + i) for i in range(count)]
                    results[(label, c, way)] = measure(f"{label}, c={c}, {way}", ways[way], texts, c)
                    if way in ("engine", "stream"):  # the same texts for both: comparable chunk by chunk
                        continue
                    n += count
        # seams: the streamed chunks against the offline output of the same request
        seams = seam_stats(engine_stream(triton.grpc_url, FIVE, voice)["chunks"],
                           engine_offline(triton.grpc_url, FIVE, voice)["audio"])
        failed = False
    finally:
        if app is not None:
            app.stop()
        triton.stop()
        if failed:
            log(f"--- gunicorn ---\n{tail(workdir / 'gunicorn.log')}\n--- Triton ---\n{tail(workdir / 'triton.log')}")
        shutil.rmtree(workdir, ignore_errors=True)

    # -- summary ----------------------------------------------------------------------------------------------
    log("\ntime to first audio / total, ms (p50, p90):")
    log(f"  {'text':<12} {'c':>2} {'way':<8} {'first p50':>10} {'first p90':>10} {'total p50':>10}")
    for (label, c, way), rows in results.items():
        first = [r["first"] * 1000 for r in rows]
        total = [r["total"] * 1000 for r in rows]
        log(f"  {label:<12} {c:>2} {way:<8} {pct(first, 50):>10.1f} {pct(first, 90):>10.1f} {pct(total, 50):>10.1f}")
    log("\nthe relay's own latency (same texts through the relay and directly):")
    for label in TEXTS:
        for c in (1, 4):
            eng, rel = results[(label, c, "engine")], results[(label, c, "stream")]
            first = [(r["first"] - e["first"]) * 1000 for r, e in zip(rel, eng, strict=True)]
            log(f"  {label:<12} c={c}: first byte +{pct(first, 50):.1f} ms p50 (+{pct(first, 90):.1f} p90)")
    eng, rel = results[("5 sentences", 1, "engine")], results[("5 sentences", 1, "stream")]
    per_chunk = [(rt - et) * 1000 for r, e in zip(rel, eng, strict=True)
                 for rt, et in zip(r["times"], e["times"], strict=False)]
    log(f"  per chunk (5 sentences, c=1, matched by index): +{pct(per_chunk, 50):.1f} ms p50, "
        f"+{pct(per_chunk, 90):.1f} ms p90 (reads may merge chunks: an upper bound)")
    log(f"\nseams (5 sentences, {seams['joins']} joins): jump max {seams['jump_max']:.4f}, p50 "
        f"{seams['jump_p50']:.4f}; the signal's own |diff| p99 {seams['diff_p99']:.4f}, "
        f"p99.9 {seams['diff_p999']:.4f}; "
        f"joins above p99.9: {seams['clicks']}")
    log(f"  end: last 50 ms RMS streamed {seams['tail_rms_stream']:.5f} vs offline {seams['tail_rms_offline']:.5f}; "
        f"length streamed/offline {seams['length_ratio']:.3f}")

    overhead = pct([(r["first"] - e["first"]) * 1000 for r, e in zip(
        results[("1 sentence", 1, "stream")], results[("1 sentence", 1, "engine")], strict=True)], 50)
    five_first = pct([r["first"] for r in results[("5 sentences", 1, "stream")]], 50)
    five_file = pct([r["first"] for r in results[("5 sentences", 1, "file")]], 50)
    log("\ntargets:")
    log(f"  relay first-byte overhead p50 {overhead:.1f} ms <= 10 ms: {verdict(overhead <= 10)}")
    log(f"  5 sentences: first audio {five_first * 1000:.0f} ms <= 1/4 of the file's {five_file * 1000:.0f} ms: "
        f"{verdict(five_first <= five_file / 4)}")
    plot(results, Path(args.out))
    log(f"plot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
