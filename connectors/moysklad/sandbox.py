"""MoySklad sandbox: an ASGI emulator of the JSON API 1.2 endpoints the hub uses, with its real rules.

Every request passes the gate in the order the real API applies it: ``Accept-Encoding: gzip`` (415
with no body otherwise), authentication (401 with error 1056), the parallel limit (429/1073,
``X-Lognex-Auth: 429005``), the weighted 45-unit/3 s bucket per credential (429/1049 with
``X-Lognex-Retry-After``), then injected faults, then the handler. Responses are gzip-compressed
JSON with the rate-limit headers, and hrefs on the host the request came to.

Run in-process with ``httpx.ASGITransport(app=sandbox.app)`` or on a socket with
:class:`connectors.sandboxing.LoopbackServer`; :func:`serve` is the CLI entry point.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from connectors.moysklad import sandbox_routes
from connectors.moysklad.limits import TokenKind, request_weight
from connectors.moysklad.sandbox_documents import ItemError, Writer
from connectors.moysklad.sandbox_rate import RateGate
from connectors.moysklad.sandbox_state import STORE_BASE, SandboxStore
from connectors.moysklad.sandbox_stock import StockLedger
from connectors.moysklad.sandbox_webhooks import WebhookDispatcher
from connectors.sandboxing import DroppedResponse, FaultPlan, LoggedRequest, LoopbackServer, RequestLog, sleep_if_slow

API_PREFIX = "/api/remap/1.2"
JSON_TYPE = "application/json;charset=utf-8"
ERRORS_HELP = "https://dev.moysklad.ru/doc/api/remap/1.2/#error_"
METHODS = ["GET", "POST", "PUT", "DELETE"]


def error_body(code: int, message: str, parameter: str | None = None) -> dict[str, Any]:
    """MoySklad's error envelope."""
    err: dict[str, Any] = {"error": message, "code": code, "moreInfo": f"{ERRORS_HELP}{code}"}
    if parameter:
        err["parameter"] = parameter
    return {"errors": [err]}


class _DropAfterStart(Response):
    """Start the response, then lose the connection (the write was already committed)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        raise DroppedResponse("response dropped after a committed write")


class MoySkladSandbox:
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
        self.token_kind = token_kind
        self.paid_tariff = paid_tariff
        self.tokens: dict[str, TokenKind] = {token: token_kind} if token else {}
        self.login, self.password = login, password
        self.today = today
        self.base_url = base_url.rstrip("/") + API_PREFIX
        self.store = SandboxStore(seed=seed, clock=clock)
        self.ledger = StockLedger()
        self.log = RequestLog()
        self.faults = FaultPlan()
        self.gate = RateGate()
        self.webhooks = WebhookDispatcher(self)
        self.writer = Writer(self)
        #: filtered list of the last listing (type, filter, search, store version) -> rows
        self.list_cache: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
        self.app = Starlette(routes=[Route(API_PREFIX + "/{path:path}", self._endpoint, methods=METHODS)])

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

    async def _endpoint(self, request: Request) -> Response:
        path = "/" + request.path_params["path"].strip("/")
        base = f"{request.url.scheme}://{request.headers.get('host', '127.0.0.1')}{API_PREFIX}"
        self.base_url = base
        if self.store.of_type("webhookstock"):
            self.webhooks.ensure_stock_loop()
        credential, weight = "-", 0
        status = 500
        try:
            if "gzip" not in request.headers.get("accept-encoding", "").lower():
                status = 415
                return Response(status_code=415)
            found = self._credential(request)
            if found is None:
                status = 401
                return self._json(error_body(1056, "Ошибка аутентификации: Неправильный пароль или имя "
                                                   "пользователя или ключ авторизации"), 401, base, {})
            credential, kind = found
            cost = request_weight(path, kind, self.weight_day())
            verdict = self.gate.enter(credential, cost, forced_refusal=self.faults.take_rate_limit())
            if not verdict.admitted:
                status = 429
                message = ("Превышено ограничение на количество запросов в единицу времени" if verdict.code == 1049
                           else "Превышено ограничение на одновременное количество запросов")
                return self._json(error_body(verdict.code, message), 429, base, verdict.headers)
            weight = cost
            try:
                await sleep_if_slow(self.faults)
                if self.faults.take_server_error():
                    status = 500
                    return self._json(error_body(1000, "Внутренняя ошибка сервера"), 500, base, verdict.headers)
                status, payload, wrote = await sandbox_routes.dispatch(self, request, path)
                if wrote and status == 200 and self.faults.take_drop_after_write():
                    # a declared length that never arrives: the client sees a broken response
                    return _DropAfterStart(headers={"Content-Type": JSON_TYPE, "Content-Length": "4096"})
                if payload is None:
                    return Response(status_code=status, headers=verdict.headers)
                if (isinstance(payload, dict) and len(payload.get("rows") or []) > 1
                        and self.faults.take_partial_page(path)):
                    payload = {**payload, "rows": payload["rows"][:len(payload["rows"]) // 2]}
                return self._json(payload, status, base, verdict.headers)
            finally:
                self.gate.leave(credential)
        except ItemError as exc:
            status = exc.status
            return self._json(exc.body(), exc.status, base, {})
        finally:
            self.log.add(LoggedRequest(time.time(), request.method, path, request.url.query, status,
                                       credential, weight))

    def _json(self, payload: Any, status: int, base: str, headers: dict[str, str]) -> Response:
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace(STORE_BASE, base)
        body = gzip.compress(raw.encode(), compresslevel=1)
        return Response(body, status_code=status, media_type=None,
                        headers={**headers, "Content-Type": JSON_TYPE, "Content-Encoding": "gzip"})


def serve(products: int, port: int, token: str | None, login: str | None, password: str | None) -> None:
    """Run a seeded sandbox on 127.0.0.1:``port`` until Ctrl-C (``skladbridge sandbox serve moysklad``).

    Prints the base URL and the credentials it accepts.
    """
    from connectors.moysklad.sandbox_generator import seed_catalog

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
