"""The current login session of each user, in the shared state: a new login replaces (and so revokes) the
previous one, and with it every socket token minted from it.

One alias per user, `auth_session:<owner>` (the owner hash of functions/auth Identity: no openid in the key),
holding the session token's `jti` for as long as the session lives. Without a shared state (REDIS_URL), each
process knows only the sessions it started, and a restart ends them all: clients log in again.
"""

from __future__ import annotations

import hmac

from . import Identity

PREFIX = "auth_session:"


class Sessions:
    def __init__(self, state) -> None:
        self.state = state

    @staticmethod
    def key(subject: str, method: str) -> str:
        return PREFIX + Identity(subject, method).owner

    def begin(self, subject: str, method: str, session_id: str, ttl_s: int) -> None:
        """`session_id` is now this user's one current session, for `ttl_s` seconds."""
        self.state.set_alias(self.key(subject, method), session_id, max(1, int(ttl_s)))

    def current(self, subject: str, method: str, session_id) -> bool:
        if not isinstance(session_id, str) or not session_id:
            return False
        stored = self.state.get_alias(self.key(subject, method))
        return stored is not None and hmac.compare_digest(stored.encode(), session_id.encode())
