"""Keeping a lease alive while work runs: a lock, a queue delivery, a task heartbeat.

Leases are short (seconds) and renewed by the holder every third of their length, so a holder that dies loses
its lease promptly (another process takes over), while a slow but live holder keeps it for as long as it
works (a slow job is never run twice at once). The holder's own thread is blocked in the work itself (an
inference, a wait for a GPU slot), so one shared daemon thread per process renews every lease that is held:
no thread is started per request.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


class _Keeper:
    """One thread that calls each held lease's renewal when it is due."""

    def __init__(self) -> None:
        self._leases: set[Renewer] = set()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, lease: "Renewer") -> None:
        with self._cond:
            self._leases.add(lease)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="lease-keeper", daemon=True)
                self._thread.start()
            self._cond.notify()

    def remove(self, lease: "Renewer") -> None:
        with self._cond:
            self._leases.discard(lease)

    def _loop(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [lease for lease in self._leases if lease.next_at <= now]
                if not due:
                    soonest = min((lease.next_at for lease in self._leases), default=now + 60)
                    self._cond.wait(timeout=max(0.01, soonest - now))
                    continue
            for lease in due:  # outside the lock: a slow renewal must not block adding or removing leases
                lease.tick()


_KEEPER = _Keeper()


class Renewer:
    """`with Renewer(renew, every_s):` calls `renew()` every `every_s` seconds until the block ends. A renewal
    that fails is logged and tried again at the next tick; `renew()` returning False (the lease is gone) is
    logged once, since the work cannot be interrupted safely and is idempotent anyway."""

    def __init__(self, renew: Callable[[], object], every_s: float, what: str = "lease") -> None:
        self.renew, self.every_s, self.what = renew, max(0.05, every_s), what
        self.next_at = time.monotonic() + self.every_s
        self.held = False
        self.lost = False

    def tick(self) -> None:
        self.next_at = time.monotonic() + self.every_s
        if not self.held:
            return
        try:
            if self.renew() is False and self.held and not self.lost:
                self.lost = True
                log.warning("%s lost while its work was still running", self.what)
        except Exception as exc:  # noqa: BLE001 - a failed renewal is retried at the next tick
            log.warning("%s renewal failed: %s", self.what, exc)

    def __enter__(self) -> "Renewer":
        self.held = True
        _KEEPER.add(self)
        return self

    def __exit__(self, *exc) -> None:
        self.held = False
        _KEEPER.remove(self)
