"""What every console screen relies on: the session and CSRF checks, the page shell, the refusals.

:func:`deployments.console.app.console_app` builds the app from it and the screens' routes. Every
page needs a logged-in session, except on a loopback address with no user configured
(:func:`console_allowed` refuses any other address until a login is configured). Every POST carries
its session's CSRF token or is refused with 403. Pages are never cached and never framed; the only
script is the console's own (a short poll of the queue and journal).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deployments.console.auth import Session, Sessions, Throttle, Users, csrf_ok
from hub.config import Config
from hub.store import Store

HERE = Path(__file__).resolve().parent
COOKIE = "skladbridge_console"
#: the user name shown when no login is configured (loopback only)
LOCAL_USER = "local"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class ConsoleOff(Exception):
    """The console may not be served here; the message says how to turn it on safely."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def console_allowed(config: Config, host: str) -> None:
    """Raise :class:`ConsoleOff` unless the console may listen on ``host``: a loopback address, or any
    address once ``console.users`` has a login."""
    if not config.console.users and not is_loopback(host):
        raise ConsoleOff(
            f"the console is off on {host}: with no login configured it serves a loopback address only; "
            "add a user under console.users (password_hash from `skladbridge console hash-password`) "
            "and put it behind HTTPS (console.behind_https: true)"
        )


class LoginNeeded(Exception):
    pass


class Refused(Exception):
    """A request the console refuses with a status and a message a manager can act on."""

    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message
        super().__init__(message)


@dataclass
class Console:
    """What every screen shares: the config, the store, the users and their sessions."""

    config: Config
    open_store: Callable[[], Store]
    sessions: Sessions
    throttle: Throttle = field(default_factory=Throttle)
    #: results of the integrations' "check now", by integration: alias -> line
    checks: dict[str, dict[str, str]] = field(default_factory=dict)

    @cached_property
    def users(self) -> Users:
        return Users(dict(self.config.console.users))

    @cached_property
    def store(self) -> Store:
        return self.open_store()

    @cached_property
    def templates(self) -> Jinja2Templates:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
        )
        return Jinja2Templates(env=env)

    # -- sessions --------------------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    def user(self, request: Request) -> Session:
        """The request's logged-in session, or :class:`LoginNeeded`."""
        session = self.session(request)
        if session is None and not self.users:
            session = self.sessions.new(LOCAL_USER)  # loopback with no login: a session for CSRF
            request.state.new_session = session
        if session is None or session.user is None:
            raise LoginNeeded
        return session

    async def form(self, request: Request) -> tuple[Session, FormData]:
        """The posted form of a logged-in session, its CSRF token checked."""
        session = self.user(request)
        form = await request.form()
        if not csrf_ok(session, form.get("csrf")):
            raise Refused(403, "the form's CSRF token is missing or wrong: reload the page and submit it again")
        return session, form

    def secure(self, request: Request) -> bool:
        return self.config.console.behind_https or request.url.scheme == "https"

    def with_cookie(self, request: Request, response: Response, session: Session) -> Response:
        response.set_cookie(
            COOKIE,
            session.token,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
            path=(request.scope.get("root_path") or "") + "/",
        )
        return response

    # -- pages -----------------------------------------------------------------------------

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        session = self.user(request)
        response = self.templates.TemplateResponse(
            request,
            template,
            {
                "session": session,
                "login_needed": bool(self.users),
                "integrations": list(self.config.integrations),
                "notice": None,
                **context,
            },
            status_code=status,
        )
        fresh = getattr(request.state, "new_session", None)
        return self.with_cookie(request, response, fresh) if fresh is not None else response


Screen = Callable[[Console], list[BaseRoute]]


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every response the console sends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state = getattr(app, "state", None)

    @property
    def routes(self) -> list[BaseRoute]:
        """The console's routes, so that ``url_for`` finds them through a ``Mount`` of this app."""
        return list(getattr(self.app, "routes", []))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, with_headers)
