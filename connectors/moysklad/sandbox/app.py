"""MoySklad sandbox: an ASGI emulator of the JSON API 1.2 endpoints the hub uses, with its real rules.

Every request passes the shared front door in the order the real API applies its rules:
``Accept-Encoding: gzip`` (415 with no body otherwise), authentication (401 with error 1056), the
parallel limit (429/1073, ``X-Lognex-Auth: 429005``), the weighted 45-unit/3 s bucket per credential
(429/1049 with ``X-Lognex-Retry-After``), then injected faults, then the route table
(:mod:`sandbox_routes`). Responses are gzip-compressed JSON with the rate-limit headers, and hrefs on
the host the request came to.

Run in-process with ``httpx.ASGITransport(app=sandbox.app)`` or on a socket with
:class:`connectors.sandboxing.LoopbackServer`; :func:`serve` is the CLI entry point.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response

import connectors.moysklad.sandbox.files as files
import connectors.moysklad.sandbox.routes as routes
from connectors.moysklad.sandbox.documents import ItemError, Writer
from connectors.moysklad.sandbox.rate import RateGate
from connectors.moysklad.sandbox.state import STORE_BASE, SandboxStore
from connectors.moysklad.sandbox.stock import StockLedger
from connectors.moysklad.sandbox.webhooks import WebhookDispatcher
from connectors.moysklad.wire.limits import TokenKind, request_weight
from connectors.sandboxing import LoopbackServer, Reply, SandboxFrontDoor, Visit

API_PREFIX = "/api/remap/1.2"
JSON_TYPE = "application/json;charset=utf-8"
AUTH_FAILED = "Ошибка аутентификации: Неправильный пароль или имя пользователя или ключ авторизации"
RATE_REFUSALS = {
    1049: "Превышено ограничение на количество запросов в единицу времени",
    1073: "Превышено ограничение на одновременное количество запросов",
}


def error_body(code: int, message: str, parameter: str | None = None) -> dict[str, Any]:
    """MoySklad's error envelope."""
    return ItemError(code, message, parameter).body()


class MoySkladSandbox(SandboxFrontDoor):
    """State and ASGI app of one emulated MoySklad account.

    Attributes:
        app: the Starlette app (mounted at ``/api/remap/1.2``).
        store: the account's objects; ``ledger``: stock computed from documents.
        log: every answered request; ``faults``: what to inject next.
        gate: the rate gate; ``banned`` says whether a client would have been banned.
        webhooks: the webhook dispatcher (``deliveries``, ``dropped``, ``stock_interval``).
        tokens: the accepted bearer tokens and their kind.
        paid_tariff: whether ``fields=downloadPermanentHref`` yields permanent image links (paid
            tariffs only, as in MoySklad; switch it off to emulate a free account).
    """

    media_type = JSON_TYPE
    page_keys = ("rows",)

    def __init__(
        self,
        *,
        token: str | None = "sandbox-token",
        login: str | None = None,
        password: str | None = None,
        token_kind: TokenKind = "app",
        today: date | None = None,
        base_url: str = "http://127.0.0.1",
        seed: int = 0,
        clock: Any = None,
        paid_tariff: bool = True,
    ) -> None:
        super().__init__(API_PREFIX, after=[files.files_route(self)])  # temporary image links
        self.token_kind = token_kind
        self.paid_tariff = paid_tariff
        self.tokens: dict[str, TokenKind] = {token: token_kind} if token else {}
        self.login, self.password = login, password
        self.today = today
        self.base_url = base_url.rstrip("/") + API_PREFIX
        self.store = SandboxStore(seed=seed, clock=clock)
        self.ledger = StockLedger()
        self.gate = RateGate()
        self.webhooks = WebhookDispatcher(self)
        self.writer = Writer(self)
        #: filtered list of the last listing (type, filter, search, store version) -> rows
        self.list_cache: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}

    @property
    def banned(self) -> bool:
        """True once more than 200 requests were refused with 429 within a minute."""
        return self.gate.banned

    def weight_day(self) -> date:
        """The day whose weight table applies (Moscow date unless fixed)."""
        return self.today or (datetime.now(UTC) + timedelta(hours=3)).date()

    def rehost(self, payload: Any, base: str | None = None) -> Any:
        """``payload`` with store hrefs rewritten to ``base`` (default: the sandbox base URL)."""
        text = json.dumps(payload, ensure_ascii=False).replace(STORE_BASE, base or self.base_url)
        return json.loads(text)

    # -- the front door's hooks: MoySklad's rules ---------------------------------------------------
    async def screen(self, visit: Visit) -> Response | None:
        """Hrefs follow the host the client used; without ``Accept-Encoding: gzip``: 415, no body."""
        request = visit.request
        self.base_url = f"{request.url.scheme}://{request.headers.get('host', '127.0.0.1')}{API_PREFIX}"
        if self.store.of_type("webhookstock"):
            self.webhooks.ensure_stock_loop()
        if "gzip" not in request.headers.get("accept-encoding", "").lower():
            return Response(status_code=415)
        return None

    async def authenticate(self, visit: Visit) -> Response | None:
        """A known bearer token or the account's login and password (Basic)."""
        found = self._credential(visit.request)
        if found is None:
            raise ItemError(1056, AUTH_FAILED, status=401)
        visit.credential, visit.kind = found
        return None

    def _credential(self, request: Request) -> tuple[str, TokenKind] | None:
        auth = request.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value in self.tokens:
            return f"token:{value[:6]}…{len(value)}", self.tokens[value]
        if scheme.lower() == "basic" and self.login is not None:
            try:
                login, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            if login == self.login and password == self.password:
                return f"basic:{login}", "user"
        return None

    def admit(self, visit: Visit, forced: bool) -> Response | None:
        """The weighted bucket and the parallel limits of :class:`RateGate`; refusals are 429."""
        cost = request_weight(visit.path, cast(TokenKind, visit.kind), self.weight_day())
        verdict = self.gate.enter(visit.credential, cost, forced_refusal=forced)
        if not verdict.admitted:
            return self.render(
                visit, Reply(429, error_body(verdict.code, RATE_REFUSALS[verdict.code]), headers=verdict.headers)
            )
        visit.weight, visit.headers = cost, verdict.headers
        return None

    def leave(self, visit: Visit) -> None:
        self.gate.leave(visit.credential)

    def server_fault(self) -> ItemError:
        return ItemError(1000, "Внутренняя ошибка сервера", status=500)

    async def route(self, visit: Visit) -> Reply:
        return await routes.dispatch(self, visit.request, visit.path)

    def render(self, visit: Visit, reply: Reply) -> Response:
        """Gzip-compressed JSON, store hrefs on the host the client used."""
        if reply.payload is None:
            return Response(status_code=reply.status, headers=dict(reply.headers))
        raw = json.dumps(reply.payload, ensure_ascii=False, separators=(",", ":")).replace(STORE_BASE, self.base_url)
        body = gzip.compress(raw.encode(), compresslevel=1)
        return Response(
            body,
            status_code=reply.status,
            media_type=None,
            headers={**reply.headers, "Content-Type": JSON_TYPE, "Content-Encoding": "gzip"},
        )


def serve(products: int, port: int, token: str | None, login: str | None, password: str | None) -> None:
    """Run a seeded sandbox on 127.0.0.1:``port`` until Ctrl-C (``skladbridge sandbox serve moysklad``).

    Prints the base URL and the credentials it accepts.
    """
    from connectors.moysklad.sandbox.generator import seed_catalog

    if token is None and login is None:
        token = "sandbox-token"
    sandbox = MoySkladSandbox(token=token, login=login, password=password, token_kind="app")
    seed_catalog(sandbox, products)
    with LoopbackServer(sandbox.app, port=port) as server:
        print(f"MoySklad sandbox: {server.url}{API_PREFIX}  ({products} products)", flush=True)
        if token:
            print(f"  Authorization: Bearer {token}   (solution token, weight 1)", flush=True)
        if login:
            print(f"  Basic auth: {login} / {password}   (user credentials, dated weight)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped")
