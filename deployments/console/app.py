"""The console's ASGI app: the login routes, every screen's routes, the security headers.

The rules every page follows (login, CSRF, refusals, headers) are in :mod:`deployments.console.shell`.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from deployments.console.auth import Sessions, csrf_ok
from deployments.console.integrations import routes as integration_routes
from deployments.console.journal import routes as journal_routes
from deployments.console.links import routes as link_routes
from deployments.console.mappings import routes as mapping_routes
from deployments.console.queue import routes as queue_routes
from deployments.console.shell import COOKIE, HERE, Console, LoginNeeded, Refused, SecurityHeaders
from hub.config import Config
from hub.store import Store


def console_app(config: Config, open_store: Callable[[], Store], *, sessions: Sessions | None = None) -> ASGIApp:
    """The console for ``config`` (mount it at ``/console``); ``open_store`` opens the hub store on first use."""
    console = Console(config, open_store, sessions or Sessions(config.console.session_minutes * 60.0))

    async def login_page(request: Request) -> Response:
        if not console.users:
            return RedirectResponse(request.url_for("integrations"), 303)
        session = console.session(request) or console.sessions.new()
        response = console.templates.TemplateResponse(
            request,
            "login.html",
            {"session": session, "error": None, "name": "", "login_needed": True, "integrations": [], "notice": None},
        )
        return console.with_cookie(request, response, session)

    async def login(request: Request) -> Response:
        session = console.session(request)
        form = await request.form()
        if not csrf_ok(session, form.get("csrf")):
            raise Refused(403, "the form's CSRF token is missing or wrong: reload the login page")
        assert session is not None
        name, password = str(form.get("user", "")), str(form.get("password", ""))
        keys = (f"user:{name}", f"addr:{request.client.host if request.client else '?'}")
        wait = console.throttle.wait(*keys)
        error, status = None, 200
        if wait > 0:
            error, status = f"Too many failed logins: try again in {int(wait) + 1} s.", 429
        elif not console.users.check(name, password):
            console.throttle.failed(*keys)
            error, status = "Wrong user name or password.", 401
        if error is not None:
            response = console.templates.TemplateResponse(
                request,
                "login.html",
                {
                    "session": session,
                    "error": error,
                    "name": name,
                    "login_needed": True,
                    "integrations": [],
                    "notice": None,
                },
                status_code=status,
            )
            return response
        console.throttle.succeeded(*keys)
        console.sessions.end(session.token)  # a new token at login: a planted cookie learns nothing
        fresh = console.sessions.new(name)
        return console.with_cookie(request, RedirectResponse(request.url_for("integrations"), 303), fresh)

    async def logout(request: Request) -> Response:
        session, _ = await console.form(request)
        console.sessions.end(session.token)
        response = RedirectResponse(request.url_for("login"), 303)
        response.delete_cookie(COOKIE, path=(request.scope.get("root_path") or "") + "/")
        return response

    async def needs_login(request: Request, exc: Exception) -> Response:
        return RedirectResponse(request.url_for("login"), 303)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        session = console.session(request)
        if session is None or session.user is None:
            return PlainTextResponse(exc.message + "\n", exc.status)
        return console.page(request, "refused.html", status=exc.status, message=exc.message)

    async def not_found(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("not found\n", 404)

    routes: list[BaseRoute] = [
        Route("/login", login_page, methods=["GET"], name="login"),
        Route("/login", login, methods=["POST"], name="login_post"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    for screen in (integration_routes, queue_routes, journal_routes, mapping_routes, link_routes):
        routes += screen(console)
    app = Starlette(
        routes=routes,
        exception_handlers={LoginNeeded: needs_login, Refused: refused, 404: not_found, 405: not_found},
    )
    app.state.console = console
    return SecurityHeaders(app)
