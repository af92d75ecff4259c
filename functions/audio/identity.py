"""A voice's identity: the sha256 of its normalized 16 kHz PCM, nothing acoustic.

The identity is shared state: it selects cached audio and the engine's cached speaker features. Two
recordings share it only when their samples are identical, so one caller's upload can never be mapped onto
another caller's voice. Identical samples are the same audio: whoever sends them could make the same
content anyway.

An earlier version matched re-encodings of a recording (aac vs wav) by an acoustic fingerprint, across all
callers. On 66 synthetic speakers reading the one sentence the mini program asks everyone to read
(`scripts/bench_voice_identity.py`), 61 of 2,145 different-speaker pairs reached its 0.95 threshold (up to
0.999) while 16 of 330 re-encodings fell below it: a margin of -0.06, no threshold separates them. It was
removed rather than narrowed to one owner: an owner can be a server with one API key for many people, our
clients send the bytes they recorded (a repeat is byte-identical and found by the upload digest), and a
re-encoded repeat costs one miss, while a wrong match puts someone else's voice in a user's mouth.
"""

from __future__ import annotations

import hashlib

import numpy as np


def pcm_hash(samples: np.ndarray) -> str:
    """sha256 of the samples as 16-bit PCM (the form every prompt is normalized to)."""
    pcm = (np.clip(samples, -1, 1) * 32767).round().astype("<i2")
    return hashlib.sha256(pcm.tobytes()).hexdigest()
