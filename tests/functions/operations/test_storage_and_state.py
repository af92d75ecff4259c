"""S3 storage against a real S3 HTTP server (moto), Redis state and cross-process single-flight, and faults."""

from __future__ import annotations

import io
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.endpoint import TritonEndpoint
from functions.settings import Settings
from functions.state import MemoryState
from functions.state.redis_state import RedisState, ResilientState
from functions.storage import StorageUnavailable
from functions.storage.local import LocalStore
from functions.storage.s3 import S3Store
from inference.serve import free_port

from ...audio_samples import recorder_files
from tests.support import LocalClient as Client, triton_inference_count

TEXT = "对象存储里的音频。"


def s3_store(endpoint_url: str, bucket: str, **kw) -> S3Store:
    settings = Settings.from_env({}, storage="s3", s3_bucket=bucket, s3_endpoint_url=endpoint_url,
                                 s3_region="us-east-1", s3_addressing_style="path", **kw)
    return S3Store.from_settings(settings)


def post(client, text=TEXT, audio=None):
    audio = audio or recorder_files()["wav_16k_mono"][0]
    return client.post("/v1/tts", data={"consent": "self", "audio": (io.BytesIO(audio), "a.wav"), "text": text},
                       content_type="multipart/form-data")


def test_s3_store_roundtrip_and_presigned_url(s3_server, s3_bucket):
    store = s3_store(s3_server, s3_bucket)
    store.ping()
    assert store.head("tts/ab/x.mp3") is None
    store.put("tts/ab/x.mp3", b"ID3data", "audio/mpeg", {"duration_s": "1.5"})
    info = store.head("tts/ab/x.mp3")
    assert info.size == 7 and info.content_type == "audio/mpeg" and info.metadata["duration_s"] == "1.5"
    url, lifetime = store.url("tts/ab/x.mp3")
    assert lifetime == 3600 and "X-Amz-Signature" in url
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.read() == b"ID3data"
    cdn = s3_store(s3_server, s3_bucket, cdn_base_url="https://cdn.example.com/")
    assert cdn.url("tts/ab/x.mp3") == ("https://cdn.example.com/tts/ab/x.mp3", None)


def test_task_id_secret_is_created_once_on_s3_and_shared_by_instances(s3_server, s3_bucket):
    from concurrent.futures import ThreadPoolExecutor

    from functions.tts.cache_key import TaskIdSecret

    instances = [TaskIdSecret(s3_store(s3_server, s3_bucket)) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:  # instances starting together: one secret wins, all read it
        secrets = set(pool.map(lambda secret: secret(), instances))
    assert len(secrets) == 1 and len(secrets.pop()) == 32
    store = s3_store(s3_server, s3_bucket)
    assert store.put_if_absent("keys/other", b"1", "text/plain") is True
    assert store.put_if_absent("keys/other", b"2", "text/plain") is False and store.get("keys/other") == b"1"


def test_end_to_end_on_s3(make_app, s3_server, s3_bucket, triton):
    client = Client(make_app(storage=s3_store(s3_server, s3_bucket)))
    first = post(client)
    assert first.status_code == 200, first.json
    assert first.json["expires_at"].endswith("Z")
    with urllib.request.urlopen(first.json["audio_url"], timeout=5) as resp:
        assert resp.headers["Content-Type"] == "audio/mpeg" and len(resp.read()) > 1000
    before = triton_inference_count(triton)
    again = post(client)
    assert again.json["cached"] and triton_inference_count(triton) == before


def test_storage_down_is_a_503_with_retry_after_and_readyz_says_so(make_app):
    dead = s3_store(f"http://127.0.0.1:{free_port()}", "nobucket")
    client = Client(make_app(storage=dead))
    r = post(client, text=TEXT + "存储故障")
    assert r.status_code == 503 and r.json["error"]["code"] == "storage_unavailable"
    assert int(r.headers["Retry-After"]) > 0
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


class FailsAudioPut:
    """Local storage whose put of synthesized audio fails (the subtitles beside it are written first)."""

    def __init__(self, store) -> None:
        self.store, self.failing = store, True

    def __getattr__(self, name):
        return getattr(self.store, name)

    def put(self, key, data, content_type, metadata):
        from functions.storage import StorageUnavailable

        if self.failing and key.startswith("tts/") and not key.endswith(".vtt"):
            raise StorageUnavailable("the store went away mid-write")
        return self.store.put(key, data, content_type, metadata)


def test_a_result_whose_audio_was_not_stored_is_never_done(make_app, tmp_path):
    """A half-stored result (subtitles written, the audio's put failed): a 503, no task that says done, no
    file; once the store is back the same request renders and stores the whole result."""
    store = FailsAudioPut(LocalStore(tmp_path / "half", "http://testserver"))
    client = Client(make_app(storage=store))
    r = post(client, text=TEXT + "写一半")
    assert r.status_code == 503 and r.json["error"]["code"] == "storage_unavailable"
    audio = [p for p in (tmp_path / "half" / "tts").rglob("*") if p.is_file() and ".vtt" not in p.name]
    assert audio == []
    store.failing = False
    again = post(client, text=TEXT + "写一半")
    assert again.status_code == 200 and again.json["cached"] is False  # rendered again, not a hit on nothing
    assert client.get(f"/v1/tts/{again.json['task_id']}").json["status"] == "done"
    assert store.store.head(f"tts/{again.json['task_id'][:2]}/{again.json['task_id']}.mp3") is not None


def test_inference_down_gives_503_and_stores_nothing(make_app, tmp_path):
    dead = TritonEndpoint(f"127.0.0.1:{free_port()}", retries=1, backoff_s=0.01, connect_timeout_s=0.5)
    storage_dir = tmp_path / "dead-infer"
    client = Client(make_app(endpoint=dead, storage=LocalStore(storage_dir, "http://testserver")))
    r = post(client, text=TEXT + "推理故障")
    assert r.status_code == 503 and r.json["error"]["code"] == "inference_unavailable"
    assert int(r.headers["Retry-After"]) > 0
    assert not any(p.is_file() for p in (storage_dir / "tts").rglob("*"))  # no audio, not even a partial one
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["inference"]["ok"] is False


def test_inference_over_http_protocol(make_app, triton):
    endpoint = TritonEndpoint(triton.http_url, protocol="http")
    r = post(Client(make_app(endpoint=endpoint)), text=TEXT + "HTTP 协议")
    assert r.status_code == 200 and r.json["duration_s"] > 0.5


def redis_state(url, prefix, mode="degrade"):
    from functions.state.redis_client import connect

    client = connect(url)
    return ResilientState(RedisState(client, prefix), MemoryState(), mode=mode)


def test_single_flight_across_processes_with_redis(make_app, triton, redis_url, redis_prefix, tmp_path):
    # Two app instances share nothing but Redis and storage, as two worker processes would.
    storage_dir = tmp_path / "shared"
    apps = [make_app(state=redis_state(redis_url, redis_prefix), storage=LocalStore(storage_dir, "http://t"))
            for _ in range(2)]
    audio = recorder_files()["wav_16k_mono"][0]
    before = triton_inference_count(triton)
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda i: post(Client(apps[i % 2]), TEXT + "跨进程", audio), range(20)))
    assert all(r.status_code == 200 for r in responses)
    assert triton_inference_count(triton) - before == 1
    # the task record is in Redis: a third instance answers from it
    third = make_app(state=redis_state(redis_url, redis_prefix), storage=LocalStore(storage_dir, "http://t"))
    assert Client(third).get(f"/v1/tts/{responses[0].json['task_id']}").status_code == 200


def test_redis_down_degrades_by_default(make_app):
    dead = redis_state(f"redis://127.0.0.1:{free_port()}/0", "x:")
    client = Client(make_app(state=dead))
    r = post(client, text=TEXT + "Redis 故障")
    assert r.status_code == 200
    assert client.get("/readyz").json["checks"]["state"]["ok"] is False


def test_redis_down_fails_with_503_when_configured(make_app):
    dead = redis_state(f"redis://127.0.0.1:{free_port()}/0", "x:", mode="fail")
    r = post(Client(make_app(state=dead)), text=TEXT + "Redis 故障二")
    assert r.status_code == 503 and r.json["error"]["code"] == "state_unavailable" and r.headers["Retry-After"]


def test_local_store_is_atomic_and_refuses_unsafe_keys(tmp_path):
    store = LocalStore(tmp_path, "http://t")
    store.put("tts/aa/k.mp3", b"x" * 10, "audio/mpeg", {"duration_s": "1"})
    assert store.head("tts/aa/k.mp3").metadata == {"duration_s": "1"}
    assert not [p for p in tmp_path.rglob(".tmp-*")]
    with pytest.raises(ValueError):
        store.path("../etc/passwd")
    assert store.head("../../etc/passwd") is None


def test_local_store_unwritable_raises_unavailable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageUnavailable):
        LocalStore(blocker, "http://t").put("tts/aa/k.mp3", b"x", "audio/mpeg", {})


def test_local_listing_survives_directories_vanishing_under_it(tmp_path):
    """Another process deletes voices (and their emptied directories) while this one lists: no error."""
    import threading

    store = LocalStore(tmp_path, "http://x")
    stop = threading.Event()

    def churn():
        i = 0
        while not stop.is_set():
            key = f"voices/owner/v{i % 5}/prompt.wav"
            store.put(key, b"x", "audio/wav", {})
            store.delete(key)
            i += 1

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(2000):
            assert all(k.startswith("voices/owner/") for k in store.list_keys("voices/owner/"))
    finally:
        stop.set()
        thread.join()
