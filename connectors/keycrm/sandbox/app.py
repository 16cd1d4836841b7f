"""A keyCRM OpenAPI v1 emulator (ASGI) with keyCRM's rules, for tests, the demo and benchmarks.

Rules it enforces (crm.md C): ``Authorization: Bearer <key>`` (401 ``{"message": "Unauthenticated."}``
[inferred Laravel body]); 60 requests a minute per key in a sliding window, refused with 429,
``Retry-After`` and Laravel's ``X-RateLimit-*`` headers [inferred]; ``limit`` 1..50 pages in the
``PaginatedResponse`` envelope with ``next_page_url``; ``include=`` and ``filter[...]``; Laravel 422
bodies; ``PUT /offers/stocks`` answered 202 and applied ``apply_delay`` seconds later; the order
trigger webhook (POST or GET) on every status change and the stock webhook array on every stock
change, the API's own included. Faults come from the shared :class:`FaultPlan`.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import connectors.keycrm.sandbox.offers as offers
import connectors.keycrm.sandbox.orders as orders
import connectors.keycrm.sandbox.seed as seeding
from connectors.keycrm.sandbox.routes import ROUTES
from connectors.keycrm.sandbox.state import Json, KeyState
from connectors.keycrm.sandbox.webhooks import Deliveries
from connectors.keycrm.sandbox.wire import Call, LaravelError
from connectors.keycrm.wire.conventions import REQUESTS_PER_MINUTE
from connectors.sandboxing import Reply, SandboxFrontDoor, Visit, WindowQuota, bearer_token, credential_digest

STATUS_EVENT = "order.change_order_status"
PAYMENT_EVENT = "order.change_payment_status"


class KeyCRMSandbox(SandboxFrontDoor):
    """One emulated keyCRM account.

    Args:
        api_key: the key the account accepts.
        webhook_transport: how webhooks reach their receivers (tests: an ASGI transport).
        per_minute: requests a minute per key before 429.
    """

    page_keys = ("data",)

    def __init__(
        self,
        *,
        api_key: str = "sandbox-key",
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        per_minute: int = REQUESTS_PER_MINUTE,
    ) -> None:
        super().__init__(
            "/v1",
            before=[
                Route("/sandbox/orders", self._place_order_now, methods=["POST"]),
                Route("/sandbox/orders/{order_id:int}/status", self._change_status_now, methods=["POST"]),
                Route("/sandbox/stock", self._set_stock_now, methods=["POST"]),
            ],
        )
        self.api_key = api_key
        self.state = KeyState()
        self.quota = WindowQuota(per_minute, 60.0)
        self.webhooks = Deliveries(webhook_transport)
        self.outbox: list[tuple[str, str, Any]] = []
        self._outbox_lock = threading.Lock()

    # -- set-up and a manager's hands ---------------------------------------------------------
    def seed_catalog(self, n: int, *, seed: int = 0, stock: bool = True) -> int:
        return seeding.seed_catalog(self.state, n, seed=seed, stock=stock)

    def seed_orders(self, n: int, *, seed: int = 0) -> list[int]:
        return seeding.seed_orders(self.state, n, seed=seed)

    def add_offers(self, offers: Iterable[tuple[str, str, float]]) -> int:
        """Products of one offer each, ``(sku, name, price)``: a catalog matching another system's by SKU."""
        return seeding.add_offers(self.state, offers)

    def add_order_trigger(self, url: str, method: str = "POST", *, on: str = "status") -> None:
        """Automation: "on order status change → Відправити Webhook" to ``url`` with ``method``
        (``on="payment"``: on a change of the order's payment status)."""
        hooks = self.state.payment_hooks if on == "payment" else self.state.order_hooks
        hooks.append((url, method.upper()))

    def add_stock_webhook(self, url: str) -> None:
        """Settings → Products → Stocks → "+Add Webhook" (all warehouses)."""
        self.state.stock_hooks.append(url)

    def place_order(self, data: Mapping[str, Any], warehouse_id: int | None = None) -> Json:
        """An order entered by a manager; fires the status trigger (flushed by :meth:`flush`)."""
        order = orders.new_order(self.state, data, warehouse_id)
        self._order_event(order)
        return order

    def change_status(self, order_id: int, status_id: int) -> None:
        """A manager moves an order; fires the status trigger when it moved."""
        if orders.set_status(self.state, self.state.orders[order_id], status_id):
            self._order_event(self.state.orders[order_id])

    def add_payment(self, order_id: int, amount: float, method_id: int, status: str = "paid", **extra: Any) -> Json:
        """A manager records a payment on an order (fires the payment trigger when the order's payment
        status moved). Raises :class:`LaravelError` (422) as the API would."""
        order = self.state.orders[order_id]
        before = order.get("payment_status")
        fields = orders.payment_fields(
            self.state, {"payment_method_id": method_id, "amount": amount, "status": status, **extra}, required=True
        )
        payment = orders.record_payment(self.state, order, fields)
        self._payment_event(order, before)
        return payment

    def edit_payment(self, order_id: int, payment_id: int, **changes: Any) -> Json:
        """A manager edits a payment (its amount, status, date...)."""
        order = self.state.orders[order_id]
        before = order.get("payment_status")
        fields = orders.payment_fields(self.state, changes, required=False)
        payment = orders.record_payment(self.state, order, fields, payment_id)
        self._payment_event(order, before)
        return payment

    def edit_lines(self, order_id: int, items: list[Json], **fields: Any) -> None:
        """A manager changes lines of an order (``[{sku, quantity?, price?}]``) and, with ``fields``, its
        comments (``buyer_comment``, ``manager_comment``). No trigger fires: it is no status change."""
        order = self.state.orders[order_id]
        orders.update_lines(self.state, order, items)
        for name in ("buyer_comment", "manager_comment"):
            if name in fields:
                order[name] = fields[name]

    def set_stock(self, sku: str, warehouse_id: int, quantity: float, reserve: float | None = None) -> None:
        offer = self.state.offer_by_sku(sku)
        if offer is None:
            raise KeyError(sku)
        level = self.state.stock.setdefault((offer["id"], warehouse_id), [0.0, 0.0])
        level[0] = float(quantity)
        if reserve is not None:
            level[1] = float(reserve)
        self._stock_event([offers.stock_item(self.state, offer["id"])])

    async def flush(self) -> None:
        """Apply due stock writes, send every queued webhook and wait for the deliveries."""
        self._settle()
        self._send_outbox()
        await self.webhooks.drain()

    def pending_writes(self) -> int:
        return len(self.state.pending)

    # -- webhooks ------------------------------------------------------------------------------
    def _order_event(self, order: Json) -> None:
        body = {"event": STATUS_EVENT, "context": orders.flat_row(self.state, order)}
        self.outbox.extend((url, method, body) for url, method in self.state.order_hooks)

    def _payment_event(self, order: Json, before: Any) -> None:
        if order.get("payment_status") != before:
            body = {"event": PAYMENT_EVENT, "context": orders.flat_row(self.state, order)}
            self.outbox.extend((url, method, body) for url, method in self.state.payment_hooks)

    def _stock_event(self, items: list[Json]) -> None:
        if items:
            self.outbox.extend((url, "POST", items) for url in self.state.stock_hooks)

    def _settle(self) -> None:
        self._stock_event(offers.apply_due(self.state))

    def _send_outbox(self, start: int = 0) -> None:
        with self._outbox_lock:
            queued, self.outbox = self.outbox[start:], self.outbox[:start]
        for url, method, body in queued:
            self.webhooks.send(url, method, body)

    # -- the front door's hooks: keyCRM's rules -----------------------------------------------
    async def authenticate(self, visit: Visit) -> Response | None:
        visit.secret = bearer_token(visit.request)
        visit.credential = credential_digest(visit.secret)
        if visit.secret != self.api_key:
            raise LaravelError(401, "Unauthenticated.")
        return None

    def admit(self, visit: Visit, forced: bool) -> Response | None:
        assert self.quota is not None
        wait = None if forced else self.quota.take(visit.credential)
        if forced or wait is not None:
            raise LaravelError(
                429,
                "Too Many Attempts.",
                headers={
                    "Retry-After": str(max(1, math.ceil(wait or 1))),
                    "X-RateLimit-Limit": str(self.quota.limit),
                    "X-RateLimit-Remaining": "0",
                },
            )
        visit.weight = 1
        visit.headers = {"X-RateLimit-Limit": str(self.quota.limit)}
        return None

    def server_fault(self) -> LaravelError:
        return LaravelError(500, "Server Error")

    async def route(self, visit: Visit) -> Reply:
        # what this request causes is sent at its end; events queued by a manager's hands (the Python
        # API, another thread) wait for their own flush
        mark = len(self.outbox)
        self._settle()  # writes accepted earlier take effect as time passes
        found = ROUTES.find(visit.request.method, visit.path)
        if found is None:
            raise LaravelError(405 if ROUTES.knows(visit.path) else 404, "Not Found")
        route, match = found
        body: Any = None
        if visit.request.method in ("POST", "PUT"):
            raw = await visit.request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise LaravelError(400, "The body is not JSON.") from None
        call = Call(
            visit.request.method,
            match.groups(),
            dict(visit.request.query_params),
            body,
            url=str(visit.request.url.replace(query="")),
        )
        before = {oid: (o["status_changed_at"], o.get("payment_status")) for oid, o in self.state.orders.items()}
        status, payload = route.handler(self.state, call)
        for oid, order in self.state.orders.items():
            was = before.get(oid, (None, None))
            if was[0] != order["status_changed_at"]:
                self._order_event(order)  # a change through the API fires the trigger as well
            if oid in before:
                self._payment_event(order, was[1])
        self._send_outbox(mark)
        return Reply(status, payload, wrote=route.writes)

    # -- admin paths ------------------------------------------------------------------------------
    async def _json(self, request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    async def _place_order_now(self, request: Request) -> Response:
        """``POST /sandbox/orders`` ``{buyer, products: [{sku | name, quantity, price, properties}]}``."""
        body = await self._json(request)
        if not isinstance(body, dict) or not isinstance(body.get("products"), list):
            return JSONResponse({"message": 'the body must be {"buyer": {...}, "products": [...]}'}, 422)
        order = self.place_order(body)
        await self.flush()
        return JSONResponse(orders.shaped(self.state, order, {"products.offer", "buyer"}), 201)

    async def _change_status_now(self, request: Request) -> Response:
        body = await self._json(request)
        oid = request.path_params["order_id"]
        if oid not in self.state.orders or not isinstance(body, dict) or not isinstance(body.get("status_id"), int):
            return JSONResponse({"message": 'unknown order, or the body is not {"status_id": <int>}'}, 422)
        self.change_status(oid, body["status_id"])
        await self.flush()
        return JSONResponse({"status": True})

    async def _set_stock_now(self, request: Request) -> Response:
        body = await self._json(request)
        try:
            assert isinstance(body, dict)
            self.set_stock(str(body["sku"]), int(body["warehouse_id"]), float(body["quantity"]))
        except (AssertionError, KeyError, TypeError, ValueError):
            return JSONResponse(
                {"message": 'the body must be {"sku", "warehouse_id", "quantity"} of a known offer'}, 422
            )
        await self.flush()
        return JSONResponse({"status": True})

    # -- serving ---------------------------------------------------------------------------------
    def serve(self, port: int, host: str = "127.0.0.1", hooks: Iterable[str] = ()) -> None:
        """Run on loopback until Ctrl-C, printing the API root and the accepted key."""
        import uvicorn

        print(f"keyCRM sandbox: API at http://{host}:{port}/v1", flush=True)
        print(f"API key: {self.api_key}", flush=True)
        uvicorn.run(self.app, host=host, port=port, log_level="warning", lifespan="off")
