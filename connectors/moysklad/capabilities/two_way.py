"""MoySklad's side of the two-way exchanges: counterparties as customer cards, the entity webhooks that
name changed counterparties and new retail sales, orders' comments and lines, retail sales.

* A card is read from ``counterparty`` (``name``, ``phone``, ``email``, ``actualAddress``, ``inn``,
  ``kpp``) and written by one bulk POST of ``{meta, fields}`` items ([GEN] bulk update: an item with
  ``meta`` updates); an emptied string field is sent as ``""`` (MoySklad clears addresses so, not with null).
* A webhook delivery carries only references ([WH]: "fetch ``meta.href`` to get data"): the parser
  keeps the entity kind, its id and the action, and the delivery's ``requestId`` (repeated on the 3
  immediate retries: the receiver's dedupe key).
* An order's comment is its one ``description``, which the order upload fills with the customer's
  comment and then ``Комментарий менеджера: …`` (:func:`connectors.moysklad.convert.orders`); the
  manager's part is read back from it the same way.
* A retail sale's lines are its positions (``demandposition``), its shop the legal entity
  (``organization``) that made it, its order the ``customerOrder`` it was made from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.http import RequestValidationError
from connectors.moysklad.capabilities.catalog import OverClient
from connectors.moysklad.capabilities.stock_events import ACCOUNT_FULL, WebhookLimitError, _check_target
from connectors.moysklad.client import moscow_filter
from connectors.moysklad.wire.meta import Json, ref_id
from connectors.moysklad.wire.moscow_time import parse_moscow
from hub.capabilities.two_way import (
    CUSTOMER,
    ORDER,
    RETAIL_SALE,
    Card,
    ChangeDelivery,
    ErpChange,
    ErpOrderContent,
    Line,
    RetailSale,
)

#: card field → counterparty field
CARD_WIRE = {"name": "name", "phone": "phone", "email": "email", "address": "actualAddress", "inn": "inn", "kpp": "kpp"}
#: entity type of a webhook → the hub's kind of change
ENTITY_KINDS = {"counterparty": CUSTOMER, "customerorder": ORDER, "retaildemand": RETAIL_SALE}
#: (entityType, action) of the webhooks the two-way exchanges subscribe
CHANGE_EVENTS = (("counterparty", "UPDATE"), ("retaildemand", "CREATE"))
#: how the order upload labels the manager's comment in an order's ``description``
MANAGER_LABEL = "Комментарий менеджера: "
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def card_of(counterparty: Mapping[str, Any]) -> dict[str, str | None]:
    """A counterparty's card (an empty string is nothing)."""
    return {key: (str(counterparty.get(wire) or "").strip() or None) for key, wire in CARD_WIRE.items()}


def _kopecks(value: Any) -> int:
    return round(float(value or 0))


def goods_lines(positions: Sequence[Mapping[str, Any]]) -> list[Line]:
    """Positions as lines; services (the delivery line the upload adds) are not goods."""
    lines: list[Line] = []
    for pos in positions:
        meta = (pos.get("assortment") or {}).get("meta") or {}
        offer = ref_id(pos.get("assortment"))
        if offer is None or meta.get("type") == "service":
            continue
        lines.append(Line(offer, float(pos.get("quantity") or 0), _kopecks(pos.get("price"))))
    return lines


class MoySkladTwoWay(OverClient):
    """``CustomerCards``, ``ErpChangeEvents``, ``OrderContents`` and ``RetailSales`` over one MoySklad account."""

    async def _by_ids(self, entity: str, ids: Sequence[str], **params: str) -> dict[str, Json]:
        return {str(row["id"]): row for row in await self.client.filter_any(entity, "id", ids, params=params)}

    # -- customers -------------------------------------------------------------------------------
    async def customer_cards(self, ids: Sequence[str]) -> dict[str, dict[str, str | None]]:
        return {cid: card_of(row) for cid, row in (await self._by_ids("counterparty", ids)).items()}

    async def update_customer_cards(self, changes: Mapping[str, Card]) -> dict[str, str]:
        bodies: list[tuple[str, Json]] = []
        for cid, fields in changes.items():
            body: Json = {"meta": self.client.ref(f"entity/counterparty/{cid}", "counterparty")["meta"]}
            for key, value in fields.items():
                if key == "name" and not value:
                    continue  # a counterparty must have a name ([CP]: required): an emptied one is kept
                if key in CARD_WIRE:
                    body[CARD_WIRE[key]] = value or ""
            bodies.append((cid, body))
        refused: dict[str, str] = {}
        if bodies:
            results = await self.client.bulk_create("counterparty", [b for _, b in bodies])
            for (cid, _), result in zip(bodies, results, strict=True):
                if not result.ok:
                    refused[cid] = "; ".join(f"[{e.get('code')}] {e.get('error')}" for e in result.errors)
        return refused

    # -- webhooks --------------------------------------------------------------------------------
    def parse_changes(self, body: bytes, query: Mapping[str, str]) -> ChangeDelivery:
        delivery = query.get("requestId") or ""
        if not _REQUEST_ID.fullmatch(delivery):
            raise ValueError("no requestId in the query (MoySklad posts to <url>?requestId=<uuid>)")
        try:
            data = json.loads(body)
        except ValueError:
            raise ValueError("the body is not JSON") from None
        except RecursionError:
            raise ValueError("the body is nested too deeply to be a notice") from None
        events = data.get("events") if isinstance(data, dict) else None
        if not isinstance(events, list) or not events:
            raise ValueError("no events (a MoySklad entity webhook posts a non-empty events list)")
        changes: list[ErpChange] = []
        for event in events:
            meta = event.get("meta") if isinstance(event, dict) else None
            entity = meta.get("type") if isinstance(meta, dict) else None
            action = event.get("action") if isinstance(event, dict) else None
            erp_id = ref_id(event) if isinstance(event, dict) else None
            if not isinstance(entity, str) or not isinstance(action, str) or not erp_id:
                raise ValueError("an event has no meta.type, meta.href or action")
            if entity not in ENTITY_KINDS:
                raise ValueError(f"{entity[:40]} events are not taken here")
            changes.append(ErpChange(ENTITY_KINDS[entity], erp_id, action))
        return ChangeDelivery(delivery, changes)

    async def changed_since(self, since: datetime) -> list[ErpChange]:
        flt = {"filter": f"updated>={moscow_filter(since)}"}
        changes: list[ErpChange] = []
        for entity, kind, action in (("counterparty", CUSTOMER, "UPDATE"), ("retaildemand", RETAIL_SALE, "CREATE")):
            async for page in self.client.iter_pages(f"/entity/{entity}", flt):
                changes += [ErpChange(kind, str(row["id"]), action) for row in page]
        return changes

    async def subscribe_changes(self, url: str, *, ours: str) -> list[str]:
        _check_target(url, ours)
        hooks = await self.client.list_webhooks("webhook")
        done: list[str] = []
        refused: list[str] = []
        for entity, action in CHANGE_EVENTS:
            label = f"{entity} {action}"
            same = [h for h in hooks if h.get("entityType") == entity and h.get("action") == action]
            for hook in same:
                target = str(hook.get("url", ""))
                if target.startswith(ours) and target != url:  # ours, at an old token or host
                    await self.client.delete_webhook("webhook", str(hook["id"]))
                    done.append(f"removed {label}: it pointed to another URL of ours")
            mine = next((h for h in same if h.get("url") == url), None)
            if mine is not None:
                if mine.get("enabled") is False:
                    await self.client.enable_webhook("webhook", str(mine["id"]))
                    done.append(f"enabled {label}: MoySklad had switched it off")
                continue
            try:
                await self.client.create_webhook("webhook", {"entityType": entity, "action": action, "url": url})
            except RequestValidationError as exc:
                if ACCOUNT_FULL not in exc.message:
                    raise
                refused.append(label)
                continue
            done.append(f"created {label}")
        if refused:
            raise WebhookLimitError(done, refused)
        return done

    # -- orders ----------------------------------------------------------------------------------
    async def changed_order_contents(self, since: datetime) -> list[ErpOrderContent]:
        found: dict[str, ErpOrderContent] = {}
        async for page in self.client.iter_orders(since, expand="positions"):
            for order in page:
                rows = (order.get("positions") or {}).get("rows") or []
                found[str(order["id"])] = ErpOrderContent(
                    str(order["id"]),
                    str(order["externalCode"]) if order.get("externalCode") else None,
                    order.get("description"),
                    goods_lines(rows),
                )
        return list(found.values())

    def manager_comment(self, comment: str | None, customer_comment: str | None) -> str:
        text = (comment or "").strip()
        if MANAGER_LABEL in text:
            return text.split(MANAGER_LABEL, 1)[1].strip()
        customer = (customer_comment or "").strip()
        if customer and text.startswith(customer):
            return text[len(customer) :].strip()  # the customer's comment, then the manager's unlabelled
        return text

    # -- retail sales ----------------------------------------------------------------------------
    async def retail_sales(self, ids: Sequence[str]) -> dict[str, RetailSale]:
        rows = await self._by_ids("retaildemand", ids, expand="positions,organization")
        sales: dict[str, RetailSale] = {}
        for sid, row in rows.items():
            moment = row.get("moment")
            sales[sid] = RetailSale(
                sid,
                str(row.get("name") or sid),
                str((row.get("organization") or {}).get("name") or ""),
                ref_id(row.get("agent")),
                ref_id(row.get("customerOrder")),
                goods_lines((row.get("positions") or {}).get("rows") or []),
                parse_moscow(str(moment)) if moment else None,
            )
        return sales
