"""A faithful retailCRM API v5 emulator (ASGI), for tests, the demo and benchmarks.

Rules it enforces (crm.md A): the key in ``X-API-KEY`` or the ``apiKey`` parameter, with the official
error texts (HTTP 403 [3p]); ``site`` required when the key covers several stores; 10 requests/s per
key with HTTP 503 (nginx's HTML page) beyond; envelopes, ``limit`` 20/50/100 pagination; reference
books keyed by code (stores an array); the catalog loaded from the site's ICML URL or created
directly; upload semantics with ``notFoundOffers``; order validation; history with increasing ids
and ``apiKey.current`` relative to the reader. Faults come from the shared :class:`FaultPlan`.

Handlers live in ``emulator/`` by concern; this module is the front door: routing, auth, rate,
faults and the request log.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from connectors.retailcrm.emulator import catalog, customers, orders
from connectors.retailcrm.emulator import seed as seeding
from connectors.retailcrm.emulator.state import CrmState, now_local
from connectors.retailcrm.emulator.wire import (
    NO_ACCOUNT_HTML,
    RATE_LIMIT_HTML,
    ApiError,
    Call,
    TokenBucket,
    parse_brackets,
)
from connectors.retailcrm.icml import parse_icml
from connectors.sandboxing import DroppedResponse, FaultPlan, LoggedRequest, RequestLog, sleep_if_slow

Handler = Callable[[CrmState, Call], tuple[int, dict[str, Any]]]

# method, path pattern (under /api/v5), handler, is a write, needs a site
_ROUTES: list[tuple[str, str, Handler, bool, bool]] = [
    ("GET", r"reference/(statuses|stores|sites|delivery-types|payment-types|payment-statuses|price-types)",
     catalog.reference, False, False),
    ("POST", r"reference/sites/([^/]+)/edit", catalog.site_edit, True, False),
    ("GET", r"store/offers", catalog.store_offers, False, False),
    ("GET", r"store/products", catalog.store_products, False, False),
    ("GET", r"store/inventories", catalog.store_inventories, False, False),
    ("POST", r"store/inventories/upload", catalog.inventories_upload, True, False),
    ("POST", r"store/prices/upload", catalog.prices_upload, True, False),
    ("GET", r"orders", orders.orders_list, False, False),
    ("GET", r"orders/history", lambda s, c: orders.history_page(s, c, "orders", "order"), False, False),
    ("GET", r"orders/statuses", orders.order_statuses, False, False),
    ("POST", r"orders/create", orders.orders_create, True, True),
    ("POST", r"orders/upload", orders.orders_upload, True, True),
    ("POST", r"orders/fix-external-ids", orders.fix_external_ids, True, False),
    ("POST", r"orders/payments/create", orders.payment_create, True, False),
    ("POST", r"orders/payments/([^/]+)/edit", orders.payment_edit, True, False),
    ("GET", r"orders/([^/]+)", orders.orders_get, False, False),
    ("POST", r"orders/([^/]+)/edit", orders.orders_edit, True, False),
    ("GET", r"customers", customers.customers_list, False, False),
    ("GET", r"customers/history", lambda s, c: orders.history_page(s, c, "customers", "customer"), False, False),
    ("POST", r"customers/create", customers.customers_create, True, True),
    ("GET", r"customers/([^/]+)", customers.customers_get, False, False),
    ("POST", r"customers/([^/]+)/edit", customers.customers_edit, True, False),
]
_COMPILED = [(m, re.compile(p + r"/?"), h, w, s) for m, p, h, w, s in _ROUTES]


class _Dropped(Response):
    """Start a response, then fail: the client sees a connection cut after the write committed."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
        raise DroppedResponse("response dropped after a committed write (fault injection)")


class RetailCRMSandbox:
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
        self.state = CrmState.create(sites, stores, price_types)
        self.api_keys: dict[str, tuple[str, ...]] = {api_key: tuple(sites)}
        self.api_key = api_key
        self.faults = FaultPlan()
        self.log = RequestLog()
        self.bucket = TokenBucket(rps)
        self.account_exists = True
        self.catalog_transport = catalog_transport
        self.catalog_refresh_seconds = catalog_refresh_seconds
        self._loaded_at: dict[str, float] = {}
        self._feed_etags: dict[str, str] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self.app = Starlette(routes=[
            Route("/sandbox/sites/{code}/load-catalog", self._load_catalog_now, methods=["POST"]),
            Route("/api/v5/{path:path}", self._endpoint, methods=["GET", "POST", "PUT", "DELETE"]),
            Route("/{path:path}", self._other, methods=["GET", "POST"]),
        ])

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

    def user_edit_order(self, order_id: int, changes: Mapping[str, Any]) -> None:
        """Change an order as a manager in the CRM's UI would (history source ``user``)."""
        orders.edit_order(self.state, order_id, dict(changes), None)

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

    # -- the front door -------------------------------------------------------------------------
    async def _other(self, request: Request) -> Response:
        status = 405 if not self.account_exists else 404
        self._log(request, status, "")
        return HTMLResponse(NO_ACCOUNT_HTML if not self.account_exists else "<html>Not Found</html>", status)

    async def _endpoint(self, request: Request) -> Response:
        query_pairs = parse_qsl(request.url.query, keep_blank_values=True)
        form: dict[str, str] = {}
        if request.method == "POST":
            form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        key = request.headers.get("x-api-key") or dict(query_pairs).get("apiKey") or form.get("apiKey") or ""
        await sleep_if_slow(self.faults)
        self._schedule_catalog_refresh()
        if not self.account_exists:
            return self._reply(request, key, HTMLResponse(NO_ACCOUNT_HTML, 405))
        if self.faults.take_rate_limit() or not self.bucket.take(key or "-"):
            return self._reply(request, key, HTMLResponse(RATE_LIMIT_HTML, 503))
        try:
            status, payload, write = self._dispatch(request, key, query_pairs, form)
        except ApiError as exc:
            return self._reply(request, key, JSONResponse(exc.payload(), exc.status))
        if write and status < 300 and self.faults.take_drop_after_write():
            self._log(request, 0, key)
            return _Dropped()
        return self._reply(request, key, JSONResponse(payload, status))

    def _dispatch(
        self, request: Request, key: str, query_pairs: list[tuple[str, str]], form: dict[str, str]
    ) -> tuple[int, dict[str, Any], bool]:
        if not key:
            raise ApiError(403, '"apiKey" is missing.')
        if key not in self.api_keys:
            raise ApiError(403, 'Wrong "apiKey" value.')
        if self.faults.take_server_error():
            raise ApiError(500, "Internal server error")
        path = request.path_params["path"]
        matched = [(m, rx, h, w, s) for m, rx, h, w, s in _COMPILED if rx.fullmatch(path)]
        route = next((r for r in matched if r[0] == request.method), None)
        if route is None:
            if matched:
                raise ApiError(405, "Method Not Allowed")
            raise ApiError(404, "API method not found")
        _method, rx, handler, write, needs_site = route
        sites = self.api_keys[key]
        # reference/sites/{code}/edit carries the site *object* in its "site" field: not a site code
        site = None if path.startswith("reference/") else form.get("site") or dict(query_pairs).get("site")
        if site is not None and site not in sites:
            raise ApiError(403, "Access denied.") if site in self.state.sites else ApiError(
                400, f"Site with code \"{site}\" not found.")
        if site is None and len(sites) == 1:
            site = sites[0]
        if site is None and needs_site:
            raise ApiError(400, "Parameter 'site' is missing")
        call = Call(
            method=request.method, args=tuple(rx.fullmatch(path).groups()),  # type: ignore[union-attr]
            query=parse_brackets(query_pairs), form=form, api_key=key, sites=sites, extra={"site": site},
        )
        status, payload = handler(self.state, call)
        return status, payload, write

    def _reply(self, request: Request, key: str, response: Response) -> Response:
        self._log(request, response.status_code, key)
        return response

    def _log(self, request: Request, status: int, key: str) -> None:
        credential = hashlib.sha256(key.encode()).hexdigest()[:8] if key else ""
        query = re.sub(r"(?i)(apiKey=)[^&]*", r"\1***", request.url.query)
        self.log.add(LoggedRequest(at=time.time(), method=request.method, path=request.url.path,
                                   query=query, status=status, credential=credential))
