"""The relay's one sample format on the wire: 16-bit little-endian mono PCM at 24 kHz (what streams carry and
`pcm` files hold), to and from the float samples the model produces."""

from __future__ import annotations

import io

import av
import numpy as np

from inference.contract import OUTPUT_SAMPLE_RATE


BLOCK = 1 << 18  # samples converted at a time: a block's float temporaries, never a whole file's


def pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples to s16 (clipped, rounded): the same conversion for a chunk and for a whole file, so a
    stream's bytes concatenate to exactly the stored pcm."""
    return pcm16_joined([samples])


def pcm16_joined(pieces) -> np.ndarray:
    """Float pieces, in order, as one s16 array, converted block by block into it: 18 minutes of speech (a
    5,000-character text) is 100 MB as float32, and joining then converting it whole took four more such
    copies at once. Element by element the same as pcm16 of the joined pieces."""
    if isinstance(pieces, np.ndarray):  # one array is one piece, not a list of samples
        pieces = [pieces]
    flat = [np.asarray(p, dtype=np.float32).reshape(-1) for p in pieces]
    out = np.empty(sum(p.size for p in flat), dtype="<i2")
    at = 0
    for piece in flat:
        for start in range(0, piece.size, BLOCK):
            block = np.clip(piece[start:start + BLOCK], -1.0, 1.0)
            block *= 32767.0
            out[at:at + block.size] = block.round()
            at += block.size
    return out


def from_pcm16(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def decode_delivered(data: bytes, fmt: str) -> np.ndarray:
    """A file this service delivered, back to s16 samples at 24 kHz (a cache hit streamed from storage): a
    lossless file gives exactly the samples that were streamed when it was made."""
    if fmt == "pcm":
        return np.frombuffer(data, dtype="<i2")
    chunks = []
    resampler = av.AudioResampler(format="s16", layout="mono", rate=OUTPUT_SAMPLE_RATE)
    with av.open(io.BytesIO(data), mode="r") as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype("<i2") if chunks else np.zeros(0, "<i2")
