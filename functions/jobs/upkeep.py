"""Scheduled work, run by timer-triggered functions (serverless-wsgi drops scheduled events, so these have
their own handlers in functions/handlers/scheduled.py):

- warm_up: start the endpoint ahead of a peak window, wait until it is ready, send one warm-up inference, and
  pre-render the configured popular phrases in the configured popular voices into the cache;
- scale_down: stop the endpoint after IDLE_STOP_S without inference, never while work is queued or running;
- drain: heal tasks whose job was lost, then process queued jobs once the endpoint is ready (and start it
  when jobs wait).

`sleep` and `clock` are injected so the waiting is testable without waiting.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import numpy as np

from inference.contract import PROMPT_SAMPLE_RATE

from ..endpoint.controller import ASLEEP, READY, wait_until_ready
from ..endpoint.triton import SynthesisInput
from ..cron import in_windows
from ..timings import Timings
from ..tts.render import LAST_INFERENCE
from ..tts.request import build_request
from ..warm_hours import MissHistory, learn_hours, warm_now

log = logging.getLogger(__name__)
WARM_HOURS = "warm_hours"  # state alias: the learned keep-warm hours of the week, for an hour


def should_scale_down(state: str, queued: int, idle_s: float, idle_stop_s: float, keep_warm: bool = False) -> bool:
    """The scale-down rule (also used by scripts/cost_model.py): a running endpoint with no queued or running
    work and no inference for idle_stop_s, outside the configured keep-warm windows."""
    return state not in (ASLEEP,) and queued == 0 and idle_s >= idle_stop_s and not keep_warm


def idle_seconds(services, now: float) -> float:
    last = services.state.get_alias(LAST_INFERENCE)
    return now - float(last) if last else float("inf")


def learned_hours(services, now: float) -> set[int]:
    """WARM_HOURS=learned: the keep-warm hours of the week from the miss history (recomputed hourly)."""
    settings = services.settings
    cached = services.state.get_alias(WARM_HOURS)
    if cached is not None:
        return {int(h) for h in cached.split(",") if h}
    history = MissHistory(services.state, weeks=settings.warm_history_weeks)
    hours = learn_hours(history.rates(now), requests=history.rates(now, kind="requests"),
                        cold_start_s=settings.cold_start_s, wait_share=settings.warm_wait_share)
    services.state.set_alias(WARM_HOURS, ",".join(str(h) for h in sorted(hours)), 3600)
    return hours


def scale_down(services, *, clock=time.time) -> dict:
    """Every few minutes: stop an idle endpoint outside the keep-warm hours; with learned hours, also start a
    sleeping one a cold start ahead of a learned hour."""
    settings = services.settings
    state, queued = services.controller.state(), services.queue.depth()
    now = clock()
    idle = idle_seconds(services, now)
    keep_warm = in_windows(settings.keep_warm_windows, datetime.fromtimestamp(now, timezone.utc))
    started = False
    if settings.warm_hours == "learned" and services.controller.scales_to_zero:
        hours = learned_hours(services, now)
        keep_warm = keep_warm or warm_now(hours, now)
        if state == ASLEEP and warm_now(hours, now, lead_s=settings.cold_start_s):
            services.controller.start()
            started = True
    stop = services.controller.scales_to_zero and should_scale_down(state, queued, idle, settings.idle_stop_s,
                                                                      keep_warm)
    if stop:
        services.controller.stop()
    decision = {"state": state, "queued": queued, "idle_s": None if idle == float("inf") else round(idle, 1),
                "stopped": stop, "started": started}
    log.info("scale-down: %s", decision)
    return decision


def warm_up(services, *, sleep=time.sleep, clock=time.monotonic, wait_s: float | None = None) -> dict:
    settings = services.settings
    ready = wait_until_ready(services.controller, timeout_s=settings.warmup_wait_s if wait_s is None else wait_s,
                             poll_s=5.0, sleep=sleep, clock=clock)
    result = {"ready": ready, "warmup_inference": False, "prerendered": 0, "already_cached": 0, "failed": 0}
    if not ready:
        log.warning("warm-up: endpoint not ready in time")
        return result
    tone = (0.1 * np.sin(2 * np.pi * 220 * np.arange(PROMPT_SAMPLE_RATE) / PROMPT_SAMPLE_RATE)).astype(np.float32)
    services.endpoint.synthesize(SynthesisInput(text="你好。", reference_wav=tone, request_id="warmup"))
    result["warmup_inference"] = True
    phrases = [p.strip() for p in settings.warmup_phrases.split("|") if p.strip()]
    voices = [v.strip().split(":", 1) for v in settings.warmup_voices.split(",") if ":" in v]
    for owner, voice_id in voices:
        for phrase in phrases:
            try:
                req = build_request({"text": phrase, "voice_id": voice_id}, None, services.request_limits)
                timings = Timings()
                outcome = services.decider.decide(services.tts.prepare(req, timings, identity=_Owner(owner)), timings)
                result["already_cached" if getattr(outcome, "cached", False) else "prerendered"] += 1
            except Exception as exc:  # noqa: BLE001 - one bad phrase must not stop the others
                result["failed"] += 1
                log.warning("warm-up pre-render failed (%s): %s", voice_id, exc)
    log.info("warm-up: %s", result)
    return result


class _Owner:
    """The identity a pre-render runs as: the voice's owner (limits do not apply to the operator's warm-up)."""

    method, subject = "system", "warmup"
    exempt = True  # not charged against any caller's limits

    def __init__(self, owner: str) -> None:
        self.owner = owner


def drain(services, *, budget_s: float) -> dict:
    healed = services.jobs.heal_stale()  # tasks whose job was lost: enqueued again (or failed) before draining
    queued = services.queue.depth()
    if queued == 0:
        return {"queued": 0, "handled": 0, "healed": healed}
    if services.controller.scales_to_zero and services.controller.state() != READY:
        services.controller.start()
        return {"queued": queued, "handled": 0, "starting": True}
    handled = services.worker.run_until_empty(budget_s)
    return {"queued": queued, "handled": handled}
