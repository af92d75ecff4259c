"""Synthesized audio (float32 mono, 24 kHz) to the bytes a client downloads, in any output format of
functions/audio/formats.py (its row says how: raw samples, RIFF/WAVE, or a PyAV muxer and encoder)."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import av
import numpy as np

from . import formats
from .formats import AV, RAW, WAV, OutputFormat
from .label import ID3_DESCRIPTION, LABEL_ID3_PREFIX, LABEL_WAV_CHUNK, MUXER_LABELS, AigcLabel, id3_tag, with_wav_chunk
from .pcm import pcm16

FORMATS = formats.MEDIA_TYPES  # format name -> media type (the table's; kept for importers of this name)


@dataclass(frozen=True)
class EncodedAudio:
    data: bytes
    format: str
    content_type: str
    sample_rate: int
    duration_s: float  # measured from the samples, never estimated


class AvEncoder:
    """An encoder fed s16 chunks as they come: `feed` and `close` return the bytes the container has written
    since the last call, so a stream can send a file while it is made. (A muxer that patches its header at the
    end, as mp3's Xing frame does, patches bytes already sent: players do without; `data()` has them all.)"""

    def __init__(self, rate: int, container: str, codec: str, bitrate: int | None, options: dict | None = None,
                 metadata: dict | None = None, container_options: dict | None = None) -> None:
        self._buf = io.BytesIO()
        self._sent = 0
        self._out = av.open(self._buf, mode="w", format=container, options=container_options or {})
        self._out.metadata.update(metadata or {})
        self._stream = self._out.add_stream(codec, rate=rate, layout="mono", options=options or {})
        if bitrate:
            self._stream.bit_rate = bitrate
        self._rate = rate

    def feed(self, pcm: np.ndarray) -> bytes:
        frame_size = 1152 * 8
        for start in range(0, pcm.size, frame_size):
            frame = av.AudioFrame.from_ndarray(pcm[start:start + frame_size].reshape(1, -1), format="s16",
                                               layout="mono")
            frame.sample_rate = self._rate
            for packet in self._stream.encode(frame):
                self._out.mux(packet)
        return self._take()

    def close(self) -> bytes:
        for packet in self._stream.encode(None):
            self._out.mux(packet)
        self._out.close()
        return self._take()

    def abort(self) -> None:
        """Close without finishing the file (its reader went away). An encoder left open crashes the process
        when the garbage collector frees it (PyAV), so this runs in `__del__` too; closing twice does nothing."""
        try:
            self._out.close()
        except Exception:  # noqa: BLE001 - already closed, or nothing to flush: either way it is released
            pass

    __del__ = abort

    def data(self) -> bytes:
        return self._buf.getvalue()

    def _take(self) -> bytes:
        end = self._buf.seek(0, io.SEEK_END)
        new = self._buf.getbuffer()[self._sent:end].tobytes()
        self._sent = end
        return new


def _row(fmt: str) -> OutputFormat:
    if fmt not in formats.BY_NAME:
        raise ValueError(f"unknown output format {fmt!r}")
    return formats.get(fmt)


def _encoder(row: OutputFormat, rate: int, mp3_bitrate: int, label: AigcLabel | None) -> AvEncoder:
    """The PyAV encoder of a row's muxer and codec, with the label as the muxer's metadata where it goes there."""
    metadata = {ID3_DESCRIPTION: label.json()} if label and row.label in MUXER_LABELS else None
    # ADTS has no metadata of its own: FFmpeg then puts an ID3v2 tag before the first frame
    container_options = {"write_id3v2": "1"} if metadata and row.label == LABEL_ID3_PREFIX else None
    return AvEncoder(rate, row.container, row.codec, mp3_bitrate if row.caller_bitrate else row.bitrate,
                     dict(row.options), metadata=metadata, container_options=container_options)


def streaming_wav_header(rate: int, label: AigcLabel | None = None) -> bytes:
    """A WAV header for a stream of unknown length (sizes 0xFFFFFFFF, which players and FFmpeg read as
    "until the end"), with the label's `id3 ` chunk before the data."""
    fmt_chunk = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    extra = b""
    if label is not None:
        tag = id3_tag(label)
        extra = b"id3 " + struct.pack("<I", len(tag)) + tag + (b"\x00" if len(tag) % 2 else b"")
    return b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + fmt_chunk + extra + b"data" + \
        struct.pack("<I", 0xFFFFFFFF)


class StreamEncoder:
    """Chunks of s16 speech (what streams carry) in, the bytes of one file of `fmt` out as they are made (pcm
    and wav at once, compressed formats a frame behind)."""

    def __init__(self, fmt: str, rate: int, *, mp3_bitrate: int = 64000, label: AigcLabel | None = None) -> None:
        row = _row(fmt)
        self.fmt, self.content_type = fmt, row.media_type
        self._head = streaming_wav_header(rate, label) if row.writer == WAV else b""
        self._av = _encoder(row, rate, mp3_bitrate, label) if row.writer == AV else None

    def feed(self, pcm: bytes) -> bytes:
        head, self._head = self._head, b""
        return head + (pcm if self._av is None else self._av.feed(np.frombuffer(pcm, dtype="<i2")))

    def close(self) -> bytes:
        head, self._head = self._head, b""
        return head + (b"" if self._av is None else self._av.close())

    def abort(self) -> None:
        if self._av is not None:
            self._av.abort()


def encode(samples: np.ndarray, rate: int, fmt: str = "mp3", *, mp3_bitrate: int = 64000,
           label: AigcLabel | None = None) -> EncodedAudio:
    """Encode mono float samples; with `label`, the file carries the AIGC implicit label (functions/audio/label.py)."""
    return encode_pcm(pcm16(samples), rate, fmt, mp3_bitrate=mp3_bitrate, label=label)


def encode_pcm(pcm: np.ndarray, rate: int, fmt: str = "mp3", *, mp3_bitrate: int = 64000,
               label: AigcLabel | None = None) -> EncodedAudio:
    """Encode mono s16 samples (functions/audio/pcm.py), as `encode` does."""
    row = _row(fmt)
    if row.writer == RAW:
        data = pcm.tobytes()  # no container: the label travels in headers and the task's JSON
    else:
        encoder = _encoder(row, rate, mp3_bitrate, label)
        encoder.feed(pcm)
        encoder.close()
        data = encoder.data()
    if label and row.label == LABEL_WAV_CHUNK:
        data = with_wav_chunk(data, label)
    return EncodedAudio(data, fmt, row.media_type, rate, round(pcm.size / rate, 3))
