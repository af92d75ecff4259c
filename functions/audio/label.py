"""The implicit label every generated file carries (人工智能生成合成内容标识办法, GB 45438-2025).

The label is the standard's metadata object `AIGC`: the generation attribute (`Label` "1": the content is
AI-generated), the provider's name or filing code (`ContentProducer`, AIGC_PRODUCER), the content id
(`ProduceID`: the task id, stable for the cached object), the propagator's name and id (AIGC_PROPAGATOR and the
task id when set) and the two reserved codes (empty). Field names and values as published with the standard
(TC260's practice guide for implicit labels).

Where it lives: each output format names one of the ways below (`OutputFormat.label`, functions/audio/formats.py);
written here and by FFmpeg's muxers, read back in the tests by mutagen, an independent reader:
- LABEL_ID3 (mp3): an ID3v2 `TXXX` frame with description `AIGC` (written by FFmpeg's mp3 muxer);
- LABEL_VORBIS (flac, opus in ogg): a Vorbis comment `AIGC` (FFmpeg's muxers);
- LABEL_ID3_PREFIX (aac in ADTS): ADTS has no metadata container, so an ID3v2 tag with the `TXXX:AIGC` frame
  precedes the first frame (FFmpeg's `write_id3v2`, as HLS carries timed metadata); decoders skip it;
- LABEL_WAV_CHUNK (wav): an `id3 ` RIFF chunk with the same ID3v2 tag (what mutagen, FFmpeg and most tag editors
  read), written here;
- LABEL_BESIDE (pcm): raw samples have no container: the label travels in the `X-AIGC` response header and the
  task's JSON.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass

ID3_DESCRIPTION = "AIGC"

# How a format carries the label (see above). The first three are the muxer's metadata (`AIGC` = the label's JSON).
LABEL_ID3, LABEL_VORBIS, LABEL_ID3_PREFIX = "id3", "vorbis", "id3-prefix"
LABEL_WAV_CHUNK = "wav-chunk"
LABEL_BESIDE = "beside"
MUXER_LABELS = (LABEL_ID3, LABEL_VORBIS, LABEL_ID3_PREFIX)
LABEL_WAYS = (*MUXER_LABELS, LABEL_WAV_CHUNK, LABEL_BESIDE)


@dataclass(frozen=True)
class AigcLabel:
    producer: str
    produce_id: str
    propagator: str = ""
    propagate_id: str = ""

    def fields(self) -> dict:
        return {"Label": "1", "ContentProducer": self.producer, "ProduceID": self.produce_id, "ReservedCode1": "",
                "ContentPropagator": self.propagator, "PropagateID": self.propagate_id, "ReservedCode2": ""}

    def json(self) -> str:
        return json.dumps(self.fields(), ensure_ascii=False, separators=(",", ":"))

    def header(self) -> str:
        """The label as an HTTP header value (ASCII: non-ASCII characters escaped as JSON allows)."""
        return json.dumps(self.fields(), separators=(",", ":"))


LABELS_VERSION = 1


def label_set(settings) -> str:
    """What a delivered file's labels depend on, as one marker stored with it: a file is served only while
    the marker matches (another cue, another producer, or a file from before labels: made again)."""
    digest = hashlib.sha256(json.dumps([settings.aigc_producer, settings.aigc_propagator]).encode()).hexdigest()
    cue = "none" if settings.aigc_cue == "none" else f"{settings.aigc_cue}@{settings.aigc_cue_position}"
    return f"v{LABELS_VERSION}|{cue}|{digest[:12]}"


def label_for(settings, task_id: str) -> AigcLabel:
    """The label of a task's file: the provider from settings, the task id as the content id."""
    return AigcLabel(settings.aigc_producer, task_id, settings.aigc_propagator,
                     task_id if settings.aigc_propagator else "")


def _syncsafe(n: int) -> bytes:
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def id3_tag(label: AigcLabel) -> bytes:
    """An ID3v2.4 tag holding one TXXX frame (UTF-8): description AIGC, value the label's JSON."""
    body = b"\x03" + ID3_DESCRIPTION.encode() + b"\x00" + label.json().encode("utf-8")
    frame = b"TXXX" + _syncsafe(len(body)) + b"\x00\x00" + body
    return b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame


def with_wav_chunk(wav: bytes, label: AigcLabel) -> bytes:
    """The WAV with an `id3 ` chunk appended (and the RIFF size updated)."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    tag = id3_tag(label)
    chunk = b"id3 " + struct.pack("<I", len(tag)) + tag + (b"\x00" if len(tag) % 2 else b"")
    data = wav + chunk
    return data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
