"""Consent to clone a voice (互联网信息服务深度合成管理规定: a service that clones a voice must have its user
inform the person whose voice it is and obtain that person's separate consent).

Every recording that becomes a voice, enrolled or uploaded for one request, comes with the caller's
statement `consent`: `self` (the recording is the caller's own voice) or `authorized` (the person whose
voice it is gave the caller their separate consent). Without it the request is refused; the statement is
kept with the voice and written to the audit log.
"""

from __future__ import annotations

from ..errors import BadRequest

BASES = ("self", "authorized")


def require_consent(value) -> str:
    if value not in BASES:
        raise BadRequest("consent_required")
    return value
