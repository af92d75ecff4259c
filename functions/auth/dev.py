"""Development mode: unauthenticated requests from loopback get the identity `dev`.

Switched on only by `python -m functions.serve` (the `make run` stack, bound to 127.0.0.1); there is no
environment variable for it, so no deployment can turn it on. Proxied requests (X-Forwarded-For) are refused
even from loopback, since a reverse proxy on the same host would make every caller look local.
"""

from __future__ import annotations

import ipaddress

from . import Identity


class DevLoopbackAuth:
    def __call__(self, request) -> Identity | None:
        if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
            return None
        if request.headers.get("Authorization") or request.headers.get("X-Api-Key"):
            return None  # credentials that the real authenticators refused stay refused, even locally
        try:
            if ipaddress.ip_address(request.remote_addr or "").is_loopback:
                return Identity("dev", "dev")
        except ValueError:
            return None
        return None
