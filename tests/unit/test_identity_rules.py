"""A voice's identity is the sha256 of its samples as little-endian 16-bit PCM: full scale is 32767, samples
beyond full scale are clipped to it, and halves round to even."""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from functions.audio.identity import pcm_hash


def _sha(*pcm: int) -> str:
    return hashlib.sha256(struct.pack(f"<{len(pcm)}h", *pcm)).hexdigest()


def test_the_identity_is_the_hash_of_the_16_bit_pcm():
    samples = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 0.25], dtype=np.float32)
    assert pcm_hash(samples) == _sha(0, 16384, -16384, 32767, -32767, 8192)


def test_samples_beyond_full_scale_are_clipped_not_wrapped():
    assert pcm_hash(np.array([1.5, -1.5, 3.0, -3.0])) == _sha(32767, -32767, 32767, -32767)
    assert pcm_hash(np.array([1.5, -1.5])) == pcm_hash(np.array([1.0, -1.0]))


def test_a_one_sample_difference_is_another_identity():
    assert pcm_hash(np.array([0.0, 0.1])) != pcm_hash(np.array([0.0, 0.1 + 1 / 32767]))
