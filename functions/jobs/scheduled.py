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

from ..endpoint.controller import ASLEEP, READY, wait_until_ready
from ..endpoint.triton import SynthesisInput
from ..schedule import in_windows
from ..tts.parse import TtsInput
from ..tts.pipeline import Timings

log = logging.getLogger(__name__)


def should_scale_down(state: str, queued: int, idle_s: float, idle_stop_s: float, keep_warm: bool = False) -> bool:
    """The scale-down rule (also used by scripts/cost_model.py): a running endpoint with no queued or running
    work and no inference for idle_stop_s, outside the configured keep-warm windows."""
    return state not in (ASLEEP,) and queued == 0 and idle_s >= idle_stop_s and not keep_warm


def idle_seconds(app, now: float) -> float:
    last = app.state.get_alias("last_inference")
    return now - float(last) if last else float("inf")


def scale_down(app, *, clock=time.time) -> dict:
    state, queued = app.controller.state(), app.queue.depth()
    now = clock()
    idle = idle_seconds(app, now)
    keep_warm = in_windows(app.settings.keep_warm_windows, datetime.fromtimestamp(now, timezone.utc))
    stop = app.controller.scales_to_zero and should_scale_down(state, queued, idle, app.settings.idle_stop_s,
                                                                 keep_warm)
    if stop:
        app.controller.stop()
    decision = {"state": state, "queued": queued, "idle_s": None if idle == float("inf") else round(idle, 1),
                "stopped": stop}
    log.info("scale-down: %s", decision)
    return decision


def warm_up(app, *, sleep=time.sleep, clock=time.monotonic, wait_s: float | None = None) -> dict:
    settings = app.settings
    ready = wait_until_ready(app.controller, timeout_s=settings.warmup_wait_s if wait_s is None else wait_s,
                             poll_s=5.0, sleep=sleep, clock=clock)
    result = {"ready": ready, "warmup_inference": False, "prerendered": 0, "already_cached": 0, "failed": 0}
    if not ready:
        log.warning("warm-up: endpoint not ready in time")
        return result
    tone = (0.1 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.float32)
    app.endpoint.synthesize(SynthesisInput(text="你好。", reference_wav=tone, request_id="warmup"))
    result["warmup_inference"] = True
    phrases = [p.strip() for p in settings.warmup_phrases.split("|") if p.strip()]
    voices = [v.strip().split(":", 1) for v in settings.warmup_voices.split(",") if ":" in v]
    for owner, voice_id in voices:
        for phrase in phrases:
            try:
                status, body = app.tts.synthesize(TtsInput(text=phrase, voice_id=voice_id), Timings(),
                                                  identity=_Owner(owner))
                result["already_cached" if body.get("cached") else "prerendered"] += 1
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


def drain(app, *, budget_s: float) -> dict:
    healed = app.tts.heal_stale()  # tasks whose job was lost: enqueued again (or failed) before draining
    queued = app.queue.depth()
    if queued == 0:
        return {"queued": 0, "handled": 0, "healed": healed}
    if app.controller.scales_to_zero and app.controller.state() != READY:
        app.controller.start()
        return {"queued": queued, "handled": 0, "starting": True}
    handled = app.worker.run_until_empty(budget_s)
    return {"queued": queued, "handled": handled}
