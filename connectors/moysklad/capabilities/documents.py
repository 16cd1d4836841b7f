"""MoySklad shipments, moves, returns and payments on customer orders as the hub's ``OrderDocuments``.

Requests are per hundred orders, not per order: the orders are read by ``filter=id=…`` (positions
expanded, ≤ 100 a page as ``expand`` demands), the documents they list by ``filter=id=…`` per type,
and each type's drafts go as one bulk POST (every item answered on its own). A new shipment's cost
prices come from one more read of the shipments with ``fields=stock``. So a cycle that ships and
pays 100 orders costs about ten requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from connectors.http import NotFoundError, RequestValidationError
from connectors.moysklad.capabilities.catalog import OverClient
from connectors.moysklad.capabilities.customers import item_outcome
from connectors.moysklad.client import MoySkladClient, moscow_filter
from connectors.moysklad.convert.documents import (
    ENTITY,
    NothingToShip,
    erp_document,
    linked_ids,
    move_payload,
    payment_payload,
    return_payload,
    shipment_payload,
)
from connectors.moysklad.convert.documents import cost_prices as shipment_costs
from connectors.moysklad.wire.meta import Json, ref_id
from connectors.moysklad.wire.moscow_time import parse_moscow
from hub.capabilities import (
    BANK_PAYMENT,
    MOVE,
    PAYMENT_KINDS,
    RETURN,
    SHIPMENT,
    DocumentDraft,
    DocumentOutcome,
    ErpDocument,
    OrderPapers,
)


class MoySkladDocuments(OverClient):
    """``OrderDocuments`` over one MoySklad account."""

    max_batch = 100

    def __init__(self, client: MoySkladClient | None) -> None:
        super().__init__(client)
        self._accounts: dict[str, list[Json]] = {}
        self._attributes: dict[str, Json] | None = None
        self._stores: dict[str, Json] | None = None

    async def _by_ids(self, entity: str, ids: Sequence[str], **params: str) -> dict[str, Json]:
        return {str(row["id"]): row for row in await self.client.filter_any(entity, "id", ids, params=params)}

    async def order_papers(self, erp_order_ids: Sequence[str]) -> dict[str, OrderPapers]:
        orders = await self._by_ids("customerorder", erp_order_ids)
        wanted: dict[str, list[str]] = {}
        for order in orders.values():
            for entity, ids in linked_ids(order).items():
                wanted.setdefault(entity, []).extend(ids)
        docs: dict[str, Json] = {}
        entities: dict[str, str] = {}
        for entity, ids in wanted.items():
            for doc_id, doc in (await self._by_ids(entity, ids)).items():
                docs[doc_id], entities[doc_id] = doc, entity
        returns = [r for d in docs.values() for r in d.get("returns") or []]
        for doc_id, doc in (await self._by_ids("salesreturn", [ref_id(r) or "" for r in returns])).items():
            docs[doc_id], entities[doc_id] = doc, "salesreturn"
        papers: dict[str, OrderPapers] = {}
        for order_id, order in orders.items():
            own = [i for ids in linked_ids(order).values() for i in ids]
            own += [ref_id(r) or "" for i in own for r in (docs.get(i) or {}).get("returns") or []]
            papers[order_id] = OrderPapers(
                order_id, [erp_document(entities[i], docs[i]) for i in dict.fromkeys(own) if i in docs]
            )
        return papers

    async def _bank_account(self, organization_id: str, number: str | None) -> Json | None:
        if organization_id not in self._accounts:
            self._accounts[organization_id] = await self.client.collect(
                f"/entity/organization/{organization_id}/accounts"
            )
        rows = self._accounts[organization_id]
        if number:
            return next((a for a in rows if a.get("accountNumber") == number), None)
        return next((a for a in rows if a.get("isDefault")), None)

    async def _shipment_attributes(self) -> dict[str, Json]:
        if self._attributes is None:
            rows = await self.client.collect("/entity/demand/metadata/attributes")
            self._attributes = {str(a["name"]): a for a in rows}
        return self._attributes

    async def _store(self, name_or_id: str) -> Json:
        """The ``{"meta": …}`` of a store named (or id'd) so; read once per capability."""
        if self._stores is None:
            rows = await self.client.collect("/entity/store")
            self._stores = {}
            for row in rows:
                for label in (str(row["id"]), str(row.get("name"))):
                    self._stores.setdefault(label, {"meta": dict(row["meta"])})
        found = self._stores.get(name_or_id)
        if found is None:
            raise ValueError(f"MoySklad has no store {name_or_id!r} (mappings.order_stores / mappings.stores)")
        return found

    async def upsert_documents(self, drafts: Sequence[DocumentDraft]) -> list[DocumentOutcome]:
        outcomes: dict[int, DocumentOutcome] = {}
        for start in range(0, len(drafts), self.max_batch):
            chunk = list(enumerate(drafts))[start : start + self.max_batch]
            await self._upsert(chunk, outcomes)
        return [outcomes[i] for i in range(len(drafts))]

    async def _upsert(self, chunk: list[tuple[int, DocumentDraft]], outcomes: dict[int, DocumentOutcome]) -> None:
        orders = await self._by_ids("customerorder", [d.erp_order_id for _, d in chunk], expand="positions")
        shipments = await self._by_ids(
            "demand", [d.shipment_id or "" for _, d in chunk if d.kind == RETURN], expand="positions"
        )
        attributes = await self._shipment_attributes() if any(d.copy_custom_fields for _, d in chunk) else {}
        by_entity: dict[str, list[tuple[int, DocumentDraft, Json]]] = {}
        for index, draft in chunk:
            try:
                body = await self._payload(draft, orders, shipments, attributes)
            except NothingToShip as exc:
                outcomes[index] = DocumentOutcome(draft.key, note=f"no {ENTITY[draft.kind]} made: {exc}")
                continue
            except (KeyError, ValueError) as exc:
                outcomes[index] = DocumentOutcome(draft.key, error=f"{draft.kind} not made: {exc}")
                continue
            by_entity.setdefault(ENTITY[draft.kind], []).append((index, draft, body))
        # moves first: the goods reach the shipment store before a shipment takes them from it
        for entity, items in sorted(by_entity.items(), key=lambda kv: kv[0] != ENTITY[MOVE]):
            results = await self.client.bulk_create(entity, [body for _, _, body in items])
            for (index, draft, _), result in zip(items, results, strict=True):
                made = item_outcome(draft.key, result)
                outcomes[index] = DocumentOutcome(draft.key, made.erp_id, made.error, made.retryable)

    async def changed_payments(self, since: datetime) -> list[ErpDocument]:
        found: list[ErpDocument] = []
        for kind in PAYMENT_KINDS:
            rows = await self.client.collect(f"/entity/{ENTITY[kind]}", {"filter": f"updated>={moscow_filter(since)}"})
            found += [
                replace(erp_document(ENTITY[kind], row), updated_at=parse_moscow(str(row["updated"]))) for row in rows
            ]
        return found

    async def delete_orders(self, erp_order_ids: Sequence[str]) -> dict[str, str]:
        papers = await self.order_papers(erp_order_ids)
        refused: dict[str, str] = {}
        for order_id, held in papers.items():
            # what depends on a document goes before it: returns, then payments and shipments, then the order
            docs = [*held.of_kind(RETURN), *held.of_kind(*PAYMENT_KINDS), *held.of_kind(SHIPMENT, MOVE)]
            try:
                for doc in docs:
                    await self._delete(ENTITY[doc.kind], doc.erp_id)
                await self._delete("customerorder", order_id)
            except RequestValidationError as exc:
                refused[order_id] = str(exc)
        return refused

    async def _delete(self, entity: str, doc_id: str) -> None:
        try:
            await self.client.request("DELETE", f"/entity/{entity}/{doc_id}")
        except NotFoundError:
            pass  # deleted already (a repeat after a lost answer)

    async def cost_prices(self, shipment_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        read = await self._by_ids("demand", shipment_ids, expand="positions", fields="stock")
        return {sid: shipment_costs(doc) for sid, doc in read.items()}

    async def _payload(
        self, draft: DocumentDraft, orders: dict[str, Json], shipments: dict[str, Json], attributes: dict[str, Json]
    ) -> Json:
        order = orders.get(draft.erp_order_id)
        if order is None:
            raise ValueError(f"order {draft.erp_order_id} is not in MoySklad")
        if draft.kind == SHIPMENT:
            return shipment_payload(draft, order, attributes)
        if draft.kind == MOVE:
            return move_payload(draft, order, await self._store(draft.source_store or ""))
        if draft.kind == RETURN:
            shipment = shipments.get(draft.shipment_id or "")
            if shipment is None:
                raise ValueError(f"shipment {draft.shipment_id} is not in MoySklad")
            return return_payload(draft, shipment)
        if draft.kind in PAYMENT_KINDS:
            account = None
            if draft.kind == BANK_PAYMENT:
                account = await self._bank_account(ref_id(order.get("organization")) or "", draft.account)
                if draft.account and account is None:
                    raise ValueError(f"the organization has no settlement account {draft.account}")
            body = payment_payload(draft, order, account)
            if draft.erp_id:
                body["meta"] = self.client.ref(f"entity/{ENTITY[draft.kind]}/{draft.erp_id}", ENTITY[draft.kind])[
                    "meta"
                ]
            return body
        raise ValueError(f"unknown kind of document {draft.kind!r}")
