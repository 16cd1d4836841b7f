"""MoySklad customer orders as the hub's ``OrderSink`` and ``OrderStates``.

Exactly once: every create carries ``syncId = uuid5(<integration>:<channel order id>)`` and
``externalCode = <channel order id>``; an order the hub already linked is updated by its ``meta``.
Drafts go as bulk POSTs of :attr:`MoySkladOrders.max_batch` (MoySklad takes ≤ 1000 a request, each
item answered on its own: the saved order or its ``errors``), so 1 000 orders cost 10 requests.

MoySklad's rule for a repeated create ([GEN] «Назначение поля syncId»): "вместо создания сущности с
идентичными полями в ответ придет ранее созданная сущность" — the order created the first time
comes back *unchanged*. When the hub lost its link and sends an edited order as a create again, the
answer therefore holds the old content; :func:`holds` compares it with what was sent (the answer
carries the positions: ``expand=positions``) and such orders are updated by ``meta`` in one more
bulk request. An update whose order was deleted in MoySklad is sent again as a create.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import pandas as pd

from connectors.moysklad.capabilities.catalog import OverClient
from connectors.moysklad.capabilities.customers import item_outcome
from connectors.moysklad.capabilities.order_fields import AttributeBook, same_attributes
from connectors.moysklad.client import MoySkladClient
from connectors.moysklad.convert.orders import order_to_payload
from connectors.moysklad.wire.meta import Json, ref_id
from connectors.moysklad.wire.moscow_time import parse_moscow
from hub.capabilities import OrderDraft, OrderOutcome, OrderReference
from hub.model import UTC_TS

#: error code of a reference (here: the order updated by ``meta``) that does not exist
NOT_FOUND = 1021
STATE_COLUMNS = ["erp_id", "external_id", "state", "updated_at"]


def _lines(positions: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, float, float]]:
    out = [
        (
            ref_id(p.get("assortment")) or "",
            round(float(p.get("quantity", 0)), 3),
            round(float(p.get("price", 0)), 2),
            round(float(p.get("discount", 0) or 0), 2),
        )
        for p in positions
    ]
    return sorted(out)


def holds(saved: Mapping[str, Any], sent: Mapping[str, Any]) -> bool:
    """Whether the order MoySklad answered with is what was sent: references, texts and positions
    (``saved`` with its positions expanded; a cut-short expansion counts as different)."""
    for field in ("agent", "organization", "store", "state", "owner"):
        if field in sent and ref_id(saved.get(field)) != ref_id(sent[field]):
            return False
    for field in ("name", "description", "shipmentAddress", "externalCode"):
        if field in sent and saved.get(field) != sent[field]:
            return False
    if not same_attributes(saved, sent.get("attributes") or []):
        return False
    nested = saved.get("positions") or {}
    rows = list(nested.get("rows") or [])
    if len(rows) != int((nested.get("meta") or {}).get("size", len(rows))):
        return False
    return _lines(rows) == _lines(sent.get("positions") or [])


class MoySkladOrders(OverClient):
    """``OrderSink`` and ``OrderStates`` over one MoySklad account."""

    #: orders per bulk POST (MoySklad takes ≤ 1000; 100 keeps one request well inside its 5-minute cap)
    max_batch = 100

    def __init__(self, client: MoySkladClient | None) -> None:
        super().__init__(client)
        self._state_names: dict[str, str] | None = None
        self._attributes: AttributeBook | None = None

    @property
    def attributes(self) -> AttributeBook:
        """The orders' custom fields and their dictionaries (read when a draft carries fields)."""
        if self._attributes is None:
            self._attributes = AttributeBook(self.client)
        return self._attributes

    async def order_reference(self) -> OrderReference:
        ms = self.client
        states = await ms.list_states()
        self._state_names = {str(s["id"]): str(s["name"]) for s in states}
        organizations = await ms.list_organizations()
        stores = [s for s in await ms.list_stores() if not s.get("archived")]
        services = await ms.collect("/entity/service")
        groups = (await ms.get_json("/entity/counterparty/metadata")).get("tags") or []
        by_service: dict[str, str] = {}
        for s in services:
            for label in (s.get("code"), s.get("name")):
                if label:
                    by_service.setdefault(str(label), str(s["id"]))
        return OrderReference(
            states={str(s["name"]): str(s["id"]) for s in states},
            organizations={str(o["name"]): str(o["id"]) for o in organizations if not o.get("archived")},
            stores={str(s["name"]): str(s["id"]) for s in stores},
            services=by_service,
            groups=[str(g) for g in groups],
        )

    def payload(self, draft: OrderDraft) -> Json:
        """A draft's ``customerorder`` body: a create with ``syncId``, or an update by ``meta``."""
        body = order_to_payload(
            draft.order,
            draft.lines,
            base_url=self.client.base_url,
            organization_id=draft.organization_id,
            agent_id=draft.customer_id,
            store_id=draft.store_id,
            state_id=draft.state_id,
            offer_types=draft.line_kinds,
            reserve=draft.reserve,
            sync_key=draft.key,
        )
        if draft.owner_id:
            body["owner"] = self.client.ref(f"entity/employee/{draft.owner_id}", "employee")
        if draft.erp_id:
            body.pop("syncId")  # set once, at the create; MoySklad refuses to change it (1047)
            body["meta"] = self.client.ref(f"entity/customerorder/{draft.erp_id}", "customerorder")["meta"]
        return body

    async def upsert_orders(self, drafts: Sequence[OrderDraft]) -> list[OrderOutcome]:
        outcomes: dict[int, OrderOutcome] = {}
        for start in range(0, len(drafts), self.max_batch):
            await self._upsert(list(enumerate(drafts))[start : start + self.max_batch], outcomes)
        return [outcomes[i] for i in range(len(drafts))]

    async def _upsert(self, chunk: list[tuple[int, OrderDraft]], outcomes: dict[int, OrderOutcome]) -> None:
        sent: list[tuple[int, OrderDraft, Json]] = []
        fields = await self.attributes.for_drafts([d for _, d in chunk]) if any(d.fields for _, d in chunk) else {}
        for index, draft in chunk:
            try:
                body = self.payload(draft)
                values = fields.get(draft.key)
                if isinstance(values, str):
                    raise ValueError(values)
                if values:
                    body["attributes"] = values
                sent.append((index, draft, body))
            except (KeyError, ValueError, TypeError) as exc:
                outcomes[index] = OrderOutcome(draft.key, error=f"order cannot be converted: {exc}")
        results = await self.client.bulk_create("customerorder", [body for _, _, body in sent], expand="positions")
        again: list[tuple[int, OrderDraft, Json]] = []
        for (index, draft, body), result in zip(sent, results, strict=True):
            if result.ok and result.entity is not None and "meta" not in body and not holds(result.entity, body):
                # the order created earlier with this syncId came back as it was: update it
                again.append(
                    (index, draft, {**{k: v for k, v in body.items() if k != "syncId"}, "meta": result.entity["meta"]})
                )
            elif (
                not result.ok
                and "meta" in body
                and any(e.get("code") == NOT_FOUND and not e.get("parameter") for e in result.errors)
            ):
                # the linked order was deleted in MoySklad: create it again, with its syncId
                fresh = self.payload(replace(draft, erp_id=None))
                again.append((index, draft, {**fresh, **{k: body[k] for k in ("attributes",) if k in body}}))
            else:
                outcomes[index] = item_outcome(draft.key, result)
        if again:
            results = await self.client.bulk_create("customerorder", [body for _, _, body in again])
            for (index, draft, _), result in zip(again, results, strict=True):
                outcomes[index] = item_outcome(draft.key, result)

    async def find_orders(self, external_ids: Sequence[str]) -> dict[str, str]:
        rows = await self.client.filter_any("customerorder", "externalCode", [str(e) for e in external_ids])
        found: dict[str, str] = {}
        for row in sorted(rows, key=lambda r: (str(r.get("created") or ""), str(r["id"]))):
            found.setdefault(str(row.get("externalCode")), str(row["id"]))  # a peer's duplicate: the oldest
        return found

    async def state_names(self) -> dict[str, str]:
        """State id → name (read once per capability)."""
        if self._state_names is None:
            self._state_names = {str(s["id"]): str(s["name"]) for s in await self.client.list_states()}
        return self._state_names

    async def changed_states(self, since: datetime) -> pd.DataFrame:
        names = await self.state_names()
        rows: list[dict[str, Any]] = []
        async for page in self.client.iter_orders(since):
            for order in page:
                sid = ref_id(order.get("state"))
                rows.append(
                    {
                        "erp_id": str(order["id"]),
                        "external_id": order.get("externalCode"),
                        "state": names.get(sid, sid) if sid else None,
                        "updated_at": parse_moscow(str(order["updated"])),
                    }
                )
        frame = pd.DataFrame(rows, columns=STATE_COLUMNS)
        frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True).astype(UTC_TS)
        return frame.drop_duplicates("erp_id", keep="last").reset_index(drop=True)
