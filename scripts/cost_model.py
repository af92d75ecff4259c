#!/usr/bin/env python
"""What scale-to-zero saves, and what it costs users in waiting: replay a request trace through a
simulation of the cache, the job queue and the endpoint controller.

Three policies are compared on the same trace: always-on, scale-to-zero (wake on a miss, stop after
IDLE_STOP_S idle at the scale-down schedule), and scale-to-zero with scheduled warm-up (start ahead of the
configured windows and pre-render the most popular phrases). It prints GPU hours, cost, cache hit ratio, and
the share of requests that waited for a cold start with their wait distribution, and plots cost and waits by
hour of day.

The simulated parts are the service's own code where that is possible: cache keys are built by the service's
`functions.tts.cache_key.CacheKeys` over a `functions.tts.plan.Plan`, the stop decision is
`functions.jobs.upkeep.should_scale_down`, schedules are evaluated by `functions.cron.matches`, and the
defaults come from `functions.settings`.

    python scripts/cost_model.py                          # synthetic 30-day trace
    python scripts/cost_model.py --trace audit.log        # the service's audit log (JSON lines)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from functions.endpoint.controller import ASLEEP, READY, STARTING  # noqa: E402
from functions.jobs.upkeep import should_scale_down  # noqa: E402
from functions.cron import in_windows, matches  # noqa: E402
from functions.settings import Settings  # noqa: E402
from functions.tts.cache_key import CacheKeys  # noqa: E402
from functions.tts.plan import Plan  # noqa: E402
from functions.warm_hours import learn_hours, rates_from, warm_now  # noqa: E402

CN = timezone(timedelta(hours=8))
# Relative traffic by hour of day, China time.
PROFILES = {
    # an all-day utility: quiet nights, a lunch bump, the evening peak
    "general": np.array([0.3, 0.15, 0.08, 0.05, 0.05, 0.08, 0.2, 0.5, 0.8, 0.9, 1.0, 1.3, 1.6, 1.3, 1.0, 0.9,
                         0.9, 1.0, 1.3, 1.8, 2.4, 2.6, 2.0, 1.0]),
    # an evening app (bedtime stories read in a parent's voice, evening reading): most use 19:00-23:00
    "evening": np.array([0.15, 0.03, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.05, 0.05, 0.05, 0.1, 0.15, 0.1, 0.05,
                         0.05, 0.05, 0.1, 0.3, 1.5, 2.6, 2.8, 2.0, 0.6]),
}
WEEKLY = np.array([0.9, 0.9, 0.95, 0.95, 1.05, 1.3, 1.25])  # Monday .. Sunday
PROFILES["office"] = np.array([0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.1, 0.6, 1.8, 2.2, 2.0, 1.2, 1.6, 2.1,
                               2.2, 2.0, 1.6, 0.6, 0.2, 0.1, 0.08, 0.05, 0.03])  # a workplace tool: 9:00-18:00
WEEKLY_BY_PROFILE = {"office": np.array([1.2, 1.2, 1.2, 1.2, 1.1, 0.05, 0.05])}  # weekdays only
RATE_WINDOW_S = 900  # hybrid: the miss rate that decides a wake-up is measured over the last 15 minutes


@dataclass
class Request:
    t: float  # unix seconds
    text: str
    voice: str


@dataclass
class Outcome:
    name: str
    gpu_hours: float = 0.0
    cost: float = 0.0
    hits: int = 0
    requests: int = 0
    waits: list[float] = field(default_factory=list)  # seconds, requests that waited for a cold start
    wait_hours: list[int] = field(default_factory=list)  # hour of day (China time) of each wait
    running_by_hour: np.ndarray = field(default_factory=lambda: np.zeros(24))  # GPU seconds per hour of day
    billed_hours: float = 0.0  # GPU hours as billed (minimum and increment)
    hosted_cost: float = 0.0  # CNY paid to the hosted API


def synthetic_trace(days: int, per_day: float, texts: int, voices: int, seed: int, start: datetime,
                    profile: str = "evening") -> list[Request]:
    """Poisson arrivals following the daily curve and weekly pattern; Zipf-popular texts and voices."""
    rng = np.random.default_rng(seed)
    curve = PROFILES[profile]
    out: list[Request] = []
    for day in range(days):
        date = start + timedelta(days=day)
        for hour in range(24):
            weekly = WEEKLY_BY_PROFILE.get(profile, WEEKLY)
            rate = per_day * weekly[date.weekday()] * curve[hour] / curve.sum()
            n = rng.poisson(rate)
            base = (date + timedelta(hours=hour)).timestamp()
            for t in np.sort(rng.uniform(0, 3600, n)):
                text = min(int(rng.zipf(1.15)), texts)
                voice = min(int(rng.zipf(1.4)), voices)
                out.append(Request(base + float(t), f"phrase-{text}", f"voice-{voice}"))
    return out


def audit_trace(path: Path) -> list[Request]:
    """POST /v1/tts lines of the service's audit log (text hash and voice id; hashes are enough for keys)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line[line.index("{"):])
        except ValueError:
            continue
        if entry.get("endpoint") == "/v1/tts" and entry.get("method") == "POST" and entry.get("text_sha256"):
            out.append(Request(float(entry["ts"]), entry["text_sha256"], entry.get("voice_id") or "upload"))
    return sorted(out, key=lambda r: r.t)


def cache_key(settings: Settings, r: Request) -> str:
    """The key the service would give the request (a trace has no transcripts: cross-lingual plans)."""
    plan = Plan(text=r.text, mode="cross_lingual", instruct="", prompt_text="", speed=1.0, seed=None, format="mp3",
                voice_hash=r.voice)
    return CacheKeys(settings, lambda: b"cost-model").key(plan)


def billed_seconds(seconds: float, minimum_s: float, increment_s: float) -> float:
    return max(minimum_s, math.ceil(seconds / increment_s) * increment_s)


POLICIES = ("always-on", "scale-to-zero", "fixed warm-up", "learned warm-up", "hosted", "hybrid")


def learned_hours_for(trace: list[Request], keys: list[str], until: float, args) -> set[int]:
    """The hours WARM_HOURS=learned would keep warm at `until`: from the misses (first sight of each key) of
    the weeks before, by the service's own rule (functions/warm_hours.py)."""
    seen: set[str] = set()
    misses, requests = [], []
    for r, key in zip(trace, keys, strict=True):
        if r.t >= until:
            break
        requests.append(r.t)
        if key not in seen:
            seen.add(key)
            misses.append(r.t)
    rates = rates_from(misses, weeks=args.learn_weeks, now=until)
    return learn_hours(rates, requests=rates_from(requests, weeks=args.learn_weeks, now=until),
                       cold_start_s=args.cold_start_s, wait_share=args.warm_wait_share)


def hosted_cost_per_miss(args) -> float:
    """DashScope bills characters, a Chinese character as 2 (CNY per 10,000 billed characters)."""
    return args.chars_per_request * 2 * args.hosted_price / 10000


def simulate(name: str, trace: list[Request], settings: Settings, args, *, always_on: bool = False,
             warmup: bool = False, popular: list[Request] = (), policy: str | None = None,
             keys: list[str] | None = None, learned: set[int] | None = None, gpu_price: float | None = None,
             measure_from: float | None = None) -> Outcome:
    """Replay `trace` under one policy. `policy` (one of POLICIES) overrides the older flags; `keys` are the
    requests' cache keys (computed once per trace); only requests from `measure_from` on are counted (the
    weeks before are history, for learned hours and a warm cache)."""
    policy = policy or ("always-on" if always_on else "fixed warm-up" if warmup else "scale-to-zero")
    always_on, warmup = policy == "always-on", policy == "fixed warm-up"
    learned = learned or set()
    price = args.gpu_price if gpu_price is None else gpu_price
    keys = keys or [cache_key(settings, r) for r in trace]
    measure_from = trace[0].t if measure_from is None else measure_from
    out = Outcome(name)
    cache: set[str] = set()
    state, ready_at, started_at, last_inference = (READY if always_on else ASLEEP), 0.0, trace[0].t, -1e18
    runs: list[tuple[float, float]] = []
    recent: list[float] = []  # hybrid: miss times of the last RATE_WINDOW_S
    per_miss = hosted_cost_per_miss(args)

    def add_running(a: float, b: float) -> None:
        a = max(a, measure_from)
        if b <= a:
            return
        runs.append((a, b))
        t = a
        while t < b:  # attribute GPU time to hours of day for the plot
            hour_end = (math.floor(t / 3600) + 1) * 3600
            out.running_by_hour[datetime.fromtimestamp(t, CN).hour] += min(b, hour_end) - t
            t = min(b, hour_end)

    def start(now: float) -> None:
        nonlocal state, ready_at, started_at
        if state == ASLEEP:
            state, started_at, ready_at = STARTING, now, now + args.cold_start_s

    def tick(now: float) -> None:
        """Scheduled handlers that fire between the previous request and `now` (minute resolution)."""
        nonlocal state
        for minute in range(int(tick.last // 60) + 1, int(now // 60) + 1):
            t = minute * 60.0
            if state == STARTING and t >= ready_at:
                state = READY
                if warmup and tick.prerender:  # the warm-up handler pre-renders into the cache once ready
                    cache.update(cache_key(settings, r) for r in popular)
                    tick.prerender = False
            if always_on or policy == "hosted":
                continue
            when = datetime.fromtimestamp(t, timezone.utc)
            if warmup and any(matches(c, when) for c in args.warmup_cron):
                start(t)
                tick.prerender = True
            keep_warm = warmup and in_windows(args.keep_warm, when)
            if policy == "learned warm-up" and learned:
                keep_warm = warm_now(learned, t)
                if state == ASLEEP and matches(args.scale_down_cron, when) and \
                        warm_now(learned, t, lead_s=args.cold_start_s):
                    start(t)
            if state == READY and matches(args.scale_down_cron, when) and \
                    should_scale_down(state, 0, t - last_inference, settings.idle_stop_s, keep_warm):
                add_running(started_at, t)
                state = ASLEEP
        tick.last = now

    tick.last, tick.prerender = trace[0].t, False
    for r, key in zip(trace, keys, strict=True):
        tick(r.t)
        if state == STARTING and r.t >= ready_at:  # booted between two minute ticks
            state = READY
        counted = r.t >= measure_from
        out.requests += counted
        if key in cache:
            out.hits += counted
            continue
        cache.add(key)
        if policy == "hosted":
            out.hosted_cost += per_miss * counted
            continue
        if state != READY and policy == "hybrid":
            # a miss while the GPU sleeps or boots goes to the hosted API (seconds, no cold wait); the GPU is
            # woken when the recent miss rate would cost more hosted than the GPU's hour
            out.hosted_cost += per_miss * counted
            recent.append(r.t)
            while recent and recent[0] < r.t - RATE_WINDOW_S:
                recent.pop(0)
            if len(recent) * 3600 / RATE_WINDOW_S * per_miss >= price:
                start(r.t)
            continue
        if state != READY:
            # a miss while the GPU sleeps wakes it; it and every miss until the boot ends wait for it
            start(r.t)
            wait = max(0.0, ready_at - r.t) + args.infer_s
            if counted:
                out.waits.append(wait)
                out.wait_hours.append(datetime.fromtimestamp(r.t, CN).hour)
            last_inference = max(last_inference, max(r.t, ready_at) + args.infer_s)
        else:
            last_inference = r.t + args.infer_s
    end = trace[-1].t + 3600
    tick(end)
    if state in (READY, STARTING):
        add_running(started_at, end)
    if always_on:
        runs.clear()
        out.running_by_hour[:] = 0
        add_running(trace[0].t, end)
    seconds = sum(b - a for a, b in runs)
    out.gpu_hours = seconds / 3600
    out.billed_hours = sum(billed_seconds(b - a, args.billing_min_s, args.billing_increment_s) for a, b in runs) / 3600
    out.cost = out.billed_hours * price + out.hosted_cost
    return out


def report(outcomes: list[Outcome], days: int) -> None:
    base = outcomes[0].cost
    print(f"\n{'policy':<28}{'GPU h':>9}{'cost':>11}{'vs always-on':>14}{'hit ratio':>11}{'waited':>9}"
          f"{'wait p50':>10}{'wait p95':>10}")
    for o in outcomes:
        waits = np.array(o.waits) if o.waits else np.zeros(1)
        share = len(o.waits) / max(1, o.requests)
        print(f"{o.name:<28}{o.gpu_hours:9.1f}{o.cost:11.2f}{o.cost / base:13.0%} {o.hits / max(1, o.requests):10.1%}"
              f"{share:9.2%}{np.percentile(waits, 50):9.0f}s{np.percentile(waits, 95):9.0f}s")
    best = outcomes[-1]
    share = len(best.waits) / max(1, best.requests)
    ok = best.cost <= 0.35 * base and share <= 0.05
    print(f"\ntarget (scale-to-zero with warm-up <= 35% of always-on, <= 5% of requests wait): "
          f"{best.cost / base:.0%} and {share:.2%} -> {'ok' if ok else 'MISSED'}  ({days} days)")


def plot(outcomes: list[Outcome], days: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    hours = np.arange(24)
    width = 0.27
    for i, o in enumerate(outcomes):
        ax1.bar(hours + (i - 1) * width, o.running_by_hour / 3600 / days, width, label=o.name)
        waits = np.bincount(np.array(o.wait_hours, dtype=int), minlength=24) / days if o.wait_hours else np.zeros(24)
        ax2.bar(hours + (i - 1) * width, waits, width, label=o.name)
    ax1.set_ylabel("GPU hours per day\n(by hour of day)")
    ax1.set_title("GPU time and cold-start waits by hour of day (China time)")
    ax1.legend()
    ax2.set_ylabel("requests that waited\nfor a cold start, per day")
    ax2.set_xlabel("hour of day")
    ax2.set_xticks(hours)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


# GPU classes: on-demand list prices, AWS us-east-1 (aws.amazon.com/ec2/pricing/on-demand/, Linux, per second
# with a 60 s minimum), converted at --usd-cny. Tencent Cloud's GPU instances (GN7 T4, GN10X/GN7vw and
# L20-class) are priced in its CVM price calculator (cloud.tencent.com/document/product/560/8025: billed by the
# second, settled hourly, a stopped pay-as-you-go instance not charged): pass them as --gpu-price CNY/h.
GPU_CLASSES_USD = {"T4 (g4dn.xlarge)": 0.526, "L4 (g6.xlarge)": 0.8048, "A10G (g5.xlarge)": 1.006}
VOLUMES = (100, 300, 1000, 3000, 10000)
SHAPES = {"evening": "evening", "all-day": "general", "office hours": "office"}


def sweep(args, settings: Settings) -> list[dict]:
    """Every policy on every shape and volume: 4 weeks of history (learned hours, a warm cache), then 30 days
    measured. GPU policies are priced per class after the fact; hybrid's wake rule depends on the price, so it
    runs per class."""
    rows = []
    start = datetime(2026, 10, 5, tzinfo=CN)
    measure_from = (start + timedelta(days=7 * args.learn_weeks)).timestamp()
    prices = {name: usd * args.usd_cny for name, usd in GPU_CLASSES_USD.items()}
    for shape, profile in SHAPES.items():
        for volume in VOLUMES:
            trace = synthetic_trace(7 * args.learn_weeks + 30, volume, args.texts, args.voices, args.seed, start,
                                    profile)
            keys = [cache_key(settings, r) for r in trace]
            learned = learned_hours_for(trace, keys, measure_from, args)
            print(f"  {shape}, {volume}/day: {len(trace)} requests, {len(learned)} learned hours/week", flush=True)
            for policy in POLICIES:
                for gpu, price in prices.items() if policy != "hosted" else [("-", 0.0)]:
                    if policy != "hybrid" and gpu not in ("-", next(iter(prices))):
                        continue  # one run; other classes are the same GPU hours at another price
                    o = simulate(policy, trace, settings, args, policy=policy, keys=keys, learned=learned,
                                 gpu_price=price, measure_from=measure_from)
                    for cls, cls_price in prices.items():
                        if policy == "hybrid" and cls != gpu:
                            continue
                        rows.append({"shape": shape, "volume": volume, "policy": policy, "gpu": cls,
                                     "cost": o.billed_hours * cls_price + o.hosted_cost,
                                     "waited": len(o.waits) / max(1, o.requests),
                                     "wait_p50": float(np.percentile(o.waits, 50)) if o.waits else 0.0})
    return rows


def sweep_report(rows: list[dict], args) -> dict:
    """The table for the first GPU class, break-even volumes per class, and the issue's targets."""
    first = next(iter(GPU_CLASSES_USD))
    print(f"\nmonthly cost (CNY, 30 days) and share of requests waiting for a cold GPU ({first}, "
          f"hosted {args.hosted_price} CNY per 10k billed characters, {args.chars_per_request} characters a miss):")
    print(f"{'shape':<14}{'req/day':>8}" + "".join(f"{p:>24}" for p in POLICIES))
    for shape in SHAPES:
        for volume in VOLUMES:
            cells = []
            for policy in POLICIES:
                row = next(r for r in rows if r["shape"] == shape and r["volume"] == volume and r["policy"] == policy
                           and r["gpu"] == first)
                cells.append(f"{row['cost']:10.0f} {row['waited']:6.1%} wait")
            print(f"{shape:<14}{volume:>8}" + "".join(f"{c:>24}" for c in cells))
    verdicts = {"hybrid_within_1_1": True, "learned_ok": True}
    for gpu in GPU_CLASSES_USD:
        for shape in SHAPES:
            for volume in VOLUMES:
                cell = {r["policy"]: r for r in rows if r["shape"] == shape and r["volume"] == volume
                        and r["gpu"] == gpu}
                cheapest_other = min(r["cost"] for p, r in cell.items() if p != "hybrid")
                if cell["hybrid"]["cost"] > 1.1 * cheapest_other + 1e-9 or cell["hybrid"]["waited"] > 0:
                    verdicts["hybrid_within_1_1"] = False
                    print(f"  hybrid MISSED at {gpu}, {shape}, {volume}/day: {cell['hybrid']['cost']:.0f} vs "
                          f"{cheapest_other:.0f}")
    for shape in ("evening", "all-day"):
        for volume in VOLUMES:
            cell = {r["policy"]: r for r in rows if r["shape"] == shape and r["volume"] == volume and r["gpu"] == first}
            learned, always = cell["learned warm-up"], cell["always-on"]
            ok = learned["waited"] < 0.02 and learned["cost"] <= 0.4 * always["cost"]
            verdicts["learned_ok"] &= ok
            if not ok:
                print(f"  learned warm-up MISSED at {shape}, {volume}/day: {learned['waited']:.2%} waited, "
                      f"{learned['cost'] / always['cost']:.0%} of always-on")
    print("\nbreak-even: the volume above which a GPU (its cheapest policy) costs less than the hosted API")
    breakeven = {}
    for gpu in GPU_CLASSES_USD:
        for shape in SHAPES:
            points = []
            for volume in VOLUMES:
                cell = [r for r in rows if r["shape"] == shape and r["volume"] == volume and r["gpu"] in (gpu, "-")]
                gpu_cost = min(r["cost"] for r in cell if r["policy"] not in ("hosted", "hybrid"))
                hosted = next(r["cost"] for r in cell if r["policy"] == "hosted")
                points.append((volume, gpu_cost - hosted))
            crossing = None
            for (v1, d1), (v2, d2) in zip(points, points[1:], strict=False):
                if d1 > 0 >= d2:  # log-linear interpolation between the two volumes
                    crossing = math.exp(math.log(v1) + (math.log(v2) - math.log(v1)) * d1 / (d1 - d2))
                    break
            breakeven[(gpu, shape)] = crossing
            shown = f"{crossing:,.0f} requests/day" if crossing else (
                "above 10,000/day" if points[-1][1] > 0 else "below 100/day")
            if crossing is None and points[-1][1] > 0:
                # beyond the sweep: hosted cost grows with misses, the GPU's tends to always-on's
                top = [r for r in rows if r["shape"] == shape and r["volume"] == VOLUMES[-1]]
                always = next(r["cost"] for r in top if r["policy"] == "always-on" and r["gpu"] == gpu)
                hosted = next(r["cost"] for r in top if r["policy"] == "hosted")
                shown += f" (always-on's cost at about {VOLUMES[-1] * always / hosted:,.0f}/day at this hit ratio)"
            print(f"  {gpu:<18} {shape:<14} {shown}")
    print(f"\ntargets: hybrid <= 1.1x the cheapest other policy and no cold waits, every class, shape and volume: "
          f"{'ok' if verdicts['hybrid_within_1_1'] else 'MISSED'}; learned warm-up < 2% waiting at <= 40% of "
          f"always-on (evening, all-day): {'ok' if verdicts['learned_ok'] else 'MISSED'}")
    return breakeven


def plot_breakeven(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(GPU_CLASSES_USD))
    fig, axes = plt.subplots(1, len(SHAPES), figsize=(5.2 * len(SHAPES), 4.4), sharey=True)
    for ax, shape in zip(axes, SHAPES, strict=True):
        for policy in POLICIES:
            costs = [next(r["cost"] for r in rows if r["shape"] == shape and r["volume"] == v and r["policy"] == policy
                          and r["gpu"] in (first, "-")) for v in VOLUMES]
            ax.plot(VOLUMES, costs, marker="o", label=policy, linewidth=2.5 if policy == "hybrid" else 1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{shape}")
        ax.set_xlabel("requests per day")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(f"CNY per month ({first})")
    axes[-1].legend(fontsize=8)
    fig.suptitle("Monthly cost against volume per policy (where the lines cross: break-even)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


def main() -> int:
    defaults = Settings.from_env({})
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", type=Path, help="audit log (JSON lines) to replay instead of the synthetic trace")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--per-day", type=float, default=400, help="mean synthesis requests per day")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="evening", help="daily traffic curve")
    ap.add_argument("--texts", type=int, default=5000, help="distinct texts (Zipf)")
    ap.add_argument("--voices", type=int, default=300, help="distinct voices (Zipf)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cold-start-s", type=float, default=180, help="GPU instance boot + model load")
    ap.add_argument("--infer-s", type=float, default=2.0, help="synthesis time of one miss")
    ap.add_argument("--gpu-price", type=float, default=1.2, help="GPU instance price per hour")
    ap.add_argument("--billing-min-s", type=float, default=60, help="minimum billed time per start")
    ap.add_argument("--billing-increment-s", type=float, default=1, help="billing granularity")
    ap.add_argument("--idle-stop-s", type=int, default=defaults.idle_stop_s)
    ap.add_argument("--scale-down-cron", default="*/5 * * * *")
    ap.add_argument("--warmup-cron", nargs="*", default=["50 11 * * *"],
                    help="UTC crons (default: 19:50 China time, before the evening peak)")
    ap.add_argument("--keep-warm", default="12:00-15:00", help="UTC windows without scale-down (20:00-23:00 CST)")
    ap.add_argument("--prerender", type=int, default=300, help="popular (text, voice) pairs pre-rendered")
    ap.add_argument("--out", default="artifacts/cost_model.png")
    ap.add_argument("--sweep", action="store_true",
                    help="every policy x traffic shape x volume (100-10,000/day), break-even per GPU class")
    ap.add_argument("--usd-cny", type=float, default=7.2)
    ap.add_argument("--hosted-price", type=float, default=1.0,
                    help="hosted CosyVoice (DashScope cosyvoice-v3-flash) CNY per 10,000 billed characters")
    ap.add_argument("--chars-per-request", type=float, default=30, help="Chinese characters in a mean request")
    ap.add_argument("--learn-weeks", type=int, default=defaults.warm_history_weeks)
    ap.add_argument("--warm-wait-share", type=float, default=defaults.warm_wait_share)
    args = ap.parse_args()
    if args.sweep:
        settings = Settings.from_env({}, idle_stop_s=args.idle_stop_s)
        print("sweep: 3 shapes x 5 volumes x 6 policies (x 3 GPU classes for hybrid) ...", flush=True)
        rows = sweep(args, settings)
        sweep_report(rows, args)
        plot_breakeven(rows, Path(args.out).with_name("cost_breakeven.png"))
        return 0

    settings = Settings.from_env({}, idle_stop_s=args.idle_stop_s)
    start = datetime(2026, 11, 2, tzinfo=CN)
    trace = audit_trace(args.trace) if args.trace else synthetic_trace(args.days, args.per_day, args.texts,
                                                                      args.voices, args.seed, start, args.profile)
    if not trace:
        print("empty trace")
        return 1
    days = max(1, round((trace[-1].t - trace[0].t) / 86400))
    print(f"trace: {len(trace)} requests over {days} days; cold start {args.cold_start_s:.0f}s, "
          f"idle stop {args.idle_stop_s}s, GPU {args.gpu_price}/h", flush=True)
    counts: dict[tuple[str, str], int] = {}
    for r in trace[: len(trace) // 4]:  # popularity as an operator would know it from past traffic
        counts[(r.text, r.voice)] = counts.get((r.text, r.voice), 0) + 1
    popular = [Request(0, t, v) for (t, v), _ in sorted(counts.items(), key=lambda kv: -kv[1])[: args.prerender]]
    outcomes = []
    for name, always_on, warm in (("always-on", True, False), ("scale-to-zero", False, False),
                                  ("scale-to-zero + warm-up", False, True)):
        print(f"simulating {name} ...", flush=True)
        outcomes.append(simulate(name, trace, settings, args, always_on=always_on, warmup=warm, popular=popular))
    report(outcomes, days)
    for o in outcomes[1:]:
        print(f"  {o.name}: cold-start waits by hour (China time):",
              np.bincount(np.array(o.wait_hours, dtype=int), minlength=24).tolist())
    plot(outcomes, days, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
