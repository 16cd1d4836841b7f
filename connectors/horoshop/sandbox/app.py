"""A Horoshop API emulator (ASGI) with the shop's real rules, for tests, the demo and benchmarks.

Rules it enforces (crm.md D, D.1): JSON POST to ``/api/<function>/``; ``auth`` with login and
password gives a token that lives 600 s and must be in the body of every other call; errors are
envelopes under HTTP 200 (``ERROR``, ``UNAUTHORIZED``, ``UNDEFINED_FUNCTION`` with ``response: []``
for a function the shop lacks); the hourly request quota per API admin, refused either as HTTP 429
with ``Retry-After`` (retailCRM's own connector) or as the envelope "You hour requests limit has
been exceeded. Retry after N seconds" (two importers) — ``quota_style`` picks; an HTML page when the
shop is down (``html_pages`` fault) and an HTML 500 for an injected server error.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Literal

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

import connectors.horoshop.sandbox.seed as seeding
from connectors.horoshop.sandbox.orders import BadRequest
from connectors.horoshop.sandbox.routes import ROUTES
from connectors.horoshop.sandbox.state import ShopState
from connectors.horoshop.wire import envelope as wire
from connectors.horoshop.wire.limits import QUOTA_WINDOW_SECONDS
from connectors.sandboxing import ApiRefusal, Reply, SandboxFrontDoor, Visit, WindowQuota

#: the page a shop behind an anti-bot filter answers (about 518 bytes of JavaScript, D.1)
ANTI_BOT_PAGE = (
    "<html><head><script>document.cookie='hs_check=1; path=/';"
    "setTimeout(function(){location.reload()},1000);</script></head>"
    "<body>Checking your browser before accessing the shop...</body></html>"
)
SERVER_ERROR_PAGE = "<html><head><title>500 Internal Server Error</title></head><body><h1>500</h1></body></html>"


class HtmlPage(str):
    """A reply that is a web page, not the API's JSON."""


class EnvelopeRefusal(ApiRefusal):
    """An error envelope (HTTP 200 unless said otherwise)."""

    def __init__(self, status: str, message: str, *, http: int = 200, response: Any = None) -> None:
        super().__init__(http, message)
        self.envelope_status, self.response = status, response

    def payload(self) -> Any:
        return {
            "status": self.envelope_status,
            "response": self.response if self.response is not None else {"message": self.message},
        }


class PageRefusal(ApiRefusal):
    def payload(self) -> Any:
        return HtmlPage(self.message)


class HoroshopSandbox(SandboxFrontDoor):
    """One emulated Horoshop shop.

    Args:
        login, password: the API admin the shop accepts.
        hourly_quota: requests an hour per admin (function calls; ``auth`` is not metered [inferred]).
        quota_style: how a spent quota is answered: ``"http"`` (429 + Retry-After) or ``"envelope"``.
        missing: functions this shop lacks (answered ``UNDEFINED_FUNCTION``), e.g. an old version's
            ``orders/get_available_statuses``.
        clock: seconds, monotonic (tokens and the quota).

    Attributes:
        html_pages: the next N requests get the anti-bot page under HTTP 200 (the shop "down").
    """

    open_paths: ClassVar[frozenset[str]] = frozenset({"/auth"})
    methods: ClassVar[tuple[str, ...]] = ("POST",)
    page_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        login: str = "apiadmin",
        password: str = "sandbox-password",
        hourly_quota: int = 3000,
        quota_style: Literal["http", "envelope"] = "http",
        missing: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
        timezone: str = "Europe/Kyiv",
    ) -> None:
        super().__init__("/api")
        self.state = ShopState.create(timezone)
        self.admins = {login: password}
        self.login, self.password = login, password
        self.clock = clock
        self.hourly = WindowQuota(hourly_quota, QUOTA_WINDOW_SECONDS, clock=clock)
        self.quota_style = quota_style
        self.missing = set(missing)
        self.html_pages = 0

    # -- set-up ----------------------------------------------------------------------------------
    def seed_catalog(self, n: int, *, seed: int = 0) -> list[str]:
        return seeding.seed_catalog(self.state, n, seed=seed)

    def seed_orders(self, n: int, *, seed: int = 0, days: int = 30) -> list[int]:
        return seeding.seed_orders(self.state, n, seed=seed, days=days)

    def seed_statuses(self) -> dict[str, int]:
        return seeding.custom_statuses(self.state)

    def place_order(self, **order: Any) -> dict[str, Any]:
        """A buyer places an order on the storefront (see :func:`.seed.place_order`)."""
        return seeding.place_order(self.state, **order)

    @property
    def orders(self) -> dict[int, dict[str, Any]]:
        return self.state.orders

    # -- serving --------------------------------------------------------------------------------
    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Run on loopback until Ctrl-C, printing the shop URL and the admin it accepts."""
        import uvicorn

        print(f"Horoshop sandbox: shop URL http://{host}:{port}  (API at /api/<function>/)", flush=True)
        print(f"login: {self.login}  password: {self.password}", flush=True)
        uvicorn.run(self.app, host=host, port=port, log_level="warning", lifespan="off")

    # -- the front door's hooks ------------------------------------------------------------------
    async def _body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            raise EnvelopeRefusal(wire.ERROR, "Request body must be JSON (UTF-8, no BOM)") from None
        if not isinstance(body, dict):
            raise EnvelopeRefusal(wire.ERROR, "Request body must be a JSON object")
        return body

    async def screen(self, visit: Visit) -> Response | None:
        if self.html_pages > 0:
            self.html_pages -= 1
            self.faults.fired["html_page"] += 1
            raise PageRefusal(200, ANTI_BOT_PAGE)
        body = await self._body(visit.request)
        if visit.path == "/auth":
            visit.credential = str(body.get("login") or "-")
        return None

    async def authenticate(self, visit: Visit) -> Response | None:
        body = await self._body(visit.request)
        token = str(body.get("token") or "")
        owner = self.state.token_owner(token, self.clock()) if token else None
        if owner is None:
            raise EnvelopeRefusal(wire.UNAUTHORIZED, "token expired" if token in self.state.tokens else "Unauthorized")
        visit.credential = owner
        return None

    def admit(self, visit: Visit, forced: bool) -> Response | None:
        """The hourly quota per admin; ``auth`` itself is not metered [inferred]."""
        visit.weight = 1
        if visit.path == "/auth":
            if forced:  # an injected burst is for metered calls: hand it on to the next one
                self.faults.rate_limit_burst += 1
                self.faults.fired["rate_limit"] -= 1
            return None
        wait = None if forced else self.hourly.take(visit.credential)
        if forced or wait is not None:
            seconds = max(1, math.ceil(wait or 1))
            if self.quota_style == "http":
                raise ApiRefusal(429, "Too Many Requests", {"Retry-After": str(seconds)})
            refusal = wire.quota_message(seconds)
            raise EnvelopeRefusal(refusal["status"], "", response=refusal["response"])
        return None

    def server_fault(self) -> ApiRefusal:
        return PageRefusal(500, SERVER_ERROR_PAGE)

    async def route(self, visit: Visit) -> Reply:
        body = await self._body(visit.request)
        if visit.path == "/auth":
            return Reply(200, self._auth(body))
        found = ROUTES.find(visit.request.method, visit.path)
        if found is None or visit.path.strip("/") in self.missing:
            return Reply(200, {"status": wire.UNDEFINED_FUNCTION, "response": []})
        route, _ = found
        try:
            return Reply(200, route.handler(self.state, body), wrote=route.writes)
        except BadRequest as exc:
            return Reply(200, {"status": wire.ERROR, "response": {"message": str(exc)}})

    def _auth(self, body: dict[str, Any]) -> dict[str, Any]:
        login, password = str(body.get("login") or ""), str(body.get("password") or "")
        if not login or self.admins.get(login) != password:
            return {"status": wire.ERROR, "response": {"message": "Wrong login or password"}}
        return {"status": wire.OK, "response": {"token": self.state.issue_token(login, self.clock())}}

    def render(self, visit: Visit, reply: Reply) -> Response:
        if isinstance(reply.payload, HtmlPage):
            return HTMLResponse(str(reply.payload), reply.status, headers=dict(reply.headers))
        return JSONResponse(reply.payload, reply.status, headers=dict(reply.headers))
