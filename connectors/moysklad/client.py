"""MoySklad JSON API 1.2 client: one credential's auth, pacing, paging, reads and writes.

Pacing follows the published rules (:mod:`connectors.moysklad.wire.limits`): 45 units per 3 s per
credential, the weight of a request from the dated table, at most 5 requests in flight. The budget
is shared process-wide per (host, credential), and the server's ``X-RateLimit-Remaining``/
``X-Lognex-Reset`` headers are fed back into it; a 429 waits ``X-Lognex-Retry-After`` (1049) or
backs off (1073, parallel).

Paging: the first page tells ``meta.size``; the other offsets are fetched concurrently within the
budget and yielded as they arrive, at most a few pages held at once. A page cut short is asked for
again by the client itself (:mod:`connectors.moysklad.wire.pages` says what a whole page is).

Writes: POSTs are repeated after a lost response only when every object carries a ``syncId``
(MoySklad then returns the object already created instead of a duplicate) or is an update by
``meta`` (its fields are absolute values). Bulk results are surfaced item by item
(:class:`BulkItemResult`); a webhook is created only if the same one does not exist, and only
webhooks under the hub's own URL prefix are ever deleted.

One class, whatever its length: the calls share one session and one budget, and a chain of mixins
split by length hid which call needed what.
"""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from connectors.http import (
    BaseClient,
    MalformedResponseError,
    RateBudget,
    RateInfo,
    RetryPolicy,
    TransientError,
    fingerprint,
    shared_budget,
)
from connectors.moysklad.wire.limits import (
    BUCKET_CAPACITY,
    BUCKET_WINDOW_SECONDS,
    DEFAULT_BASE_URL,
    MAX_ARRAY_ITEMS,
    MAX_EXPAND_LIMIT,
    MAX_IN_FLIGHT_PER_CREDENTIAL,
    MAX_PAGE_LIMIT,
    TokenKind,
    request_weight,
)
from connectors.moysklad.wire.meta import Json
from connectors.moysklad.wire.moscow_time import format_moscow, moscow_today
from connectors.moysklad.wire.pages import checked_assortment, json_body, offset_paging, page_size, whole_page
from connectors.moysklad.wire.stock_levels import StockLevels, stock_levels_body

ASSORTMENT_HEADER = {"X-Lognex-Remap-Beta-Feature": "assortmentWithoutStock"}

BOTH_ARCHIVED = "archived=true;archived=false"

#: ids per ``filter=id=…`` request; keeps the URL well under the 8 KB header limit
IDS_PER_FILTER = 100

#: hidden field with the image link a channel can load without credentials (paid tariffs)
PERMANENT_LINKS = {"fields": "downloadPermanentHref"}
#: the API's path prefix: a download href is an absolute URL under it
API_ROOT = "/api/remap/1.2"


__all__ = [
    "ASSORTMENT_HEADER",
    "BOTH_ARCHIVED",
    "DEFAULT_BASE_URL",
    "BulkItemResult",
    "MoySkladClient",
    "moscow_filter",
]


def moscow_filter(ts: datetime) -> str:
    """An aware datetime as a MoySklad filter value (Moscow time, ``YYYY-MM-DD HH:mm:ss``).

    Raises:
        ValueError: ``ts`` is naive.
    """
    return format_moscow(ts)


@dataclass(frozen=True)
class BulkItemResult:
    """One item of a bulk POST: the saved entity, or MoySklad's errors for it.

    Attributes:
        index: position in the request.
        entity: the saved object (None on error).
        errors: the item's ``errors`` list (empty on success).
    """

    index: int
    entity: Json | None
    errors: list[Json] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the item was saved."""
        return self.entity is not None and not self.errors


class MoySkladClient(BaseClient):
    """Async client of one MoySklad credential: auth, pacing and paging.

    Args:
        base_url: API root, default ``https://api.moysklad.ru/api/remap/1.2``.
        token: a Bearer token (user token, or a solution token with ``token_kind="app"``).
        login, password: Basic credentials (``user@account``); always weighted as a user.
        token_kind: ``user`` or ``app`` (solution): decides the weight from the dated table.
        transport: httpx transport (tests: ``httpx.ASGITransport(app=sandbox.app)``).
        today: fixes the calendar day of the weight table (default: today in Moscow).
    """

    system = "moysklad"

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        token: str | None = None,
        login: str | None = None,
        password: str | None = None,
        token_kind: Literal["user", "app"] | TokenKind = "user",
        transport: httpx.AsyncBaseTransport | None = None,
        today: date | None = None,
        timeout: httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if token:
            auth, secrets = f"Bearer {token}", [token]
            self.token_kind: TokenKind = token_kind
        elif login and password is not None:
            raw = base64.b64encode(f"{login}:{password}".encode()).decode()
            auth, secrets = f"Basic {raw}", [password, raw]
            self.token_kind = "user"
        else:
            raise ValueError("MoySklad needs a token, or a login and a password")
        self.today = today
        host = urlsplit(base_url).netloc
        key = ("moysklad", host, fingerprint(token, login, password))
        budget = shared_budget(
            key,
            lambda: RateBudget(
                BUCKET_CAPACITY, BUCKET_WINDOW_SECONDS, MAX_IN_FLIGHT_PER_CREDENTIAL, name=f"moysklad:{host}"
            ),
        )
        super().__init__(
            base_url,
            budget=budget,
            secrets=secrets,
            transport=transport,
            timeout=timeout,
            retry=retry,
            headers={"Authorization": auth, "Accept": "application/json;charset=utf-8", "Accept-Encoding": "gzip"},
        )

    # -- hooks -------------------------------------------------------------------------------
    def weight_day(self) -> date:
        """The calendar day the weight table is read for (Moscow date unless fixed)."""
        return self.today or moscow_today()

    def weight_for(self, method: str, path: str) -> float:
        """Units from the dated table: credential kind, date, extended stock reports."""
        return float(request_weight(urlsplit(path).path, self.token_kind, self.weight_day()))

    def rate_info(self, response: httpx.Response) -> RateInfo:
        """MoySklad's headers: remaining units, reset and retry-after in milliseconds."""
        h = response.headers

        def num(name: str, scale: float = 1.0) -> float | None:
            try:
                return float(h[name]) * scale if name in h else None
            except ValueError:
                return None

        retry_after = num("X-Lognex-Retry-After", 0.001)
        if response.status_code == 429 and retry_after is None and h.get("X-Lognex-Auth") == "429005":
            retry_after = None  # 1073, parallel limit: no hint, the policy backs off
        return RateInfo(
            remaining=num("X-RateLimit-Remaining"),
            reset_seconds=num("X-Lognex-Reset", 0.001),
            limit=num("X-RateLimit-Limit"),
            retry_after_seconds=retry_after,
        )

    def error_message(self, response: httpx.Response) -> str:
        """``[code] error (parameter)`` for each error of MoySklad's envelope."""
        try:
            errors = response.json().get("errors", [])
        except (ValueError, AttributeError):
            return super().error_message(response)
        parts = [
            f"[{e.get('code')}] {e.get('error')}" + (f" ({e['parameter']})" if e.get("parameter") else "")
            for e in errors
            if isinstance(e, dict)
        ]
        return "; ".join(parts) or super().error_message(response)

    # -- plumbing ----------------------------------------------------------------------------
    def href(self, path: str) -> str:
        """An absolute href on this client's host (``entity/store/<id>`` → ``https://…/entity/store/<id>``)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def ref(self, path: str, type_: str) -> dict[str, Any]:
        """A ``{"meta": …}`` reference to ``path`` of ``type_``."""
        return {"meta": {"href": self.href(path), "type": type_, "mediaType": "application/json"}}

    async def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        """GET ``path`` and decode the JSON body (asked again while it comes back broken).

        Raises:
            MalformedResponseError: the body is still not JSON after every retry.
        """
        return await self.request_parsed(
            "GET", path, lambda response: json_body(response, path), params=dict(params or {}), headers=headers
        )

    async def get_page(
        self, path: str, params: Mapping[str, Any] | None, headers: Mapping[str, str] | None, offset: int, limit: int
    ) -> dict[str, Any]:
        """One whole page of a collection: ``{meta: {size, ...}, rows: [...]}``.

        A page that is not a collection, or has fewer rows than ``meta.size`` implies for its
        offset, is a broken answer of this one request (a reply cut short on its way): the request
        is repeated with backoff, counted like any retry, and fails only if it stays broken.

        Raises:
            MalformedResponseError: still broken after every retry; names the endpoint and offset.
        """
        query = {**(params or {}), "limit": limit, "offset": offset}
        return await self.request_parsed(
            "GET", path, lambda response: whole_page(response, path, offset, limit), params=query, headers=headers
        )

    async def iter_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        limit: int = MAX_PAGE_LIMIT,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield the ``rows`` of every page of a collection.

        The first page gives ``meta.size``; the remaining offsets are fetched concurrently (at most
        as many as the budget lets in flight) and yielded in arrival order. ``expand`` and
        ``fields`` force ``limit`` ≤ 100, since the API ignores them on bigger pages.

        Raises:
            MalformedResponseError: a page stayed broken or short through every retry.
            PagingLoopError: the API answered another offset than asked, or rows of another page.
        """
        base = dict(params or {})
        if "expand" in base or "fields" in base:
            limit = min(limit, MAX_EXPAND_LIMIT)
        limit = max(1, min(limit, MAX_PAGE_LIMIT))
        paging = offset_paging(path, limit)

        async def fetch(at: int) -> dict[str, Any]:
            page = await self.get_page(path, base, headers, at, limit)
            paging.check(page, at)
            return page

        first = await fetch(0)
        yield first["rows"]
        offsets = iter(paging.remaining(page_size(first)))
        window = self.budget.max_in_flight
        pending: set[asyncio.Task[dict[str, Any]]] = set()

        def launch() -> bool:
            offset = next(offsets, None)
            if offset is not None:
                pending.add(asyncio.ensure_future(fetch(offset)))
            return offset is not None

        try:
            while len(pending) < window and launch():
                pass
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    pending.discard(task)
                    page = task.result()
                    launch()
                    yield page["rows"]
        finally:
            for task in pending:
                task.cancel()

    async def collect(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> list[dict[str, Any]]:
        """All rows of a (small) collection."""
        rows: list[dict[str, Any]] = []
        async for page in self.iter_pages(path, params, **kw):
            rows.extend(page)
        return rows

    # -- writes: counterparties, customer orders, documents, webhooks --------------------------
    async def _post(self, path: str, body: Any, params: Mapping[str, str] | None = None) -> Any:
        items = body if isinstance(body, list) else [body]
        idempotent = all(isinstance(i, dict) and (i.get("syncId") or (i.get("meta") or {}).get("href")) for i in items)
        response = await self.request("POST", path, json=body, params=dict(params or {}), idempotent=idempotent)
        return response.json()

    async def _put(self, path: str, body: Json) -> Json:
        return dict((await self.request("PUT", path, json=body)).json())

    async def bulk_create(
        self, entity: str, payloads: Sequence[Json], *, expand: str | None = None
    ) -> list[BulkItemResult]:
        """POST arrays of ≤ 1000 objects (with ``meta``: an update, without: a create); one result
        per payload, in order. ``expand`` applies to the saved objects in the answer."""
        results: list[BulkItemResult] = []
        for start in range(0, len(payloads), MAX_ARRAY_ITEMS):
            chunk = list(payloads[start : start + MAX_ARRAY_ITEMS])
            answer = await self._post(f"/entity/{entity}", chunk, {"expand": expand} if expand else None)
            for offset, item in enumerate(answer):
                errors = item.get("errors") if isinstance(item, dict) else [{"error": "unexpected item"}]
                results.append(BulkItemResult(start + offset, None if errors else item, list(errors or [])))
        return results

    async def filter_any(
        self,
        entity: str,
        field: str,
        values: Sequence[str],
        *,
        per_request: int = IDS_PER_FILTER,
        params: Mapping[str, str] | None = None,
    ) -> list[Json]:
        """Rows of ``entity`` whose ``field`` equals one of ``values`` (exact match, as MoySklad's
        ``=`` filter is): ``field=a;field=b`` ORs, so one request asks for up to ``per_request``
        values (the URL stays well under the 8 KB limit). ``params``: more query (``expand``...)."""
        rows: list[Json] = []
        unique = list(dict.fromkeys(v for v in values if v))
        for start in range(0, len(unique), per_request):
            flt = ";".join(f"{field}={_escape(v)}" for v in unique[start : start + per_request])
            rows.extend(await self.collect(f"/entity/{entity}", {"filter": flt, **(params or {})}))
        return rows

    # -- counterparties ------------------------------------------------------------------------
    async def find_counterparty(
        self, *, phone: str | None = None, email: str | None = None, inn: str | None = None
    ) -> list[Json]:
        """Counterparties matching the first of ``inn``, ``email``, ``phone`` that finds any."""
        for name, value in (("inn", inn), ("email", email), ("phone", phone)):
            if value:
                rows = await self.collect("/entity/counterparty", {"filter": f"{name}={_escape(value)}"})
                if rows:
                    return rows
        return []

    async def create_counterparty(self, payload: Json) -> Json:
        """Create a counterparty (``accounts`` and ``contactpersons`` may ride along)."""
        return dict(await self._post("/entity/counterparty", payload))

    # -- customer orders -----------------------------------------------------------------------
    async def create_order(self, payload: Json) -> Json:
        """Create one customer order (idempotent when it has a ``syncId``)."""
        return dict(await self._post("/entity/customerorder", payload))

    async def create_orders(self, payloads: Sequence[Json]) -> list[BulkItemResult]:
        """Bulk-create customer orders; per-item errors are returned, not raised."""
        return await self.bulk_create("customerorder", payloads)

    async def list_states(self) -> list[Json]:
        """Customer-order states (``entity/customerorder/metadata`` → ``states``)."""
        return list((await self.get_json("/entity/customerorder/metadata")).get("states", []))

    async def update_order_state(self, order_id: str, state_id: str) -> Json:
        """Set an order's state."""
        state = {
            "meta": {
                "href": self.href(f"entity/customerorder/metadata/states/{state_id}"),
                "type": "state",
                "mediaType": "application/json",
            }
        }
        return await self._put(f"/entity/customerorder/{order_id}", {"state": state})

    async def update_order_positions(self, order_id: str, positions: list[Json]) -> Json:
        """Replace an order's positions (matching ``id`` updates, missing ones are deleted)."""
        return await self._put(f"/entity/customerorder/{order_id}", {"positions": positions})

    async def get_order(self, order_id: str, *, expand: str | None = "positions") -> Json:
        """One order, positions expanded by default."""
        return dict(await self.get_json(f"/entity/customerorder/{order_id}", {"expand": expand} if expand else None))

    def iter_orders(
        self, updated_since: datetime | None = None, *, expand: str | None = None
    ) -> AsyncIterator[list[Json]]:
        """Pages of customer orders changed at or after ``updated_since`` (overlap windows and dedupe)."""
        params: dict[str, Any] = {}
        if updated_since is not None:
            params["filter"] = f"updated>={moscow_filter(updated_since)}"
        if expand:
            params["expand"] = expand
        return self.iter_pages("/entity/customerorder", params)

    # -- other documents -----------------------------------------------------------------------
    async def create_demand(self, payload: Json) -> Json:
        """Create a shipment (link the order with ``customerOrder``)."""
        return dict(await self._post("/entity/demand", payload))

    async def create_move(self, payload: Json) -> Json:
        """Create a transfer between stores."""
        return dict(await self._post("/entity/move", payload))

    async def create_paymentin(self, payload: Json) -> Json:
        """Create an incoming bank payment (``operations`` link it to the order)."""
        return dict(await self._post("/entity/paymentin", payload))

    async def create_cashin(self, payload: Json) -> Json:
        """Create a cash receipt."""
        return dict(await self._post("/entity/cashin", payload))

    async def create_salesreturn(self, payload: Json) -> Json:
        """Create a customer return (link the shipment with ``demand``)."""
        return dict(await self._post("/entity/salesreturn", payload))

    async def create_purchasereturn(self, payload: Json) -> Json:
        """Create a return to the supplier (link the receipt with ``supply``)."""
        return dict(await self._post("/entity/purchasereturn", payload))

    # -- webhooks -------------------------------------------------------------------------------
    async def list_webhooks(self, kind: str = "webhook") -> list[Json]:
        """Every ``webhook`` (or ``webhookstock``) visible to this credential."""
        return await self.collect(f"/entity/{kind}")

    async def ensure_webhook(self, url: str, entity_type: str, action: str, diff_type: str | None = None) -> Json:
        """The webhook (url, entityType, action), created only if it does not exist yet."""
        wanted = {"url": url, "entityType": entity_type, "action": action}
        return await self._ensure("webhook", wanted, {"diffType": diff_type} if diff_type else {})

    async def ensure_webhookstock(self, url: str, report_type: str = "all", stock_type: str = "stock") -> Json:
        """The stock webhook (url, reportType, stockType), created only if missing."""
        return await self._ensure("webhookstock", {"url": url, "reportType": report_type, "stockType": stock_type}, {})

    async def _ensure(self, kind: str, wanted: Mapping[str, str], extra: Json) -> Json:
        for hook in await self.list_webhooks(kind):
            if all(hook.get(k) == v for k, v in wanted.items()):
                if hook.get("enabled") is False:
                    return await self._put(f"/entity/{kind}/{hook['id']}", {"enabled": True})
                return hook
        return dict(await self._post(f"/entity/{kind}", {**wanted, **extra, "enabled": True}))

    async def create_webhook(self, kind: str, fields: Mapping[str, str]) -> Json:
        """Create one ``webhook`` or ``webhookstock``, enabled (no existence check: see :meth:`_ensure`)."""
        return dict(await self._post(f"/entity/{kind}", {**fields, "enabled": True}))

    async def enable_webhook(self, kind: str, hook_id: str) -> Json:
        """Switch a disabled webhook (e.g. one MoySklad turned off after failures) on again."""
        return await self._put(f"/entity/{kind}/{hook_id}", {"enabled": True})

    async def delete_webhook(self, kind: str, hook_id: str) -> None:
        """Delete one webhook by id (callers check first that it is the hub's own)."""
        await self.request("DELETE", f"/entity/{kind}/{hook_id}")

    async def delete_own_webhooks(self, prefix: str) -> int:
        """Delete the webhooks (and stock webhooks) whose URL starts with ``prefix``; others stay."""
        if not prefix.startswith(("http://", "https://")):
            raise ValueError("prefix must be an absolute URL of the hub's own receiver")
        deleted = 0
        for kind in ("webhook", "webhookstock"):
            for hook in await self.list_webhooks(kind):
                if str(hook.get("url", "")).startswith(prefix):
                    await self.request("DELETE", f"/entity/{kind}/{hook['id']}")
                    deleted += 1
        return deleted

    # -- catalog -------------------------------------------------------------------------------
    def iter_assortment(self, updated_since: datetime | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of the new ``entity/assortment`` (no stock fields), archived and live rows alike."""
        flt = BOTH_ARCHIVED + (f";updated>={moscow_filter(updated_since)}" if updated_since else "")
        return self.iter_pages("/entity/assortment", {"filter": flt}, headers=ASSORTMENT_HEADER)

    async def assortment_page(
        self, offset: int, limit: int = 1000, updated_since: datetime | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the new ``entity/assortment`` and the collection's total size.

        For callers that spread page ranges over several workers (the full import's tasks); a
        single reader uses :meth:`iter_assortment`.

        A page that comes back broken or short is asked for again (counted in the request stats).

        Raises:
            MalformedResponseError: the page stayed broken through every retry: not a MoySklad
                collection, rows without an id or type, or fewer rows than its own ``meta.size``
                says it must have (a partial answer). The message names the endpoint and offset.
            PagingLoopError: the answer is for another offset than the one asked for.
        """
        path = "/entity/assortment"
        flt = BOTH_ARCHIVED + (f";updated>={moscow_filter(updated_since)}" if updated_since else "")

        def whole(response: httpx.Response) -> dict[str, Any]:
            page = whole_page(response, path, offset, limit)
            checked_assortment(page, offset)
            return page

        page = await self.request_parsed(
            "GET", path, whole, headers=ASSORTMENT_HEADER, params={"filter": flt, "limit": limit, "offset": offset}
        )
        offset_paging(path, limit).check(page, offset)
        return page["rows"], page_size(page)

    def iter_product_folders(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of product folders (archived included)."""
        return self.iter_pages("/entity/productfolder", {"filter": BOTH_ARCHIVED})

    async def list_currencies(self) -> list[dict[str, Any]]:
        """Every currency of the account."""
        return await self.collect("/entity/currency")

    async def list_price_types(self) -> list[dict[str, Any]]:
        """Sale price types (a plain array)."""
        return list(await self.get_json("/context/companysettings/pricetype"))

    async def list_organizations(self) -> list[dict[str, Any]]:
        """The account's own legal entities."""
        return await self.collect("/entity/organization")

    async def list_stores(self) -> list[dict[str, Any]]:
        """Warehouses, archived included."""
        return await self.collect("/entity/store", {"filter": BOTH_ARCHIVED})

    async def variant_characteristics(self) -> list[dict[str, Any]]:
        """Characteristic definitions of variants (``entity/variant/metadata``)."""
        return list((await self.get_json("/entity/variant/metadata")).get("characteristics", []))

    async def download_image(self, download_href: str) -> tuple[bytes, str]:
        """An image's file and media type, on any tariff.

        The image's ``meta.downloadHref`` (it needs our credentials) answers 302; its ``Location`` is
        a temporary link, valid one minute, that needs none — so it is followed without them, and
        outside the API's budget (it is not the API).

        Raises:
            MalformedResponseError: the answer named no temporary link.
            ConnectorError: the API refused the download (the image is gone: 404).
        """
        path = download_href.split(API_ROOT, 1)[1] if API_ROOT in download_href else download_href

        def location(response: httpx.Response) -> str:
            target = response.headers.get("location")
            if response.status_code not in (301, 302, 303, 307) or not target:
                raise MalformedResponseError(
                    self.system, "/download", response.status_code, "no temporary link (Location) in the answer"
                )
            return str(response.url.join(target))

        target = await self.request_parsed("GET", path, location, endpoint="/download")
        async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0)) as plain:
            answer = await plain.get(target)
        if answer.status_code != 200:
            raise TransientError(self.system, "/download", answer.status_code, "the temporary image link failed")
        return answer.content, answer.headers.get("content-type", "application/octet-stream")

    async def fetch_images(self, owners: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Images of the given assortment rows, by owner id, with the fewest requests.

        Per-item ``…/{id}/images`` costs one request per owner; ``expand=images`` on assortment
        pages filtered by up to 100 ids costs one request per 100 owners. The cheaper is used.
        Both ask for ``downloadPermanentHref``, the link a channel can load without our credentials
        (MoySklad gives it on paid tariffs only).
        """
        with_images = [o for o in owners if _image_count(o) > 0]
        if not with_images:
            return {}
        chunks = math.ceil(len(with_images) / IDS_PER_FILTER)
        out: dict[str, list[dict[str, Any]]] = {}
        if chunks < len(with_images):
            for start in range(0, len(with_images), IDS_PER_FILTER):
                ids = ";".join(f"id={o['id']}" for o in with_images[start : start + IDS_PER_FILTER])
                async for page in self.iter_pages(
                    "/entity/assortment",
                    {"filter": f"{BOTH_ARCHIVED};{ids}", "expand": "images", **PERMANENT_LINKS},
                    headers=ASSORTMENT_HEADER,
                ):
                    for row in page:
                        out[row["id"]] = list(row.get("images", {}).get("rows", []))
            return out

        async def one(owner: dict[str, Any]) -> None:
            type_ = owner.get("meta", {}).get("type", "product")
            out[owner["id"]] = await self.collect(f"/entity/{type_}/{owner['id']}/images", PERMANENT_LINKS)

        await asyncio.gather(*(one(o) for o in with_images))
        return out

    async def bundle_components(self) -> dict[str, list[dict[str, Any]]]:
        """Every bundle's component rows (``{assortment{meta}, quantity}``), by bundle id, archived included.

        ``entity/bundle`` with ``expand=components`` carries each bundle's rows inline, 100 bundles a
        page (``expand`` needs ``limit`` ≤ 100). An expanded nested collection holds at most its own
        ``limit`` rows, so a bundle with fewer inline rows than its ``components.meta.size`` (or
        none at all: expand not honoured) is read whole from ``…/bundle/{id}/components``: in all
        ⌈bundles / 100⌉ requests plus one per such bundle. No ``fields``: it only adds hidden fields.
        """
        out: dict[str, list[dict[str, Any]]] = {}
        short: list[str] = []
        async for page in self.iter_pages("/entity/bundle", {"filter": BOTH_ARCHIVED, "expand": "components"}):
            for row in page:
                nested = row.get("components") or {}
                out[row["id"]] = list(nested.get("rows") or [])
                if len(out[row["id"]]) < int((nested.get("meta") or {}).get("size") or 0):
                    short.append(row["id"])

        async def whole(bundle_id: str) -> None:
            out[bundle_id] = await self.collect(f"/entity/bundle/{bundle_id}/components")

        await asyncio.gather(*(whole(b) for b in short))
        return out

    async def stock_current(
        self,
        report: Literal["all", "bystore"] = "bystore",
        stock_type: str = "stock",
        changed_since: datetime | None = None,
        include_zero: bool = True,
    ) -> list[dict[str, Any]]:
        """One call of ``report/stock/{report}/current``: a flat array with one measure."""
        params = _stock_params(stock_type, changed_since, include_zero)
        return list(await self.get_json(f"/report/stock/{report}/current", params))

    async def stock_levels(
        self,
        report: Literal["all", "bystore"] = "bystore",
        stock_type: str = "stock",
        changed_since: datetime | None = None,
        include_zero: bool = True,
    ) -> StockLevels:
        """The same call as :meth:`stock_current`, its rows decoded one at a time into compact levels
        (:mod:`connectors.moysklad.wire.stock_levels`): what a whole catalog's report is read as."""
        path = f"/report/stock/{report}/current"
        return await self.request_parsed(
            "GET",
            path,
            lambda response: stock_levels_body(response, path, stock_type),
            params=_stock_params(stock_type, changed_since, include_zero),
        )


def _stock_params(stock_type: str, changed_since: datetime | None, include_zero: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"stockType": stock_type}
    if include_zero:
        params["include"] = "zeroLines"
    if changed_since is not None:
        params["changedSince"] = moscow_filter(changed_since)
    return params


def _image_count(row: Mapping[str, Any]) -> int:
    images = row.get("images")
    if not isinstance(images, dict):
        return 0
    return int(images.get("meta", {}).get("size", len(images.get("rows", []))))


def _escape(value: str) -> str:
    """Escape ``;`` in a filter value."""
    return value.replace(";", "\\;")
