"""Concurrent identical cache misses share one inference, across processes when the state is Redis.

The first caller takes the lock `sf:<key>` and computes; the others poll `lookup` (a cheap state read) until
the leader's result appears, or take over when the leader's lock vanished without a result (it crashed or
failed; they then try themselves rather than wait forever). The lock is short and the leader renews it while
it computes, so a leader that died is taken over within `lock_ttl_s`, however long a live one takes.
`sleep` and `clock` are injected for tests.
"""

from __future__ import annotations

import functools
import time
from typing import Callable, TypeVar

from .. import deadline
from ..lease import Renewer

T = TypeVar("T")


class StillRunning(Exception):
    """Another caller is computing the same result and did not finish within the wait."""


class SingleFlight:
    def __init__(self, state, *, wait_s: float = 30.0, lock_ttl_s: float = 10.0, poll_s: float = 0.02,
                 sleep=time.sleep, clock=time.monotonic) -> None:
        self.state, self.wait_s, self.lock_ttl_s, self.poll_s = state, wait_s, lock_ttl_s, poll_s
        self._sleep, self._clock = sleep, clock

    def run(self, key: str, lookup: Callable[[], T | None], compute: Callable[[], T],
            recheck: Callable[[], T | None] | None = None) -> tuple[T, bool]:
        """(result, shared): shared is True when another caller's computation supplied the result."""
        name = f"sf:{key}"
        until = self._clock() + deadline.cap(self.wait_s)  # never past the request's own deadline
        while True:
            token = self.state.acquire(name, self.lock_ttl_s)
            if token is not None:
                try:
                    done = (recheck or lookup)()  # a leader may have finished between our lookup and the lock
                    if done is not None:
                        return done, True
                    renew = functools.partial(self.state.extend, name, token, self.lock_ttl_s)
                    with Renewer(renew, self.lock_ttl_s / 3, what=f"lock {name[:20]}"):
                        return compute(), False
                finally:
                    self.state.release(name, token)
            while True:
                if self._clock() >= until:
                    raise StillRunning(name)
                self._sleep(self.poll_s)
                done = lookup()
                if done is not None:
                    return done, True
                if not self.state.is_locked(name):
                    break  # the leader gave up without a result: try to lead
