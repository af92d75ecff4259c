"""Synthesized audio (float32 mono, 24 kHz) to the bytes a client downloads: mp3 (default), wav, raw pcm, and
for the OpenAI-compatible endpoint also opus (in ogg), aac (ADTS) and flac."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np

from .label import ID3_DESCRIPTION, AigcLabel, with_wav_chunk

# pcm is little-endian s16 at 24 kHz mono: not audio/L16, which RFC 2586 defines as big-endian
FORMATS = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm;rate=24000;channels=1;encoding=s16le",
           "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac"}
# format -> (container, codec) for the PyAV-encoded ones besides mp3 and wav
_CONTAINERS = {"opus": ("ogg", "libopus"), "aac": ("adts", "aac"), "flac": ("flac", "flac")}


@dataclass(frozen=True)
class EncodedAudio:
    data: bytes
    format: str
    content_type: str
    sample_rate: int
    duration_s: float  # measured from the samples, never estimated


def _pcm16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")


def _encode_with_av(pcm: np.ndarray, rate: int, container: str, codec: str, bitrate: int | None,
                    options: dict | None = None, metadata: dict | None = None) -> bytes:
    buf = io.BytesIO()
    # ADTS has no metadata of its own: FFmpeg then puts an ID3v2 tag before the first frame
    container_options = {"write_id3v2": "1"} if container == "adts" and metadata else {}
    with av.open(buf, mode="w", format=container, options=container_options) as out:
        out.metadata.update(metadata or {})
        stream = out.add_stream(codec, rate=rate, layout="mono", options=options or {})
        if bitrate:
            stream.bit_rate = bitrate
        frame_size = 1152 * 8
        for start in range(0, pcm.size, frame_size):
            chunk = pcm[start:start + frame_size].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def encode(samples: np.ndarray, rate: int, fmt: str = "mp3", *, mp3_bitrate: int = 64000,
           label: AigcLabel | None = None) -> EncodedAudio:
    """Encode mono float samples; with `label`, the file carries the AIGC implicit label (functions/audio/label.py)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}")
    pcm = _pcm16(np.asarray(samples, dtype=np.float32).reshape(-1))
    metadata = {ID3_DESCRIPTION: label.json()} if label else None
    if fmt == "pcm":
        data = pcm.tobytes()  # no container: the label travels in headers and the task's JSON
    elif fmt == "wav":
        data = _encode_with_av(pcm, rate, "wav", "pcm_s16le", None)
        data = with_wav_chunk(data, label) if label else data
    elif fmt in _CONTAINERS:
        data = _encode_with_av(pcm, rate, *_CONTAINERS[fmt], 48000 if fmt == "opus" else None, metadata=metadata)
    else:
        # LAME's algorithm quality 7 (of 0-9): half the encode time of the default at the same constant
        # bitrate, and no audible difference for 24 kHz speech (measured: 82 -> 41 ms for 11 s of audio).
        data = _encode_with_av(pcm, rate, "mp3", "libmp3lame", mp3_bitrate, {"compression_level": "7"},
                               metadata=metadata)
    return EncodedAudio(data, fmt, FORMATS[fmt], rate, round(pcm.size / rate, 3))
