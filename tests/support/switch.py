"""A dependency that can be switched off: every method call raises the given exception while it is down."""

from __future__ import annotations


class Switch:
    def __init__(self, target, error: Exception) -> None:
        self._target, self._error = target, error
        self.down = False

    def __getattr__(self, name):
        value = getattr(self._target, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            if self.down:
                raise self._error
            return value(*args, **kwargs)
        return call


class _Wrapped:
    """An endpoint standing in for another, changing only `stream` (everything else is the target's)."""

    def __init__(self, target) -> None:
        self.target = target

    def __getattr__(self, name):
        return getattr(self.target, name)


class CountingStreams(_Wrapped):
    """An endpoint, counting the streams it opens (Triton keeps no statistics for decoupled models)."""

    streams = 0

    def stream(self, item, **kwargs):
        self.streams += 1
        return self.target.stream(item, **kwargs)


class BreaksMidStream(_Wrapped):
    """An endpoint whose streams fail after their first chunk (a GPU fault halfway through)."""

    def stream(self, item, **kwargs):
        from functions.endpoint.triton import InferenceFailed

        for chunk in self.target.stream(item, **kwargs):
            yield chunk
            raise InferenceFailed("the model failed mid-stream")


class Paced(_Wrapped):
    """An endpoint whose chunks come spaced as a GPU makes them (espeak makes a sentence in milliseconds)."""

    def stream(self, item, **kwargs):
        import time

        for chunk in self.target.stream(item, **kwargs):
            time.sleep(0.1)
            yield chunk
