"""The explicit label a listener hears: the standard's rhythm cue, Morse "AI" (short-long, short-short).

GB 45438-2025 lets audio carry its explicit label as a spoken notice or as this rhythm at the start, the end
or the middle; downloadable files must carry it themselves, so it is encoded into the file (AIGC_CUE). It is
added at encode time, after synthesis: the speech and its cache key do not depend on it.
"""

from __future__ import annotations

import numpy as np

UNIT_S = 0.1  # a short tone; a long one is three units, as in Morse
TONE_HZ = 1000.0
LEVEL = 0.3
PATTERN = ((1, 1), (3, 3), (1, 1), (1, 0))  # (tone units, silence units after it): ·−  ··
GAP_S = 0.3  # between the cue and the speech


def rhythm(rate: int) -> np.ndarray:
    """The cue's samples (float32 mono), without the gap that separates it from the speech."""
    parts = []
    fade = int(0.005 * rate)
    for tone, pause in PATTERN:
        n = int(tone * UNIT_S * rate)
        t = np.arange(n) / rate
        wave = (LEVEL * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        wave[:fade] *= ramp
        wave[-fade:] *= ramp[::-1]
        parts += [wave, np.zeros(int(pause * UNIT_S * rate), np.float32)]
    return np.concatenate(parts)


def gap(rate: int) -> np.ndarray:
    return np.zeros(int(GAP_S * rate), np.float32)


def tone_runs(samples: np.ndarray, rate: int, frame_s: float = 0.01) -> list[tuple[bool, float]]:
    """(tone on?, seconds) runs of the cue's tone in decoded audio: how a checker (and the tests) hears it."""
    n = int(frame_s * rate)
    frames = samples[: len(samples) // n * n].reshape(-1, n).astype(np.float64)
    t = np.arange(n) / rate
    probe = np.exp(-2j * np.pi * TONE_HZ * t)
    energy = np.abs(frames @ probe) / n  # the tone's amplitude per frame
    on = energy > LEVEL / 4
    runs: list[tuple[bool, float]] = []
    for value in on:
        if runs and runs[-1][0] == bool(value):
            runs[-1] = (runs[-1][0], runs[-1][1] + frame_s)
        else:
            runs.append((bool(value), frame_s))
    return [(v, round(d, 2)) for v, d in runs]
