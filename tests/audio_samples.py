"""Test audio: real speech from the espeak engine, encoded the way phone recorders write it (PyAV)."""

from __future__ import annotations

import functools
import io

import av
import numpy as np
import soxr

from inference.engines import build_request
from inference.engines.espeak import EspeakEngine

PROMPT_TEXT = "希望你以后能够做的比我还好呦。"


@functools.lru_cache(maxsize=8)
def speech_24k(text: str = PROMPT_TEXT, speed: float = 1.0) -> np.ndarray:
    audio = EspeakEngine().synthesize(build_request(text=text, speed=speed))
    pad = np.zeros(2400, np.float32)
    return np.concatenate([pad, 0.8 * audio, pad]).astype(np.float32)


def speech_at(rate: int, text: str = PROMPT_TEXT) -> np.ndarray:
    return soxr.resample(speech_24k(text), 24000, rate).astype(np.float32)


def encode(samples: np.ndarray, rate: int, container: str, codec: str, *, channels: int = 1,
           bitrate: int | None = None, sample_format: str = "s16") -> bytes:
    layout = "mono" if channels == 1 else "stereo"
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    if channels == 2:
        pcm = np.stack([pcm, (pcm * 0.9).astype(np.int16)], axis=1).reshape(1, -1)  # interleaved
    else:
        pcm = pcm.reshape(1, -1)
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        if bitrate:
            stream.bit_rate = bitrate
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def recorder_files(text: str = PROMPT_TEXT) -> dict[str, tuple[bytes, dict]]:
    """What wx.getRecorderManager writes on various phones: name -> (bytes, extra request fields)."""
    pcm16 = (np.clip(speech_at(16000, text), -1, 1) * 32767).astype("<i2").tobytes()
    return {
        "aac_adts_44k": (encode(speech_at(44100, text), 44100, "adts", "aac", bitrate=96000), {}),
        "m4a_48k_stereo": (encode(speech_at(48000, text), 48000, "ipod", "aac", channels=2), {}),
        "mp3_16k": (encode(speech_at(16000, text), 16000, "mp3", "libmp3lame", bitrate=48000), {}),
        "wav_44k_stereo": (encode(speech_at(44100, text), 44100, "wav", "pcm_s16le", channels=2), {}),
        "wav_16k_mono": (encode(speech_at(16000, text), 16000, "wav", "pcm_s16le"), {}),
        "pcm_16k": (pcm16, {"prompt_format": "pcm", "prompt_sample_rate": "16000"}),
    }


def decoded_duration(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as c:
        stream = c.streams.audio[0]
        samples = sum(frame.samples for frame in c.decode(stream))
        return samples / stream.codec_context.sample_rate
