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
