"""The one float-to-s16 conversion (functions/audio/pcm.py): block by block into one array, it gives exactly
what converting the joined floats whole gives, so a stream's chunks still concatenate to the stored file."""

from __future__ import annotations

import numpy as np
import pytest

from functions.audio.pcm import BLOCK, pcm16, pcm16_joined


def whole(samples: np.ndarray) -> np.ndarray:
    """The conversion as written for a whole array at once (what pcm16 did before it went block by block)."""
    return (np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0) * 32767.0).round().astype("<i2")


@pytest.mark.parametrize("sizes", [[0], [1], [BLOCK - 1, 1, BLOCK + 1], [3, 0, 2 * BLOCK + 5, 7], [BLOCK] * 3])
def test_pieces_convert_as_the_joined_whole(sizes):
    rng = np.random.default_rng(len(sizes))
    pieces = [(rng.standard_normal(n) * 0.9).astype(np.float32) for n in sizes]
    pieces[0][:2] = [1.5, -2.0][:pieces[0].size]  # clipped
    expected = whole(np.concatenate(pieces))
    assert np.array_equal(pcm16_joined(pieces), expected)
    assert np.array_equal(np.concatenate([pcm16(p) for p in pieces]), expected)  # chunk by chunk, as streamed


def test_float64_and_shaped_input_convert_like_float32():
    samples = np.linspace(-1.2, 1.2, 1001).reshape(1, -1)
    assert np.array_equal(pcm16(samples), whole(samples)) and pcm16(samples).dtype == np.dtype("<i2")
