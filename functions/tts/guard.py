"""The limit and moderate stages: what a caller may spend, and what may be spoken in a real person's voice.

Limits are charged per identity in the units the request is charged (functions/tts/request.py); the local
moderation checks run on every request, cache hits included, the cloud checks once per new text.
"""

from __future__ import annotations

from ..limits import raise_for
from ..moderation import Subject

MODERATION_WINDOW, MODERATION_OVERLAP = 2500, 50


class Guard:
    def __init__(self, *, limiter=None, moderation=None) -> None:
        self.limiter, self.moderation = limiter, moderation

    def charge(self, identity, units: int) -> None:
        if self.limiter is None or identity is None or getattr(identity, "exempt", False):
            return
        raise_for(self.limiter.charge(f"{identity.method}:{identity.subject}", units))

    def moderate(self, texts: tuple[str, ...], identity, *, remote: bool) -> None:
        """Every text of the request that reaches the model: what is spoken, the style, the transcript."""
        if self.moderation is None:
            return
        method, subject = (identity.method, identity.subject) if identity else ("", "")
        check = self.moderation.check_remote if remote else self.moderation.check_local
        for value in filter(None, texts):
            if not remote:
                check(Subject(value, method, subject))
                continue
            # WeChat takes 2,500 characters a call; windows overlap so no word hides across a boundary.
            for start in range(0, max(1, len(value) - MODERATION_OVERLAP), MODERATION_WINDOW - MODERATION_OVERLAP):
                check(Subject(value[start:start + MODERATION_WINDOW], method, subject))
