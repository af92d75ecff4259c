"""Keeping a lease alive while work runs: a lock, a queue delivery, a task heartbeat.

Leases are short (seconds) and renewed by the holder every third of their length, so a holder that dies loses
its lease promptly (another process takes over), while a slow but live holder keeps it for as long as it
works (a slow job is never run twice at once). The renewal runs on a daemon thread because the holder's own
thread is blocked in the work itself (an inference, a wait for a GPU slot).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


class Renewer:
    """`with Renewer(renew, every_s):` calls `renew()` every `every_s` seconds until the block ends. A renewal
    that fails is logged and tried again at the next tick; `renew()` returning False (the lease is gone) is
    logged once, since the work cannot be interrupted safely and is idempotent anyway."""

    def __init__(self, renew: Callable[[], object], every_s: float, what: str = "lease") -> None:
        self.renew, self.every_s, self.what = renew, max(0.05, every_s), what
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                if self.renew() is False and not self.lost:
                    self.lost = True
                    log.warning("%s lost while its work was still running", self.what)
            except Exception as exc:  # noqa: BLE001 - a failed renewal is retried at the next tick
                log.warning("%s renewal failed: %s", self.what, exc)

    def __enter__(self) -> "Renewer":
        self._thread = threading.Thread(target=self._loop, name=f"renew-{self.what}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.every_s + 1)
