#!/usr/bin/env python
"""Why a voice's identity is its exact PCM: the acoustic matcher it replaced, measured on a corpus.

Corpus: the sentence every mini-program user is asked to read, spoken by synthetic speakers (the espeak voice
with pitch and formants shifted -22..+22 %; half at random speaking rates 0.85-1.2, half at the same length,
the hardest case for an envelope matcher; room noise), and each recording re-encoded
the ways phones and browsers write it (aac 16 and 44.1 kHz, m4a, mp3, ogg opus), decoded by the service's own
decoder.

1. The former matcher (4-band log energies over 20 ms frames, Pearson correlation over small lags, match at
   0.95), for: a re-encoding vs its original (what it was for), another speaker reading the same sentence,
   and another take by the same speaker (a different speaking rate). The margin is the lowest re-encoding score
   minus the highest score of any other recording: below zero, no threshold separates them.
2. The identity now: byte-identical repeats hit (by the upload digest), re-encodings are new voices (one
   miss), and no two different recordings share an identity.

    python scripts/bench_voice_identity.py [--speakers 40] [--out artifacts/bench_voice_identity.png]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from functions.audio.decode import decode_prompt  # noqa: E402
from functions.audio.identity import pcm_hash  # noqa: E402
from tests.audio_samples import PROMPT_TEXT, encode, speech_24k  # noqa: E402

RATE, FRAME, HOP, MAX_LAG, MATCH = 16000, 320, 160, 8, 0.95
BANDS_HZ = ((80, 500), (500, 1200), (1200, 2500), (2500, 4000))
ENCODINGS = {"aac 16k": (16000, "adts", "aac", 48000), "aac 44.1k": (44100, "adts", "aac", 96000),
             "m4a 48k": (48000, "ipod", "aac", 64000), "mp3 16k": (16000, "mp3", "libmp3lame", 48000),
             "opus 48k": (48000, "ogg", "libopus", 32000)}


def former_fingerprint(samples: np.ndarray) -> np.ndarray:
    """The removed matcher's fingerprint: log energies of 4 speech bands, silence trimmed, 40 dB floor."""
    n = max(0, (samples.size - FRAME) // HOP + 1)
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]
    frames = samples.astype(np.float32)[idx]
    energy = np.log10(np.mean(frames ** 2, axis=1) + 1e-10)
    active = np.nonzero(energy > energy.max() - 3.5)[0]
    frames = frames[active[0]: active[-1] + 1]
    spec = np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=1)) ** 2
    freqs = np.fft.rfftfreq(FRAME, 1 / RATE)
    logs = np.log10(np.stack([spec[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in BANDS_HZ], 1) + 1e-10)
    return np.maximum(logs, logs.max() - 4.0)


def former_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Best Pearson correlation over lags; the removed matcher compared only clips of similar length."""
    best = 0.0
    for lag in range(-MAX_LAG, MAX_LAG + 1):
        x, y = a[max(0, lag):], b[max(0, -lag):]
        m = min(len(x), len(y))
        x, y = x[:m].ravel() - x[:m].mean(), y[:m].ravel() - y[:m].mean()
        denom = float(np.sqrt((x * x).sum() * (y * y).sum()))
        if denom > 0:
            best = max(best, float((x * y).sum()) / denom)
    return best


def speaker(shift: float, rate: float, seed: int) -> np.ndarray:
    """The espeak voice with pitch and formants scaled by `shift`, at speaking rate `rate`, 48 kHz."""
    import soxr

    base = speech_24k(PROMPT_TEXT, rate)
    voiced = soxr.resample(base, 24000, int(24000 / shift)).astype(np.float32)  # played back at 24 kHz
    noise = np.random.default_rng(seed).normal(0, 0.002, voiced.size).astype(np.float32)
    return soxr.resample(np.clip(voiced + noise, -1, 1), 24000, 48000).astype(np.float32)


def recording(samples_48k: np.ndarray, name: str) -> bytes:
    import soxr

    rate, container, codec, bitrate = ENCODINGS.get(name, (48000, "wav", "pcm_s16le", None))
    audio = samples_48k if rate == 48000 else soxr.resample(samples_48k, 48000, rate).astype(np.float32)
    return encode(audio, rate, container, codec, bitrate=bitrate)


def decoded(samples_48k: np.ndarray, name: str) -> np.ndarray:
    return decode_prompt(recording(samples_48k, name)).samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speakers", type=int, default=40)
    ap.add_argument("--out", default="artifacts/bench_voice_identity.png")
    args = ap.parse_args()
    import logging

    logging.getLogger("inference").setLevel(logging.ERROR)
    rng = np.random.default_rng(12)
    people = []
    for i in range(args.speakers):
        shift = float(rng.uniform(0.78, 1.22))
        # even speakers: a random rate; odd ones: the rate that gives every such speaker the same length
        people.append((shift, float(rng.uniform(0.85, 1.2)) if i % 2 == 0 else 1.0 / shift))
    originals, reencoded, takes = [], [], []
    for i, (shift, rate) in enumerate(people):
        print(f"\rspeaker {i + 1}/{len(people)} (pitch x{shift:.2f}, rate x{rate:.2f}) ...", end="", flush=True)
        voice = speaker(shift, rate, seed=i)
        originals.append(decoded(voice, "wav"))
        reencoded.append({name: decoded(voice, name) for name in ENCODINGS})
        takes.append(decoded(speaker(shift, min(1.25, rate * 1.08), seed=1000 + i), "wav"))
    print()
    fps = [former_fingerprint(x) for x in originals]
    same = [former_similarity(fps[i], former_fingerprint(x)) for i in range(len(people))
            for x in reencoded[i].values()]
    other_speaker = [former_similarity(fps[i], fps[j]) for i, j in itertools.combinations(range(len(people)), 2)]
    other_take = [former_similarity(fps[i], former_fingerprint(takes[i])) for i in range(len(people))]
    others = other_speaker + other_take
    margin = min(same) - max(others)
    print(f"former matcher (match at {MATCH}):")
    print(f"  re-encoding vs original ({len(same)}): min {min(same):.3f}, median {np.median(same):.3f}; "
          f"{sum(s < MATCH for s in same)} below the threshold (missed)")
    print(f"  other speaker, same sentence ({len(other_speaker)} pairs): max {max(other_speaker):.3f}, "
          f"{sum(s >= MATCH for s in other_speaker)} at or above the threshold (another user's voice)")
    print(f"  other take, same speaker ({len(other_take)}): max {max(other_take):.3f}, "
          f"{sum(s >= MATCH for s in other_take)} at or above the threshold")
    print(f"  margin (lowest re-encoding - highest other): {margin:+.3f} "
          f"({'separable' if margin > 0 else 'no threshold separates them'})")
    hashes = [pcm_hash(x) for x in originals] + [pcm_hash(x) for r in reencoded for x in r.values()] + \
        [pcm_hash(x) for x in takes]
    upload = recording(speaker(*people[0], seed=0), "aac 16k")
    repeat = pcm_hash(decode_prompt(upload).samples) == pcm_hash(decode_prompt(upload).samples)
    print("identity now (sha256 of the 16 kHz PCM):")
    print(f"  {len(hashes)} recordings -> {len(set(hashes))} identities; a byte-identical repeat is "
          f"{'the same identity (a hit)' if repeat else 'NOT the same identity'}; re-encodings are new voices")
    plot(args.out, same, other_speaker, other_take, margin)
    return 0


def plot(out: str, same, other_speaker, other_take, margin: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    bins = np.linspace(min(min(other_speaker), 0.5), 1.0, 60)
    ax.hist(other_speaker, bins, alpha=0.6, label=f"other speaker, same sentence ({len(other_speaker)})")
    ax.hist(other_take, bins, alpha=0.6, label=f"same speaker, other take ({len(other_take)})")
    ax.hist(same, bins, alpha=0.6, label=f"same recording re-encoded ({len(same)})")
    ax.axvline(MATCH, color="k", ls="--", label=f"former threshold {MATCH}")
    ax.set_xlabel("former fingerprint similarity")
    ax.set_ylabel("recordings")
    ax.set_title(f"Former acoustic matcher: margin {margin:+.3f} (negative: no threshold separates)")
    ax.legend(loc="upper left", fontsize=8)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    sys.exit(main())
