"""The WSGI app: the routes of functions/api/ under the middleware, over the services that
`functions/services.py` builds.

`create_app()` builds everything from the environment; tests pass settings and outside systems explicitly.
Constructing the app starts nothing: long-running hosts (functions/serve.py, functions/handlers/web.py) start
the job workers. Platform entry points (functions/handlers/) are thin adapters over this one app.
"""

from __future__ import annotations

import logging

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from .api import ROUTERS
from .auth import authentication, build_authenticators
from .errors import ApiError, MethodNotAllowed, NotFound
from .middleware import audit_log, body_budget, chain, errors, request_deadline, request_id
from .services import Services, build_services
from .settings import Settings

log = logging.getLogger(__name__)


class App:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = settings = services.settings
        self.urls = Map([route.rule() for router in ROUTERS for route in router.routes], strict_slashes=False)
        self.authenticators = build_authenticators(settings, services.tokens)
        self.handler = chain([request_id, request_deadline(settings.request_deadline_s), audit_log,
                              body_budget(settings.body_timeout_s), errors(services.errors),
                              authentication(self.authenticators)], self.dispatch)

    def __call__(self, environ, start_response):
        return self.handler(Request(environ))(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.urls.bind_to_environ(request.environ)
        try:
            rule, args = adapter.match(return_rule=True)
            request.environ["app.route"] = rule.rule
        except HTTPException as exc:
            if exc.code == 405:
                allowed = sorted(set(getattr(exc, "valid_methods", None) or []) | {"OPTIONS"})
                raise MethodNotAllowed(headers={"Allow": ", ".join(allowed)}) from None
            raise NotFound("route_not_found") from None
        return rule.endpoint(self, request, **args)


def create_app(settings: Settings | None = None, **outside) -> App:
    """The app on `settings` (default: from the environment); outside systems may be passed by name
    (functions.services.OUTSIDE)."""
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return App(build_services(settings, **outside))


__all__ = ["App", "ApiError", "create_app"]
