"""Routes declared next to their handlers, one `Router` per API surface (aws-lambda-powertools' Router and
`include_router`): the app collects them, so a new surface is one new module and one line in
functions/api/__init__.py.

Every handler has one shape: `handler(app, request, **path_args) -> Response`, where `app` gives the services
and the authenticators (functions/app.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from werkzeug.routing import Rule

Handler = Callable[..., object]


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...]
    handler: Handler
    websocket: bool = False

    def rule(self) -> Rule:
        return Rule(self.path, endpoint=self.handler, methods=list(self.methods), websocket=self.websocket)


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(self, path: str, *methods: str, websocket: bool = False) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(path, methods, handler, websocket))
            return handler
        return register

    def get(self, path: str, *, websocket: bool = False) -> Callable[[Handler], Handler]:
        return self.route(path, "GET", websocket=websocket)

    def post(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, "POST")

    def delete(self, path: str) -> Callable[[Handler], Handler]:
        return self.route(path, "DELETE")
