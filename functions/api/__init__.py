"""The wire: every HTTP route, the streamed answers, the WebSocket and the OpenAI-compatible endpoint, one
module per API surface, each a `Router` (router.py) of thin handlers that parse, call the domain (the pipeline
and the one decision, functions/tts/) and frame what it returns (frames.py). Nothing below imports from here.

A new surface is a module here and a line in ROUTERS; a new transport for synthesis frames the outcome of
`services.decider.decide` and nothing more.
"""

from __future__ import annotations

from . import auth, ops, socket, speech, tts, voices

ROUTERS = [ops.router, tts.router, socket.router, voices.router, auth.router, speech.router]
