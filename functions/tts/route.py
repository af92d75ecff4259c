"""Where a cache miss is synthesized when a hosted engine is configured (HOSTED_ENGINE): on the GPU when it is
awake, else on the hosted API (seconds, billed per character) instead of a job that waits minutes for a cold
GPU. What the hosted API cannot serve (functions/endpoint/hosted.py `unsupported`) and long texts stay with
the GPU (a job). Without a hosted engine nothing changes.

The GPU is woken only when the expected GPU work justifies it. The rule, derived: a wake-up costs at least the
boot plus IDLE_STOP_S of GPU time at GPU_PRICE per hour, during which the hosted API would have served the
same misses at their per-character price; waking pays when the misses expected in that time cost more hosted
than the GPU's time costs, i.e. when the recent hosted miss rate (per hour) times the hosted cost of a miss is
at least GPU_PRICE (per hour). The rate is measured over the last 15 minutes, in the state (shared by every
process). scripts/cost_model.py simulates the same rule.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)
WINDOW_S = 900
CHARS_BILLED_PER_CHAR = 2  # DashScope bills a Chinese character as two


def hosted_cost(text: str, price_per_10k: float) -> float:
    return len(text) * CHARS_BILLED_PER_CHAR * price_per_10k / 10000


class Waker:
    """Counts hosted misses per minute and wakes the GPU when their rate outprices it."""

    def __init__(self, settings, *, state, controller, clock=time.time) -> None:
        self.settings, self.state, self.controller, self._clock = settings, state, controller, clock

    def note(self, text: str) -> bool:
        """Record one hosted miss; True when it woke the GPU."""
        now = self._clock()
        minute = int(now // 60)
        name = f"hosted_cost:{minute}"
        spent = float(self.state.get_alias(name) or 0) + hosted_cost(text, self.settings.hosted_price)
        self.state.set_alias(name, f"{spent:.6f}", WINDOW_S + 120)
        recent = sum(float(self.state.get_alias(f"hosted_cost:{m}") or 0)
                     for m in range(minute - WINDOW_S // 60 + 1, minute + 1))
        per_hour = recent * 3600 / WINDOW_S
        if per_hour < self.settings.gpu_price or self.controller is None:
            return False
        try:
            self.controller.start()
        except Exception as exc:  # noqa: BLE001 - the scheduled drain starts it otherwise
            log.warning("could not wake the endpoint: %s", exc)
            return False
        log.info("hosted misses cost %.2f CNY/h >= GPU %.2f CNY/h: waking the GPU", per_hour, self.settings.gpu_price)
        return True
