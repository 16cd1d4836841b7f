"""MoySklad JSON API 1.2 client: catalog, images and stock reads (writes in ``client_documents``).

Construction, auth, pacing and paging are in :mod:`connectors.moysklad.client_base`; this module is
the list of calls the exchanges need, each spending as few requests as the data allows.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, Literal

import httpx

from connectors.moysklad.client_base import (
    ASSORTMENT_HEADER,
    BOTH_ARCHIVED,
    DEFAULT_BASE_URL,
    IDS_PER_FILTER,
    moscow_filter,
)
from connectors.moysklad.client_documents import BulkItemResult, DocumentsMixin
from connectors.moysklad.pages import checked_assortment, offset_paging, page_size, whole_page

__all__ = ["DEFAULT_BASE_URL", "BulkItemResult", "MoySkladClient", "moscow_filter"]

#: hidden field with the image link a channel can load without credentials (paid tariffs)
PERMANENT_LINKS = {"fields": "downloadPermanentHref"}


class MoySkladClient(DocumentsMixin):
    """Async client of one MoySklad credential (see :class:`~connectors.moysklad.client_base.MoySkladBase`).

    Example::

        async with MoySkladClient(token=..., token_kind="app") as ms:
            async for page in ms.iter_assortment():
                ...
    """

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
        params: dict[str, Any] = {"stockType": stock_type}
        if include_zero:
            params["include"] = "zeroLines"
        if changed_since is not None:
            params["changedSince"] = moscow_filter(changed_since)
        return list(await self.get_json(f"/report/stock/{report}/current", params))


def _image_count(row: Mapping[str, Any]) -> int:
    images = row.get("images")
    if not isinstance(images, dict):
        return 0
    return int(images.get("meta", {}).get("size", len(images.get("rows", []))))
