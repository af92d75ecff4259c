"""Limits: exact per-identity rate limits across processes (Redis), daily character quota, free cache hits,
and the global cap on in-flight misses."""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import redis

from functions.limits.memory import MemoryLimiter
from functions.limits.redis_limits import RedisLimiter
from functions.settings import Settings

from ...audio_samples import recorder_files
from tests.support import ALICE_KEY, BOB_KEY, client_for, triton_inference_count

AUDIO = None


def body(text: str) -> str:
    global AUDIO
    AUDIO = AUDIO or base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
    return json.dumps({"text": text, "consent": "self", "prompt_audio_base64": AUDIO})


def post(client, text):
    return client.post("/v1/tts", data=body(text), content_type="application/json")


def redis_limiter(url, prefix, **settings):
    return RedisLimiter(redis.Redis.from_url(url), Settings.from_env({}, **settings), prefix=prefix)


def test_exactly_n_of_4n_concurrent_across_two_processes_then_the_window_reopens(redis_url, redis_prefix):
    n, window = 5, 2
    # two limiters with separate connections stand for two worker processes
    limiters = [redis_limiter(redis_url, redis_prefix, rate_limit_per_minute=n, rate_window_s=window,
                              daily_char_quota=0) for _ in range(2)]
    # start just after a window boundary so all 4N calls fall into one window
    time.sleep(window - (time.time() % window) + 0.05)
    barrier = threading.Barrier(4 * n)

    def call(i):
        barrier.wait()
        return limiters[i % 2].charge("wechat:oUser", 10)

    with ThreadPoolExecutor(4 * n) as pool:
        results = list(pool.map(call, range(4 * n)))
    allowed = [r for r in results if r.allowed]
    assert len(allowed) == n
    refused = [r for r in results if not r.allowed]
    assert all(r.reason == "rate" and 1 <= r.retry_after_s <= window + 1 for r in refused)
    time.sleep(max(r.retry_after_s for r in refused))
    assert limiters[0].charge("wechat:oUser", 10).allowed  # the next window reopens
    assert limiters[1].charge("wechat:oOther", 10).allowed  # other identities never shared the count


def test_daily_quota_counts_characters(redis_url, redis_prefix):
    limiter = redis_limiter(redis_url, redis_prefix, rate_limit_per_minute=0, daily_char_quota=100)
    assert limiter.charge("u", 60).allowed
    assert limiter.charge("u", 40).allowed
    refused = limiter.charge("u", 1)
    assert not refused.allowed and refused.reason == "quota" and refused.retry_after_s > 0
    memory = MemoryLimiter(Settings.from_env({}, rate_limit_per_minute=0, daily_char_quota=100))
    assert memory.charge("u", 100).allowed and not memory.charge("u", 1).allowed


def test_http_429_with_retry_after_and_free_cache_hits(make_app):
    app = make_app(rate_limit_per_minute=2, daily_char_quota=0, limit_cache_hits=False, dev_mode=False)
    alice, bob = client_for(app, ALICE_KEY), client_for(app, BOB_KEY)
    assert post(alice, "第一句。").status_code == 200
    assert post(alice, "第二句。").status_code == 200
    limited = post(alice, "第三句。")
    assert limited.status_code == 429 and limited.json["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert post(alice, "第一句。").status_code == 200  # a cache hit costs nothing here
    assert post(bob, "第三句。").status_code == 200


def test_quota_in_http(make_app):
    app = make_app(rate_limit_per_minute=0, daily_char_quota=10, dev_mode=False)
    alice = client_for(app, ALICE_KEY)
    assert post(alice, "一二三四五六七八").status_code == 200  # 8 characters
    r = post(alice, "九十十一")
    assert r.status_code == 429 and r.json["error"]["code"] == "daily_quota_exceeded" and r.headers["Retry-After"]


def test_markup_is_charged_as_spoken(make_app, triton):
    """Each pinyin syllable is spoken and each sound tag heard: they are charged like characters."""
    app = make_app(rate_limit_per_minute=0, daily_char_quota=9, dev_mode=False)
    alice = client_for(app, ALICE_KEY)
    assert post(alice, "她[h][ào]干净[breath]").status_code == 200  # 3 characters + 1 syllable + 1 tag = 5
    r = post(alice, "他[h][ào]干净[breath]")  # another 5: over 9 (3 + 3 if markup were free)
    assert r.status_code == 429 and r.json["error"]["code"] == "daily_quota_exceeded"
    bob = client_for(app, BOB_KEY)
    assert post(bob, "哈" * 4 + "[h][ā]" * 4).status_code == 200  # 4 characters + 4 syllables
    before = triton_inference_count(triton)
    for text in ["好" + "[breath]" * 450, "。" + "[ni3][hao3]" * 330, "你" + "[ni3][hao3]" * 330,
                 "[breath]" * 3, "<strong></strong>好", "好[laughter]" + "[breath]" * 2]:
        r = post(bob, text)  # mostly markup: refused before any charge or inference
        assert r.status_code == 400 and r.json["error"]["code"] == "invalid_markup", text[:30]
    huge = post(bob, "好[breath]" * 20_000)  # 160 KB of markup: refused by the relay, never sent on
    assert huge.status_code == 400 and huge.json["error"]["code"] == "text_too_long"
    assert triton_inference_count(triton) == before
    assert post(bob, "哈哈").status_code == 429  # 8 + 2 > 9: the four syllables were charged as four


def test_global_cap_on_inflight_misses(redis_url, redis_prefix):
    a = redis_limiter(redis_url, redis_prefix, max_inflight_misses=2)
    b = redis_limiter(redis_url, redis_prefix, max_inflight_misses=2)
    t1, t2 = a.acquire_slot(30), b.acquire_slot(30)
    assert t1 and t2 and a.acquire_slot(30) is None and b.acquire_slot(30) is None
    b.release_slot(t1)
    assert a.acquire_slot(30) is not None
    # a crashed holder's lease lapses on its own
    c = redis_limiter(redis_url, redis_prefix + "x", max_inflight_misses=1)
    assert c.acquire_slot(0.2) is not None and c.acquire_slot(30) is None
    time.sleep(0.3)
    assert c.acquire_slot(30) is not None


def test_a_full_gpu_turns_misses_into_jobs(make_app):
    app = make_app(max_inflight_misses=1, slot_wait_s=0.3)
    token = app.services.limiter.acquire_slot(60)  # someone else holds the only slot
    client = client_for(app)
    r = post(client, "没有空闲的合成槽位。")
    assert r.status_code == 202 and r.json["status"] == "queued" and r.headers["Retry-After"]
    app.services.limiter.release_slot(token)
    deadline = time.monotonic() + 30
    while client.get(r.json["poll_url"]).json["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert post(client, "没有空闲的合成槽位。").json["cached"]


def test_enrollment_counts_against_the_rate_limit(make_app):
    import io

    app = make_app(rate_limit_per_minute=1, daily_char_quota=0, dev_mode=False)
    alice = client_for(app, ALICE_KEY)
    enroll = lambda: alice.post("/v1/voices", data={"consent": "self", "audio": (io.BytesIO(recorder_files()["wav_16k_mono"][0]),  # noqa
                                                              "a.wav")}, content_type="multipart/form-data")
    assert enroll().status_code == 201
    limited = enroll()
    assert limited.status_code == 429 and limited.headers["Retry-After"]


def test_in_process_slot_leases_lapse():
    now = [1000.0]
    limiter = MemoryLimiter(Settings.from_env({}, max_inflight_misses=1), clock=lambda: now[0])
    assert limiter.acquire_slot(30) is not None
    assert limiter.acquire_slot(30) is None
    now[0] += 31  # the holder never released it (its Redis flapped back mid-request)
    assert limiter.acquire_slot(30) is not None
