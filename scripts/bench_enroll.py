#!/usr/bin/env python
"""Enrollment time for a 10 s recording: decode, VAD trim, normalize, hash and store (no ASR).

Runs the real Enrollment against local storage and in-process state; prints p50/p95 per stage and in total
(target: total p50 <= 150 ms), for aac, m4a, mp3 and wav inputs, and writes a PNG of the stage breakdown.

    python scripts/bench_enroll.py [--runs 30] [--out artifacts/bench_enroll.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from functions.settings import Settings  # noqa: E402
from functions.storage.local import LocalStore  # noqa: E402
from functions.auth import Identity  # noqa: E402
from functions.timings import Timings  # noqa: E402
from functions.voices.enroll import Enrollment  # noqa: E402
from functions.voices.store import VoiceStore  # noqa: E402
from tests.audio_samples import encode, speech_24k  # noqa: E402

TEXT = "希望你以后能够做的比我还好呦。今天的天气非常好，我们一起去公园散步吧。"


def ten_seconds(rate: int) -> np.ndarray:
    import soxr

    speech = speech_24k(TEXT)
    while speech.size < 10 * 24000:
        speech = np.concatenate([speech, speech_24k(TEXT)])
    return soxr.resample(speech[: 10 * 24000], 24000, rate).astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--out", default="artifacts/bench_enroll.png")
    args = ap.parse_args()
    inputs = {
        "aac 44.1k": encode(ten_seconds(44100), 44100, "adts", "aac", bitrate=96000),
        "m4a 48k": encode(ten_seconds(48000), 48000, "ipod", "aac"),
        "mp3 16k": encode(ten_seconds(16000), 16000, "mp3", "libmp3lame", bitrate=48000),
        "wav 16k": encode(ten_seconds(16000), 16000, "wav", "pcm_s16le"),
    }
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({}, max_voices_per_owner=10_000)
        service = Enrollment(settings, VoiceStore(LocalStore(tmp, "http://x")))
        # the first enrollment loads the VAD model; every one states consent, as the service requires
        service.enroll(Identity("warmup", "bench"), {"consent": "self"}, inputs["wav 16k"], Timings())
        for name, data in inputs.items():
            totals, stages = [], {}
            for i in range(args.runs):
                timings = Timings()
                t0 = time.perf_counter()
                service.enroll(Identity(f"owner{i}", "bench"), {"consent": "self"}, data, timings)
                totals.append((time.perf_counter() - t0) * 1000)
                for k, v in timings.stages.items():
                    stages.setdefault(k, []).append(v)
            results[name] = (totals, {k: float(np.median(v)) for k, v in stages.items()})
            p50, p95 = np.percentile(totals, [50, 95])
            breakdown = "  ".join(f"{k} {v:.1f}" for k, v in results[name][1].items())
            print(f"{name:>9}: total p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  ({breakdown})  "
                  f"target <= 150 ms: {'ok' if p50 <= 150 else 'MISSED'}", flush=True)
    plot(results, Path(args.out))
    return 0


def plot(results, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4))
    names = list(results)
    bottom = np.zeros(len(names))
    for stage in ("decode", "vad", "hash", "store"):
        values = np.array([results[n][1].get(stage, 0.0) for n in names])
        ax.bar(names, values, bottom=bottom, label=stage)
        bottom += values
    ax.axhline(150, color="red", linestyle="--", label="target 150 ms")
    ax.set_ylabel("median ms")
    ax.set_title("Enrollment of a 10 s recording, by stage")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    sys.exit(main())
