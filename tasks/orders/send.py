"""Order upload, part three: the queued orders to the ERP in bulk (docs/orders.md, "Send").

A batch of queued orders (the sink's ``max_batch``) goes in three steps: customers — the hub's link,
else :meth:`CustomerBook.find_customers` for the whole batch, else ``create_customers`` in bulk with
an idempotency key per customer — then one :meth:`OrderSink.upsert_orders`, then the ERP ids of
orders new to the ERP written back with :meth:`OrderSource.record_erp_ids` (what it could not write is
journaled). An accepted order gets its link (kind ``orders``), its snapshot, and its item completed;
a refused one fails with the ERP's reason. Exactly once is the ERP's idempotency key (``syncId``):
a re-sent create answers the order created the first time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

import tasks.orders.fields as order_fields
from connectors.http import ConnectorError
from hub.capabilities import (
    WRITE_ERP_ID,
    CustomerBook,
    ItemBook,
    KeyedOffers,
    NewItem,
    OrderDraft,
    OrderSink,
    OrderSource,
)
from hub.store import QueueItem, QueueStatus
from tasks.clients import capability_for_planning
from tasks.orders.stage import ORDERS, OrderRun, contents
from tasks.orders.writes import recorded

CUSTOMERS = "customers"
#: the lines each order was last accepted with by the ERP (JSON; kept for ``keep_product_info``)
SENT_LINES = "order_lines_sent"


@dataclass
class Sent:
    """What a drain of the order queue did."""

    batches: int = 0
    accepted: int = 0
    created: int = 0  # accepted orders the hub had no ERP id of before
    refused: int = 0
    skipped: int = 0  # items superseded by newer contents, or accepted already
    customers_found: int = 0
    customers_created: int = 0
    items_created: int = 0  # one-time products made in the ERP (found ones not counted)
    erp_ids_not_written: int = 0
    errors: list[str] = field(default_factory=list)


async def send_queued(
    run: OrderRun,
    sink: OrderSink,
    book: CustomerBook,
    source: OrderSource,
    worker: str = "orders",
    *,
    items: ItemBook | None = None,
) -> Sent:
    """Send every due order item, a batch at a time, until none is due. ``items``: where the ERP makes
    the one-time products orders name (lines planned with ``new_item``)."""
    sent = Sent()
    while claimed := run.store.queue.claim(integration=run.name, kind=ORDERS, limit=sink.max_batch, worker=worker):
        sent.batches += 1
        try:
            await _send_batch(run, claimed, sink, book, source, sent, items)
        except ConnectorError as exc:
            for item in claimed:
                run.store.queue.fail(item.id, str(exc), retryable=exc.retryable)
            sent.refused += len(claimed)
            sent.errors.append(str(exc))
            if exc.retryable:
                break  # the ERP or the channel is unwell: the items wait for their backoff
    return sent


def linked_ids(run: OrderRun, kind: str, channel_ids: list[str]) -> dict[str, str]:
    """Channel id -> ERP id of the objects the hub linked on both sides."""
    keys = run.store.links.resolve(run.name, kind, run.source_system, channel_ids)
    erp = run.store.links.external_ids(run.name, kind, run.target_system, list(keys.values()))
    return {cid: erp[key] for cid, key in keys.items() if key in erp}


def attach_links(run: OrderRun, kind: str, pairs: dict[str, str]) -> None:
    keys = run.store.links.ensure(run.name, kind, run.source_system, list(pairs))
    run.store.links.attach_many(run.name, kind, run.target_system, [(keys[cid], erp) for cid, erp in pairs.items()])


async def _customers(
    run: OrderRun, wanted: list[str], book: CustomerBook, sent: Sent
) -> tuple[dict[str, str], dict[str, str]]:
    """``(channel customer id -> ERP id, channel customer id -> why it has none)``."""
    known = linked_ids(run, CUSTOMERS, wanted)
    missing = [cid for cid in wanted if cid not in known]
    failed: dict[str, str] = {}
    if not missing:
        return known, failed
    frame = run.store.records.frame(run.name, CUSTOMERS, keys=missing)
    options = run.integ.options.orders
    found = await book.find_customers(frame, list(options.customer_search))
    sent.customers_found += len(found)
    attach_links(run, CUSTOMERS, found)
    known.update(found)
    rest = frame[~frame["customer_id"].astype(str).isin(found)]
    if not rest.empty:
        keys = {str(cid): f"{run.name}:customer:{cid}" for cid in rest["customer_id"]}
        outcomes = await book.create_customers(rest, group=options.customer_group, keys=keys)
        made = {cid: o.erp_id for cid, o in outcomes.items() if o.erp_id}
        # one ERP customer may stand for several channel customers (one person, one phone): count
        # what the ERP got, not the links
        sent.customers_created += len(set(made.values()))
        attach_links(run, CUSTOMERS, made)
        known.update(made)
        failed.update({cid: f"customer {cid} not created: {o.error}" for cid, o in outcomes.items() if not o.erp_id})
    return known, failed


async def _new_items(run: OrderRun, live: list[QueueItem], book: ItemBook | None, sent: Sent) -> dict[int, str]:
    """Give every ``new_item`` line of these orders its ERP offer (linked, found or created); the
    items whose lines could not get one, with why."""
    wanted: dict[str, dict[str, Any]] = {}
    for item in live:
        for line in item.payload["draft"]["lines"]:
            if line.get("new_item"):
                wanted.setdefault(str(line["new_item"]), line)
    if not wanted:
        return {}
    known = linked_ids(run, "offers", list(wanted))
    missing = [key for key in wanted if key not in known]
    failed: dict[str, str] = {}
    if missing and book is None:
        failed = {key: f"the ERP cannot make item {key}" for key in missing}
    elif missing:
        assert book is not None
        with capability_for_planning(run.integ, run.source, OrderSource) as channel:
            field = channel.offer_key if isinstance(channel, KeyedOffers) else "code"
        new = [NewItem(key, str(wanted[key].get("name") or key), wanted[key].get("price")) for key in missing]
        outcomes = await book.items_for(new, field, {key: f"{run.name}:item:{key}" for key in missing})
        made = {key: o.erp_id for key, o in outcomes.items() if o.erp_id}
        sent.items_created += len(made)
        attach_links(run, "offers", made)
        known.update(made)
        failed = {key: f"item {key} not made in the ERP: {o.error}" for key, o in outcomes.items() if not o.erp_id}
    refused: dict[int, str] = {}
    for item in live:
        draft = item.payload["draft"]
        for line in draft["lines"]:
            key = line.get("new_item")
            if key and str(key) in known:
                line["offer_id"] = known[str(key)]
                draft["line_kinds"][known[str(key)]] = "product"
            elif key:
                refused[item.id] = failed.get(str(key), f"item {key} has no ERP offer")
    return refused


def record_sent_lines(run: OrderRun, items: list[QueueItem]) -> None:
    """Keep the lines the ERP accepted for each order (their items resolved): what an order received
    again keeps with ``options.orders.keep_product_info``."""
    if not items:
        return
    rows = [
        {
            "order_id": str(i.payload["order_id"]),
            "lines": json.dumps(i.payload["draft"]["lines"], ensure_ascii=False, sort_keys=True),
            "line_kinds": json.dumps(i.payload["draft"]["line_kinds"], sort_keys=True),
        }
        for i in items
    ]
    run.store.records.upsert_frame(run.name, SENT_LINES, run.source_system, pd.DataFrame(rows), "order_id")


def _draft(payload: dict[str, Any], customer_id: str, erp_id: str | None, owners: dict[str, str]) -> OrderDraft:
    d = payload["draft"]
    return OrderDraft(
        key=d["key"],
        order=d["order"],
        lines=d["lines"],
        line_kinds=d["line_kinds"],
        customer_id=customer_id,
        organization_id=d["organization_id"],
        store_id=d.get("store_id"),
        state_id=d.get("state_id"),
        reserve=bool(d.get("reserve")),
        erp_id=erp_id,
        payments=d.get("payments") or (),
        fields=d.get("fields") or {},
        owner_id=owners.get(str(d.get("manager_id"))),
    )


async def _send_batch(
    run: OrderRun,
    items: list[QueueItem],
    sink: OrderSink,
    book: CustomerBook,
    source: OrderSource,
    sent: Sent,
    item_book: ItemBook | None = None,
) -> None:
    queue = run.store.queue
    staged = contents(run, [str(i.payload["order_id"]) for i in items])
    accepted_hashes = run.store.snapshots.hashes(run.name, ORDERS, list(staged))
    live: list[QueueItem] = []
    for item in items:
        oid, h = str(item.payload["order_id"]), item.payload["hash"]
        current = staged.get(oid)
        if "draft" not in item.payload or current is None or current.hash != h or accepted_hashes.get(oid) == h:
            why = (
                "accepted already"
                if accepted_hashes.get(oid) == h
                else "superseded by newer contents"
                if "draft" in item.payload
                else "parked order retried: planned again by the next run"
            )
            queue.complete(item.id, {"skipped": why})
            sent.skipped += 1
        else:
            live.append(item)
    if not live:
        return
    erp_customers, no_customer = await _customers(
        run, sorted({str(i.payload["customer_id"]) for i in live}), book, sent
    )
    linked = linked_ids(run, ORDERS, [str(i.payload["order_id"]) for i in live])
    no_item = await _new_items(run, live, item_book, sent)
    ready: list[QueueItem] = []
    for item in live:
        cid = str(item.payload["customer_id"])
        if item.id in no_item:
            after = queue.fail(item.id, no_item[item.id], retryable=True)
            sent.refused += 1
            sent.errors.append(after.last_error or "")
        elif cid in erp_customers:
            ready.append(item)
            continue
        after = queue.fail(item.id, no_customer.get(cid, f"customer {cid} has no ERP counterparty"), retryable=True)
        sent.refused += 1
        sent.errors.append(after.last_error or "")
    owners = await order_fields.owners(run, [str(i.payload["draft"].get("manager_id") or "") for i in ready])
    drafts = [
        _draft(i.payload, erp_customers[str(i.payload["customer_id"])], linked.get(str(i.payload["order_id"])), owners)
        for i in ready
    ]
    outcomes = await sink.upsert_orders(drafts) if drafts else []
    new_ids: dict[str, str] = {}
    accepted: dict[str, str] = {}
    for item, outcome in zip(ready, outcomes, strict=True):
        oid = str(item.payload["order_id"])
        if outcome.erp_id:
            accepted[oid] = outcome.erp_id
            if linked.get(oid) != outcome.erp_id:
                new_ids[oid] = outcome.erp_id
            continue
        after = queue.fail(item.id, f"the ERP refused order {oid}: {outcome.error}", retryable=outcome.retryable)
        sent.refused += 1
        sent.errors.append(after.last_error or "")
        if after.status == QueueStatus.DEAD:
            run.store.journal.write(run.name, "error", "orders.refused", after.last_error or "", {"order_id": oid})
    # link and snapshot first, then complete: a crash in between re-sends under the same syncId (one order)
    attach_links(run, ORDERS, {oid: erp for oid, erp in new_ids.items() if oid not in linked})
    record_sent_lines(run, [i for i in ready if str(i.payload["order_id"]) in accepted])
    run.store.snapshots.save(
        run.name,
        ORDERS,
        {str(i.payload["order_id"]): i.payload["hash"] for i in ready if str(i.payload["order_id"]) in accepted},
    )
    order_fields.remember(run, {oid: held for oid, held in _fields_held(run, ready, owners).items() if oid in accepted})
    for item in ready:
        oid = str(item.payload["order_id"])
        if oid in accepted:
            queue.complete(item.id, {"erp_id": accepted[oid]})
    sent.accepted += len(accepted)
    sent.created += len(new_ids)
    if new_ids:
        try:
            refused = await recorded(
                run.store, run.name, run.source, WRITE_ERP_ID, new_ids, lambda: source.record_erp_ids(new_ids)
            )
        except ConnectorError as exc:  # the orders are in the ERP: only the write-back is missing
            refused = {oid: f"the ERP id was not written back: {exc}" for oid in new_ids}
        sent.erp_ids_not_written += len(refused)
        for oid, why in refused.items():
            run.store.journal.write(
                run.name, "warning", "orders.erp-id-not-written", why, {"order_id": oid, "erp_id": new_ids[oid]}
            )


def _fields_held(
    run: OrderRun, items: list[QueueItem], owners: dict[str, str]
) -> dict[str, tuple[dict[str, Any], str | None]]:
    """What the ERP holds of the orders sent with custom fields or a manager (channel terms)."""
    codes = {erp: code for erp, code in (run.integ.mappings.get("custom_fields") or {}).items() if code}
    held: dict[str, tuple[dict[str, Any], str | None]] = {}
    for item in items:
        draft = item.payload["draft"]
        manager = str(draft.get("manager_id") or "")
        if draft.get("fields") or manager:
            values = {codes[erp]: v for erp, v in (draft.get("fields") or {}).items() if erp in codes}
            held[str(item.payload["order_id"])] = (values, manager if manager in owners else None)
    return held
