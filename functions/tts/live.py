"""One synthesis as it happens, shared by every caller who asks for it while it runs.

A `LiveStream` is an append-only list of events (audio chunks and the segment, done and error events) that
one producer writes and any number of readers follow from the start: a second identical request joins the
running stream instead of paying for a second inference (single-flight for streams). Readers only read, so a
reader that goes away never disturbs the producer or the others. `StreamHub` finds the running stream of a
cache key in this process; it forgets a stream once it has ended (its result is in the cache by then).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

AUDIO, START, SEGMENT, SEGMENT_END, DONE, ERROR = "audio", "start", "segment", "segment_end", "done", "error"


@dataclass(frozen=True)
class Event:
    kind: str  # one of the names above
    data: dict = field(default_factory=dict)
    audio: bytes = b""  # AUDIO: s16le mono 24 kHz
    error: BaseException | None = None  # ERROR: the producer's own exception (readers frame or re-raise it)


class StreamStalled(Exception):
    """The producer sent nothing for longer than a reader waits."""


class StreamBroken(Exception):
    """A response body failed after its first byte (raised inside the body: a server cuts the connection
    rather than ending the body cleanly; an adapter that buffers answers with an error instead)."""


class LiveStream:
    def __init__(self, key: str) -> None:
        self.key = key
        self._events: list[Event] = []
        self._cond = threading.Condition()
        self.closed = False
        self.created = time.monotonic()

    def publish(self, event: Event) -> None:
        with self._cond:
            if self.closed:
                return
            self._events.append(event)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def first(self, timeout_s: float) -> Event | None:
        """The first speech the model made (audio after the first `segment` event; a cue before it does not
        count, so a model that refuses the text is still an error before any byte), or the `error` or `done`
        event that came instead; waiting at most `timeout_s`. None when nothing came in time."""
        until = time.monotonic() + timeout_s
        with self._cond:
            while True:
                found = _first_speech(self._events)
                if found is not None:
                    return found
                if self.closed:  # ended without speech or a word why (a producer that died)
                    return Event(ERROR, error=StreamBroken("the stream ended before any speech"))
                left = until - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def follow(self, idle_timeout_s: float) -> Iterator[Event]:
        """Every event from the first, as they come, until the stream closes. Raises StreamStalled when the
        producer is silent for `idle_timeout_s`."""
        at = 0
        while True:
            with self._cond:
                while at >= len(self._events) and not self.closed:
                    if not self._cond.wait(idle_timeout_s):
                        raise StreamStalled(self.key[:12])
                batch = self._events[at:]
                ended = self.closed and at + len(batch) >= len(self._events)
            at += len(batch)
            yield from batch
            if ended:
                return


def _first_speech(events: list[Event]) -> Event | None:
    in_segment = False
    for event in events:
        if event.kind in (ERROR, DONE) or (event.kind == AUDIO and in_segment):
            return event
        in_segment = in_segment or event.kind == SEGMENT
    return None


class StreamHub:
    """The running streams of this process, by cache key."""

    def __init__(self) -> None:
        self._streams: dict[str, LiveStream] = {}
        self._lock = threading.Lock()

    def join_or_start(self, key: str, start: Callable[[LiveStream], None]) -> tuple[LiveStream, bool]:
        """(stream, joined): the running stream of `key`, or a new one that `start` sets producing. A `start`
        that raises leaves no stream behind."""
        with self._lock:
            running = self._streams.get(key)
            if running is not None and not running.closed:
                return running, True
            live = LiveStream(key)
            self._streams[key] = live
        try:
            start(live)
        except BaseException:
            self.forget(live)
            raise
        return live, False

    def forget(self, live: LiveStream) -> None:
        live.close()
        with self._lock:
            if self._streams.get(live.key) is live:
                del self._streams[live.key]

    def running(self) -> int:
        with self._lock:
            return len(self._streams)
