"""The unit tier's fake endpoint is as strict as the engine where a mix-up would hide: the voice, the style,
the mode and the seed set the pitch of its tone and the speed its length, so a request that reaches the model
with another caller's voice, its own speed dropped or another style is heard as other audio, not passed as
"a tone of the right length"."""

from __future__ import annotations

import base64
import dataclasses
import threading

import numpy as np
import pytest

from functions.audio.pcm import pcm16
from functions.audio.wav import wav_bytes
from functions.endpoint.triton import SynthesisInput
from tests.audio_samples import PROMPT_TEXT, speech_at
from tests.support import ALICE_KEY, BOB_KEY, FakeEndpoint, client_for

TEXT = "每个人都听到自己的声音。"
VOICE = speech_at(16000)
OTHER_VOICE = VOICE[::-1].copy()
BASE = SynthesisInput(text=TEXT, reference_wav=VOICE, reference_text=PROMPT_TEXT, mode="zero_shot",
                      instruct_text=None, speed=1.0, seed=None, voice_key="a" * 64)


def heard(request: SynthesisInput) -> bytes:
    return pcm16(FakeEndpoint().synthesize(request)).tobytes()


def test_the_same_request_is_always_the_same_audio():
    assert heard(BASE) == heard(dataclasses.replace(BASE, reference_wav=VOICE.copy(), request_id="another"))


@pytest.mark.parametrize("change", [
    {"voice_key": "b" * 64}, {"reference_wav": OTHER_VOICE}, {"reference_text": "另一段录音的文字。"},
    {"instruct_text": "请用温柔的语气说一句话。", "mode": "instruct", "reference_text": None},
    {"mode": "cross_lingual", "reference_text": None}, {"seed": 7}, {"text": "每个人都听到别人的声音。"},
], ids=["voice_key", "reference_audio", "reference_text", "instruct", "mode", "seed", "text_of_same_length"])
def test_whatever_changes_the_voice_changes_the_audio(change):
    other = dataclasses.replace(BASE, **change)
    assert len(other.text) == len(BASE.text)  # the same length: only the content can tell them apart
    assert heard(other) != heard(BASE)


@pytest.mark.parametrize("speed, samples", [(0.5, 28800), (1.0, 14400), (1.25, 11520), (2.0, 7200)])
def test_the_duration_scales_with_one_over_the_speed(speed, samples):
    assert len(TEXT) * 1200 == 14400  # 0.05 s a character at speed 1
    assert len(heard(dataclasses.replace(BASE, speed=speed))) == 2 * samples  # s16: two bytes a sample


# -- the pipeline: two callers at once, each with their own voice, speed, style and seed --------------------

def prompt(samples: np.ndarray) -> str:
    return base64.b64encode(wav_bytes(samples, 16000)).decode()


# name -> (the caller's key, the caller's recording, the fields that differ from the plain request)
CALLERS = {
    "alice": (ALICE_KEY, VOICE, {}),
    "bob": (BOB_KEY, OTHER_VOICE, {}),
    "alice_fast": (ALICE_KEY, VOICE, {"speed": 2.0}),
    "alice_gentle": (ALICE_KEY, VOICE, {"instruct": "温柔"}),
    "alice_serious": (ALICE_KEY, VOICE, {"instruct": "严肃"}),
    "alice_seeded": (ALICE_KEY, VOICE, {"seed": 7}),
}


def speak(app, name: str) -> bytes:
    key, voice, fields = CALLERS[name]
    body = {"text": TEXT, "format": "pcm", "consent": "self", "prompt_text": PROMPT_TEXT,
            "prompt_audio_base64": prompt(voice), **fields}
    response = client_for(app, key).post("/v1/tts", json=body)
    assert response.status_code == 200, response.get_json()
    audio = client_for(app, key).get(response.get_json()["audio_url"].removeprefix("http://testserver"))
    assert audio.status_code == 200
    return audio.get_data()


def test_each_caller_hears_their_own_voice_speed_and_style_when_all_speak_at_once(unit_app, endpoint, tmp_path):
    app = unit_app(aigc_cue="none")
    heard_at_once: dict[str, bytes] = {}
    barrier = threading.Barrier(len(CALLERS))

    def call(name):
        barrier.wait(10)
        heard_at_once[name] = speak(app, name)

    threads = [threading.Thread(target=call, args=(name,)) for name in CALLERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(heard_at_once) == sorted(CALLERS) and len(endpoint.requests) == len(CALLERS)
    for name in CALLERS:  # each the same as that request alone, on an app of its own (nothing cached)
        alone = FakeEndpoint()
        assert heard_at_once[name] == speak(unit_app(aigc_cue="none", endpoint=alone,
                                                     storage_dir=str(tmp_path / f"alone-{name}")), name), name
        assert len(alone.requests) == 1
    # and what each field does is heard: a voice, a style or a seed lost on the way would make two equal
    assert len(set(heard_at_once.values())) == len(CALLERS)
    assert len(heard_at_once["alice"]) == 2 * len(TEXT) * 1200
    assert len(heard_at_once["alice_fast"]) == len(heard_at_once["alice"]) // 2  # speed 2: half as long


class MixesUp:
    """An endpoint in front of the fake that sends each request with some fields of the one before it: what a
    pipeline that mixes up two callers' requests (a shared mutable plan, a cached voice under the wrong key)
    would send the model."""

    def __init__(self, target: FakeEndpoint, fields: tuple[str, ...]) -> None:
        self.target, self.fields, self.previous = target, fields, None

    def synthesize(self, request):
        if self.previous is not None:
            mixed = dataclasses.replace(request, **{f: getattr(self.previous, f) for f in self.fields})
            self.previous, request = request, mixed
        else:
            self.previous = request
        return self.target.synthesize(request)

    def stream(self, request, **kwargs):
        yield self.synthesize(request)

    def is_ready(self, use_cache: bool = True) -> bool:
        return True


@pytest.mark.parametrize("first, second, fields", [
    ("alice", "bob", ("voice_key", "reference_wav")),
    ("alice", "alice_fast", ("speed",)),
    ("alice_gentle", "alice_serious", ("instruct_text",)),
], ids=["voice", "speed", "instruct"])
def test_a_mix_up_on_the_way_to_the_model_is_heard(unit_app, tmp_path, first, second, fields):
    right = unit_app(aigc_cue="none", storage_dir=str(tmp_path / "right"))
    mixed = unit_app(aigc_cue="none", endpoint=MixesUp(FakeEndpoint(), fields), storage_dir=str(tmp_path / "mixed"))
    assert speak(mixed, first) == speak(right, first)  # nothing to mix up with yet
    assert speak(mixed, second) != speak(right, second)
