"""A voice's identity: the sha256 of its normalized 16 kHz PCM, nothing acoustic.

The identity is shared state: it selects cached audio and the engine's cached speaker features. Two
recordings share it only when their samples are identical, so one caller's upload can never be mapped onto
another caller's voice. Identical samples are the same audio: whoever sends them could make the same
content anyway.

An earlier version matched re-encodings of a recording (aac vs wav) by an acoustic fingerprint, across all
callers. It merged different speakers reading the same sentence (the mini program asks everyone to read
the same one): 11 of 2,079 different-speaker pairs scored above its threshold, and a crafted recording 0.995.
It was removed rather than narrowed to one owner: our clients send the bytes they recorded, so a repeat is
byte-identical and already found by the upload digest; a re-encoded repeat costs one miss, while a wrong
match puts someone else's voice in a user's mouth.
"""

from __future__ import annotations

import hashlib

import numpy as np


def pcm_hash(samples: np.ndarray) -> str:
    """sha256 of the samples as 16-bit PCM (the form every prompt is normalized to)."""
    pcm = (np.clip(samples, -1, 1) * 32767).round().astype("<i2")
    return hashlib.sha256(pcm.tobytes()).hexdigest()
