"""Long texts become jobs: split at sentences, segments cached on their own, joined with pauses."""

from __future__ import annotations

import base64
import json
import time

import pytest

from functions.tts.segments import PARAGRAPH_PAUSE_S, split_text

from ...audio_samples import recorder_files
from tests.support import client_for, triton_inference_count

SENTENCES = ["今天我们讨论城市的发展与变化。", "公园里的树木越来越多了！", "你觉得这样的生活好吗？",
             "孩子们在广场上放风筝，老人们在树下下棋。", "晚上的街道灯火通明，非常热闹。"]


def paragraph(i: int, n: int = 17) -> str:
    return "".join(f"第{i}段第{j}句，{SENTENCES[(i + j) % len(SENTENCES)]}" for j in range(n))


def article(paragraph_ids) -> str:
    return "\n".join(paragraph(i) for i in paragraph_ids)


def post(client, text: str, **extra):
    audio = base64.b64encode(recorder_files()["wav_16k_mono"][0]).decode()
    return client.post("/v1/tts", data=json.dumps({"text": text,
                                                   "consent": "self", "prompt_audio_base64": audio, "speed": 2.0,
                                                   **extra}), content_type="application/json")


def wait_done(client, poll_url: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(poll_url).json
        if body["status"] in ("done", "failed"):
            return body
        assert body["status"] in ("queued", "running") and body["progress"]["total"] > 0
        time.sleep(0.2)
    raise AssertionError("job did not finish")


def test_split_never_breaks_markup_or_paragraphs():
    text = "第一句<strong>很重要，非常重要。</strong>第二句[breath]！\n第二段。Hello world. Second sentence?"
    segments = split_text(text, 12)
    assert all(s.text.count("<strong>") == s.text.count("</strong>") or "<strong>" not in s.text
               for s in segments)
    joined = "".join(s.text for s in segments)
    assert joined.replace(" ", "") == text.replace("\n", "").replace(" ", "")
    assert segments[-1].pause_after_s == 0
    assert PARAGRAPH_PAUSE_S in [s.pause_after_s for s in segments]


def test_article_becomes_one_file_and_shares_segments(make_app, triton):
    app = make_app()
    client = client_for(app)
    first = article(range(1, 9))
    assert 2900 <= len(first) <= 5000
    before = triton_inference_count(triton)
    r = post(client, first)
    assert r.status_code == 202 and r.json["status"] == "queued" and r.headers["Retry-After"]
    assert r.json["poll_url"] == f"/v1/tts/{r.json['task_id']}"
    again = post(client, first)  # the identical request shares the job
    assert again.status_code == 202 and again.json["task_id"] == r.json["task_id"]
    done = wait_done(client, r.json["poll_url"])
    assert done["status"] == "done" and done["format"] == "mp3", done
    segments = split_text(first.replace("\n", "\n"), app.settings.max_text_chars)
    used = triton_inference_count(triton) - before
    assert used == len(segments)

    # Each segment's speech is cached on its own (lossless pcm, no label: internal); the article is those
    # segments with their pauses, and the explicit cue once, at the start.
    storage = app.services.storage
    speech = [storage.head(k) for k in storage.list_keys("tts/") if k.endswith(".pcm")]
    assert len(speech) == len(segments) and all("aigc" not in info.metadata for info in speech)
    expected = sum(float(info.metadata["duration_s"]) for info in speech) + sum(s.pause_after_s for s in segments)
    assert done["duration_s"] == pytest.approx(expected + 1.4, abs=0.01 * len(segments))
    before = triton_inference_count(triton)

    # A second article sharing six paragraphs: only the new paragraphs' segments are synthesized.
    second = article([1, 2, 3, 4, 5, 6, 20, 21])
    r2 = post(client, second)
    assert r2.status_code == 202
    assert wait_done(client, r2.json["poll_url"])["status"] == "done"
    new_segments = split_text(article([20, 21]), app.settings.max_text_chars)
    assert triton_inference_count(triton) - before == len(new_segments)
    # and the finished article is now a plain cache hit
    assert post(client, first).status_code == 200


def test_failed_job_reports_a_reason(make_app):
    from functions.endpoint import TritonEndpoint
    from inference.serve import free_port

    app = make_app(endpoint=TritonEndpoint(f"127.0.0.1:{free_port()}", retries=0, connect_timeout_s=0.3),
                   job_max_attempts=3, job_backoff_s=0.1)
    client = client_for(app)
    r = post(client, article([30, 31]))
    assert r.status_code == 202
    done = wait_done(client, r.json["poll_url"], timeout=60)
    assert done["status"] == "failed" and done["error"]["code"] == "inference_unavailable"


def test_over_the_long_limit_is_refused(make_app):
    r = post(client_for(make_app()), "长" * 5001)
    assert r.status_code == 400 and r.json["error"]["code"] == "text_too_long"
