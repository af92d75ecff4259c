#!/usr/bin/env python
"""Benchmark the relay itself (not the model): the cache-hit path, the miss-path overhead and prompt processing.

Starts a real Triton (espeak engine) and the app under gunicorn (2 sync workers) on free ports, then measures:

1. Cache hits: one identical POST /v1/tts (JSON, base64 prompt) sent for a fixed duration over a few
   concurrent connections, against GET /healthz (the bare endpoint, which does nothing) with the same load.
   Reports the server-side time (`total` from the Server-Timing header) p50/p99, the client latency p50/p99,
   requests per second, the mean of every Server-Timing stage, and hit rps / bare rps.
   Targets: cache-hit server-side p50 <= 5 ms; hit rps >= 0.5 x bare rps.
2. Miss-path overhead for a ~10 s result: distinct texts sent one at a time (format=mp3). Overhead is
   Server-Timing `total` minus `infer` (everything but inference); `infer` is also compared with the same
   synthesis done by the engine in-process (the cost of Triton + gRPC). Target: overhead <= 50 ms.
3. Prompt processing in-process: decode a 10 s ADTS AAC 44.1 kHz clip (`decode_prompt`) and compute its voice
   hash (`pcm_hash`). Target: p50 <= 30 ms.

Writes a PNG with the latency distributions (cache hit vs bare endpoint) and the miss-path stage breakdown.

The load generator is a separate Python process (spawned with multiprocessing, plain `requests` with one
keep-alive Session per thread): in this process it would share the GIL with the benchmark's own bookkeeping
and with nothing else to separate them, and no external load tool (wrk, ab, hey) needs to be installed. It
still shares the machine's CPUs with the server, so absolute rps are a lower bound on small machines; the
hit/bare ratio compares both paths under the same conditions.

    python scripts/bench_relay.py [--duration 10] [--concurrency 4] [--out artifacts/bench_relay.png]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import multiprocessing
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from inference.serve import TritonServer, free_port, stop_process_group  # noqa: E402

SENTENCE = "今天天气很好。"
PROMPT_WAV = REPO_ROOT / "examples" / "prompt_zh.wav"
MAX_TEXT_CHARS = 200
MISSES = 10
MISS_WARMUP = 3
PROMPT_RUNS = 30
# Server-Timing stages that nest inside another one (decode runs inside voice): left out of sums.
NESTED = {"decode"}


def log(message: str) -> None:
    print(message, flush=True)


def pct(values, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def server_timing(header: str) -> dict[str, float]:
    """'validate;dur=0.1, total;dur=52.3' -> {'validate': 0.1, 'total': 52.3} (milliseconds)."""
    stages: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (header or "").split(","))):
        name, _, params = part.partition(";")
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "dur":
                try:
                    stages[name.strip()] = stages.get(name.strip(), 0.0) + float(value)
                except ValueError:
                    pass
    return stages


# -- the load generator (runs in a child process) -------------------------------------------------------------
def load(url: str, method: str, body: bytes | None, headers: dict, concurrency: int, duration: float,
         warmup: int = 3) -> dict:
    """Send the same request from `concurrency` threads (one keep-alive Session each) for `duration` seconds.

    Each thread first sends `warmup` requests (not counted); the timed window starts once all are warm."""
    import requests

    barrier = threading.Barrier(concurrency + 1)
    stop_at = [float("inf")]  # the main thread sets the end once every thread is warm
    results: list[list] = [[] for _ in range(concurrency)]
    errors: list[str] = []

    def worker(i: int) -> None:
        session = requests.Session()
        out = results[i]
        try:
            for _ in range(warmup):
                session.request(method, url, data=body, headers=headers, timeout=30)
        except Exception as exc:  # noqa: BLE001 - reported, the thread still joins the barrier
            errors.append(f"warmup: {exc!r}")
        barrier.wait()
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at[0]:
                break
            try:
                r = session.request(method, url, data=body, headers=headers, timeout=30)
                elapsed = (time.perf_counter() - t0) * 1000
                out.append((elapsed, r.status_code, r.headers.get("Server-Timing", ""),
                            b'"cached": true' in r.content))
            except Exception as exc:  # noqa: BLE001 - count and go on
                errors.append(repr(exc))
        session.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    stop_at[0] = started + duration
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    rows = [row for per_thread in results for row in per_thread]
    return {
        "latency_ms": [r[0] for r in rows],
        "status": [r[1] for r in rows],
        "server_timing": [r[2] for r in rows],
        "cached": [r[3] for r in rows],
        "errors": errors[:20],
        "error_count": len(errors),
        "wall_s": wall,
    }


def summarize_load(name: str, raw: dict, duration: float) -> dict:
    ok = [i for i, s in enumerate(raw["status"]) if s == 200]
    latency = [raw["latency_ms"][i] for i in ok]
    stages = [server_timing(raw["server_timing"][i]) for i in ok]
    server = [s["total"] for s in stages if "total" in s]
    rps = len(ok) / max(raw["wall_s"], duration)
    other = len(raw["status"]) - len(ok)
    summary = {"name": name, "n": len(ok), "rps": rps, "latency": latency, "server": server, "stages": stages,
               "non_200": other, "errors": raw["error_count"], "cached": sum(raw["cached"][i] for i in ok)}
    log(f"  {name}: {len(ok)} ok in {raw['wall_s']:.1f}s = {rps:.1f} rps; client p50 {pct(latency, 50):.2f} ms "
        f"p99 {pct(latency, 99):.2f} ms; server p50 {pct(server, 50):.2f} ms p99 {pct(server, 99):.2f} ms"
        + (f"; {other} non-200" if other else "") + (f"; {raw['error_count']} errors" if raw["error_count"] else ""))
    if other:
        codes = sorted(set(raw["status"]) - {200})
        log(f"    non-200 statuses: {codes}")
    if raw["errors"]:
        log(f"    first error: {raw['errors'][0]}")
    return summary


def stage_means(stages: list[dict[str, float]]) -> dict[str, float]:
    names: list[str] = []
    for s in stages:
        for k in s:
            if k not in names:
                names.append(k)
    return {k: statistics.fmean(s.get(k, 0.0) for s in stages) for k in names}


# -- the servers -----------------------------------------------------------------------------------------------
class Gunicorn:
    """`python -m gunicorn -w 2 functions.handlers.web:app` (or with a config file instead of `-w`) in its own
    process group (workers included)."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path, workers: int = 2,
                 config: str | None = None) -> None:
        self.port, self.env, self.log_path, self.workers, self.config = port, env, log_path, workers, config
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Gunicorn":
        out = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn",
                 *(["-c", self.config] if self.config else ["-w", str(self.workers)]),
                 "-b", f"127.0.0.1:{self.port}", "functions.handlers.web:app"],
                cwd=REPO_ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True)
        finally:
            out.close()
        return self

    def wait_ready(self, timeout: float = 90.0) -> float:
        import requests

        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with code {self.process.returncode} before ready")
            try:
                if requests.get(f"{self.base_url}/readyz", timeout=5).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the app did not answer /readyz 200 within {timeout:.0f}s")

    def stop(self, grace: float = 10.0) -> None:
        stop_process_group(self.process, grace)  # SIGTERM: the arbiter stops its workers gracefully
        self.process = None


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- phases ------------------------------------------------------------------------------------------------------
def text_for_seconds(engine, seconds: float) -> str:
    """Repeat a sentence until the engine's output reaches the target duration."""
    from inference.engines import OUTPUT_SAMPLE_RATE, build_request

    text = SENTENCE
    while engine.synthesize(build_request(text=text)).size / OUTPUT_SAMPLE_RATE < seconds:
        text += SENTENCE
    return text


def cache_hit_phase(pool, app: Gunicorn, auth: dict, prompt: bytes, args) -> tuple[dict, dict]:
    import requests

    body = json.dumps({"text": SENTENCE * 2,
                       "consent": "self", "prompt_audio_base64": base64.b64encode(prompt).decode("ascii"),
                       "prompt_format": "wav"}).encode()  # encoded once, sent as-is by every request
    headers = {**auth, "Content-Type": "application/json"}
    url = f"{app.base_url}/v1/tts"
    log("cache hit: priming ...")
    first = requests.post(url, data=body, headers=headers, timeout=60)
    if first.status_code != 200:
        raise RuntimeError(f"priming request failed: {first.status_code} {first.text[:300]}")
    second = requests.post(url, data=body, headers=headers, timeout=60)
    first_ms = server_timing(first.headers.get("Server-Timing", "")).get("total")
    second_ms = server_timing(second.headers.get("Server-Timing", "")).get("total")
    log(f"  prime: cached={first.json().get('cached')} ({first_ms} ms); "
        f"again: cached={second.json().get('cached')} ({second_ms} ms)")
    if second.headers.get("Connection", "").lower() == "close":
        log("  note: the server answers 'Connection: close' (gunicorn sync workers): keep-alive sessions reconnect"
            " for every request, so client latency includes a TCP connect")
    if not second.json().get("cached"):
        raise RuntimeError("the second identical request was not a cache hit")

    log(f"cache hit: {args.concurrency} connections for {args.duration:.0f}s (load generator in a child process) ...")
    raw = pool.submit(load, url, "POST", body, headers, args.concurrency, args.duration).result()
    hit = summarize_load("cache hit POST /v1/tts", raw, args.duration)
    if hit["cached"] != hit["n"]:
        log(f"  WARNING: only {hit['cached']} of {hit['n']} answers said cached=true")

    log(f"bare endpoint: {args.concurrency} connections for {args.duration:.0f}s ...")
    raw = pool.submit(load, f"{app.base_url}/healthz", "GET", None, {}, args.concurrency, args.duration).result()
    bare = summarize_load("bare GET /healthz", raw, args.duration)
    return hit, bare


def miss_phase(app: Gunicorn, auth: dict, prompt: bytes, engine, base_text: str) -> dict:
    import requests

    from functions.audio.decode import decode_prompt
    from inference.engines import build_request

    prompt_b64 = base64.b64encode(prompt).decode("ascii")
    samples = decode_prompt(prompt, "wav").samples  # what the relay sends to Triton as the reference
    headers = {**auth, "Content-Type": "application/json"}
    rows = []
    log(f"miss path: {MISS_WARMUP} warm-up + {MISSES} distinct misses, sequential, format=mp3 ...")
    for i in range(MISS_WARMUP + MISSES):
        text = f"{base_text}{i + 1}"  # a fresh storage directory per run: every text is a miss
        assert len(text) <= MAX_TEXT_CHARS, len(text)
        body = json.dumps({"text": text, "consent": "self", "prompt_audio_base64": prompt_b64, "prompt_format": "wav",
                           "format": "mp3"}).encode()
        t0 = time.perf_counter()
        r = requests.post(f"{app.base_url}/v1/tts", data=body, headers=headers, timeout=60)
        client_ms = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            raise RuntimeError(f"miss request failed: {r.status_code} {r.text[:300]}")
        answer = r.json()
        stages = server_timing(r.headers.get("Server-Timing", ""))
        if answer.get("cached") or "infer" not in stages:
            raise RuntimeError(f"expected a miss with an infer stage, got cached={answer.get('cached')} {stages}")
        req = build_request(text=text, reference_wav=samples, mode=answer.get("mode") or "cross_lingual")
        local = []
        for _ in range(3):
            t1 = time.perf_counter()
            engine.synthesize(req)
            local.append((time.perf_counter() - t1) * 1000)
        # A prompt seen before is decoded lazily, when the model needs its samples: then `decode` is timed
        # inside `infer` (it is larger than `voice`, so it cannot be inside it) and is relay work, not model.
        decode = stages.get("decode", 0.0)
        decode_in_infer = decode > stages.get("voice", 0.0)
        model_ms = stages["infer"] - (decode if decode_in_infer else 0.0)
        parts = {k: v for k, v in stages.items() if k not in ("total", "infer", "decode")}
        if decode_in_infer:
            parts["decode (in infer)"] = decode
        parts["unaccounted"] = max(0.0, stages["total"] - model_ms - sum(parts.values()))
        row = {"stages": stages, "parts": parts, "client_ms": client_ms, "model_ms": model_ms,
               "overhead": stages["total"] - model_ms, "inproc_ms": statistics.median(local),
               "duration_s": answer.get("duration_s", 0.0)}
        warm = i < MISS_WARMUP
        log(f"  {'warm-up' if warm else 'miss'} {i + 1 - (0 if warm else MISS_WARMUP):>2}: {len(text)} chars, "
            f"{row['duration_s']:.1f}s audio; total {stages['total']:.1f} ms, infer {stages['infer']:.1f} ms "
            f"(Triton call {model_ms:.1f}, in-process engine {row['inproc_ms']:.1f}), "
            f"overhead {row['overhead']:.1f} ms "
            f"(encode {stages.get('encode', 0):.1f}, decode {decode:.1f}, store {stages.get('store', 0):.1f}, "
            f"voice {stages.get('voice', 0):.1f})")
        if not warm:
            rows.append(row)
    return {"rows": rows}


def prompt_phase(engine, base_text: str) -> dict:
    import av
    import soxr

    from functions.audio.decode import decode_prompt
    from functions.audio.identity import pcm_hash
    from inference.engines import build_request

    speech = engine.synthesize(build_request(text=base_text))
    while speech.size < 10 * 24000:
        speech = np.concatenate([speech, engine.synthesize(build_request(text=base_text))])
    clip = soxr.resample(0.8 * speech[: 10 * 24000], 24000, 44100).astype(np.float32)
    pcm = (np.clip(clip, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
    buf = io.BytesIO()
    with av.open(buf, "w", format="adts") as out:
        stream = out.add_stream("aac", rate=44100, layout="mono")
        stream.bit_rate = 96000
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = 44100
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = buf.getvalue()
    log(f"prompt processing: 10 s ADTS AAC 44.1 kHz ({len(data) / 1024:.0f} KiB), {PROMPT_RUNS} runs in-process ...")
    decode_prompt(data, "aac")  # warm-up (codec tables, resampler)
    totals, decodes, hashes = [], [], []
    for _ in range(PROMPT_RUNS):
        t0 = time.perf_counter()
        prompt = decode_prompt(data, "aac")
        t1 = time.perf_counter()
        pcm_hash(prompt.samples)
        t2 = time.perf_counter()
        decodes.append((t1 - t0) * 1000)
        hashes.append((t2 - t1) * 1000)
        totals.append((t2 - t0) * 1000)
    result = {"total": totals, "decode": decodes, "hash": hashes, "seconds": prompt.duration_s}
    log(f"  decoded {prompt.duration_s:.2f}s; decode p50 {pct(decodes, 50):.2f} ms, voice_hash p50 "
        f"{pct(hashes, 50):.2f} ms; total p50 {pct(totals, 50):.2f} ms p95 {pct(totals, 95):.2f} ms")
    return result


# -- plot ---------------------------------------------------------------------------------------------------------
def plot(hit: dict, bare: dict, misses: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))

    ax = axes[0]
    for summary, color in ((hit, "#e76f51"), (bare, "#2a9d8f")):
        values = np.sort(summary["latency"])
        if values.size:
            ax.plot(values, np.arange(1, values.size + 1) / values.size, color=color,
                    label=f"{summary['name']} ({summary['rps']:.0f} rps)")
    ax.set_xscale("log")
    ax.set_xlabel("client latency (ms, log)")
    ax.set_ylabel("fraction of requests")
    ax.set_title("client latency CDF")
    ax.legend(fontsize=8)

    ax = axes[1]
    for summary, color in ((hit, "#e76f51"), (bare, "#2a9d8f")):
        values = np.sort(summary["server"])
        if values.size:
            ax.plot(values, np.arange(1, values.size + 1) / values.size, color=color, label=summary["name"])
    ax.axvline(5, color="grey", linestyle="--", linewidth=1, label="target 5 ms (hit p50)")
    ax.set_xscale("log")
    ax.set_xlabel("server-side total (ms, Server-Timing, log)")
    ax.set_title("server-side time CDF")
    ax.legend(fontsize=8)

    ax = axes[2]
    rows = misses["rows"]
    parts = stage_means([r["parts"] for r in rows])
    model = statistics.fmean(r["model_ms"] for r in rows)
    inproc = statistics.fmean(r["inproc_ms"] for r in rows)
    bottom = 0.0
    colors = plt.get_cmap("tab10")
    for i, (name, value) in enumerate(parts.items()):
        ax.bar(["relay overhead\n(total - Triton call)"], [value], bottom=bottom, color=colors(i % 10),
               label=f"{name} {value:.1f}")
        bottom += value
    ax.bar(["Triton call\n(infer)"], [model], color="#264653", label=f"Triton call {model:.1f}")
    ax.bar(["in-process\nengine"], [inproc], color="#8ab17d", label=f"in-process {inproc:.1f}")
    ax.axhline(50, color="grey", linestyle="--", linewidth=1)
    ax.set_ylabel("mean ms per request")
    ax.set_title(f"miss path (~{statistics.fmean(r['duration_s'] for r in rows):.0f} s mp3), mean ms; 50 ms target")
    ax.legend(fontsize=7)

    fig.suptitle("relay: cache hit vs bare endpoint, and miss-path overhead (espeak through Triton)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    log(f"plot: {out}")


def guards_phase(runs: int = 2000) -> dict:
    """Per-request cost of what guards a cache hit: authentication (API key, then a JWT), the rate/quota
    charge (in-process; Redis too when one answers on 127.0.0.1:6379) and the local keyword check with a
    10,000-word list, called in-process on the hit's 40-character text."""
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from functions.auth.api_keys import ApiKeyAuth
    from functions.auth.tokens import BearerTokenAuth, TokenService
    from functions.limits.memory import MemoryLimiter
    from functions.moderation import Subject
    from functions.moderation.keywords import KeywordFilter
    from functions.settings import Settings

    settings = Settings.from_env({}, rate_limit_per_minute=10**9, daily_char_quota=10**12)
    key = secrets.token_urlsafe(32)
    api_keys = ApiKeyAuth({f"k{i}": hashlib.sha256(f"other{i}".encode()).hexdigest() for i in range(20)}
                          | {"bench": hashlib.sha256(key.encode()).hexdigest()})
    tokens = TokenService({"k1": "s" * 40}, "k1")
    token, _ = tokens.issue("oUser123456")
    jwt_auth = BearerTokenAuth(tokens)
    keywords = KeywordFilter(f"敏感词{i:05d}" for i in range(10_000))
    text = "你好，欢迎使用语音合成服务。今天的天气非常好，我们一起去公园散步吧。"
    limiters = {"memory": MemoryLimiter(settings)}
    try:
        import redis

        from functions.limits.redis_limits import RedisLimiter

        client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.3)
        client.ping()
        limiters["redis"] = RedisLimiter(client, settings, prefix=f"bench-{secrets.token_hex(4)}:")
    except Exception:  # noqa: BLE001 - no local Redis: in-process only
        pass
    api_req = Request(EnvironBuilder(headers={"X-Api-Key": key}).get_environ())
    jwt_req = Request(EnvironBuilder(headers={"Authorization": f"Bearer {token}"}).get_environ())
    results = {}
    for name, limiter in limiters.items():
        for auth_name, (auth, req) in {"api_key": (api_keys, api_req), "jwt": (jwt_auth, jwt_req)}.items():
            samples = []
            for _ in range(runs):
                t0 = time.perf_counter()
                identity = auth(req)
                limiter.charge(f"{identity.method}:{identity.subject}", len(text))
                keywords.check(Subject(text, identity.method, identity.subject))
                samples.append((time.perf_counter() - t0) * 1000)
            results[f"{auth_name} + {name} limiter + 10k keywords"] = samples
    return results


# -- main ---------------------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per load phase")
    ap.add_argument("--concurrency", type=int, default=4, help="concurrent keep-alive connections")
    ap.add_argument("--out", default="artifacts/bench_relay.png")
    args = ap.parse_args()

    from inference.engines import OUTPUT_SAMPLE_RATE, build_request, load_engine

    started = time.monotonic()
    engine = load_engine("espeak")
    base_text = text_for_seconds(engine, 10)
    log(f"miss text: {len(base_text)} chars -> "
        f"{engine.synthesize(build_request(text=base_text)).size / OUTPUT_SAMPLE_RATE:.1f}s of audio in-process")
    prompt = PROMPT_WAV.read_bytes()

    workdir = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    triton_log, app_log = workdir / "triton.log", workdir / "gunicorn.log"
    key = secrets.token_urlsafe(32)
    auth = {"Authorization": f"Bearer {key}"}
    triton = TritonServer(http_port=free_port(), grpc_port=free_port(), metrics_port=free_port(), engine="espeak",
                          log_path=triton_log)
    app: Gunicorn | None = None
    pool: ProcessPoolExecutor | None = None
    failed = True
    try:
        log("starting Triton (espeak) ...")
        triton.start()
        log(f"  Triton ready in {triton.wait_ready(progress=log):.1f}s (gRPC {triton.grpc_url})")
        port = free_port()
        env = dict(os.environ)
        env.update({
            "TRITON_URL": triton.grpc_url, "TRITON_PROTOCOL": "grpc", "ENGINE": "espeak",
            "STORAGE": "local", "STORAGE_DIR": str(workdir / "storage"),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "LOG_LEVEL": "WARNING", "REDIS_URL": "",
            "API_KEYS": f"bench:{hashlib.sha256(key.encode()).hexdigest()}",
            # per-caller limits off (0 = none): one caller sends thousands of requests here
            "RATE_LIMIT_PER_MINUTE": "0", "DAILY_CHAR_QUOTA": "0",
        })
        app = Gunicorn(port, env, app_log)
        log(f"starting the app under gunicorn (2 workers) on 127.0.0.1:{port} ...")
        app.start()
        log(f"  /readyz 200 after {app.wait_ready():.1f}s")

        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        hit, bare = cache_hit_phase(pool, app, auth, prompt, args)
        misses = miss_phase(app, auth, prompt, engine, base_text)
        prompt_result = prompt_phase(engine, base_text)
        guards = guards_phase()
        failed = False
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if app is not None:
            app.stop()
        triton.stop()
        if failed:
            log(f"--- gunicorn log (tail) ---\n{tail(app_log)}\n--- Triton log (tail) ---\n{tail(triton_log)}")
        shutil.rmtree(workdir, ignore_errors=True)
        log("stopped gunicorn and Triton")

    # -- summary ------------------------------------------------------------------------------------------------
    hit_means = stage_means(hit["stages"])
    hit_p50 = pct(hit["server"], 50)
    ratio = hit["rps"] / bare["rps"] if bare["rps"] else float("nan")
    rows = misses["rows"]
    overhead = [r["overhead"] for r in rows]
    triton_extra = [r["model_ms"] - r["inproc_ms"] for r in rows]
    miss_means = stage_means([r["stages"] for r in rows])
    prompt_p50 = pct(prompt_result["total"], 50)

    log("\n=== summary ===")
    log(f"cache hit ({args.concurrency} connections, {args.duration:.0f}s): {hit['n']} requests, {hit['rps']:.1f} rps; "
        f"server-side p50 {hit_p50:.2f} ms p99 {pct(hit['server'], 99):.2f} ms; "
        f"client p50 {pct(hit['latency'], 50):.2f} ms p99 {pct(hit['latency'], 99):.2f} ms")
    log("  mean Server-Timing stages (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in hit_means.items())
        + "  (decode is inside voice)")
    if hit_means:
        top = {k: v for k, v in hit_means.items() if k not in NESTED and k != "total"}
        top["outside stages (body parse, auth, routing, middleware)"] = max(
            0.0, hit_means.get("total", 0.0) - sum(top.values()))
        if top:
            name = max(top, key=top.get)
            share = top[name] / hit_means["total"] * 100 if hit_means.get("total") else float("nan")
            log(f"  dominant stage: {name} ({top[name]:.2f} ms, {share:.0f}% of total)"
                + (f"; decode {hit_means['decode']:.2f} ms mean, present in "
                   f"{sum('decode' in s for s in hit['stages'])} of {len(hit['stages'])} hits"
                   if "decode" in hit_means else "; no decode stage on hits (prompt alias reused)"))
    log(f"bare /healthz: {bare['n']} requests, {bare['rps']:.1f} rps; client p50 {pct(bare['latency'], 50):.2f} ms "
        f"p99 {pct(bare['latency'], 99):.2f} ms; server-side p50 {pct(bare['server'], 50):.2f} ms")
    log(f"hit rps / bare rps = {ratio:.2f}")
    log(f"  target cache-hit server-side p50 <= 5 ms: {hit_p50:.2f} ms -> {verdict(hit_p50 <= 5)}")
    log(f"  target hit rps >= 0.5 x bare rps: {ratio:.2f} -> {verdict(ratio >= 0.5)}")
    log(f"miss path ({len(rows)} misses, ~{statistics.fmean(r['duration_s'] for r in rows):.1f}s mp3 each): "
        f"overhead (total - Triton call) p50 {pct(overhead, 50):.1f} ms max {max(overhead):.1f} ms; "
        f"Triton call p50 {pct([r['model_ms'] for r in rows], 50):.1f} ms vs in-process engine p50 "
        f"{pct([r['inproc_ms'] for r in rows], 50):.1f} ms (Triton + gRPC p50 {pct(triton_extra, 50):.1f} ms)")
    log("  mean Server-Timing stages (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in miss_means.items()))
    parts = stage_means([r["parts"] for r in rows])
    log("  overhead breakdown (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
        + f"; largest: {max(parts, key=parts.get)}")
    log(f"  target overhead <= 50 ms: p50 {pct(overhead, 50):.1f} ms, max {max(overhead):.1f} ms -> "
        f"{verdict(max(overhead) <= 50)} (p50 {verdict(pct(overhead, 50) <= 50)})")
    log(f"prompt processing (10 s AAC 44.1 kHz, {PROMPT_RUNS} runs): p50 {prompt_p50:.2f} ms "
        f"p95 {pct(prompt_result['total'], 95):.2f} ms (decode p50 {pct(prompt_result['decode'], 50):.2f}, "
        f"voice_hash p50 {pct(prompt_result['hash'], 50):.2f})")
    log(f"  target <= 30 ms: {verdict(prompt_p50 <= 30)}")
    log("guards on a cache hit (authentication, limits, local keyword check), per request:")
    for name, samples in guards.items():
        log(f"  {name}: p50 {pct(samples, 50) * 1000:.0f} us p99 {pct(samples, 99) * 1000:.0f} us "
            f"-> target <= 1 ms: {verdict(pct(samples, 50) <= 1.0)}")
    plot(hit, bare, misses, Path(args.out))
    log(f"done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
