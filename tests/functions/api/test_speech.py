"""POST /v1/audio/speech with the official OpenAI Python SDK as the client."""

from __future__ import annotations

import io
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import av
import pytest
from openai import OpenAI

from ...audio_samples import PROMPT_TEXT, recorder_files
from tests.support import ALICE_KEY, Paced, client_for, read_label


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def serve(app):
    """The app on a real HTTP port: the SDK speaks HTTP (httpx), not WSGI."""
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def served(make_app):
    yield from serve(make_app(dev_mode=False))


PRODUCER, PROPAGATOR = "某某科技有限公司", "某某小程序"


@pytest.fixture
def served_labelled(make_app):
    """As `served`, with a provider and a propagator of its own (so the label's content is the settings')."""
    yield from serve(make_app(dev_mode=False, aigc_producer=PRODUCER, aigc_propagator=PROPAGATOR))


def sdk(base: str, key: str = ALICE_KEY) -> OpenAI:
    return OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=30)


@pytest.mark.parametrize("fmt, container", [("mp3", "mp3"), ("wav", "wav"), ("opus", "ogg"), ("aac", "aac"),
                                            ("flac", "flac"), ("pcm", None)])
def test_each_format_is_playable(served, fmt, container):
    app, base = served
    response = sdk(base).audio.speech.create(model="cosyvoice3", voice="default", input="你好，这是兼容接口。",
                                             response_format=fmt)
    data = response.read()
    if container is None:
        seconds = len(data) / 2 / 24000  # s16le mono 24 kHz
    else:
        with av.open(io.BytesIO(data), format=container) as f:
            stream = f.streams.audio[0]
            seconds = sum(frame.samples for frame in f.decode(stream)) / stream.codec_context.sample_rate
    assert 1.0 < seconds < 10.0
    task = client_for(app, ALICE_KEY).get(f"/v1/tts/{response.response.headers['X-Task-Id']}").get_json()
    assert abs(seconds - task["duration_s"]) < 0.15  # streamed as made: the same audio as the stored file


def test_voice_id_speed_instructions_and_streaming(served):
    app, base = served
    voice = client_for(app, ALICE_KEY).post("/v1/voices", data={"consent": "self", "audio": (io.BytesIO(
        recorder_files()["wav_16k_mono"][0]), "a.wav"), "prompt_text": PROMPT_TEXT},
        content_type="multipart/form-data").json["voice_id"]
    client = sdk(base)
    normal = client.audio.speech.create(model="tts-1", voice=voice, input="用我的声音读。").read()
    fast = client.audio.speech.create(model="tts-1", voice=voice, input="用我的声音读。", speed=2.0).read()
    assert len(fast) < 0.8 * len(normal)
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input="流式返回。",
                                                            instructions="温柔") as streamed:
        chunks = list(streamed.iter_bytes(4096))
    assert len(chunks) >= 1 and b"".join(chunks)[:3] in (b"ID3", b"\xff\xfb\x90", b"\xff\xf3")


def test_errors_reach_the_sdk_as_exceptions(served):
    import openai

    app, base = served
    with pytest.raises(openai.AuthenticationError):
        sdk(base, "wrong-key").audio.speech.create(model="m", voice="default", input="你好")
    with pytest.raises(openai.NotFoundError):
        sdk(base).audio.speech.create(model="m", voice="v_doesnotexist000000000", input="你好")
    with pytest.raises(openai.BadRequestError) as err:
        sdk(base).audio.speech.create(model="m", voice="default", input="你好", response_format="ogg")
    assert err.value.code == "invalid_format"  # our error body is the shape the SDK parses
    with pytest.raises(openai.BadRequestError) as err:
        sdk(base).audio.speech.create(model="m", voice="", input="你好")
    assert err.value.code == "voice_required"  # empty, not "must be a string"


LONG = "今天天气很好。我们去公园散步吧。路上有很多花。孩子们在草地上奔跑。傍晚我们一起回家。" * 3


@pytest.mark.parametrize("fmt", ["pcm", "mp3"])
def test_a_miss_streams_its_first_bytes_before_the_whole_is_made(served, fmt):
    import time

    app, base = served
    app.services.streamer.renderer.endpoint = Paced(app.services.endpoint)
    started = time.monotonic()
    arrivals = []
    with sdk(base).audio.speech.with_streaming_response.create(model="cosyvoice3", voice="default", input=LONG,
                                                                response_format=fmt) as streamed:
        data = b""
        for chunk in streamed.iter_bytes():
            arrivals.append(time.monotonic() - started)
            data += chunk
    assert len(arrivals) > 3 and arrivals[0] < arrivals[-1] / 2
    task = client_for(app, ALICE_KEY).get(f"/v1/tts/{streamed.headers['X-Task-Id']}").get_json()
    if fmt == "pcm":
        stored = app.services.storage.get(f"tts/{task['task_id'][:2]}/{task['task_id']}.pcm")
        assert data == stored  # exactly the cached file
    print(f"\n{fmt}: first bytes {arrivals[0] * 1000:.0f} ms, last {arrivals[-1] * 1000:.0f} ms")


def test_stream_format_sse_speaks_openais_events(served):
    import base64
    import json as jsonlib

    app, base = served
    with sdk(base).audio.speech.with_streaming_response.create(
            model="cosyvoice3", voice="default", input="你好。再见。", response_format="pcm",
            stream_format="sse") as streamed:
        assert streamed.headers["Content-Type"].startswith("text/event-stream")
        events = [jsonlib.loads(line[6:]) for line in streamed.iter_lines() if line.startswith("data: ")]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert events[-1]["type"] == "speech.audio.done" and events[-1]["usage"]["input_tokens"] > 0
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert len(audio) > 24000  # half a second and more of s16 speech
    # a repeat is a hit from storage, in the same events
    with sdk(base).audio.speech.with_streaming_response.create(
            model="cosyvoice3", voice="default", input="你好。再见。", response_format="pcm",
            stream_format="sse") as again:
        repeat = [jsonlib.loads(line[6:]) for line in again.iter_lines() if line.startswith("data: ")]
    assert b"".join(base64.b64decode(e["audio"]) for e in repeat[:-1]) == audio


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_a_streamed_file_carries_the_aigc_label(served_labelled, fmt):
    """A miss streams as the model speaks (no Content-Length: not the stored file) and still carries the implicit
    label where docs/compliance.md puts it, read back by mutagen: mp3 an ID3v2 TXXX:AIGC frame at the start, wav
    an `id3 ` RIFF chunk before the samples."""
    import struct

    import mutagen.id3

    app, base = served_labelled
    with sdk(base).audio.speech.with_streaming_response.create(
            model="cosyvoice3", voice="default", input="边合成边发送的文件也带标识。", response_format=fmt) as streamed:
        assert "Content-Length" not in streamed.headers and "X-Audio-Duration" not in streamed.headers
        task_id = streamed.headers["X-Task-Id"]
        data = b"".join(streamed.iter_bytes())
    label = {"Label": "1", "ContentProducer": PRODUCER, "ProduceID": task_id, "ReservedCode1": "",
             "ContentPropagator": PROPAGATOR, "PropagateID": task_id, "ReservedCode2": ""}
    assert read_label(fmt, data) == label
    if fmt == "mp3":
        assert data[:3] == b"ID3" and mutagen.id3.ID3(io.BytesIO(data)).getall("TXXX")[0].desc == "AIGC"
    else:
        chunks, at = [], 12  # the RIFF chunks up to the samples (a stream's data chunk has no end)
        while not chunks or chunks[-1] != b"data":
            chunks.append(data[at:at + 4])
            at += 8 + (size := struct.unpack("<I", data[at + 4:at + 8])[0]) + size % 2
        assert data[:4] == b"RIFF" and b"id3 " in chunks[:-1]
    stored = client_for(app, ALICE_KEY).get(f"/v1/tts/{task_id}").get_json()
    assert stored["status"] == "done" and stored["aigc"] == label  # the same label as the stored file's
