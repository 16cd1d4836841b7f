"""retailCRM on the receiving side of the order flow: ``OrderSink`` and ``OrderStates``.

When a storefront (Horoshop) is the order source, the CRM takes the place the ERP has in the first
pair:

* **Exactly once by ``externalId``.** New orders go in bulk through ``orders/upload`` (≤ 50 a
  request), each with the channel's order id as its ``externalId``. The CRM refuses a second order
  with the same ``externalId`` on the site, so a re-sent batch (a lost answer, a crash before the
  hub recorded the link) cannot create a duplicate: the refused ones are looked up by
  ``externalId`` (``orders?filter[externalIds][]``, one request) and answered with the order the
  first upload created. Drafts the hub already links to a CRM order are edited by id instead.
* **References.** The draft's state is a CRM status code (``mappings.statuses`` maps the channel's
  statuses to them), the shipment store a CRM store code; a delivery arrives as a service line
  (``mappings.delivery_types`` → a CRM delivery type code) and becomes the order's ``delivery``.
  The books (``order_reference``) name statuses, stores and delivery types by code and by name, and
  the account's sites as its "organizations".
* **States from the history.** ``changed_states`` reads ``orders/history`` from ``startDate`` (the
  first request), then by ``sinceId``; status records made with the hub's own key are skipped (the
  hub's own upload is no manager's change).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from connectors.retailcrm.capabilities.catalog import _Channel
from connectors.retailcrm.convert.orders import DEFAULT_TZ, format_crm_datetime, order_to_crm, parse_crm_datetime
from connectors.retailcrm.wire.conventions import ORDER_BATCH, PAGE_LIMIT
from connectors.retailcrm.wire.history import is_own_echo
from hub import model
from hub.capabilities import OrderDraft, OrderOutcome, OrderReference

#: what the CRM answers for an ``externalId`` it already has on the site
DUPLICATE = "already exists"


def _codes(book: Any) -> dict[str, str]:
    """A reference book (object keyed by code, or an array) → name and code, each to the code."""
    rows = list(book.values()) if isinstance(book, Mapping) else list(book or [])
    out: dict[str, str] = {}
    for row in rows:
        if isinstance(row, Mapping) and row.get("code") and row.get("active", True):
            out[str(row["code"])] = str(row["code"])
            if row.get("name"):
                out.setdefault(str(row["name"]), str(row["code"]))
    return out


class RetailCRMOrderSink(_Channel):
    """Orders created exactly once in retailCRM, and their status changes read back."""

    tz = DEFAULT_TZ

    def __init__(self, client: Any, settings: Any) -> None:
        super().__init__(client, settings)
        self.max_batch = ORDER_BATCH

    # -- OrderSink -------------------------------------------------------------------------------
    async def order_reference(self) -> OrderReference:
        crm = self.client
        statuses = await crm.reference("statuses")
        stores = await crm.reference("stores")
        deliveries = await crm.reference("delivery-types")
        sites = await crm.sites()
        chosen = [crm.site] if crm.site else list(sites)
        return OrderReference(
            states=_codes(statuses),
            organizations={str(code): str(code) for code in chosen if code},
            stores=_codes(stores),
            services=_codes(deliveries),
        )

    def to_crm(self, draft: OrderDraft) -> dict[str, Any]:
        """The CRM order JSON of a draft: goods as items, a service line as the delivery."""
        goods = [line for line in draft.lines if draft.line_kinds.get(str(line.get("offer_id"))) != "service"]
        delivery = [line for line in draft.lines if draft.line_kinds.get(str(line.get("offer_id"))) == "service"]
        order = {k: v for k, v in draft.order.items() if k not in ("status", "delivery_type")}
        out = order_to_crm(order, goods, tz=self.tz)
        out["externalId"] = str(draft.order.get("external_id") or draft.order.get("order_id"))
        out["customer"] = {"id": int(draft.customer_id)}
        if draft.state_id:
            out["status"] = draft.state_id
        if draft.store_id:
            out["shipmentStore"] = draft.store_id
        if draft.payments:
            out["payments"] = [
                {
                    "type": str(p["type"]),
                    "amount": int(p["amount"]) / 100 if p.get("amount") is not None else None,
                    "status": p.get("status") or "not-paid",
                }
                for p in draft.payments
            ]
        if delivery:
            line = delivery[0]
            out["delivery"] = {**(out.get("delivery") or {}), "code": str(line["offer_id"])}
            if line.get("price") not in (None, 0) and not pd.isna(line.get("price")):
                out["delivery"]["cost"] = int(line["price"]) / 100
        return out

    async def upsert_orders(self, drafts: Sequence[OrderDraft]) -> list[OrderOutcome]:
        outcomes: dict[str, OrderOutcome] = {}
        new = [d for d in drafts if not d.erp_id]
        for draft in (d for d in drafts if d.erp_id):
            changes = {
                k: v for k, v in self.to_crm(draft).items() if k in ("status", "customerComment", "managerComment")
            }
            if changes:
                await self.client.edit_order(str(draft.erp_id), changes, by="id")
            outcomes[draft.key] = OrderOutcome(draft.key, erp_id=str(draft.erp_id))
        for at in range(0, len(new), ORDER_BATCH):
            chunk = new[at : at + ORDER_BATCH]
            payloads = [self.to_crm(d) for d in chunk]
            result = await self.client.upload_orders(payloads)
            made = {str(o.get("externalId")): str(o["id"]) for o in result.uploaded if o.get("id")}
            # a refused externalId may be an order an earlier upload created: that one is the answer
            existing = await self.find_orders([p["externalId"] for p in payloads if p["externalId"] not in made])
            why = "; ".join(result.errors) or "refused"
            for draft, payload in zip(chunk, payloads, strict=True):
                ext = payload["externalId"]
                found = made.get(ext) or existing.get(ext)
                if found:
                    outcomes[draft.key] = OrderOutcome(draft.key, erp_id=found)
                else:
                    mine = [e for e in result.errors if ext in e] or [why]
                    outcomes[draft.key] = OrderOutcome(draft.key, error="; ".join(mine))
        return [outcomes[d.key] for d in drafts]

    async def find_orders(self, external_ids: Sequence[str]) -> dict[str, str]:
        """CRM order ids by ``externalId`` (100 a request)."""
        found: dict[str, str] = {}
        wanted = [str(e) for e in external_ids if e]
        for at in range(0, len(wanted), PAGE_LIMIT):
            chunk = wanted[at : at + PAGE_LIMIT]
            orders, _ = await self.client.list_orders({"externalIds": chunk}, limit=PAGE_LIMIT)
            for order in orders:
                if order.get("externalId") in chunk and (not self.client.site or order.get("site") == self.client.site):
                    found[str(order["externalId"])] = str(order["id"])
        return found

    # -- OrderStates -----------------------------------------------------------------------------
    async def changed_states(self, since: Any) -> pd.DataFrame:
        """Orders whose status a person (or another key) changed since ``since``: the last change each."""
        crm = self.client
        start = format_crm_datetime(since, self.tz)
        records, more = await crm.order_history_from(start)
        if records and more:
            pages = crm.iter_order_history(int(records[-1]["id"]), skip_own=False)
            async for page in pages:
                records.extend(page)
        latest: dict[str, dict[str, Any]] = {}
        for record in records:
            if record.get("field") != "status" or is_own_echo(record):
                continue
            order = record.get("order") or {}
            if self.client.site and order.get("site") not in (None, self.client.site):
                continue
            new = record.get("newValue")
            code = new.get("code") if isinstance(new, Mapping) else new
            latest[str(order.get("id"))] = {
                "erp_id": str(order.get("id")),
                "external_id": order.get("externalId"),
                "state": str(code) if code is not None else None,
                "updated_at": parse_crm_datetime(record.get("createdAt"), self.tz),
            }
        frame = pd.DataFrame(list(latest.values()), columns=["erp_id", "external_id", "state", "updated_at"])
        frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True)
        return frame.astype({"erp_id": model.STR, "external_id": model.STR, "state": model.STR})
