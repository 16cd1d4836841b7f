"""retailCRM's side of the two-way exchanges: customers as cards, their changes from the customer
history, orders' manager comment and lines, and orders created for the ERP's retail sales.

* A card is ``contragent.legalName`` or "last first" (the name the order upload gives the ERP),
  the first phone, the e-mail, the address's ``text`` (or its parts, never its ``notes``), and the
  contragent's ``INN`` and ``KPP``. The ERP's address is written into ``address.notes`` (the seed's
  rule: a free-text address cannot be split into retailCRM's fields), so writing it leaves the card
  as it was and nothing echoes back.
* Changed customers come from ``customers/history`` by ``filter[sinceId]``; records made with our own
  key (the hub's writes) are skipped as the echo they are.
* Lines name offers by ``xmlId`` (the ERP's id, as our catalog feed gave it). An edit sends the whole
  ``items`` list (retailCRM replaces the order's items by it): kept items by ``id`` with their new
  quantity and price, new ones by offer, items of no ERP offer untouched.
* An order for a retail sale is created with the hub key as its ``externalId``, looked up first, so a
  retry after a lost answer finds the order made the first time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from connectors.http import NotFoundError, RequestValidationError
from connectors.retailcrm.capabilities.orders import EDITS_IN_FLIGHT, IDS_PER_REQUEST, RetailCRMOrders
from connectors.retailcrm.wire.conventions import PAGE_LIMIT
from hub.capabilities.two_way import (
    Card,
    ChangedCustomers,
    ChannelOrderContent,
    ContentChange,
    Line,
    SaleOrder,
)


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _address(address: Mapping[str, Any] | None) -> str | None:
    if not address:
        return None
    if address.get("text"):
        return _text(address["text"])
    parts = [address.get(k) for k in ("index", "region", "city", "street", "building", "flat")]
    return ", ".join(str(p) for p in parts if p) or None


def card_of(customer: Mapping[str, Any]) -> dict[str, str | None]:
    """A customer's card."""
    contragent = customer.get("contragent") or {}
    phones = customer.get("phones") or []
    name = contragent.get("legalName") or " ".join(
        str(p) for p in (customer.get("lastName"), customer.get("firstName")) if p
    )
    return {
        "name": _text(name),
        "phone": _text(phones[0].get("number")) if phones and isinstance(phones[0], Mapping) else None,
        "email": _text(customer.get("email")),
        "address": _address(customer.get("address")),
        "inn": _text(contragent.get("INN")),
        "kpp": _text(contragent.get("KPP")),
    }


def _units(kopecks: int) -> float | int:
    value = Decimal(int(kopecks)).scaleb(-2)
    return int(value) if value == value.to_integral_value() else float(value)


def _kopecks(units: Any) -> int:
    return int((Decimal(str(units or 0)) * 100).quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def lines_of(order: Mapping[str, Any]) -> list[Line]:
    """An order's goods lines by ERP offer (an offer twice: quantities summed, the first price)."""
    found: dict[str, Line] = {}
    for item in order.get("items") or []:
        ref = str((item.get("offer") or {}).get("xmlId") or "")
        if not ref or item.get("isCanceled"):
            continue
        quantity = float(item.get("quantity") or 0)
        old = found.get(ref)
        found[ref] = Line(
            ref, quantity + (old.quantity if old else 0), old.price if old else _kopecks(item.get("initialPrice"))
        )
    return list(found.values())


class RetailCRMTwoWay(RetailCRMOrders):
    """``CustomerCards``, ``CustomerChanges`` and ``OrderContentSink`` over one retailCRM account."""

    # -- customers -------------------------------------------------------------------------------
    async def _customers(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(str(i) for i in ids))
        for start in range(0, len(unique), IDS_PER_REQUEST):
            async for page in self.client.iter_customers({"ids": unique[start : start + IDS_PER_REQUEST]}):
                found.update({str(c["id"]): c for c in page})
        return found

    async def customer_cards(self, ids: Sequence[str]) -> dict[str, dict[str, str | None]]:
        return {cid: card_of(c) for cid, c in (await self._customers(ids)).items()}

    async def update_customer_cards(self, changes: Mapping[str, Card]) -> dict[str, str]:
        current = await self._customers(list(changes))
        refused = {cid: f"customer {cid} is not in retailCRM" for cid in changes if cid not in current}
        gate = asyncio.Semaphore(EDITS_IN_FLIGHT)

        async def edit(cid: str, fields: Card) -> None:
            body = self._customer_edit(current[cid], fields)
            if not body:
                return
            async with gate:
                try:
                    await self.client.edit_customer(cid, body, by="id")
                except (RequestValidationError, NotFoundError) as exc:
                    refused[cid] = exc.message

        await asyncio.gather(*(edit(cid, f) for cid, f in changes.items() if cid in current))
        return refused

    @staticmethod
    def _customer_edit(customer: Mapping[str, Any], fields: Card) -> dict[str, Any]:
        contragent = dict(customer.get("contragent") or {})
        legal = contragent.get("contragentType") in ("legal-entity", "enterpreneur")
        body: dict[str, Any] = {}
        for key, value in fields.items():
            if key == "name" and legal:
                contragent["legalName"] = value or ""
            elif key == "name":  # "last first", as the order upload names the counterparty
                last, _, first = (value or "").partition(" ")
                body.update({"lastName": last, "firstName": first})
            elif key == "phone":
                rest = list(customer.get("phones") or [])[1:]
                body["phones"] = ([{"number": value}] if value else []) + rest
            elif key == "email":
                body["email"] = value or ""
            elif key == "address":
                body["address"] = {**dict(customer.get("address") or {}), "notes": value or ""}
            elif key in ("inn", "kpp"):
                contragent["INN" if key == "inn" else "KPP"] = value or ""
        if contragent != (customer.get("contragent") or {}):
            body["contragent"] = contragent
        return body

    async def changed_customers(self, cursor: str | None) -> ChangedCustomers:
        if cursor is None:  # from now on
            return ChangedCustomers([], str(await self.client.customer_history_head()))
        pages = self.client.iter_customer_history(int(cursor))
        records = await anext(pages, None)
        ids = [
            str((r.get("customer") or {}).get("id"))
            for r in records or []
            if (r.get("customer") or {}).get("id") is not None and self._ours(r.get("customer") or {})
        ]
        last = pages.last_id
        return ChangedCustomers(
            list(dict.fromkeys(ids)), str(last) if last is not None else cursor, more=not pages.finished
        )

    # -- orders ----------------------------------------------------------------------------------
    async def order_contents(self, order_ids: Sequence[str]) -> dict[str, ChannelOrderContent]:
        return {
            str(o["id"]): ChannelOrderContent(
                str(o["id"]), o.get("site"), o.get("customerComment"), o.get("managerComment"), lines_of(o)
            )
            for o in await self._orders_by_id(list(order_ids))
        }

    async def set_order_contents(self, changes: Mapping[str, ContentChange]) -> dict[str, str]:
        found = {str(o["id"]): o for o in await self._orders_by_id(list(changes))}
        refused = {oid: f"order {oid} is not in retailCRM" for oid in changes if oid not in found}
        gate = asyncio.Semaphore(EDITS_IN_FLIGHT)

        async def edit(oid: str, change: ContentChange) -> None:
            order = found[oid]
            body: dict[str, Any] = {}
            if change.manager_comment is not None and change.manager_comment != (order.get("managerComment") or ""):
                body["managerComment"] = change.manager_comment
            if change.lines is not None and list(change.lines) != lines_of(order):
                body["items"] = self._items(order, change.lines)
            if not body:
                return
            async with gate:
                try:
                    await self.client.edit_order(oid, body, by="id")
                except (RequestValidationError, NotFoundError) as exc:
                    refused[oid] = exc.message

        await asyncio.gather(*(edit(oid, c) for oid, c in changes.items() if oid in found))
        return refused

    @staticmethod
    def _items(order: Mapping[str, Any], lines: Sequence[Line]) -> list[dict[str, Any]]:
        """The order's new ``items``: one item per line (an item of its offer kept by ``id``), items of
        no ERP offer and cancelled ones as they are."""
        wanted = {line.offer_id: line for line in lines}
        items: list[dict[str, Any]] = []
        for item in order.get("items") or []:
            ref = str((item.get("offer") or {}).get("xmlId") or "")
            if not ref or item.get("isCanceled"):
                items.append({"id": item["id"]})
                continue
            line = wanted.pop(ref, None)
            if line is not None:
                items.append({"id": item["id"], "quantity": line.quantity, "initialPrice": _units(line.price)})
        items += [
            {"offer": {"xmlId": line.offer_id}, "quantity": line.quantity, "initialPrice": _units(line.price)}
            for line in wanted.values()
        ]
        return items

    async def create_sale_orders(self, orders: Sequence[SaleOrder]) -> tuple[dict[str, str], dict[str, str]]:
        made: dict[str, str] = {}
        refused: dict[str, str] = {}
        keys = [o.key for o in orders]
        for start in range(0, len(keys), IDS_PER_REQUEST):
            rows, _ = await self.client.list_orders(
                {"externalIds": keys[start : start + IDS_PER_REQUEST]}, limit=PAGE_LIMIT
            )
            made.update({str(r["externalId"]): str(r["id"]) for r in rows if r.get("externalId")})
        for sale in orders:
            if sale.key in made:
                continue  # made by a run whose answer was lost
            body: dict[str, Any] = {
                "externalId": sale.key,
                "number": sale.number,
                "items": [
                    {"offer": {"xmlId": line.offer_id}, "quantity": line.quantity, "initialPrice": _units(line.price)}
                    for line in sale.lines
                ],
            }
            if sale.status:
                body["status"] = sale.status
            if sale.customer_id:
                body["customer"] = {"id": int(sale.customer_id)}
            else:
                last, _, first = (sale.customer.get("name") or "").partition(" ")
                contact = {
                    "lastName": last,
                    "firstName": first,
                    "phone": sale.customer.get("phone"),
                    "email": sale.customer.get("email"),
                }
                body.update({k: v for k, v in contact.items() if v})
            try:
                created = await self.client.create_order(body, site=sale.site)
            except (RequestValidationError, NotFoundError) as exc:
                refused[sale.key] = exc.message
                continue
            made[sale.key] = str(created.get("id") or (created.get("order") or {}).get("id"))
        return made, refused
