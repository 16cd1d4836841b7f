"""A faithful retailCRM API v5 emulator (ASGI), for tests, the demo and benchmarks.

Rules it enforces (crm.md A): the key in ``X-API-KEY`` or the ``apiKey`` parameter, with the official
error texts (HTTP 403 [3p]); ``site`` required when the key covers several stores, and a ``site`` that
is not one of the account's refused; 10 requests/s per key with HTTP 503 (nginx's HTML page) beyond,
metered before the key is checked as nginx does; envelopes, ``limit`` 20/50/100 pagination; reference
books keyed by code (stores an array); the catalog loaded from the site's ICML URL or created
directly; upload semantics with ``notFoundOffers``; order validation; history with increasing ids
and ``apiKey.current`` relative to the reader. Faults come from the shared :class:`FaultPlan`.

The shared :class:`SandboxFrontDoor` runs the request through these rules (the hooks below);
handlers live in ``emulator/`` by concern, routed by ``emulator/routes.py``.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

import connectors.retailcrm.sandbox.catalog as catalog
import connectors.retailcrm.sandbox.customers as crm_customers
import connectors.retailcrm.sandbox.orders as orders
import connectors.retailcrm.sandbox.seed as seeding
from connectors.retailcrm.convert.icml import parse_icml
from connectors.retailcrm.sandbox.routes import ROUTES, call_site
from connectors.retailcrm.sandbox.state import CrmState, now_local
from connectors.retailcrm.sandbox.wire import (
    NO_ACCOUNT_HTML,
    RATE_LIMIT_HTML,
    ApiError,
    Call,
    TokenBucket,
    parse_brackets,
    read_params,
)
from connectors.sandboxing import Reply, SandboxFrontDoor, Visit, credential_digest


class RetailCRMSandbox(SandboxFrontDoor):
    """One emulated retailCRM account.

    Args:
        api_key: the key the account accepts (more with :meth:`add_api_key`).
        sites: store (site) codes; the key covers all of them.
        stores: ``(code, name)`` warehouses (default: main, msk, spb).
        price_types: ``(code, name)``; the first is the default ("base").
        rps: requests a second per key before HTTP 503.
        catalog_transport: transport used to fetch ICML feeds (tests pass an ASGI transport).
        catalog_refresh_seconds: when set, sites with ``loadFromYml`` and a ``ymlUrl`` are reloaded
            in the background once their catalog is older than this (the CRM's timer). Checked on
            each API request, so no lifespan task is needed. ``POST /sandbox/sites/{code}/load-catalog``
            loads on demand.
    """

    gate_before_auth = True  # nginx's limit_req answers before the application reads the key
    secret_params = ("apiKey",)
    page_keys = ("orders", "customers", "offers", "products", "history")

    def __init__(
        self,
        *,
        api_key: str = "sandbox-key",
        sites: Sequence[str] = ("main",),
        stores: Iterable[tuple[str, str]] | None = None,
        price_types: Iterable[tuple[str, str]] | None = None,
        rps: float = 10,
        catalog_transport: httpx.AsyncBaseTransport | None = None,
        catalog_refresh_seconds: float | None = None,
    ) -> None:
        super().__init__(
            "/api/v5",
            before=[
                Route("/sandbox/sites/{code}/load-catalog", self._load_catalog_now, methods=["POST"]),
                Route("/sandbox/orders/create", self._place_order_now, methods=["POST"]),
            ],
            after=[Route("/{path:path}", self._other, methods=["GET", "POST"])],
        )
        self.state = CrmState.create(sites, stores, price_types)
        self.api_keys: dict[str, tuple[str, ...]] = {api_key: tuple(sites)}
        self.api_key = api_key
        self.bucket = TokenBucket(rps)
        self.account_exists = True
        self.catalog_transport = catalog_transport
        self.catalog_refresh_seconds = catalog_refresh_seconds
        self._loaded_at: dict[str, float] = {}
        self._feed_etags: dict[str, str] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    # -- inspectable state ---------------------------------------------------------------------
    @property
    def offers(self) -> dict[int, dict[str, Any]]:
        return self.state.offers

    @property
    def inventories(self) -> dict[int, dict[str, dict[str, Any]]]:
        return self.state.inventories

    @property
    def prices(self) -> dict[int, dict[str, float]]:
        return self.state.prices

    @property
    def orders(self) -> dict[int, dict[str, Any]]:
        return self.state.orders

    @property
    def customers(self) -> dict[int, dict[str, Any]]:
        return self.state.customers

    @property
    def history(self) -> list[Any]:
        return self.state.history

    # -- set-up ----------------------------------------------------------------------------------
    def add_api_key(self, key: str, sites: Sequence[str] | None = None) -> None:
        """Accept another key (another integration), limited to ``sites`` (default: all)."""
        self.api_keys[key] = tuple(sites or self.state.sites)

    def load_icml(self, source: bytes | Path, site: str | None = None) -> int:
        """Load a catalog from ICML into ``site`` (default: the first); returns offers loaded."""
        code = site or next(iter(self.state.sites))
        categories, offers = parse_icml(source)
        return catalog.upsert_catalog(self.state, code, categories, offers)

    async def refresh_catalog(self, site: str, *, force: bool = False) -> int:
        """Fetch the site's ``ymlUrl`` over HTTP and load it, as the CRM does on its timer.

        A feed whose ETag did not change since the last load answers 304 and is not parsed again
        (returns 0), unless ``force``.
        """
        url = self.state.sites[site].get("ymlUrl")
        if not url:
            raise ValueError(f"site {site!r} has no ymlUrl")
        self._loaded_at[site] = time.monotonic()
        self.state.sites[site]["catalogLoadingAt"] = now_local()
        etag = None if force else self._feed_etags.get(site)
        async with httpx.AsyncClient(transport=self.catalog_transport, timeout=60) as http:
            response = await http.get(url, headers={"If-None-Match": etag} if etag else None)
            if response.status_code == 304:
                return 0
            response.raise_for_status()
        loaded = self.load_icml(response.content, site)
        if response.headers.get("ETag"):
            self._feed_etags[site] = response.headers["ETag"]
        return loaded

    def _schedule_catalog_refresh(self) -> None:
        if self.catalog_refresh_seconds is None:
            return
        now = time.monotonic()
        for code, site in self.state.sites.items():
            due = now - self._loaded_at.get(code, -1e18) >= self.catalog_refresh_seconds
            running = code in self._refreshing and not self._refreshing[code].done()
            if site.get("loadFromYml") and site.get("ymlUrl") and due and not running:
                self._loaded_at[code] = now
                self._refreshing[code] = asyncio.get_running_loop().create_task(self._timed_refresh(code))

    async def _timed_refresh(self, code: str) -> None:
        """A timer load: a feed that is missing or broken is kept as an error, like the CRM shows it."""
        try:
            await self.refresh_catalog(code)
            self.state.sites[code].pop("catalogLoadingError", None)
        except (httpx.HTTPError, ValueError, SyntaxError) as exc:  # ParseError is a SyntaxError
            self.state.sites[code]["catalogLoadingError"] = str(exc)[:300]

    async def _load_catalog_now(self, request: Request) -> Response:
        code = request.path_params["code"]
        if code not in self.state.sites or not self.state.sites[code].get("ymlUrl"):
            return JSONResponse({"success": False, "errorMsg": f"site {code!r} has no ymlUrl"}, 404)
        try:
            loaded = await self.refresh_catalog(code, force=True)
        except (httpx.HTTPError, ET.ParseError) as exc:
            return JSONResponse({"success": False, "errorMsg": f"catalog not loaded: {exc}"}, 502)
        return JSONResponse({"success": True, "offersLoaded": loaded})

    def seed_catalog(self, n: int, *, site: str | None = None, seed: int = 0) -> int:
        """Create ``n`` offers directly (no feed)."""
        return seeding.seed_catalog(self.state, site or next(iter(self.state.sites)), n, seed=seed)

    def seed_orders(self, n: int, *, seed: int = 0, site: str | None = None) -> list[int]:
        """Create ``n`` orders (and their customers) as managers would; returns their ids."""
        return seeding.seed_orders(self.state, site or next(iter(self.state.sites)), n, seed=seed)

    def place_order(self, data: Mapping[str, Any], site: str | None = None) -> dict[str, Any]:
        """Create an order as a manager in the CRM's UI would (history source ``user``, no key);
        validated as ``orders/create`` validates. Raises ApiError naming what is wrong."""
        code = site or next(iter(self.state.sites))
        if code not in self.state.sites:
            raise ApiError(400, f"site {code!r} is not one of this account's: {', '.join(self.state.sites)}")
        return orders.create_order(self.state, dict(data), code, None)

    async def _place_order_now(self, request: Request) -> Response:
        """``POST /sandbox/orders/create`` ``{"order": {...}, "site": code}``: :meth:`place_order` over HTTP."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("order"), dict):
            return JSONResponse(
                {
                    "success": False,
                    "errorMsg": 'the body must be JSON: {"order": {...}, "site": '
                    '"<site code>"} (site optional: the first)',
                },
                400,
            )
        try:
            order = self.place_order(body["order"], body.get("site"))
        except ApiError as exc:
            return JSONResponse(exc.payload(), exc.status)
        return JSONResponse({"success": True, "id": order["id"], "order": order}, 201)

    def user_edit_order(self, order_id: int, changes: Mapping[str, Any]) -> None:
        """Change an order as a manager in the CRM's UI would (history source ``user``)."""
        orders.edit_order(self.state, order_id, dict(changes), None)

    def user_edit_customer(self, customer_id: int, changes: Mapping[str, Any]) -> None:
        """Change a customer as a manager in the CRM's UI would (customers history source ``user``)."""
        crm_customers.edit_customer(self.state, customer_id, dict(changes), None)

    def user_delete_order(self, order_id: int) -> None:
        """Delete an order as a manager would (a history record marked ``deleted``)."""
        orders.delete_order(self.state, order_id, None)

    def user_add_payment(self, order_id: int, payment: Mapping[str, Any]) -> int:
        """Add a payment to an order as a manager would (history ``payments``); returns its id."""
        return orders.add_payment(self.state, order_id, dict(payment), None)

    def user_edit_payment(self, payment_id: int, changes: Mapping[str, Any]) -> None:
        """Change a payment as a manager would (history ``payments.<field>`` for what changed)."""
        orders.change_payment(self.state, payment_id, dict(changes), None)

    # -- serving --------------------------------------------------------------------------------
    def serve(self, port: int, api_key: str | None = None, host: str = "127.0.0.1") -> None:
        """Run on loopback until Ctrl-C, printing the account URL and the accepted key."""
        import uvicorn

        if api_key and api_key != self.api_key:
            self.api_keys[api_key] = self.api_keys.pop(self.api_key)
            self.api_key = api_key
        print(f"retailCRM sandbox: account URL http://{host}:{port}  (API at /api/v5)", flush=True)
        print(f"API key: {self.api_key}", flush=True)
        uvicorn.run(self.app, host=host, port=port, log_level="warning", lifespan="off")

    # -- the front door's hooks: retailCRM's rules ----------------------------------------------------
    async def _other(self, request: Request) -> Response:
        status = 405 if not self.account_exists else 404
        self.record(request, request.url.path, status, "", 1)
        return HTMLResponse(NO_ACCOUNT_HTML if not self.account_exists else "<html>Not Found</html>", status)

    async def screen(self, visit: Visit) -> Response | None:
        """Read the key (header, query or form); a missing account answers nginx's 405 page."""
        query, form = await read_params(visit.request)
        visit.secret = visit.request.headers.get("x-api-key") or dict(query).get("apiKey") or form.get("apiKey") or ""
        visit.credential = credential_digest(visit.secret)
        visit.weight = 1  # every request counts as sent, refused or not (what the benchmark reports)
        self._schedule_catalog_refresh()
        return HTMLResponse(NO_ACCOUNT_HTML, 405) if not self.account_exists else None

    def admit(self, visit: Visit, forced: bool) -> Response | None:
        """10 requests/s per key, refused with nginx's 503 page (a burst fault spares the bucket)."""
        return HTMLResponse(RATE_LIMIT_HTML, 503) if forced or not self.bucket.take(visit.secret or "-") else None

    async def authenticate(self, visit: Visit) -> Response | None:
        if not visit.secret:  # the official clients' texts [lib]
            raise ApiError(403, '"apiKey" is missing.')
        if visit.secret not in self.api_keys:
            raise ApiError(403, 'Wrong "apiKey" value.')
        return None

    def server_fault(self) -> ApiError:
        return ApiError(500, "Internal server error")

    async def route(self, visit: Visit) -> Reply:
        """The route table, then the ``site`` rules, then the handler."""
        found = ROUTES.find(visit.request.method, visit.path)
        if found is None:
            raise (
                ApiError(405, "Method Not Allowed")
                if ROUTES.knows(visit.path)
                else ApiError(404, "API method not found")
            )
        route, match = found
        query, form = await read_params(visit.request)
        sites = self.api_keys[visit.secret]
        site = call_site(route.handler, form.get("site") or dict(query).get("site"), sites, self.state.sites)
        call = Call(
            method=visit.request.method,
            args=match.groups(),
            query=parse_brackets(query),
            form=form,
            api_key=visit.secret,
            sites=sites,
            extra={"site": site},
        )
        status, payload = route.handler(self.state, call)
        return Reply(status, payload, wrote=route.writes)

    def log_path(self, visit: Visit) -> str:
        return visit.request.url.path
