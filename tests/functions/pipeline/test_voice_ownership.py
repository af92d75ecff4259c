"""One voice, one owner: a caller's recording is never mapped onto another caller's voice, cached audio or
engine speaker features. Two identities, two different synthetic speakers reading the same sentence with the
same transcript (what the mini program asks of every user), through the real API and a real Triton."""

from __future__ import annotations

import base64
import hashlib
import json

import numpy as np
import pytest
import soxr

from ...audio_samples import PROMPT_TEXT, encode, speech_at
from tests.support import ALICE_KEY, BOB_KEY, client_for, triton_inference_count

TEXT = "今天的天气真不错，我们一起去公园散步吧。"


def speaker_b() -> np.ndarray:
    """Another voice reading the same sentence: pitch and formants 12% higher, slower, a little room noise."""
    a = speech_at(16000)
    shifted = soxr.resample(a, 16000, int(16000 / 1.12)).astype(np.float32)
    stretched = soxr.resample(shifted, 16000, 17600)[: a.size + 1600].astype(np.float32)
    noise = np.random.default_rng(7).normal(0, 0.003, stretched.size).astype(np.float32)
    return np.clip(stretched + noise, -1, 1)


def wav(samples: np.ndarray) -> bytes:
    return encode(samples, 16000, "wav", "pcm_s16le")


@pytest.fixture
def app(make_app):
    app = make_app()
    seen: list = []
    synthesize = app.services.endpoint.synthesize

    def recording(item):  # what reached the engine: the voice key selects cached speaker features there
        seen.append(item)
        return synthesize(item)

    app.services.endpoint.synthesize = recording
    app.seen = seen
    return app


def tts(client, audio: bytes | None = None, **fields):
    body = {"text": TEXT, "prompt_text": PROMPT_TEXT, **fields}
    if audio is not None:
        body.update(consent="self", prompt_audio_base64=base64.b64encode(audio).decode())
    r = client.post("/v1/tts", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.json
    return r.json


def pcm_sha(samples: np.ndarray) -> str:
    return hashlib.sha256((np.clip(samples, -1, 1) * 32767).round().astype("<i2").tobytes()).hexdigest()


def assert_not_shared(app, first: dict, second: dict) -> None:
    assert second["task_id"] != first["task_id"] and second["audio_url"] != first["audio_url"]
    assert second["cached"] is False
    assert app.seen[-1].voice_key != app.seen[0].voice_key


def test_upload_vs_upload_same_sentence_same_transcript(app, triton):
    alice, bob = client_for(app, ALICE_KEY), client_for(app, BOB_KEY)
    first = tts(alice, wav(speech_at(16000)))
    before = triton_inference_count(triton)
    second = tts(bob, wav(speaker_b()))
    assert_not_shared(app, first, second)
    assert triton_inference_count(triton) == before + 1  # Bob's own synthesis, in his own voice
    # the engine's speaker id carries the whole identity of the audio actually sent, not a prefix
    assert app.seen[-1].voice_key == pcm_sha(app.seen[-1].reference_wav) and len(app.seen[-1].voice_key) == 64
    # the same recording re-encoded as AAC 16 kHz (the case no threshold could separate) is still Bob's
    aac = encode(speaker_b(), 16000, "adts", "aac", bitrate=48000)
    third = tts(bob, aac)
    assert third["task_id"] not in (first["task_id"], second["task_id"]) and third["cached"] is False


def test_enrolled_voice_vs_upload(app):
    alice, bob = client_for(app, ALICE_KEY), client_for(app, BOB_KEY)
    recording = base64.b64encode(wav(speech_at(16000))).decode()
    r = alice.post("/v1/voices", data=json.dumps({"consent": "self", "audio_base64": recording,
                                                  "prompt_text": PROMPT_TEXT}), content_type="application/json")
    assert r.status_code == 201, r.json
    voice_id = r.json["voice_id"]
    first = tts(alice, voice_id=voice_id)
    second = tts(bob, wav(speaker_b()))
    assert_not_shared(app, first, second)
    # nor can Bob name Alice's voice
    r = bob.post("/v1/tts", data=json.dumps({"text": TEXT, "voice_id": voice_id}), content_type="application/json")
    assert r.status_code == 404 and r.json["error"]["code"] == "voice_not_found"


def test_a_recording_crafted_to_match_gets_nothing(app):
    """The closest a recording can come without being the same audio: Alice's own samples with noise below
    one bit. Any acoustic matcher merges it; the identity (the exact PCM) does not."""
    alice, bob = client_for(app, ALICE_KEY), client_for(app, BOB_KEY)
    a = speech_at(16000)
    first = tts(alice, wav(a))
    crafted = a + np.random.default_rng(1).choice([-1.5, 1.5], a.size).astype(np.float32) / 32768
    second = tts(bob, wav(crafted))
    assert_not_shared(app, first, second)
    assert app.seen[-1].voice_key == pcm_sha(app.seen[-1].reference_wav)


def test_identical_audio_is_shared_and_is_nothing_the_caller_did_not_have(app, triton):
    """Sharing across owners only for provably the same audio: Bob sending Alice's exact bytes could make
    the same audio himself, so he gets the cached copy (and no second inference)."""
    alice, bob = client_for(app, ALICE_KEY), client_for(app, BOB_KEY)
    audio = wav(speech_at(16000))
    first = tts(alice, audio)
    before = triton_inference_count(triton)
    second = tts(bob, audio)
    assert second["task_id"] == first["task_id"] and second["cached"] is True
    assert triton_inference_count(triton) == before


def test_a_re_encoded_recording_is_a_new_voice_even_for_its_owner(app):
    """No acoustic matching, even within one owner: a re-encoding costs one miss, never a merge."""
    alice = client_for(app, ALICE_KEY)
    first = tts(alice, wav(speech_at(16000)))
    again = tts(alice, wav(speech_at(16000)))  # the same bytes: a hit without decoding
    assert again["task_id"] == first["task_id"] and again["cached"] is True
    aac = tts(alice, encode(speech_at(44100), 44100, "adts", "aac", bitrate=96000))
    assert aac["task_id"] != first["task_id"] and aac["cached"] is False
