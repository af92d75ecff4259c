"""The implicit label's exact bytes (docs/compliance.md): the AIGC fields, the JSON forms, the ID3v2 tag with
its syncsafe sizes, the WAV `id3 ` chunk, and the marker stored with every delivered file (`label_set`)."""

from __future__ import annotations

import io
import json
import struct
import wave

import mutagen.id3
import mutagen.wave
import pytest

from functions.audio.label import AigcLabel, id3_tag, label_for, label_set, with_wav_chunk
from functions.settings import Settings

LABEL = AigcLabel("某某科技有限公司", "t1", "某某小程序", "t1")


def _unsyncsafe(four: bytes) -> int:
    assert all(b < 0x80 for b in four)  # the high bit of every byte is clear
    return (four[0] << 21) | (four[1] << 14) | (four[2] << 7) | four[3]


def _wav(frames: int = 10) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes(b"\x01\x00" * frames)
    return out.getvalue()


def _chunks(riff: bytes) -> list[tuple[bytes, bytes]]:
    """The top-level chunks of a RIFF/WAVE file, walked by their sizes (odd sizes padded to even)."""
    assert riff[:4] == b"RIFF" and riff[8:12] == b"WAVE"
    assert struct.unpack("<I", riff[4:8])[0] == len(riff) - 8
    chunks, pos = [], 12
    while pos < len(riff):
        cid, size = riff[pos:pos + 4], struct.unpack("<I", riff[pos + 4:pos + 8])[0]
        chunks.append((cid, riff[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size % 2)
    assert pos == len(riff)  # nothing left over, nothing cut short
    return chunks


def test_the_fields_are_the_standards_seven_with_empty_reserved_codes():
    assert LABEL.fields() == {"Label": "1", "ContentProducer": "某某科技有限公司", "ProduceID": "t1",
                              "ReservedCode1": "", "ContentPropagator": "某某小程序", "PropagateID": "t1",
                              "ReservedCode2": ""}


def test_the_json_is_compact_utf8_and_the_header_is_compact_ascii():
    assert LABEL.json() == ('{"Label":"1","ContentProducer":"某某科技有限公司","ProduceID":"t1","ReservedCode1":"",'
                            '"ContentPropagator":"某某小程序","PropagateID":"t1","ReservedCode2":""}')
    assert LABEL.header() == ('{"Label":"1","ContentProducer":"\\u67d0\\u67d0\\u79d1\\u6280\\u6709\\u9650\\u516c'
                              '\\u53f8","ProduceID":"t1","ReservedCode1":"","ContentPropagator":"\\u67d0\\u67d0'
                              '\\u5c0f\\u7a0b\\u5e8f","PropagateID":"t1","ReservedCode2":""}')


def test_label_for_names_the_task_as_content_and_as_propagation_only_with_a_propagator():
    assert label_for(Settings(aigc_producer="P"), "task") == AigcLabel("P", "task", "", "")
    assert label_for(Settings(aigc_producer="P", aigc_propagator="Q"), "task") == AigcLabel("P", "task", "Q", "task")
    assert label_for(Settings(), "task").fields()["PropagateID"] == ""  # a string, never null


def test_the_id3_tag_is_v24_with_one_utf8_txxx_frame():
    tag = id3_tag(LABEL)
    value = LABEL.json().encode("utf-8")
    body = b"\x03AIGC\x00" + value
    assert 128 <= len(body) < 2**14 - 10  # two size bytes in use

    def size(n):
        return bytes((0, 0, n >> 7, n & 0x7F))

    assert tag == b"ID3\x04\x00\x00" + size(len(body) + 10) + b"TXXX" + size(len(body)) + b"\x00\x00" + body
    assert json.loads(str(mutagen.id3.ID3(io.BytesIO(tag))["TXXX:AIGC"])) == LABEL.fields()


def test_large_tags_carry_every_syncsafe_byte():
    # a frame body of 3*2**21 + 5*2**14 + 9*2**7 + 17 bytes: all four size bytes are in use
    body_size = 3 * 2**21 + 5 * 2**14 + 9 * 2**7 + 17
    overhead = len(b"\x03AIGC\x00") + len(AigcLabel("", "t1").json())
    label = AigcLabel("a" * (body_size - overhead), "t1")
    tag = id3_tag(label)
    assert tag[6:10] == bytes((3, 5, 9, 17 + 10)) and tag[14:18] == bytes((3, 5, 9, 17))
    assert _unsyncsafe(tag[6:10]) == len(tag) - 10 and _unsyncsafe(tag[14:18]) == len(tag) - 20
    assert json.loads(str(mutagen.id3.ID3(io.BytesIO(tag))["TXXX:AIGC"])) == label.fields()


@pytest.mark.parametrize("producer", ["P", "PP"])  # one of the two gives a tag of odd length
def test_the_wav_gets_an_id3_chunk_padded_to_even_and_a_new_riff_size(producer):
    wav, label = _wav(), AigcLabel(producer, "t1")
    tag = id3_tag(label)
    out = with_wav_chunk(wav, label)
    assert out[:len(wav)][8:] == wav[8:]  # the original chunks untouched
    assert len(out) == len(wav) + 8 + len(tag) + len(tag) % 2
    chunks = _chunks(out)
    assert [cid for cid, _ in chunks] == [b"fmt ", b"data", b"id3 "] and chunks[-1][1] == tag
    if len(tag) % 2:
        assert out[-1:] == b"\x00"
    assert json.loads(str(mutagen.wave.WAVE(io.BytesIO(out)).tags["TXXX:AIGC"])) == label.fields()


def test_tags_of_both_parities_are_tried():
    assert {len(id3_tag(AigcLabel(p, "t1"))) % 2 for p in ("P", "PP")} == {0, 1}


@pytest.mark.parametrize("data", [b"RIFX\x00\x00\x00\x00WAVEfmt ", b"RIFF\x00\x00\x00\x00AVI LIST", b"\x00" * 16])
def test_anything_but_riff_wave_is_refused(data):
    with pytest.raises(ValueError) as caught:
        with_wav_chunk(data, LABEL)
    assert str(caught.value) == "not a RIFF/WAVE file"


class _HugeWav:
    """A WAV of `size` bytes (over 2 GiB, under RIFF's 4 GiB) that holds only its first bytes in memory."""

    def __init__(self, size: int, head: bytes):
        self.size, self.head = size, head

    def __len__(self):
        return self.size

    def __getitem__(self, item):
        return self.head[item]

    def __add__(self, other):
        return _HugeWav(self.size + len(other), self.head)


def test_the_riff_size_is_unsigned_for_files_past_2_gib():
    head = _wav()[:12]
    out = with_wav_chunk(_HugeWav(3 * 2**30, head), LABEL)
    tag = id3_tag(LABEL)
    assert struct.unpack("<I", out[4:8])[0] == 3 * 2**30 + 8 + len(tag) + len(tag) % 2 - 8


def test_the_stored_label_marker_is_stable():
    # the marker is stored beside every delivered file: changing its form would make every file again
    assert label_set(Settings()) == "v1|rhythm@start|f1b861bba192"
    assert label_set(Settings(aigc_cue="none")) == "v1|none|f1b861bba192"
    assert label_set(Settings(aigc_cue="none", aigc_cue_position="end")) == "v1|none|f1b861bba192"
    assert label_set(Settings(aigc_cue="notice", aigc_cue_position="end")) == "v1|notice@end|f1b861bba192"
    assert label_set(Settings(aigc_producer="某某科技有限公司", aigc_propagator="某某小程序")) \
        == "v1|rhythm@start|ad1375ddb91d"
    assert label_set(Settings(aigc_propagator="Q")) != label_set(Settings())
