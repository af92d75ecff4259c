"""The request path on in-memory parts: cache, single-flight, jobs, limits, moderation, owners."""

from __future__ import annotations

import io
import json
import threading

import pytest

from functions.queues import MemoryQueue
from functions.tts.request import RequestLimits, build_request
from functions.tts.tasks import TaskRecord, TaskStatus
from tests.audio_samples import recorder_files
from tests.support import ALICE_KEY, BOB_KEY, LocalClient, client_for

LONG = "".join(f"第{i}段很长的文字。" for i in range(20))


def post(client, text, **fields):
    return client.post("/v1/tts", data=json.dumps({"text": text, "voice_id": "default", **fields}),
                       content_type="application/json")


def test_a_miss_renders_once_and_the_repeat_is_a_hit(unit_app, endpoint):
    client = LocalClient(unit_app())
    first = post(client, "你好。")
    again = post(client, "  你好。 ")  # the same text once normalized
    assert (first.status_code, first.json["cached"]) == (200, False)
    assert (again.json["task_id"], again.json["cached"]) == (first.json["task_id"], True)
    assert len(endpoint.requests) == 1
    assert "validate" in first.headers["Server-Timing"] and "infer" in first.headers["Server-Timing"]


def test_concurrent_identical_misses_share_one_inference(unit_app, endpoint):
    client = LocalClient(unit_app())
    results = []
    threads = [threading.Thread(target=lambda: results.append(post(client, "同一句话。").json)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r["task_id"] for r in results}) == 1 and len(endpoint.requests) == 1
    assert sorted(r["cached"] for r in results) == [False] + [True] * 5


def test_a_long_text_is_a_job_a_worker_finishes(unit_app, endpoint):
    app = unit_app(max_text_chars=50)
    client = LocalClient(app)
    queued = post(client, LONG)
    assert queued.status_code == 202 and queued.headers["Location"] == queued.json["poll_url"]
    assert client.get(queued.json["poll_url"]).json["status"] == "queued"
    assert post(client, LONG).json["task_id"] == queued.json["task_id"]  # identical requests share the job
    assert app.services.queue.depth() == 1
    assert app.services.worker.run_once(wait_s=0) == 1
    done = client.get(queued.json["poll_url"]).json
    assert done["status"] == "done" and done["audio_url"] and len(endpoint.requests) == 4  # four segments


def test_a_job_is_not_run_twice(unit_app, endpoint):
    app = unit_app(max_text_chars=50)
    body = post(LocalClient(app), LONG).json
    job = app.services.queue.receive(1)[0].job
    app.services.jobs.run(job)
    app.services.jobs.run(job)  # delivered again after the result was stored
    assert len(endpoint.requests) == 4 and app.services.tasks.get(body["task_id"]).status is TaskStatus.DONE


def test_the_worker_retries_then_fails_with_the_reason(unit_app, endpoint):
    queue = MemoryQueue()
    app = unit_app(queue=queue, max_text_chars=50, job_max_attempts=2, job_backoff_s=0)
    body = post(LocalClient(app), LONG).json
    endpoint.down = True
    worker = app.services.worker
    assert worker.handle(queue.receive(1)[0]) == "retry"
    record = app.services.tasks.get(body["task_id"])
    assert (record.status, record.attempts, record.last_error) == (TaskStatus.QUEUED, 1, "inference_unavailable")
    assert worker.handle(queue.receive(1, wait_s=1)[0]) == "failed" and queue.depth() == 0
    assert app.services.tasks.get(body["task_id"]).error.code == "inference_unavailable"


def test_two_callers_never_share_an_uploaded_voice_by_id(unit_app):
    app = unit_app(dev_mode=False)
    audio = recorder_files()["wav_16k_mono"][0]
    upload = {"consent": "self", "audio": (io.BytesIO(audio), "a.wav")}
    voice = client_for(app, ALICE_KEY).post("/v1/voices", data=upload, content_type="multipart/form-data")
    assert voice.status_code == 201, voice.json
    voice_id = voice.json["voice_id"]
    bob = client_for(app, BOB_KEY)
    assert bob.get(f"/v1/voices/{voice_id}").status_code == 404
    r = bob.post("/v1/tts", data=json.dumps({"text": "借用别人的声音。", "voice_id": voice_id}),
                 content_type="application/json")
    assert r.status_code == 404 and r.json["error"]["code"] == "voice_not_found"
    assert client_for(app, ALICE_KEY).post("/v1/tts", data=json.dumps({"text": "我的声音。", "voice_id": voice_id}),
                                           content_type="application/json").status_code == 200


def test_requests_need_credentials_outside_development_mode(unit_app):
    app = unit_app(dev_mode=False)
    r = LocalClient(app).post("/v1/tts", data=json.dumps({"text": "你好。", "voice_id": "default"}),
                              content_type="application/json")
    assert r.status_code == 401
    assert client_for(app, "not-a-key").get("/v1/voices").status_code == 401


def test_limits_charge_what_is_spoken(unit_app, endpoint):
    app = unit_app(dev_mode=False, daily_char_quota=10)
    alice = client_for(app, ALICE_KEY)
    assert post(alice, "你好[h][ǎo]。").status_code == 200  # 3 characters + 1 syllable
    refused = post(alice, "一二三四五六七。")
    assert refused.status_code == 429 and refused.json["error"]["code"] == "daily_quota_exceeded"
    assert int(refused.headers["Retry-After"]) > 0
    assert post(client_for(app, BOB_KEY), "一二三四五六七。").status_code == 200  # each caller has their own


def test_rate_limit_is_a_429_with_retry_after(unit_app):
    alice = client_for(unit_app(dev_mode=False, rate_limit_per_minute=2), ALICE_KEY)
    codes = [post(alice, f"第{i}句。").status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_moderation_refuses_before_any_inference(unit_app, endpoint):
    r = post(LocalClient(unit_app()), "请说违·禁·测·试·词")
    assert r.status_code == 422 and r.json["error"]["code"] == "content_refused" and not endpoint.requests
    assert "违" not in r.get_data(as_text=True)


def test_every_slot_taken_turns_a_miss_into_a_job(unit_app, endpoint):
    app = unit_app(max_inflight_misses=1, slot_wait_s=0)
    token = app.services.limiter.acquire_slot(60)
    r = post(LocalClient(app), "忙的时候。")
    assert r.status_code == 202 and not endpoint.requests
    app.services.limiter.release_slot(token)


def test_the_request_is_typed_once():
    limits = RequestLimits(max_text_chars=10, max_long_text_chars=20, max_instruct_chars=20, max_body_bytes=1000,
                           max_prompt_bytes=1000)
    req = build_request({"text": " 你好\n世界 ", "voice_id": "default", "instruct": "四川话", "speed": 1.234},
                        None, limits)
    assert (req.text, req.units, req.long, req.speed, req.format) == ("你好 世界", 5, False, 1.23, "mp3")
    assert req.preset is not None and req.instruct != "四川话"  # the preset's model text
    with pytest.raises(Exception) as exc:
        build_request({"text": "长" * 21, "voice_id": "default"}, None, limits)
    assert exc.value.code == "text_too_long"
    assert build_request({"text": "长" * 11, "voice_id": "default"}, None, limits).long


def test_task_records_have_one_json_form():
    record = TaskRecord(TaskStatus.RUNNING, format="mp3", mode="zero_shot", progress={"done": 1, "total": 3},
                        heartbeat=5.0, job={"id": "k"})
    data = record.to_json()
    assert data["status"] == "running" and "error" not in data
    assert TaskRecord.from_json(json.loads(json.dumps(data))) == record
    failed = TaskRecord.failed("job_lost", "任务已丢失，请重新提交")
    assert TaskRecord.from_json(failed.to_json()) == failed and not failed.active
    with pytest.raises(ValueError):
        TaskRecord.from_json({"status": "finished"})  # no status outside the fixed set


def test_the_local_developer_is_not_throttled_unless_asked(unit_app):
    free = LocalClient(unit_app(rate_limit_per_minute=1))
    assert [post(free, f"第{i}次。").status_code for i in range(3)] == [200, 200, 200]
    limited = LocalClient(unit_app(rate_limit_per_minute=1, dev_limits=True))
    assert [post(limited, f"第{i}次。").status_code for i in range(2)] == [200, 429]


def test_the_documented_local_key_is_the_dev_identity_and_no_other_key_is(unit_app):
    app = unit_app()
    for headers, status in (({"Authorization": "Bearer local-dev"}, 200), ({"X-Api-Key": "local-dev"}, 200),
                            ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": "Basic bG9jYWw="}, 401)):
        r = LocalClient(app).get("/v1/voices", headers=headers)
        assert r.status_code == status, headers
    remote = client_for(unit_app(dev_mode=True), "local-dev")  # from another machine it is just a wrong key
    assert remote.get("/v1/voices").status_code == 401


def test_re_enrolling_the_same_recording_returns_the_voice_it_already_is(unit_app):
    app = unit_app(dev_mode=False)
    audio = recorder_files()["wav_16k_mono"][0]

    def enroll(key):
        return client_for(app, key).post("/v1/voices", data={"consent": "self", "audio": (io.BytesIO(audio), "a.wav")},
                                         content_type="multipart/form-data")

    first, again = enroll(ALICE_KEY), enroll(ALICE_KEY)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["voice_id"] == first.json["voice_id"] and again.json["existing"] is True
    assert len(client_for(app, ALICE_KEY).get("/v1/voices").json["voices"]) == 1
    bob = enroll(BOB_KEY)  # another owner's identical recording is theirs, never Alice's voice
    assert bob.status_code == 201 and bob.json["voice_id"] != first.json["voice_id"]


def test_prefer_respond_async_makes_a_miss_a_job_and_a_hit_stays_immediate(unit_app, endpoint):
    """For WeChat's callContainer (about 15 s at most): no synchronous inference, only jobs and hits."""
    app = unit_app()
    client = LocalClient(app)
    headers = {"Prefer": "respond-async"}
    r = client.post("/v1/tts", data=json.dumps({"text": "云托管。", "voice_id": "default"}),
                    content_type="application/json", headers=headers)
    assert r.status_code == 202 and r.headers["Preference-Applied"] == "respond-async" and not endpoint.requests
    app.services.worker.run_once(wait_s=0)
    hit = client.post("/v1/tts", data=json.dumps({"text": "云托管。", "voice_id": "default"}),
                      content_type="application/json", headers=headers)
    assert hit.status_code == 200 and hit.json["cached"] is True


def test_no_voice_is_cloned_without_a_consent_statement_and_the_statement_is_kept(unit_app, caplog):
    import logging

    app = unit_app(dev_mode=False)
    alice = client_for(app, ALICE_KEY)
    audio = recorder_files()["wav_16k_mono"][0]
    for path, extra in (("/v1/voices", {}), ("/v1/tts", {"text": "一次性克隆。"})):
        for consent in (None, "yes", "他同意了"):
            data = {"audio": (io.BytesIO(audio), "a.wav"), **extra, **({"consent": consent} if consent else {})}
            r = alice.post(path, data=data, content_type="multipart/form-data")
            assert r.status_code == 400 and r.json["error"]["code"] == "consent_required", (path, consent)
    caplog.set_level(logging.INFO, logger="functions.audit")
    voice = alice.post("/v1/voices", data={"audio": (io.BytesIO(audio), "a.wav"), "consent": "authorized"},
                       content_type="multipart/form-data")
    assert voice.status_code == 201 and voice.json["consent"] == "authorized"
    assert alice.get(f"/v1/voices/{voice.json['voice_id']}").json["consent"] == "authorized"
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "functions.audit"]
    enrolled = [line for line in lines if line["endpoint"] == "/v1/voices" and line["status"] == 201]
    assert enrolled[-1]["consent"] == "authorized"
    one_off = alice.post("/v1/tts", data={"audio": (io.BytesIO(audio), "a.wav"), "text": "一次性克隆。",
                                          "consent": "self"}, content_type="multipart/form-data")
    assert one_off.status_code == 200
    assert json.loads([r for r in caplog.records if r.name == "functions.audit"][-1].getMessage())["consent"] == "self"
    assert post(alice, "内置声音不需要声明。").status_code == 200  # no recording, nothing to consent to


def test_a_file_made_under_other_label_settings_is_made_again_never_served(unit_app, endpoint):
    from functions.state import MemoryState

    state = MemoryState()  # shared by both deployments, like Redis; storage is shared too
    old = unit_app(aigc_cue="none", state=state, max_text_chars=50)
    first = post(LocalClient(old), LONG).json
    old.services.worker.run_once(wait_s=0)
    assert LocalClient(old).get(first["poll_url"]).json["status"] == "done"
    new = unit_app(aigc_cue="rhythm", state=state, max_text_chars=50)
    again = post(LocalClient(new), LONG)
    assert again.status_code == 202 and again.json["status"] == "queued"  # a job again, not the old file
    assert LocalClient(new).get(first["poll_url"]).json["status"] == "queued"
    renamed = unit_app(aigc_producer="某某科技有限公司", state=state)
    short = post(LocalClient(renamed), "换了服务提供者。")
    assert post(LocalClient(unit_app(state=state)), "换了服务提供者。").json["cached"] is False  # other producer
    assert short.json["aigc"]["ContentProducer"] == "某某科技有限公司"


def test_the_local_developer_identity_is_not_for_other_sites(unit_app):
    app = unit_app()
    for headers, status in (({"Origin": "https://evil.example"}, 401), ({"Sec-Fetch-Site": "cross-site"}, 401),
                            ({"Authorization": "Bearer "}, 401), ({"Origin": "http://127.0.0.1:8080"}, 200),
                            ({"Sec-Fetch-Site": "same-origin"}, 200)):
        assert LocalClient(app).get("/v1/voices", headers=headers).status_code == status, headers


def test_prefer_is_read_as_tokens(unit_app, endpoint):
    client = LocalClient(unit_app())
    r = client.post("/v1/tts", data=json.dumps({"text": "不是异步。", "voice_id": "default"}),
                    content_type="application/json", headers={"Prefer": "x=no-respond-async"})
    assert r.status_code == 200 and "Preference-Applied" not in r.headers


def test_a_voice_enrolled_without_a_statement_asks_for_one(unit_app):
    app = unit_app(dev_mode=False)
    alice = client_for(app, ALICE_KEY)
    audio = recorder_files()["wav_16k_mono"][0]
    voice = alice.post("/v1/voices", data={"audio": (io.BytesIO(audio), "a.wav"), "consent": "self"},
                       content_type="multipart/form-data").json
    store = app.services.voice_store
    owner = next(iter(store.storage.list_keys("voices/"))).split("/")[1]
    meta = store.get(owner, voice["voice_id"])
    meta.pop("consent")
    store.update(owner, voice["voice_id"], meta)  # as enrolled before consent was asked for
    r = alice.post("/v1/tts", data=json.dumps({"text": "旧声音。", "voice_id": voice["voice_id"]}),
                   content_type="application/json")
    assert r.status_code == 409 and r.json["error"]["code"] == "voice_consent_missing"
    again = alice.post("/v1/voices", data={"audio": (io.BytesIO(audio), "a.wav"), "consent": "self"},
                       content_type="multipart/form-data")
    assert again.status_code == 200 and again.json["consent"] == "self"
    assert alice.post("/v1/tts", data=json.dumps({"text": "旧声音。", "voice_id": voice["voice_id"]}),
                      content_type="application/json").status_code == 200
