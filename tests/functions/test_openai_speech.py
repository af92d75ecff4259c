"""POST /v1/audio/speech with the official OpenAI Python SDK as the client."""

from __future__ import annotations

import io
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import av
import pytest
from openai import OpenAI

from ..audio_samples import PROMPT_TEXT, recorder_files
from tests.support import ALICE_KEY, client_for


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(make_app):
    """The app on a real HTTP port: the SDK speaks HTTP (httpx), not WSGI."""
    app = make_app(dev_mode=False)
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


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
    assert abs(seconds - float(response.response.headers["X-Audio-Duration"])) < 0.15


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
