"""The AIGC labels in every format, read back by mutagen (not the FFmpeg that wrote them), and the rhythm
cue as a checker hears it in decoded samples."""

from __future__ import annotations

import io
import json

import av
import numpy as np
import pytest

from functions.audio import cue
from functions.audio.encode import encode
from functions.audio.label import AigcLabel
from tests.support import read_label

LABEL = AigcLabel("某某科技有限公司", "f" * 64, "某某小程序", "f" * 64)
SPEECH = (0.2 * np.sin(np.arange(24000) / 7)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["mp3", "wav", "flac", "opus", "aac"])
def test_every_container_carries_the_implicit_label_and_still_plays(fmt):
    audio = encode(SPEECH, 24000, fmt, label=LABEL)
    assert read_label(fmt, audio.data) == LABEL.fields()
    assert LABEL.fields()["Label"] == "1" and set(LABEL.fields()) == {
        "Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID", "ReservedCode2"}
    with av.open(io.BytesIO(audio.data)) as container:  # the label does not disturb decoding
        assert sum(frame.samples for frame in container.decode(audio=0)) >= 24000


def test_raw_pcm_has_no_container_so_the_label_travels_beside_it():
    assert encode(SPEECH, 24000, "pcm", label=LABEL).data == encode(SPEECH, 24000, "pcm").data
    assert json.loads(LABEL.header()) == LABEL.fields() and LABEL.header().isascii()  # an HTTP header value


def test_the_rhythm_cue_is_morse_ai():
    runs = cue.tone_runs(np.concatenate([cue.rhythm(24000), cue.gap(24000), SPEECH * 0]), 24000)
    assert [d for on, d in runs if on] == [0.1, 0.3, 0.1, 0.1]
