#!/usr/bin/env python
"""Load test: a realistic mix against the app under gunicorn, with the server's memory watched over time.

Mix per request: 60% cache hits (a set of popular phrases), 15% misses (new texts), 5% streams (POST
/v1/tts/stream, new texts), 5% long texts (a job, 300 to 900 characters), 10% enrollments, 5% task polls.
Reports throughput, latency percentiles per kind, error counts, every refusal by its error code (a valid
recording refused as `audio_corrupt` is a bug, and makes the run fail), and the resident memory of the
relay (gunicorn master and workers) and of the inference server (tritonserver, and its Python-backend stubs
apart) sampled every 2 s, with the mean and slope per third of the run; writes a PNG of latency and memory over
time. `--duration 1800 --redis-url redis://127.0.0.1:6379/1` is the production-shaped soak (2 workers sharing
Redis state and the Redis-stream job queue) whose memory must reach a plateau (the last third's mean no higher
than the middle third's).

The load runs in a separate process with a thread per connection (requests), not locust: at the rates a
2-core machine serves, plain threads generate enough load, add no dependency, and keep the measurement code
in the same few lines as the benchmarks'.

    python scripts/load_test.py [--duration 60] [--concurrency 4] [--redis-url URL] [--out artifacts/load_test.png]
                                [--triton-malloc glibc|jemalloc]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import multiprocessing
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_relay import Gunicorn  # noqa: E402
from inference.serve import TritonServer, free_port  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
POPULAR = [f"常用的第{i}句话，欢迎使用语音合成。" for i in range(20)]


def long_text(rng: random.Random) -> str:
    sentences = [f"这是一段较长的文字里的第{i}句话，编号{rng.randrange(10**6)}，用来测试长文本合成。"
                 for i in range(rng.randrange(10, 30))]
    return "".join(sentences)


def generate_load(base: str, key: str, duration: float, concurrency: int, prompt_b64: str) -> list[tuple]:
    """Runs in its own process: (t, kind, status, seconds, error code) per request."""
    import requests

    results: list[tuple] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration
    wav = base64.b64decode(prompt_b64)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        session = requests.Session()
        session.headers["X-Api-Key"] = key
        tasks: list[str] = []
        n = 0
        while time.monotonic() < stop_at:
            roll, n = rng.random(), n + 1
            t0 = time.monotonic()
            code = ""
            fresh = f"新的句子{seed}-{n}-{rng.random():.6f}。"
            prompt = {"consent": "self", "prompt_audio_base64": prompt_b64}
            try:
                if roll < 0.60:
                    kind = "hit"
                    r = session.post(f"{base}/v1/tts", json={"text": rng.choice(POPULAR), **prompt}, timeout=60)
                elif roll < 0.75:
                    kind = "miss"
                    r = session.post(f"{base}/v1/tts", json={"text": fresh, **prompt}, timeout=60)
                    if r.ok:
                        tasks.append(r.json()["task_id"])
                elif roll < 0.80:
                    kind = "stream"
                    with session.post(f"{base}/v1/tts/stream", json={"text": fresh, **prompt}, timeout=60,
                                      stream=True) as r:
                        for _ in r.iter_content(65536):  # the whole stream, as a player would take it
                            pass
                elif roll < 0.85:
                    kind = "long"
                    r = session.post(f"{base}/v1/tts", json={"text": long_text(rng), **prompt}, timeout=60)
                    if r.status_code == 202:
                        tasks.append(r.json()["task_id"])
                elif roll < 0.95 or not tasks:
                    kind = "enroll"
                    r = session.post(f"{base}/v1/voices", files={"audio": ("r.wav", wav)}, data={"consent": "self"},
                                     timeout=60)
                    if r.status_code == 201:  # keep the voice count bounded
                        session.delete(f"{base}/v1/voices/{r.json()['voice_id']}", timeout=60)
                else:
                    kind = "poll"
                    r = session.get(f"{base}/v1/tts/{rng.choice(tasks)}", timeout=60)
                status = r.status_code
                if status >= 400:
                    try:
                        code = r.json()["error"]["code"]
                    except (ValueError, KeyError, TypeError):
                        code = "?"
            except requests.RequestException:
                status = 0
            with lock:
                results.append((t0, kind, status, time.monotonic() - t0, code))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def rss_by_process(pgid: int) -> dict[int, tuple[str, float]]:
    """pid -> (name, resident MB) of every process in the group."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            found[int(pid)] = (fields["Name"].strip(), int(fields["VmRSS"].split()[0]) / 1024)
        except (OSError, ProcessLookupError, ValueError, KeyError):
            continue
    return found


def sample(relay_pgid: int, triton_pid: int) -> tuple[float, float, float]:
    """(relay, tritonserver, Python-backend stubs) resident MB."""
    relay = sum(mb for _, mb in rss_by_process(relay_pgid).values())
    triton = rss_by_process(os.getpgid(triton_pid))
    main = triton.get(triton_pid, ("", 0.0))[1]
    return relay, main, sum(mb for pid, (_, mb) in triton.items() if pid != triton_pid)


def thirds(memory: list[tuple], column: int, duration: float) -> tuple[list[float], list[float]]:
    """Per third of the run: the slope (MB/min) and the mean (MB). Memory under load is a sawtooth (buffers
    taken and given back), so a plateau is judged by the means: the last third's no higher than the middle's
    (within 3%), not by a slope that one tooth can tip."""
    slopes, means = [], []
    for third in range(3):
        part = [(row[0], row[column]) for row in memory if third / 3 * duration <= row[0] < (third + 1) / 3 * duration]
        slopes.append(float(np.polyfit(*zip(*part, strict=True), 1)[0] * 60) if len(part) > 3 else 0.0)
        means.append(float(np.mean([m for _, m in part])) if part else 0.0)
    return slopes, means


MEMORY_SERIES = ("relay (gunicorn)", "tritonserver", "Python-backend stubs")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""),
                    help="shared state and job queue for 2 workers (without it: 1 worker, in-process state)")
    ap.add_argument("--triton-malloc", choices=("jemalloc", "glibc"), default="jemalloc",
                    help="tritonserver's allocator (inference/serve.py: jemalloc where installed); glibc to compare")
    ap.add_argument("--out", default="artifacts/load_test.png")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="load-"))
    key = secrets.token_urlsafe(24)
    triton = TritonServer(http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(), engine="espeak",
                          log_path=work / "triton.log", extra_env={"TRITON_MALLOC": args.triton_malloc})
    app = None
    memory: list[tuple[float, float, float, float]] = []
    try:
        print("starting Triton and gunicorn ...", flush=True)
        triton.start()
        triton.wait_ready()
        port = free_port()
        env = dict(os.environ, TRITON_URL=triton.grpc_url, ENGINE="espeak", STORAGE_DIR=str(work / "storage"),
                   PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", LOG_LEVEL="WARNING", REDIS_URL=args.redis_url,
                   API_KEYS=f"load:{hashlib.sha256(key.encode()).hexdigest()}", RATE_LIMIT_PER_MINUTE="0",
                   DAILY_CHAR_QUOTA="0", MAX_VOICES_PER_OWNER="1000")
        app = Gunicorn(port, env, work / "gunicorn.log", config="python:functions.gunicorn_conf").start()
        app.wait_ready()
        prompt_b64 = base64.b64encode((REPO / "examples" / "prompt_zh.wav").read_bytes()).decode()
        pgid = os.getpgid(app.process.pid)
        print(f"load: {args.concurrency} connections for {args.duration:.0f}s (60% hits, 15% misses, 5% streams, "
              f"5% long texts, 10% enrollments, 5% polls)", flush=True)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            future = pool.submit(generate_load, app.base_url, key, args.duration, args.concurrency, prompt_b64)
            started = time.monotonic()
            next_note = started + 30
            while not future.done():
                memory.append((time.monotonic() - started, *sample(pgid, triton.process.pid)))
                if time.monotonic() >= next_note:
                    print(f"  {time.monotonic() - started:5.0f}s  RSS MB: " + ", ".join(
                        f"{name} {mb:.0f}" for name, mb in zip(MEMORY_SERIES, memory[-1][1:], strict=True)),
                        flush=True)
                    next_note += 30
                time.sleep(2)
            results = future.result()
    finally:
        if app is not None:
            app.stop()
        triton.stop()
        log_copy = Path(args.out).with_suffix(".server.log")  # kept: a server error's traceback is in it
        log_copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(work / "gunicorn.log", log_copy) if (work / "gunicorn.log").exists() else None
        shutil.rmtree(work, ignore_errors=True)

    t0 = min(r[0] for r in results)
    span = max(r[0] + r[3] for r in results) - t0
    print(f"\n{len(results)} requests in {span:.0f}s: {len(results) / span:.1f} req/s")
    for kind in ("hit", "miss", "stream", "long", "enroll", "poll"):
        lat = [r[3] * 1000 for r in results if r[1] == kind]
        if lat:
            p50, p95, p99 = np.percentile(lat, [50, 95, 99])
            print(f"  {kind:>6}: {len(lat):6d}  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p99 {p99:7.1f} ms")
    all_lat = [r[3] * 1000 for r in results]
    errors: dict[int, int] = {}
    refusals: dict[str, int] = {}
    for r in results:
        if r[2] == 0 or r[2] >= 500:
            errors[r[2]] = errors.get(r[2], 0) + 1
        if 400 <= r[2] < 500:
            refusals[f"{r[2]} {r[4]}"] = refusals.get(f"{r[2]} {r[4]}", 0) + 1
    print(f"  all: p99 {np.percentile(all_lat, 99):.1f} ms; server errors and failed connections: "
          f"{errors or 'none'}; refusals: {refusals or 'none'}")
    for column, name in enumerate(MEMORY_SERIES, start=1):
        values = [row[column] for row in memory]
        per_third, means = thirds(memory, column, args.duration)
        plateau = means[2] <= means[1] * 1.03
        slope_text = ", ".join(f"{s:+.2f}" for s in per_third)
        print(f"  {name} RSS: start {values[0]:.0f} MB, end {values[-1]:.0f} MB, max {max(values):.0f} MB; mean per "
              f"third {', '.join(f'{m:.0f}' for m in means)} MB; slope per third {slope_text} MB/min -> "
              f"{'plateau' if plateau else 'GROWING'}")
    plot(results, memory, Path(args.out))
    # a valid recording refused as corrupt is a server bug, as is any 5xx
    return 0 if not errors and not any("audio_corrupt" in code for code in refusals) else 1


def plot(results, memory, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7))
    for kind in ("hit", "miss", "stream", "long", "enroll", "poll"):
        lat = np.sort([r[3] * 1000 for r in results if r[1] == kind])
        if lat.size:
            ax1.plot(lat, np.linspace(0, 1, lat.size), label=kind)
    ax1.set_xscale("log")
    ax1.set_xlabel("latency (ms)")
    ax1.set_ylabel("fraction of requests")
    ax1.set_title("Latency by request kind")
    ax1.legend()
    minutes = [row[0] / 60 for row in memory]
    for column, name in enumerate(MEMORY_SERIES, start=1):
        ax2.plot(minutes, [row[column] for row in memory], label=name)
    ax2.set_xlabel("minutes")
    ax2.set_ylabel("resident memory (MB)")
    ax2.set_title("Resident memory under the mixed load")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    sys.exit(main())
